import XCTest
import ROMAChip
import ROMALlama
@testable import ROMASim

/// Each operator's cycle count on the tiny chip, worked out by hand in the comments.
final class OperatorCycleTests: XCTestCase {
    let map = SimMapper(chip: tinyChip(), workload: tinyWorkload())

    /// Fused Q/K/V projection, 1 token, INT4, LoRA rank 2 on q,k,v.
    func testQKVProjectionOneToken() {
        let s = map.linear("qkv_proj", input: 16, outputs: [("q", 16, true), ("k", 8, true), ("v", 8, true)], tokens: 1)
        // L-Unit: ceil(16/4) x ceil(32/4) = 32 weights per unit / 16 MACs per cycle = 2 cycles.
        XCTAssertEqual(s.busy(.lUnit), 2)
        // H-Unit LoRA: A 4 x ceil(6/4)=2 -> 8, B 1 x (4 + 2 + 2) = 8; 16 MACs / 16 per cycle = 1 = 16 B / 16 B per cycle.
        XCTAssertEqual(s.busy(.hUnit), 1)
        // Router: reduce link (8 + 2 partial sums) x 4 B = 40 B / 8 B per cycle = 5 (input 8 B, output 8 B).
        XCTAssertEqual(s.busy(.router), 5)
        // Latency: L 3 + hops (2 + 2 + 2); LoRA path 2*2 + 2 + hops (2*2 + 2*2) = 14 -> +11 beyond L's 3.
        XCTAssertEqual(s.latencyCycles, 20)
        XCTAssertEqual(s.boundBy, .router)
        XCTAssertEqual(s.cycles, 25)  // 20 + one token through the single step (max 5)
        XCTAssertEqual(s.work.lUnitMACs, 16 * 32)
        XCTAssertEqual(s.work.romBits, 16 * 32 * 4.15625)
        XCTAssertEqual(s.work.fp8MACs, 16 * 6 + 2 * 32)
    }

    /// The same projection streaming 8 tokens: 20 + 5 (first token) + 40 * 7/8 (router-bound steady state).
    func testQKVProjectionEightTokens() {
        let s = map.linear("qkv_proj", input: 16, outputs: [("q", 16, true), ("k", 8, true), ("v", 8, true)], tokens: 8)
        XCTAssertEqual(s.busy(.lUnit), 16)
        XCTAssertEqual(s.busy(.router), 40)
        XCTAssertEqual(s.cycles, 60)
    }

    /// INT2 weights double the L-Unit's MAC rate: 32 weights / 32 MACs per cycle = 1 cycle.
    func testINT2Projection() {
        var w = tinyWorkload(rank: 0); w.weightBits = 2
        let s = SimMapper(chip: tinyChip(), workload: w).linear("o_proj", input: 16, outputs: [("o", 16, true)], tokens: 1)
        // ceil(16/4) x ceil(16/4) = 16 weights / 32 = 0.5; no LoRA (rank 0): latency 3 + 6 hops.
        XCTAssertEqual(s.busy(.lUnit), 0.5)
        XCTAssertEqual(s.busy(.hUnit), 0)
        XCTAssertEqual(s.latencyCycles, 9)
        // router: reduce 4 x 4 B = 16 B -> 2 cycles bound.
        XCTAssertEqual(s.cycles, 11)
    }

    /// Decode attention over 5 keys (4 cached + the new token).
    func testDecodeAttention() {
        let s = map.attention(tokens: 1, contextSum: 5, queryTile: 1)
        // H: 2 x 16 x 5 = 160 MACs / 16 units / 8 = 1.25 (KV read 160 B / 16 / 16 = 0.625).
        XCTAssertEqual(s.busy(.hUnit), 1.25)
        // softmax: 3 passes x 4 heads x 5 / (4 units x 4 lanes) = 3.75.
        XCTAssertEqual(s.busy(.vectorUnit), 3.75)
        // router: partial outputs ceil(16/4) x 4 B = 16 B / 8 = 2.
        XCTAssertEqual(s.busy(.router), 2)
        // latency 2*2 + 4*2 + 4 * Rv(2) hops = 20; one token: steps add: 20 + 1.25 + 3.75 + 2.
        XCTAssertEqual(s.latencyCycles, 20)
        XCTAssertEqual(s.cycles, 27)
    }

