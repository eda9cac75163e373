import Foundation
import ROMAChip
import ROMALlama

/// What one LoRA training step would cost on the chip (`roma sim train`): what on-chip adaptation
/// would take, with the base still in ROM. No peer models this; the assumptions are in docs/finetune.md.
///
/// A step trains on `samples` sequences of `tokens` tokens, `supervised` of them targets:
///
/// 1. forward: the prefill of each sample, the output head on the supervised rows only; what the
///    backward pass reads (block inputs, q, k, v, attention output, FFN input, gate, up, SwiGLU
///    output) stays in the vector units' intermediate SRAM if it fits, else only each block's input
///    is kept and the block's forward is run again during the backward pass (recompute);
/// 2. dX through the frozen base: every product needs Wᵀ·g. On the row-major B-ROM that is the same
///    row stream as the forward, each unit accumulating its tile's contribution into an input-wide
///    vector instead of reducing output-wide partial sums: the same ROM reads, L-Unit MACs and router
///    traffic as the forward block (modelled as one more pass of the block's stages), plus the
///    attention backward on the H-Units (dP, dS, dQ, dK, dV: twice the forward's MACs);
/// 3. LoRA gradients on the H-Units: dB = s·dYᵀh and dA = dhᵀx̃, r·(in + out) FP16 MACs per token
///    per target (the dh and dx products ride along the backward pass's LoRA stage);
/// 4. AdamW on the vector units: FP32 master, gradient and two moments per parameter read, master,
///    moments and the FP8 copy the H-Units serve written (12 vector ops per parameter).
public struct SimTrainingStep: Sendable {
    public struct Part: Sendable {
        public var name: String
        public var cycles: Double
        public var work: SimWork
    }
    public let parts: [Part]
    public let tokens: Int, samples: Int, supervised: Int
    /// LoRA parameters trained.
    public let parameters: Double
    /// Whether the backward pass recomputes each block's forward (the tape does not fit).
    public let recompute: Bool
    /// Bytes the backward pass reads from the intermediate SRAM per sample (without recompute).
    public let tapeBytes: Double
    /// SRAM the optimizer needs beside the served FP8 adapter: FP32 master, gradient and two moments.
    public let optimizerStateBytes: Double
    /// H-Unit SRAM for the served adapter, one sample's KV cache and the optimizer state, and the budget.
    public let sramNeededBytes: Double, sramBudgetBytes: Double
    public var sramFits: Bool { sramNeededBytes <= sramBudgetBytes }
    public let clockHz: Double
    public let energyJoules: Double

    public var cycles: Double { parts.reduce(0) { $0 + $1.cycles } }
    public var seconds: Double { cycles / clockHz }
    public var tokensPerSecond: Double { Double(tokens * samples) / seconds }
    public func part(_ name: String) -> Part? { parts.first { $0.name == name } }
    /// Base-weight bits read from ROM in the forward (with recompute) and in the backward dX pass.
    public var romBitsForward: Double { (part("forward")?.work.romBits ?? 0) + (part("recompute")?.work.romBits ?? 0) }
    public var romBitsBackward: Double { part("backward dX")?.work.romBits ?? 0 }
}

extension ChipSimulator {
    /// One training step of `samples` sequences of `tokens` tokens with `supervised` targets each.
    public func trainingStep(tokens: Int, samples: Int, supervised: Int) throws -> SimTrainingStep {
        guard tokens >= 2, samples >= 1, (1..<tokens).contains(supervised) else {
            throw SimError.badArgument("a training step needs tokens >= 2, samples >= 1 and 1...tokens-1 supervised tokens (the first token is never a target)")
        }
        let m = workload.model, t = Double(tokens), n = Double(samples)
        let queryTile = min(t, chip.hUnit.prefillQueryTileTokens)
        let ctx = t * (t + 1) / 2
        let actB = chip.numerics.activationFormat.bytes
        // 1. forward (the prefill's stages; the head on the supervised rows)
        var fwd = SimPhase()
        fwd.add(mapper.embedding(tokens: t))
        fwd.add(mapper.block(tokens: t, contextSum: ctx, queryTile: queryTile), times: layers)
        fwd.add(mapper.head(tokens: Double(supervised)))
        let perToken = Double(m.numLayers) * Double(2 * m.hiddenSize + m.qDim + 2 * m.kvDim + m.qDim + 2 * m.hiddenSize + 3 * m.intermediateSize) * actB
        let tape = perToken * t
        let recompute = tape > chip.memory.intermediateSRAMBytes
        var rec = SimPhase()
        if recompute { rec.add(mapper.block(tokens: t, contextSum: ctx, queryTile: queryTile), times: layers) }
        // 2. dX through the frozen base: the block's row stream again, and the attention backward
        var bwd = SimPhase()
        bwd.add(mapper.head(tokens: Double(supervised)))
        bwd.add(mapper.block(tokens: t, contextSum: ctx, queryTile: queryTile), times: layers)
        bwd.add(mapper.attention(tokens: t, contextSum: ctx, queryTile: queryTile), times: 2 * layers)
        // 3. LoRA gradients (H-Units, FP16)
        let r = Double(workload.loraRank)
        var loraMACs = 0.0, params = 0.0
        for k in workload.loraTargets {
            let (o, i) = k.shape(in: m)
            loraMACs += t * r * Double(i + o) * Double(m.numLayers)
            params += r * Double(i + o) * Double(m.numLayers)
        }
        var gw = SimWork()
        gw.fp16MACs = loraMACs
        let U = Double(chip.array.matrixUnits)
        let gradCycles = loraMACs / U / chip.hUnit.fp16MACsPerCycle
        // 4. AdamW once per step
        var ow = SimWork()
        ow.vectorOps = 12 * params
        ow.sramReadBits = params * 4 * 32
        ow.sramWriteBits = params * (3 * 32 + Double(chip.numerics.loraWeightFormat.bits))
        let V = Double(chip.array.vectorUnits)
        let optCycles = max(12 * params / (V * chip.vectorUnit.lanes), params * 16 / (U * chip.hUnit.sramReadBytesPerCycle))
        let parts = [
            SimTrainingStep.Part(name: "forward", cycles: n * fwd.cycles, work: fwd.work.scaled(n)),
            SimTrainingStep.Part(name: "recompute", cycles: n * rec.cycles, work: rec.work.scaled(n)),
            SimTrainingStep.Part(name: "backward dX", cycles: n * bwd.cycles, work: bwd.work.scaled(n)),
            SimTrainingStep.Part(name: "LoRA gradients", cycles: n * gradCycles, work: gw.scaled(n)),
            SimTrainingStep.Part(name: "AdamW", cycles: optCycles, work: ow),
        ]
        let power = SimPower(chip: chip)
        let total = parts.reduce(SimWork()) { $0 + $1.work }
        let seconds = parts.reduce(0) { $0 + $1.cycles } / chip.clockHz
        let energy = power.dynamicEnergy(total, bits: workload.weightBits).values.reduce(0, +)
            + power.leakage().values.reduce(0, +) * seconds
        let served = params * chip.numerics.loraWeightFormat.bytes
        let kv = t * Double(2 * m.numLayers * m.kvDim) * chip.numerics.kvCacheFormat.bytes
        let state = params * 16
        return SimTrainingStep(parts: parts, tokens: tokens, samples: samples, supervised: supervised, parameters: params,
                               recompute: recompute, tapeBytes: tape, optimizerStateBytes: state,
                               sramNeededBytes: served + kv + state, sramBudgetBytes: chip.memory.loraKVSRAMBytes,
                               clockHz: chip.clockHz, energyJoules: energy)
    }
}
