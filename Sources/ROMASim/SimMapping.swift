import Foundation
import ROMAChip
import ROMALlama

// Mapping of every Llama operator onto ROMA's units (paper Sec. III-A, Fig. 3) and its cycle cost.
//
// Placement (Sec. III-A): base-weight products on the L-Units straight from their B-ROM; LoRA A/B and the
// attention over the KV cache on the H-Units from their SRAM; norms, RoPE, softmax, SiLU, residuals and
// sampling on the vector-unit row; all operand traffic through the routers between neighbours.
//
// Weight layout: every weight matrix W (out x in) is spread over all matrix units. Column c of the array
// holds input features [c*in/C, (c+1)*in/C); the M matrix units of a column split the output features.
// An activation slice goes from the vector unit of its column up and down the column (multicast), each
// unit produces out/M partial sums over its input slice, the partial sums are reduced along the row of
// C units and the results go back to the vector row. LoRA's B partial sums join the same reduction.
//
// Timing: a stage is a set of operators on different units that stream together (Sec. III-A "data flow
// architecture"). Over T tokens its time is max(busy of each unit kind, busy of the busiest link) plus
// the pipeline latency of one pass (unit pipelines plus router hops x hop latency). Stages run one after
// another; a layer is a fixed sequence of stages.

/// The kinds of unit on the chip.
public enum SimUnitKind: String, CaseIterable, Sendable, Codable {
    case lUnit = "L-Unit", hUnit = "H-Unit", vectorUnit = "vector", router = "router"
}

/// Countable work of an operator (for energy and for the per-operator report).
public struct SimWork: Sendable, Equatable {
    public var lUnitMACs = 0.0, romBits = 0.0, fp16MACs = 0.0, fp8MACs = 0.0
    public var sramReadBits = 0.0, sramWriteBits = 0.0, vectorOps = 0.0, routerByteHops = 0.0
    public init() {}
    public static func + (a: SimWork, b: SimWork) -> SimWork {
        var r = a
        r.lUnitMACs += b.lUnitMACs; r.romBits += b.romBits; r.fp16MACs += b.fp16MACs; r.fp8MACs += b.fp8MACs
        r.sramReadBits += b.sramReadBits; r.sramWriteBits += b.sramWriteBits; r.vectorOps += b.vectorOps
        r.routerByteHops += b.routerByteHops
        return r
    }
    public func scaled(_ k: Double) -> SimWork {
        var r = self
        r.lUnitMACs *= k; r.romBits *= k; r.fp16MACs *= k; r.fp8MACs *= k
        r.sramReadBits *= k; r.sramWriteBits *= k; r.vectorOps *= k; r.routerByteHops *= k
        return r
    }
}

/// One operator placed on one kind of unit. `busyCycles` is the time each unit of that kind is busy
/// (work is balanced over all units of the kind), over all tokens of the stage.
public struct SimOperator: Sendable, Equatable {
    public var name: String
    public var unit: SimUnitKind
    public var busyCycles: Double
    public var work: SimWork
    /// Position in its stage's dependency chain: operators of one step run concurrently, steps in order.
    public var step: Int
    public init(name: String, unit: SimUnitKind, busyCycles: Double, work: SimWork = SimWork(), step: Int = 0) {
        self.name = name; self.unit = unit; self.busyCycles = busyCycles; self.work = work; self.step = step
    }
}

/// Operators that stream a group of tokens together, with the latency of one pass through them.
///
/// Time over T tokens (classic pipeline): latency + (time of the first token through the chain of steps)
/// + (T - 1) x (per-token time of the busiest unit kind). For one token (decode) the steps add up; for
/// many tokens (prefill) the busiest unit kind bounds.
public struct SimStage: Sendable, Equatable {
    public var name: String
    public var operators: [SimOperator]
    public var latencyCycles: Double
    public var tokens: Double
    public init(name: String, operators: [SimOperator], latencyCycles: Double, tokens: Double) {
        self.name = name; self.operators = operators; self.latencyCycles = latencyCycles; self.tokens = tokens
    }
    /// Busy cycles of one unit kind in this stage, all tokens.
    public func busy(_ kind: SimUnitKind) -> Double {
        operators.reduce(0) { $1.unit == kind ? $0 + $1.busyCycles : $0 }
    }
    /// The unit kind that bounds the stage's throughput.
    public var boundBy: SimUnitKind { SimUnitKind.allCases.max { busy($0) < busy($1) }! }
    /// Time of one token through the chain of steps.
    public var firstTokenCycles: Double {
        let steps = Set(operators.map(\.step))
        return steps.reduce(0) { acc, s in
            acc + operators.filter { $0.step == s }.map(\.busyCycles).max()! / max(1, tokens)
        }
    }
    public var cycles: Double {
        let t = max(1, tokens)
        return latencyCycles + firstTokenCycles + busy(boundBy) * (t - 1) / t
    }
    public var work: SimWork { operators.reduce(SimWork()) { $0 + $1.work } }