    /// Prefill attention: the query tile of 4 shares each KV read.
    func testPrefillAttentionTile() {
        // 4 tokens, causal context sum 1+2+3+4 = 10.
        let c = map.attentionCost(tokens: 4, contextSum: 10, queryTile: 4)
        XCTAssertEqual(c.h, 2.5)   // 2*16*10 = 320 MACs / 16 / 8 (KV 2*8*2*10/4 = 80 B / 16 / 16 = 0.3125)
        XCTAssertEqual(c.v, 7.5)   // 3*4*10 / 16
    }

    func testRMSNormAndVectorOps() {
        let n = map.rmsNorm("attn_norm", tokens: 1)
        // 16 elements / 4 units = 4 per unit = 1 cycle per pass on 4 lanes, 2 passes; latency 2*2 + 2*Rh(2) hops.
        XCTAssertEqual(n.busy(.vectorUnit), 2)
        XCTAssertEqual(n.cycles, 10)
        // SiLU x up over 32: ceil(32/4)=8 / 4 lanes = 2 per pass, 2 passes, 3 tokens -> 12.
        XCTAssertEqual(map.vector("silu_mul", elements: 32, passes: 2, tokens: 3, reduce: false).busyCycles, 12)
    }

    func testRoPEAndKVWrite() {
        let s = map.ropeAndKVWrite(tokens: 1)
        // RoPE on q+k = 24: ceil(24/4)=6 / 4 lanes -> 2 per pass x 2 passes = 4.
        XCTAssertEqual(s.busy(.vectorUnit), 4)
        // KV write 2 x 8 x 2 B = 32 B / 16 units / 16 B per cycle = 0.125.
        XCTAssertEqual(s.busy(.hUnit), 0.125)
        // route ceil(16/4) x 2 B / 2 links / 8 B = 0.5; latency 2*2 + 2 hops + 2.
        XCTAssertEqual(s.busy(.router), 0.5)
        XCTAssertEqual(s.latencyCycles, 8)
        XCTAssertEqual(s.cycles, 8 + 4 + 0.5)
    }

    func testEmbeddingAndHead() {
        let e = map.embedding(tokens: 1)
        // ceil(16/16) x 4 bits / 64 = 0.0625 (L), ceil(16/4) x 2 B / 2 / 8 = 0.5 (router), latency 3 + 2 hops.
        XCTAssertEqual(e.busy(.lUnit), 0.0625)
        XCTAssertEqual(e.cycles, 5.5)
        let h = map.head(tokens: 1)
        XCTAssertEqual(h.map(\.name), ["final_norm", "lm_head", "sample"])
        // lm_head: ceil(16/4) x ceil(64/4) = 64 / 16 = 4 (L); reduce 16 x 4 B / 8 = 8 (router) -> 3 + 6 hops + 8.
        XCTAssertEqual(h[1].busy(.lUnit), 4)
        XCTAssertEqual(h[1].cycles, 17)
    }

    /// A decode step = embedding + layers x block + head, the block being 5 fused stages.
    func testDecodeStepIsSumOfStages() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload())
        let block = sim.mapper.block(tokens: 1, contextSum: 1, queryTile: 1)
        XCTAssertEqual(block.map(\.name), ["attn_norm+qkv+rope", "attention", "o_proj+residual+ffn_norm",
                                           "gate_up_proj+silu_mul", "down_proj+residual"])
        let expected = sim.mapper.embedding(tokens: 1).cycles + 2 * block.reduce(0) { $0 + $1.cycles }
            + sim.mapper.head(tokens: 1).reduce(0) { $0 + $1.cycles }
        XCTAssertEqual(sim.decodeStep(cached: 0).cycles, expected, accuracy: 1e-9)
        // 500 MHz: seconds = cycles / 5e8.
        XCTAssertEqual(sim.decodeRate(cached: 0), 5e8 / expected, accuracy: 1e-6)
    }

    /// A chained stage over one token adds its steps: norm (2) -> qkv (5) -> rope (4) -> write (0.5).
    func testChainedStageOneToken() {
        let s = map.block(tokens: 1, contextSum: 1, queryTile: 1)[0]
        XCTAssertEqual(s.latencyCycles, 8 + 20 + 8)
        XCTAssertEqual(s.cycles, 36 + 2 + 5 + 4 + 0.5)
    }

    /// Prefill chunks: live activations (2*16 + 16 + 16 + 16 + 64) x 2 B = 288 B per token; 64 KiB -> 227 tokens.
    func testPrefillChunking() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload())
        XCTAssertEqual(sim.mapper.liveActivationBytesPerToken, 288)
        XCTAssertEqual(sim.mapper.prefillChunkTokens, 227)
    }

    /// End-to-end = prefill + the sum of decode steps over KV lengths input ... input + output - 2.
    func testEndToEndSumsDecodeSteps() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload())
        let e = sim.endToEnd(input: 10, output: 4)
        let cycles = sim.prefill(tokens: 10).cycles + (10...12).reduce(0) { $0 + sim.decodeStep(cached: $1).cycles }
        XCTAssertEqual(e.seconds, cycles / 5e8, accuracy: 1e-15)
        XCTAssertEqual(e.tokensPerSecond, 4 / e.seconds, accuracy: 1e-6)
    }
}

