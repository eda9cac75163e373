import Foundation
import ROMAChip
import ROMANumerics

/// One layer's LoRA in a backend's storage: adds scale·B(A x) to every row of y.
public protocol LoRAProduct: AnyObject, Sendable {
    var rank: Int { get }
    /// y[t] += userScale · layerScale · B(A x[t]) for every token t.
    func accumulate(_ x: Matrix, userScale: Float, into y: Matrix)
}

/// An adapter made resident on one backend (the chip: FP8 codes in H-Unit SRAM). Its storage is
/// released when the last reference goes (the registry evicts it, and no request still runs with it).
public final class ResidentAdapter: @unchecked Sendable {
    public let name: String
    /// Bytes it holds in the backend's SRAM (0 on the reference backend).
    public let bytes: Int
    let owner: ObjectIdentifier
    /// [layer][kind]
    let products: [[LinearKind: LoRAProduct]]
    private let onRelease: (@Sendable () -> Void)?

    init(name: String, bytes: Int, owner: Backend, numLayers: Int, products: [LoRATarget: LoRAProduct],
         onRelease: (@Sendable () -> Void)? = nil) {
        self.name = name; self.bytes = bytes; self.owner = ObjectIdentifier(owner); self.onRelease = onRelease
        var p = [[LinearKind: LoRAProduct]](repeating: [:], count: numLayers)
        for (t, v) in products { p[t.layer][t.kind] = v }
        self.products = p
    }
    deinit { onRelease?() }
}

/// The adapters one request runs with, each with the user's scale (empty: the base model alone).
public struct AdapterSelection: Sendable {
    public var entries: [(adapter: ResidentAdapter, scale: Float)]
    public init(_ entries: [(adapter: ResidentAdapter, scale: Float)] = []) { self.entries = entries }
    public static let none = AdapterSelection()
    public var isEmpty: Bool { entries.isEmpty }

    /// The products that target (layer, kind), with their user scales.
    func products(layer: Int, kind: LinearKind) -> [(LoRAProduct, Float)] {
        entries.compactMap { e in e.adapter.products[layer][kind].map { ($0, e.scale) } }
    }
    /// Checks that every adapter was made resident by `backend`.
    func check(_ backend: Backend) {
        for e in entries {
            precondition(e.adapter.owner == ObjectIdentifier(backend), "adapter '\(e.adapter.name)' is resident on another backend")
        }
    }
}

/// The reference engine's LoRA: FP32 A and B, FP32 products.
final class FP32LoRAProduct: LoRAProduct, @unchecked Sendable {
    let layer: LoRALayer
    let bT: [Float]
    var rank: Int { layer.rank }
    init(_ l: LoRALayer) { layer = l; bT = transpose(l.b, rows: l.outDim, cols: l.rank) }

    func accumulate(_ x: Matrix, userScale: Float, into y: Matrix) {
        let l = layer
        let h = Matrix(rows: x.rows, cols: l.rank)
        l.a.withUnsafeBufferPointer { a in
            HUnit.matmul(x: x.data, tokens: x.rows, w: a.baseAddress!, n: l.inDim, outputs: l.rank, out: h.data)
        }
        bT.withUnsafeBufferPointer { b in
            HUnit.expand(h: h.data, tokens: x.rows, rank: l.rank, bT: b.baseAddress!, outDim: l.outDim, scale: l.scale * userScale, y: y.data)
        }
    }
}

/// [rows, cols] -> [cols, rows].
func transpose(_ m: [Float], rows: Int, cols: Int) -> [Float] {
    var t = [Float](repeating: 0, count: m.count)
    for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = m[r * cols + c] } }
    return t
}

/// The chip's LoRA on the H-Units: A and B stored in the chip's LoRA weight format (FP8 E4M3 by default,
/// each tensor scaled so its largest magnitude maps to the format's largest finite value), computed by
/// `HUnit.loraAccumulate`.
public final class HUnitLoRA: LoRAProduct, @unchecked Sendable {
    public let rank: Int, inDim: Int, outDim: Int
    public let format: NumberFormat
    /// Stored codes (FP8: one byte per weight; other formats keep only `aValues`/`bValues`).
    public let aCodes: [UInt8], bCodes: [UInt8]
    /// The stored values as FP32 (exactly representable in `format`), without the per-tensor scales;
    /// B transposed ([rank, out]) for the H-Unit's expand step.
    let aValues: [Float], bValues: [Float], bValuesT: [Float]
    public let aScale: Float, bScale: Float
    /// The adapter's own scaling of this layer (alpha/r, ...).
    public let layerScale: Float

    public static let supportedFormats: [NumberFormat] = [.fp8e4m3, .fp16, .bf16, .fp32]

    public init(_ l: LoRALayer, format: NumberFormat = .fp8e4m3) throws {
        guard HUnitLoRA.supportedFormats.contains(format) else {
            throw AdapterError.invalid("LoRA weight format \(format.rawValue) is not supported by the H-Unit model (use \(HUnitLoRA.supportedFormats.map(\.rawValue).joined(separator: ", ")))")
        }
        rank = l.rank; inDim = l.inDim; outDim = l.outDim; self.format = format; layerScale = l.scale
        func encode(_ x: [Float]) -> (codes: [UInt8], values: [Float], scale: Float) {
            switch format {
            case .fp8e4m3:
                let amax = x.reduce(Float(0)) { max($0, abs($1)) }
                let s = amax > 0 ? amax / FP8E4M3.maxNormal : 1
                let codes = x.map { FP8E4M3.fromFloat($0 / s) }
                return (codes, codes.map { FP8E4M3.table[Int($0)] }, s)
            case .fp16: return ([], x.map { FP16.round($0) }, 1)
            case .bf16: return ([], x.map { BF16.toFloat(BF16.fromFloat($0)) }, 1)
            default: return ([], x, 1)
            }
        }
        (aCodes, aValues, aScale) = encode(l.a)
        (bCodes, bValues, bScale) = encode(l.b)
        bValuesT = transpose(bValues, rows: outDim, cols: rank)
    }

    /// SRAM bytes: the weights in `format`, plus two FP32 scales for FP8.
    public var bytes: Int { HUnitLoRA.bytes(rank: rank, inDim: inDim, outDim: outDim, format: format) }

    public static func bytes(rank: Int, inDim: Int, outDim: Int, format: NumberFormat) -> Int {
        let n = rank * (inDim + outDim)
        return format == .fp8e4m3 ? n + 8 : (n * format.bits + 7) / 8
    }

    /// The effective FP32 A (values x scale) - what the H-Unit multiplies by (tests, error reports).
    public var effectiveA: [Float] { aValues.map { $0 * aScale } }
    public var effectiveB: [Float] { bValues.map { $0 * bScale } }

    public func accumulate(_ x: Matrix, userScale: Float, into y: Matrix) {
        aValues.withUnsafeBufferPointer { a in
            bValuesT.withUnsafeBufferPointer { b in
                HUnit.loraAccumulate(x: x.data, tokens: x.rows, inDim: inDim, a: a.baseAddress!, aScale: aScale,
                                     bT: b.baseAddress!, bScale: bScale, rank: rank, outDim: outDim,
                                     scale: layerScale * userScale, y: y.data)
            }
        }
    }
}