    /// Stages fused into one streaming stage: their steps run in sequence, latencies add.
    public static func chain(_ name: String, _ parts: [SimStage]) -> SimStage {
        var ops: [SimOperator] = []
        var next = 0
        for p in parts {
            let base = next
            for var o in p.operators { o.step += base; ops.append(o); next = max(next, o.step + 1) }
        }
        return SimStage(name: name, operators: ops, latencyCycles: parts.reduce(0) { $0 + $1.latencyCycles },
                        tokens: parts.first?.tokens ?? 1)
    }
}

/// Places a workload's operators on a chip and costs them.
public struct SimMapper: Sendable {
    public let chip: ChipConfig
    public let workload: SimWorkload

    public init(chip: ChipConfig, workload: SimWorkload) { self.chip = chip; self.workload = workload }

    // Geometry shorthands (Sec. III-A, Fig. 3).
    var C: Double { Double(chip.array.columns) }
    var M: Double { Double(chip.array.matrixRowsPerColumn) }
    var U: Double { Double(chip.array.matrixUnits) }
    var V: Double { Double(chip.array.vectorUnits) }
    /// Hops from the vector row to the farthest matrix unit of a column.
    var Rv: Double { Double(chip.array.matrixRowsPerArray) }
    /// Hops of a reduction along a row of C units toward its middle (both halves in parallel).
    var Rh: Double { (C / 2).rounded(.down) }
    /// Links into each vector unit from the matrix arrays (one from above, one from below).
    var vLinks: Double { Double(chip.array.matrixArrays) }
    var hop: Double { chip.router.hopLatencyCycles }
    var link: Double { chip.router.linkBytesPerCycle }
    var actB: Double { chip.numerics.activationFormat.bytes }
    var psumB: Double { chip.numerics.partialSumFormat.bytes }
    var m: ModelConfig { workload.model }
    func ceilDiv(_ a: Double, _ b: Double) -> Double { (a / b).rounded(.up) }

    // MARK: - Base-weight products (L-Units) with LoRA (H-Units)

