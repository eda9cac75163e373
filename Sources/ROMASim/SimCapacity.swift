import Foundation
import ROMAChip
import ROMALlama

/// How LoRA weights and the KV cache are counted against the H-Units' SRAM (Fig. 10).
public struct CapacityAccounting: Sendable, Equatable {
    public var name: String
    /// Bytes per LoRA parameter; nil = the chip's `numerics.loraWeightFormat`.
    public var loraBytesPerParam: Double?
    /// Bytes per KV-cache element; nil = the chip's `numerics.kvCacheFormat`.
    public var kvBytesPerElement: Double?
    /// Layers whose K and V are counted per token; nil = the model's layer count.
    public var kvLayers: Int?
    /// The KV cache is allocated in blocks of this many tokens.
    public var tokenBlock: Int

    public init(name: String, loraBytesPerParam: Double? = nil, kvBytesPerElement: Double? = nil, kvLayers: Int? = nil, tokenBlock: Int = 1) {
        self.name = name; self.loraBytesPerParam = loraBytesPerParam; self.kvBytesPerElement = kvBytesPerElement
        self.kvLayers = kvLayers; self.tokenBlock = tokenBlock
    }

    /// The chip's own accounting (`SRAMAccounting`, what the chip backend allocates): LoRA in its format
    /// with FP8's two scales per layer, K and V in the KV-cache format for every layer, token granularity 1.
    public static let plain = CapacityAccounting(name: "plain (LoRA FP8, KV FP16 x model layers)")

    /// The accounting that reproduces all three Fig. 10 points (736, 3808, 0) for Llama3.2-3B:
    /// LoRA on q,k,v,o counted at 2 bytes per parameter (FP16; 17.5 MiB at rank 16, 70 MiB at rank 64),
    /// the KV cache at 64 KiB per token = 2 (K,V) x 1024 (8 KV heads x 128) x 32 layers x 1 byte, and whole
    /// 32-token KV blocks. See docs/paper-reproduction.md for the search that found it.
    public static let paperFig10 = CapacityAccounting(name: "paper Fig. 10 (LoRA 2 B/param, KV 1 B x 32 layers, 32-token blocks)",
                                                      loraBytesPerParam: 2, kvBytesPerElement: 1, kvLayers: 32, tokenBlock: 32)
}

/// ROM fill and SRAM use of a workload on a chip, and the largest KV cache that fits (Fig. 10).
public struct SimCapacity: Sendable {
    public let chip: ChipConfig
    public let workload: SimWorkload

    public init(chip: ChipConfig, workload: SimWorkload) { self.chip = chip; self.workload = workload }

    /// ROM bytes of the quantized base model: weights at `bits` plus one FP16 scale and one unsigned zero
    /// point per group of 128 (Sec. III-B), plus FP16 RMSNorm gains.
    public var romBytesNeeded: Double {
        let w = workload
        let weights = w.romWeights * chip.numerics.romBitsPerWeight(bits: w.weightBits) / 8
        let norms = Double(2 * w.model.numLayers + 1) * Double(w.model.hiddenSize) * chip.numerics.activationFormat.bytes
        return weights + norms
    }
    public var romFill: Double { romBytesNeeded / chip.memory.romBytes }

    /// LoRA bytes in H-Unit SRAM under an accounting; without a per-parameter override, exactly as the
    /// chip backend allocates them (`SRAMAccounting`: the LoRA format plus FP8's per-tensor scales).
    public func loraBytes(_ a: CapacityAccounting = .plain) -> Double {
        if let perParam = a.loraBytesPerParam { return workload.loraParams * perParam }
        let m = workload.model, f = chip.numerics.loraWeightFormat
        let perBlock = workload.loraTargets.reduce(0) { acc, t in
            let s = t.shape(in: m)
            return acc + SRAMAccounting.loraLayerBytes(rank: workload.loraRank, inDim: s.in, outDim: s.out, format: f)
        }
        return workload.loraRank == 0 ? 0 : Double(perBlock * m.numLayers)
    }
    /// KV-cache bytes per token under an accounting: 2 (K and V) x layers x kvDim x bytes; without
    /// overrides, the chip backend's (`SRAMAccounting.kvBytesPerToken`).
    public func kvBytesPerToken(_ a: CapacityAccounting = .plain) -> Double {
        if a.kvLayers == nil && a.kvBytesPerElement == nil {
            return Double(SRAMAccounting.kvBytesPerToken(workload.model, chip: chip))
        }
        return 2 * Double(a.kvLayers ?? workload.model.numLayers) * Double(workload.model.kvDim)
            * (a.kvBytesPerElement ?? chip.numerics.kvCacheFormat.bytes)
    }
    /// Largest number of tokens whose K and V fit in `sramBytes` beside the LoRA weights (0 if LoRA alone
    /// does not fit).
    public func maxTokens(sramBytes: Double? = nil, _ a: CapacityAccounting = .plain) -> Int {
        let free = (sramBytes ?? chip.memory.loraKVSRAMBytes) - loraBytes(a)
        if free <= 0 { return 0 }
        let t = Int((free / kvBytesPerToken(a)).rounded(.down))
        return t / a.tokenBlock * a.tokenBlock
    }

    /// Intermediate SRAM in use during prefill (one chunk of live activations).
    public var intermediateBytesUsed: Double {
        let map = SimMapper(chip: chip, workload: workload)
        return Double(map.prefillChunkTokens) * map.liveActivationBytesPerToken
    }
}
