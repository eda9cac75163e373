import Foundation
import ROMANumerics
import ROMAChip
import ROMALlama

/// The layers a LoRA adapter can target: the model's linear layers (`LinearKind`, ROMAChip).
public typealias LoRAModule = LinearKind

extension LinearKind {
    /// Parses "q,k,v,o" (also PEFT names like q_proj, gate_proj), "all" or "none".
    public static func parseList(_ s: String) throws -> [LoRAModule] {
        if s.lowercased() == "none" || s.isEmpty { return [] }
        if s.lowercased() == "all" { return allCases }
        var out: [LoRAModule] = []
        for raw in s.split(separator: ",") {
            var t = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if t.hasSuffix("_proj") { t.removeLast(5) }
            guard let v = LoRAModule(rawValue: t) else {
                throw SimError.badArgument("unknown LoRA target '\(raw)' (expected some of q,k,v,o,gate,up,down, or 'all' or 'none')")
            }
            if !out.contains(v) { out.append(v) }
        }
        return out.sorted()
    }
}

/// What runs on the chip: a model shape, its base-weight width and its LoRA adapter (Sec. IV-A).
public struct SimWorkload: Sendable, Equatable {
    public var model: ModelConfig
    /// Base-weight width in bits (4 for Llama3.2-3B, 2 for Llama3-8B in the paper).
    public var weightBits: Int
    /// LoRA rank r (paper default 16).
    public var loraRank: Int
    /// Modules carrying LoRA (default q,k,v,o).
    public var loraTargets: [LoRAModule]

    public init(model: ModelConfig, weightBits: Int, loraRank: Int = 16, loraTargets: [LoRAModule] = [.q, .k, .v, .o]) {
        self.model = model; self.weightBits = weightBits; self.loraRank = loraRank; self.loraTargets = loraTargets
    }

    /// The paper's two evaluation points (Sec. IV-A): 4-bit Llama3.2-3B and 2-bit Llama3-8B, rank 16.
    public static let paper3B = SimWorkload(model: .llama32_3B, weightBits: 4)
    public static let paper8B = SimWorkload(model: .llama3_8B, weightBits: 2)

    /// Checks the workload against the chip.
    public func validate(on chip: ChipConfig) throws {
        try model.validate()
        guard chip.numerics.baseWeightBitsSupported.contains(weightBits) else {
            throw SimError.badArgument("\(weightBits)-bit weights are not supported by chip '\(chip.name)' (supports \(chip.numerics.baseWeightBitsSupported.map(String.init).joined(separator: ", ")))")
        }
        guard loraRank >= 0 else { throw SimError.badArgument("LoRA rank must be >= 0, got \(loraRank)") }
    }

    // MARK: - Parameter counts

    /// Base-weight parameters of one transformer block (Q, K, V, O, gate, up, down).
    public var blockWeights: Double {
        let m = model
        return Double(m.hiddenSize) * Double(m.qDim + 2 * m.kvDim) + Double(m.qDim) * Double(m.hiddenSize)
            + 3 * Double(m.hiddenSize) * Double(m.intermediateSize)
    }
    /// Embedding table parameters (vocab x hidden).
    public var embeddingWeights: Double { Double(model.vocabSize) * Double(model.hiddenSize) }
    /// Output-head parameters stored separately (0 when embeddings are tied).
    public var headWeightsStored: Double { model.tiedEmbeddings ? 0 : embeddingWeights }
    /// All base weights stored in ROM.
    public var romWeights: Double { Double(model.numLayers) * blockWeights + embeddingWeights + headWeightsStored }
    /// LoRA parameters of one block: r x (in + out) per target.
    public var loraParamsPerLayer: Double {
        loraTargets.reduce(0) { acc, t in let s = t.shape(in: model); return acc + Double(loraRank) * Double(s.in + s.out) }
    }
    /// LoRA parameters of the whole model.
    public var loraParams: Double { loraParamsPerLayer * Double(model.numLayers) }
}

public enum SimError: Error, CustomStringConvertible, Equatable {
    case badArgument(String)
    case badModelConfig(String)
    public var description: String {
        switch self {
        case .badArgument(let m): return m
        case .badModelConfig(let m): return m
        }
    }
}

extension SimError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .badArgument: return .invalidArgument
        case .badModelConfig: return .corruptInput
        }
    }
}