    /// A matrix-vector product of `tokens` activations with base weights (out = sum of `outputs`) read from
    /// the L-Units' B-ROM (Sec. III-B, Eq. 1), plus the LoRA A/B products of the `outputs` marked `lora` on
    /// the H-Units (Sec. III-A).
    public func linear(_ name: String, input: Int, outputs: [(part: String, out: Int, lora: Bool)],
                       tokens: Double, bits: Int? = nil) -> SimStage {
        let bits = bits ?? workload.weightBits
        let inp = Double(input)
        let out = Double(outputs.reduce(0) { $0 + $1.out })
        let nb = chip.numerics
        // L-Unit: each unit holds ceil(in/C) x ceil(out/M) weights and reads them once per token.
        let perUnit = ceilDiv(inp, C) * ceilDiv(out, M)
        var lWork = SimWork()
        lWork.lUnitMACs = tokens * inp * out
        lWork.romBits = tokens * inp * out * nb.romBitsPerWeight(bits: bits)
        let lBusy = tokens * perUnit / chip.lUnit.macsPerCycle(bits: bits)
        var ops = [SimOperator(name: name, unit: .lUnit, busyCycles: lBusy, work: lWork)]

        // LoRA on the H-Units: A (in x r per target, input slices by column) then B (r x out).
        let r = Double(workload.loraRank)
        let loraParts = outputs.filter { $0.lora }
        var loraReduce = 0.0
        var latency = chip.lUnit.pipelineLatencyCycles + hop * (Rv + Rh + Rv)
        if r > 0 && !loraParts.isEmpty {
            let nA = r * Double(loraParts.count)
            var macsPerUnit = ceilDiv(inp, C) * ceilDiv(nA, M)
            var macs = inp * nA
            for p in loraParts {
                macsPerUnit += ceilDiv(r, C) * ceilDiv(Double(p.out), M)
                macs += r * Double(p.out)
            }
            let loraB = nb.loraWeightFormat.bytes
            let busy = tokens * max(macsPerUnit / chip.hUnit.fp8MACsPerCycle,
                                    macsPerUnit * loraB / chip.hUnit.sramReadBytesPerCycle)
            var w = SimWork()
            w.fp8MACs = tokens * macs
            w.sramReadBits = tokens * macs * Double(nb.loraWeightFormat.bits)
            // the r-vector of A is reduced along the row, sent to the vector row and back.
            w.routerByteHops = tokens * nA * (psumB * (C - 1) + actB * 2 * Rv)
            ops.append(SimOperator(name: "lora_\(loraParts.map(\.part).joined()).AB", unit: .hUnit, busyCycles: busy, work: w))
            loraReduce = ceilDiv(nA, M)
            // LoRA path: A, reduce along the row, to the vector row (scale alpha/r), back down, B; then it
            // joins the base reduction. Latency beyond the base path:
            let loraPath = 2 * chip.hUnit.pipelineLatencyCycles + chip.vectorUnit.opLatencyCycles
                + hop * (2 * Rh + 2 * Rv)
            latency += max(0, loraPath - chip.lUnit.pipelineLatencyCycles)
        }

        // Router: input multicast down each column, partial-sum reduction along each row, results to the
        // vector row (two links per vector unit, from above and below). The busiest link bounds.
        let inLink = tokens * ceilDiv(inp, C) * actB
        let reduceLink = tokens * (ceilDiv(out, M) + loraReduce) * psumB
        let outLink = tokens * ceilDiv(out, C) * actB / vLinks
        var rw = SimWork()
        rw.routerByteHops = tokens * (inp * actB * M + out * psumB * (C - 1) + out * actB * Rv)
        ops.append(SimOperator(name: "\(name).route", unit: .router,
                               busyCycles: max(inLink, reduceLink, outLink) / link, work: rw))
        return SimStage(name: name, operators: ops, latencyCycles: latency, tokens: tokens)
    }

    // MARK: - Vector-unit operators

    /// An element-wise operator over `elements` values per token on the vector row, `passes` pipeline passes
    /// (each pass one op per element per lane), with an optional cross-row reduction (RMSNorm, argmax).
    public func vector(_ name: String, elements: Int, passes: Double, tokens: Double, reduce: Bool) -> SimOperator {
        let perUnit = ceilDiv(Double(elements), V)
        var w = SimWork()
        w.vectorOps = tokens * passes * Double(elements)
        if reduce { w.routerByteHops = tokens * 2 * (C - 1) * psumB }
        return SimOperator(name: name, unit: .vectorUnit, busyCycles: tokens * passes * ceilDiv(perUnit, chip.vectorUnit.lanes), work: w)
    }

    /// Latency of a vector stage: one op latency per pass, plus a reduce-and-broadcast along the row.
    func vectorLatency(passes: Double, reduce: Bool) -> Double {
        passes * chip.vectorUnit.opLatencyCycles + (reduce ? hop * 2 * Rh : 0)
    }

    /// RMSNorm: sum of squares (reduced along the vector row), then scale by rsqrt and gain: 2 passes.
    public func rmsNorm(_ name: String, tokens: Double) -> SimStage {
        SimStage(name: name, operators: [vector(name, elements: m.hiddenSize, passes: 2, tokens: tokens, reduce: true)],
                 latencyCycles: vectorLatency(passes: 2, reduce: true), tokens: tokens)
    }

    // MARK: - Attention (H-Units over the KV cache, softmax on the vector row)

