import Foundation
import ROMANumerics

/// Where a LoRA update applies: one linear layer of one block.
public struct LoRATarget: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let layer: Int
    public let kind: LinearKind
    public init(layer: Int, kind: LinearKind) { self.layer = layer; self.kind = kind }
    public static func < (a: LoRATarget, b: LoRATarget) -> Bool {
        a.layer != b.layer ? a.layer < b.layer : a.kind < b.kind
    }
    public var description: String { kind.ggufName(layer: layer) }
}

/// One layer's low-rank update, ΔW = scale · B·A, with A [rank, in] and B [out, rank] row-major FP32.
/// B's rows follow the base model's GGUF order, which for q and k is llama.cpp's permuted order
/// (`QKPermutation`); loaders and writers of Hugging Face-order formats convert.
public struct LoRALayer: Sendable, Equatable {
    public var rank: Int, inDim: Int, outDim: Int
    public var a: [Float]
    public var b: [Float]
    /// The adapter's own scaling of this layer: alpha/r (PEFT, llama.cpp), alpha/sqrt(r) (rsLoRA).
    public var scale: Float

    public init(rank: Int, inDim: Int, outDim: Int, a: [Float], b: [Float], scale: Float) {
        self.rank = rank; self.inDim = inDim; self.outDim = outDim; self.a = a; self.b = b; self.scale = scale
    }
    public var parameterCount: Int { rank * (inDim + outDim) }

    /// The dense update scale·B·A as [out, in] row-major (tests, merging).
    public func denseDelta() -> [Double] {
        var d = [Double](repeating: 0, count: outDim * inDim)
        for o in 0..<outDim {
            for r in 0..<rank {
                let br = Double(b[o * rank + r]) * Double(scale)
                if br == 0 { continue }
                for i in 0..<inDim { d[o * inDim + i] += br * Double(a[r * inDim + i]) }
            }
        }
        return d
    }
}

/// A LoRA adapter in host memory (FP32), independent of the backend that will run it. Backends make
/// it resident in their own format (`Backend.makeResident`): FP8 in H-Unit SRAM on the chip.
public struct LoRAAdapter: Sendable {
    public var name: String
    public var layers: [LoRATarget: LoRALayer]
    /// Where it came from: "peft", "gguf", "recovery", ...
    public var source: String
    /// The nominal alpha the file declared (informational; the per-layer `scale` is what runs).
    public var alpha: Double?
    /// Free-form facts worth printing (`roma adapter inspect`).
    public var metadata: [String: String]

    public init(name: String, layers: [LoRATarget: LoRALayer], source: String, alpha: Double? = nil, metadata: [String: String] = [:]) {
        self.name = name; self.layers = layers; self.source = source; self.alpha = alpha; self.metadata = metadata
    }

    public var targets: [LoRATarget] { layers.keys.sorted() }
    /// The layer kinds it touches, in graph order.
    public var kinds: [LinearKind] { LinearKind.allCases.filter { k in layers.keys.contains { $0.kind == k } } }
    public var ranks: [Int] { Array(Set(layers.values.map(\.rank))).sorted() }
    public var parameterCount: Int { layers.values.reduce(0) { $0 + $1.parameterCount } }

    /// Checks every layer against a model's shapes; the message names the first mismatch.
    public func validate(for m: ModelConfig) throws {
        guard !layers.isEmpty else { throw AdapterError.invalid("adapter '\(name)' has no LoRA layers") }
        for t in targets {
            let l = layers[t]!
            guard t.layer >= 0 && t.layer < m.numLayers else {
                throw AdapterError.shapeMismatch("adapter '\(name)' has a LoRA for block \(t.layer), but the model has \(m.numLayers) blocks (an adapter for another model?)")
            }
            let (o, i) = t.kind.shape(in: m)
            guard l.inDim == i && l.outDim == o else {
                throw AdapterError.shapeMismatch("adapter '\(name)': \(t) is [\(l.outDim) x \(l.inDim)] but the model's weight is [\(o) x \(i)] (an adapter for another model?)")
            }
            guard l.rank > 0, l.a.count == l.rank * l.inDim, l.b.count == l.outDim * l.rank else {
                throw AdapterError.shapeMismatch("adapter '\(name)': \(t) has rank \(l.rank) but A holds \(l.a.count) and B \(l.b.count) values")
            }
            guard l.scale.isFinite, l.a.allSatisfy(\.isFinite), l.b.allSatisfy(\.isFinite) else {
                throw AdapterError.invalid("adapter '\(name)': \(t) has a non-finite weight or scale")
            }
        }
    }
}

public enum AdapterError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case shapeMismatch(String)
    case unknownAdapter(String, known: [String])
    /// Refused in the adapter's current state (in use, pinned, already registered).
    case conflict(String)
    public var description: String {
        switch self {
        case .invalid(let m), .shapeMismatch(let m), .conflict(let m): return m
        case .unknownAdapter(let n, let known):
            return "no adapter named '\(n)' is registered" + (known.isEmpty ? "" : " (registered: \(known.joined(separator: ", ")))")
        }
    }
}

/// llama.cpp's converter permutes the rows of q and k (and so of their LoRA B) so that RoPE can rotate
/// adjacent pairs: within each head of `headDim` rows, GGUF row 2j = Hugging Face row j and GGUF row 2j+1
/// = Hugging Face row j + headDim/2.
public enum QKPermutation {
    /// The GGUF row that holds Hugging Face row `hf`.
    public static func ggufRow(_ hf: Int, headDim: Int) -> Int {
        let h = hf / headDim, j = hf % headDim, half = headDim / 2
        return h * headDim + (j < half ? 2 * j : 2 * (j - half) + 1)
    }
    /// Rows of an [out, cols] matrix from Hugging Face order to GGUF order.
    public static func toGGUF(_ m: [Float], cols: Int, headDim: Int) -> [Float] {
        var out = m
        for hf in 0..<(m.count / cols) {
            let g = ggufRow(hf, headDim: headDim)
            for c in 0..<cols { out[g * cols + c] = m[hf * cols + c] }
        }
        return out
    }
    /// Rows of an [out, cols] matrix from GGUF order back to Hugging Face order.
    public static func toHF(_ m: [Float], cols: Int, headDim: Int) -> [Float] {
        var out = m
        for hf in 0..<(m.count / cols) {
            let g = ggufRow(hf, headDim: headDim)
            for c in 0..<cols { out[hf * cols + c] = m[g * cols + c] }
        }
        return out
    }
    /// Whether a layer kind's rows are permuted in GGUF llama files.
    public static func applies(to kind: LinearKind) -> Bool { kind == .q || kind == .k }
}

extension AdapterError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .invalid: return .invalidArgument
        case .conflict: return .conflict
        case .shapeMismatch: return .corruptInput
        case .unknownAdapter: return .notFound
        }
    }
}