final class MoreOperatorCycleTests: XCTestCase {
    let map = SimMapper(chip: tinyChip(), workload: tinyWorkload(rank: 2, targets: [.gate, .up, .down]))

    /// Gate+up fused (out 64) with LoRA on both: L ceil(16/4) x 16 = 64 / 16 = 4; LoRA A 4 x ceil(4/4) = 4,
    /// B 1 x 8 + 1 x 8 -> 20 MACs / 16 = 1.25 (SRAM 20 B / 16 = 1.25); router reduce (16 + 1) x 4 B / 8 = 8.5.
    func testGateUpWithLoRA() {
        let s = map.linear("gate_up_proj", input: 16, outputs: [("gate", 32, true), ("up", 32, true)], tokens: 1)
        XCTAssertEqual(s.busy(.lUnit), 4)
        XCTAssertEqual(s.busy(.hUnit), 1.25)
        XCTAssertEqual(s.busy(.router), 8.5)
        XCTAssertEqual(s.operators.map(\.name), ["gate_up_proj", "lora_gateup.AB", "gate_up_proj.route"])
        XCTAssertEqual(s.cycles, 20 + 8.5)
    }

    /// Down (in 32): L ceil(32/4)=8 x ceil(16/4)=4 = 32 / 16 = 2; input link 8 x 2 B / 8 = 2; reduce (4 + 1) x 4 / 8 = 2.5.
    func testDownWithLoRA() {
        let s = map.linear("down_proj", input: 32, outputs: [("down", 16, true)], tokens: 1)
        XCTAssertEqual(s.busy(.lUnit), 2)
        XCTAssertEqual(s.busy(.router), 2.5)
        // LoRA: A 8 x 1 + B 1 x 4 = 12 MACs / 16 = 0.75
        XCTAssertEqual(s.busy(.hUnit), 0.75)
    }

    /// Argmax over the vocabulary (64 / 4 units = 16 / 4 lanes = 4 cycles) with a reduce-and-broadcast along
    /// the row (2 x Rh = 4 hops): 2 + 4 latency; residual add over 16: 1 cycle.
    func testArgmaxAndResidual() {
        let h = map.head(tokens: 1)[2]
        XCTAssertEqual(h.busy(.vectorUnit), 4)
        XCTAssertEqual(h.cycles, 4 + 2 + 4)
        XCTAssertEqual(map.vector("residual", elements: 16, passes: 1, tokens: 1, reduce: false).busyCycles, 1)
    }

    /// A two-step chain over 10 tokens: latency + first token through both steps + 9/10 of the busiest kind.
    func testChainedPipelineFormula() {
        let a = SimStage(name: "a", operators: [SimOperator(name: "x", unit: .lUnit, busyCycles: 30)], latencyCycles: 3, tokens: 10)
        let b = SimStage(name: "b", operators: [SimOperator(name: "y", unit: .vectorUnit, busyCycles: 50)], latencyCycles: 2, tokens: 10)
        let c = SimStage.chain("ab", [a, b])
        XCTAssertEqual(c.operators.map(\.step), [0, 1])
        XCTAssertEqual(c.firstTokenCycles, 3 + 5)
        XCTAssertEqual(c.boundBy, .vectorUnit)
        XCTAssertEqual(c.cycles, 5 + 8 + 50 * 0.9, accuracy: 1e-12)
    }
}
