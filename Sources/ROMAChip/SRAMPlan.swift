import Foundation
import ROMALlama

/// How the H-Units' SRAM is shared by resident adapters and the KV cache, counted exactly as the chip
/// backend allocates it: each adapter layer at the chip's LoRA weight format (FP8 E4M3: one byte per
/// weight plus two FP32 scales), the KV cache at 2 (K, V) x layers x kvDim values per token in the
/// chip's KV-cache format (FP16 on the paper's chip).
public struct SRAMPlan: Sendable {
    public struct AdapterLine: Sendable {
        public var name: String
        public var ranks: [Int]
        public var kinds: [LinearKind]
        public var layers: Int
        public var parameters: Int
        public var bytes: Int
    }
    public let chip: ChipConfig
    public let model: ModelConfig
    public let budget: Int
    public private(set) var adapters: [AdapterLine] = []

    public init(chip: ChipConfig, model: ModelConfig, budgetBytes: Int? = nil) {
        self.chip = chip; self.model = model
        budget = budgetBytes ?? Int(chip.memory.loraKVSRAMBytes)
    }

    /// Adds a real adapter.
    public mutating func add(_ a: LoRAAdapter) {
        let f = chip.numerics.loraWeightFormat
        let bytes = a.layers.values.reduce(0) { $0 + SRAMAccounting.loraLayerBytes(rank: $1.rank, inDim: $1.inDim, outDim: $1.outDim, format: f) }
        adapters.append(AdapterLine(name: a.name, ranks: a.ranks, kinds: a.kinds, layers: a.layers.count, parameters: a.parameterCount, bytes: bytes))
    }

    /// Adds a hypothetical adapter of rank `rank` on `kinds` in every block.
    public mutating func add(name: String, rank: Int, kinds: [LinearKind]) {
        let f = chip.numerics.loraWeightFormat
        var params = 0, bytes = 0
        for k in kinds {
            let (o, i) = k.shape(in: model)
            params += rank * (i + o) * model.numLayers
            bytes += SRAMAccounting.loraLayerBytes(rank: rank, inDim: i, outDim: o, format: f) * model.numLayers
        }
        adapters.append(AdapterLine(name: name, ranks: [rank], kinds: kinds, layers: kinds.count * model.numLayers, parameters: params, bytes: bytes))
    }

    public var adapterBytes: Int { adapters.reduce(0) { $0 + $1.bytes } }
    /// As the chip backend allocates a KV cache (`SRAMAccounting.kvBytesPerToken`).
    public var kvBytesPerToken: Int { SRAMAccounting.kvBytesPerToken(model, chip: chip) }
    public var freeForKV: Int { max(0, budget - adapterBytes) }
    /// The longest context (prompt + generated tokens) one request can have beside the adapters.
    public var maxTokens: Int { budget > adapterBytes ? (budget - adapterBytes) / kvBytesPerToken : 0 }
}