    /// RoPE on q and k (2 passes: products with cos/sin table, then the pair sum) and the write of k, v into
    /// the KV cache of the H-Units.
    public func ropeAndKVWrite(tokens: Double) -> SimStage {
        let rope = vector("rope", elements: m.qDim + m.kvDim, passes: 2, tokens: tokens, reduce: false)
        let kvB = chip.numerics.kvCacheFormat.bytes
        let kvBytes = tokens * 2 * Double(m.kvDim) * kvB
        var hw = SimWork(); hw.sramWriteBits = kvBytes * 8
        let write = SimOperator(name: "kv_write", unit: .hUnit, busyCycles: kvBytes / U / chip.hUnit.sramReadBytesPerCycle, work: hw, step: 1)
        var rw = SimWork(); rw.routerByteHops = tokens * 2 * Double(m.kvDim) * actB * Rv
        let route = SimOperator(name: "kv_write.route", unit: .router,
                                busyCycles: tokens * ceilDiv(2 * Double(m.kvDim), C) * actB / vLinks / link, work: rw, step: 1)
        return SimStage(name: "rope+kv_write", operators: [rope, write, route],
                        latencyCycles: 2 * chip.vectorUnit.opLatencyCycles + hop * Rv + chip.hUnit.pipelineLatencyCycles,
                        tokens: tokens)
    }

    /// Scores q.K^T and weighted sum P.V on the H-Units, softmax on the vector row. `contextSum` is the sum
    /// over the stage's query tokens of the number of keys each attends to; `queryTile` query tokens share
    /// one read of the KV cache (1 in decode).
    public func attention(tokens: Double, contextSum: Double, queryTile: Double) -> SimStage {
        let c = attentionCost(tokens: tokens, contextSum: contextSum, queryTile: queryTile)
        let q = Double(m.qDim), heads = Double(m.numHeads), kv = Double(m.kvDim)
        let kvB = chip.numerics.kvCacheFormat.bytes
        var hw = SimWork(); hw.fp16MACs = 2 * q * contextSum; hw.sramReadBits = 2 * kv * kvB * contextSum / max(1, queryTile) * 8
        var vw = SimWork(); vw.vectorOps = 3 * heads * contextSum
        var rw = SimWork()
        rw.routerByteHops = 2 * heads * contextSum * actB * Rv + tokens * q * (actB * M + psumB * Rv)
        return SimStage(name: "attention", operators: [
            SimOperator(name: "attn_scores+values", unit: .hUnit, busyCycles: c.h, work: hw),
            SimOperator(name: "softmax", unit: .vectorUnit, busyCycles: c.v, work: vw, step: 1),
            SimOperator(name: "attention.route", unit: .router, busyCycles: c.r, work: rw, step: 2),
        ], latencyCycles: c.latency, tokens: tokens)
    }

    /// Busy cycles of the attention stage per unit kind and its latency (numbers only: used in loops).
    public func attentionCost(tokens: Double, contextSum: Double, queryTile: Double)
        -> (h: Double, v: Double, r: Double, latency: Double) {
        let q = Double(m.qDim), heads = Double(m.numHeads), kv = Double(m.kvDim)
        let kvB = chip.numerics.kvCacheFormat.bytes
        let macs = 2 * q * contextSum
        let kvRead = 2 * kv * kvB * contextSum / max(1, queryTile)
        let h = max(macs / U / chip.hUnit.fp16MACsPerCycle, kvRead / U / chip.hUnit.sramReadBytesPerCycle)
        // softmax: running max, exp and sum, scale: 3 passes over heads x context scores.
        let v = 3 * heads * contextSum / (V * chip.vectorUnit.lanes)
        // router: q down the columns, scores up and probabilities down (vLinks links per vector unit),
        // per-head partial outputs reduced up the columns.
        let scoreLink = heads * contextSum * actB / (vLinks * C)
        let qLink = tokens * ceilDiv(q, C) * actB
        let outLink = tokens * ceilDiv(q, C) * psumB
        let r = max(scoreLink, qLink, outLink) / link
        let lat = 2 * chip.hUnit.pipelineLatencyCycles + 4 * chip.vectorUnit.opLatencyCycles + hop * 4 * Rv
        return (h, v, r, lat)
    }

    // MARK: - Blocks and model

    func has(_ t: LoRAModule) -> Bool { workload.loraTargets.contains(t) }

