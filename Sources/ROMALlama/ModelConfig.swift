import Foundation
import ROMANumerics

/// The shape of a Llama-family model: everything the chip mapping, the simulator and the
/// functional model need to know about a network, without its weights.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var name: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var tiedEmbeddings: Bool
    public var ropeTheta: Double
    public var rmsNormEps: Double
    public var contextLength: Int

    public init(name: String, hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int,
                numKVHeads: Int, headDim: Int, vocabSize: Int, tiedEmbeddings: Bool,
                ropeTheta: Double, rmsNormEps: Double = 1e-5, contextLength: Int = 8192) {
        self.name = name; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numLayers = numLayers; self.numHeads = numHeads; self.numKVHeads = numKVHeads
        self.headDim = headDim; self.vocabSize = vocabSize; self.tiedEmbeddings = tiedEmbeddings
        self.ropeTheta = ropeTheta; self.rmsNormEps = rmsNormEps; self.contextLength = contextLength
    }

    /// Width of the K (or V) projection output: numKVHeads * headDim.
    public var kvDim: Int { numKVHeads * headDim }
    /// Width of the Q projection output: numHeads * headDim.
    public var qDim: Int { numHeads * headDim }

    /// Same tensor shapes (names and RoPE/context settings aside).
    public func sameShape(as o: ModelConfig) -> Bool {
        hiddenSize == o.hiddenSize && intermediateSize == o.intermediateSize && numLayers == o.numLayers && numHeads == o.numHeads
            && numKVHeads == o.numKVHeads && headDim == o.headDim && vocabSize == o.vocabSize && tiedEmbeddings == o.tiedEmbeddings
    }

    /// Public model-card configurations (../shared/reference/paper-figures.md).
    public static let llama32_3B = ModelConfig(name: "llama3.2-3b", hiddenSize: 3072, intermediateSize: 8192, numLayers: 28,
        numHeads: 24, numKVHeads: 8, headDim: 128, vocabSize: 128256, tiedEmbeddings: true, ropeTheta: 500000, contextLength: 131072)
    public static let llama3_8B = ModelConfig(name: "llama3-8b", hiddenSize: 4096, intermediateSize: 14336, numLayers: 32,
        numHeads: 32, numKVHeads: 8, headDim: 128, vocabSize: 128256, tiedEmbeddings: false, ropeTheta: 500000, contextLength: 8192)
    public static let smollm2_135M = ModelConfig(name: "smollm2-135m", hiddenSize: 576, intermediateSize: 1536, numLayers: 30,
        numHeads: 9, numKVHeads: 3, headDim: 64, vocabSize: 49152, tiedEmbeddings: true, ropeTheta: 100000, contextLength: 8192)

    public static let presets: [ModelConfig] = [llama32_3B, llama3_8B, smollm2_135M]

    public static func preset(named name: String) -> ModelConfig? {
        presets.first { $0.name == name.lowercased() }
    }

    /// Reads a Hugging Face `config.json` (LlamaForCausalLM-style keys).
    public static func fromHuggingFace(json data: Data, name: String = "hf-model") throws -> ModelConfig {
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelConfigError.invalid("config.json is not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let v = obj[key] as? NSNumber else { throw ModelConfigError.missingKey(key) }
            return v.intValue
        }
        let hidden = try int("hidden_size")
        let heads = try int("num_attention_heads")
        let kv = (obj["num_key_value_heads"] as? NSNumber)?.intValue ?? heads
        let headDim = (obj["head_dim"] as? NSNumber)?.intValue ?? hidden / max(heads, 1)
        let cfg = ModelConfig(
            name: (obj["_name_or_path"] as? String) ?? name,
            hiddenSize: hidden, intermediateSize: try int("intermediate_size"), numLayers: try int("num_hidden_layers"),
            numHeads: heads, numKVHeads: kv, headDim: headDim, vocabSize: try int("vocab_size"),
            tiedEmbeddings: (obj["tie_word_embeddings"] as? Bool) ?? false,
            ropeTheta: (obj["rope_theta"] as? NSNumber)?.doubleValue ?? 10000,
            rmsNormEps: (obj["rms_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-5,
            contextLength: (obj["max_position_embeddings"] as? NSNumber)?.intValue ?? 2048)
        try cfg.validate()
        return cfg
    }

    /// Checks that the numbers describe a buildable Llama network.
    public func validate() throws {
        let positives: [(String, Int)] = [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_layers", numLayers), ("num_heads", numHeads), ("num_kv_heads", numKVHeads),
            ("head_dim", headDim), ("vocab_size", vocabSize)]
        for (k, v) in positives where v <= 0 || v > 1 << 24 {
            throw ModelConfigError.invalid("\(k) must be in 1...\(1 << 24), got \(v)")
        }
        if numLayers > 4096 { throw ModelConfigError.invalid("num_layers must be at most 4096, got \(numLayers)") }
        if contextLength < 1 || contextLength > 1 << 24 {
            throw ModelConfigError.invalid("context_length must be in 1...\(1 << 24), got \(contextLength)")
        }
        if numHeads * headDim > 1 << 24 || numKVHeads * headDim > 1 << 24 {
            throw ModelConfigError.invalid("heads x head_dim must be at most \(1 << 24)")
        }
        if numHeads % numKVHeads != 0 {
            throw ModelConfigError.invalid("num_heads (\(numHeads)) is not a multiple of num_kv_heads (\(numKVHeads))")
        }
        if headDim % 2 != 0 { throw ModelConfigError.invalid("head_dim (\(headDim)) must be even for RoPE") }
    }
}

public enum ModelConfigError: Error, CustomStringConvertible {
    case missingKey(String)
    case invalid(String)
    public var description: String {
        switch self {
        case .missingKey(let k): return "model config: missing required key '\(k)'"
        case .invalid(let m): return "model config: \(m)"
        }
    }
}

extension ModelConfigError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .missingKey: return .notFound
        case .invalid: return .invalidArgument
        }
    }
}
