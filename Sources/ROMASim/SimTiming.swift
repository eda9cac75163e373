import Foundation
import ROMAChip
import ROMALlama

/// Cycles, busy time and work of a phase (a prefill or one decode step), summed by stage name.
public struct SimPhase: Sendable {
    public struct StageTotal: Sendable {
        public var name: String
        public var cycles: Double
        public var busy: [SimUnitKind: Double]
        public var boundBy: SimUnitKind
        public var operators: [String: (unit: SimUnitKind, busy: Double)]
        public var work: SimWork
    }
    public private(set) var stages: [StageTotal] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Adds `stage` executed `times` times.
    public mutating func add(_ stage: SimStage, times: Double = 1) {
        let i: Int
        if let j = index[stage.name] { i = j } else {
            i = stages.count; index[stage.name] = i
            stages.append(StageTotal(name: stage.name, cycles: 0, busy: [:], boundBy: stage.boundBy, operators: [:], work: SimWork()))
        }
        stages[i].cycles += times * stage.cycles
        for k in SimUnitKind.allCases { stages[i].busy[k, default: 0] += times * stage.busy(k) }
        for op in stage.operators {
            let prev = stages[i].operators[op.name]?.busy ?? 0
            stages[i].operators[op.name] = (op.unit, prev + times * op.busyCycles)
        }
        stages[i].work = stages[i].work + stage.work.scaled(times)
    }
    public mutating func add(_ stages: [SimStage], times: Double = 1) { for s in stages { add(s, times: times) } }

    public var cycles: Double { stages.reduce(0) { $0 + $1.cycles } }
    public var work: SimWork { stages.reduce(SimWork()) { $0 + $1.work } }
    public func busy(_ k: SimUnitKind) -> Double { stages.reduce(0) { $0 + ($1.busy[k] ?? 0) } }
    /// Fraction of the phase each unit kind is busy.
    public func utilisation(_ k: SimUnitKind) -> Double { cycles > 0 ? busy(k) / cycles : 0 }
}

/// Mapping + timing of a workload on a chip: TTFT, decode rate vs KV length, end-to-end rate.
public struct ChipSimulator: Sendable {
    public let chip: ChipConfig
    public let workload: SimWorkload
    public let mapper: SimMapper

    public init(chip: ChipConfig, workload: SimWorkload) throws {
        try chip.validate()
        try workload.validate(on: chip)
        self.chip = chip; self.workload = workload
        self.mapper = SimMapper(chip: chip, workload: workload)
        if mapper.prefillChunkTokens < 1 {
            throw SimError.badArgument("intermediate SRAM (\(chip.memory.intermediateSRAMBytes) B) cannot hold one token's activations (\(mapper.liveActivationBytesPerToken) B)")
        }
    }

    var layers: Double { Double(workload.model.numLayers) }

    /// Prefill of `tokens` input tokens up to the first output token (TTFT). Tokens go through in chunks
    /// that fit the intermediate SRAM; within a chunk every stage streams all of the chunk's tokens.
    public func prefill(tokens: Int) -> SimPhase {
        var phase = SimPhase()
        let chunk = mapper.prefillChunkTokens
        var start = 0
        while start < tokens {
            let t = min(chunk, tokens - start)
            let td = Double(t), s = Double(start)
            // causal attention: query j (1-based) of the chunk sees start + j keys.
            let ctx = td * s + td * (td + 1) / 2
            phase.add(mapper.embedding(tokens: td))
            phase.add(mapper.block(tokens: td, contextSum: ctx, queryTile: min(td, chip.hUnit.prefillQueryTileTokens)), times: layers)
            start += t
        }
        phase.add(mapper.head(tokens: 1))  // logits only for the last token
        return phase
    }

    /// One decode step with `cached` tokens already in the KV cache (the new token attends to cached + 1).
    public func decodeStep(cached: Int) -> SimPhase {
        var phase = SimPhase()
        phase.add(mapper.embedding(tokens: 1))
        phase.add(mapper.block(tokens: 1, contextSum: Double(cached + 1), queryTile: 1), times: layers)
        phase.add(mapper.head(tokens: 1))
        return phase
    }

    public func seconds(_ cycles: Double) -> Double { cycles / chip.clockHz }

    /// Time to first token, seconds.
    public func ttft(input: Int) -> Double { seconds(prefill(tokens: input).cycles) }

    /// Decode tokens per second with `cached` tokens in the KV cache.
    public func decodeRate(cached: Int) -> Double { 1 / seconds(decodeStep(cached: cached).cycles) }

    /// Cycles of the attention stage of one decode step over `cached` + 1 keys.
    func decodeAttentionCycles(cached: Int) -> Double {
        // Same as `SimStage.cycles` for one token: the three steps (scores+values, softmax, routing) add.
        let c = mapper.attentionCost(tokens: 1, contextSum: Double(cached + 1), queryTile: 1)
        return c.latency + c.h + c.v + c.r
    }

    /// End-to-end generation of `output` tokens after `input` prompt tokens: the first token comes from
    /// prefill, each later one from a decode step over the growing KV cache (summed step by step; only
    /// the attention stage depends on the KV length).
    public func endToEnd(input: Int, output: Int) -> (seconds: Double, tokensPerSecond: Double) {
        let pre = prefill(tokens: input).cycles
        let fixed = decodeStep(cached: 0).cycles - layers * decodeAttentionCycles(cached: 0)
        var total = pre
        if output > 1 {
            for cached in input...(input + output - 2) { total += fixed + layers * decodeAttentionCycles(cached: cached) }
        }
        let s = seconds(total)
        return (s, Double(output) / s)
    }
}