    /// The stages of one transformer block (Llama: pre-norm attention and SwiGLU FFN with residuals).
    public func block(tokens: Double, contextSum: Double, queryTile: Double) -> [SimStage] {
        let d = m.hiddenSize, f = m.intermediateSize
        let resid1 = vector("residual1", elements: d, passes: 1, tokens: tokens, reduce: false)
        let norm2 = vector("ffn_norm", elements: d, passes: 2, tokens: tokens, reduce: true)
        func vstage(_ o: SimOperator, passes: Double, reduce: Bool) -> SimStage {
            SimStage(name: o.name, operators: [o], latencyCycles: vectorLatency(passes: passes, reduce: reduce), tokens: tokens)
        }
        return [
            .chain("attn_norm+qkv+rope", [
                rmsNorm("attn_norm", tokens: tokens),
                linear("qkv_proj", input: d, outputs: [("q", m.qDim, has(.q)), ("k", m.kvDim, has(.k)), ("v", m.kvDim, has(.v))], tokens: tokens),
                ropeAndKVWrite(tokens: tokens)]),
            attention(tokens: tokens, contextSum: contextSum, queryTile: queryTile),
            .chain("o_proj+residual+ffn_norm", [
                linear("o_proj", input: m.qDim, outputs: [("o", d, has(.o))], tokens: tokens),
                vstage(resid1, passes: 1, reduce: false), vstage(norm2, passes: 2, reduce: true)]),
            .chain("gate_up_proj+silu_mul", [
                linear("gate_up_proj", input: d, outputs: [("gate", f, has(.gate)), ("up", f, has(.up))], tokens: tokens),
                vstage(vector("silu_mul", elements: f, passes: 2, tokens: tokens, reduce: false), passes: 2, reduce: false)]),
            .chain("down_proj+residual", [
                linear("down_proj", input: f, outputs: [("down", d, has(.down))], tokens: tokens),
                vstage(vector("residual2", elements: d, passes: 1, tokens: tokens, reduce: false), passes: 1, reduce: false)]),
        ]
    }

    /// Embedding lookup: each token's row is read (and dequantized) from ROM and sent to the vector row.
    public func embedding(tokens: Double) -> SimStage {
        let d = Double(m.hiddenSize), bits = workload.weightBits
        var lw = SimWork(); lw.romBits = tokens * d * chip.numerics.romBitsPerWeight(bits: bits)
        let l = SimOperator(name: "embedding", unit: .lUnit,
                            busyCycles: tokens * ceilDiv(d, U) * Double(bits) / chip.lUnit.weightBitsPerCycle, work: lw)
        var rw = SimWork(); rw.routerByteHops = tokens * d * actB * Rv
        let r = SimOperator(name: "embedding.route", unit: .router, busyCycles: tokens * ceilDiv(d, C) * actB / vLinks / link, work: rw)
        return SimStage(name: "embedding", operators: [l, r], latencyCycles: chip.lUnit.pipelineLatencyCycles + hop * Rv, tokens: tokens)
    }

    /// Final norm, output head (vocab x hidden on the L-Units, no LoRA) and greedy sampling (argmax).
    public func head(tokens: Double) -> [SimStage] {
        [rmsNorm("final_norm", tokens: tokens),
         linear("lm_head", input: m.hiddenSize, outputs: [("head", m.vocabSize, false)], tokens: tokens),
         SimStage(name: "sample", operators: [vector("argmax", elements: m.vocabSize, passes: 1, tokens: tokens, reduce: true)],
                  latencyCycles: vectorLatency(passes: 1, reduce: true), tokens: tokens)]
    }

    /// Activation bytes live per token in the vector units' intermediate SRAM during prefill: residual,
    /// normed input, q/k/v, attention output, gate and up (Sec. III-A: vector units hold intermediates).
    public var liveActivationBytesPerToken: Double {
        actB * Double(2 * m.hiddenSize + m.qDim + 2 * m.kvDim + m.qDim + 2 * m.intermediateSize)
    }

    /// Tokens per prefill chunk: as many as the intermediate SRAM holds.
    public var prefillChunkTokens: Int {
        Int((chip.memory.intermediateSRAMBytes / liveActivationBytesPerToken).rounded(.down))
    }
}
