import XCTest
import ROMAChip
import ROMALlama
@testable import ROMASim

final class CapacityAndUnitsTests: XCTestCase {
    let mib = 1_048_576.0

    func testNumberFormatsAndROMBitsPerWeight() {
        XCTAssertEqual(NumberFormat.fp16.bits, 16)
        XCTAssertEqual(NumberFormat.fp8e4m3.bytes, 1)
        XCTAssertEqual(NumberFormat.uint2.bytes, 0.25)
        // bits + (FP16 scale + unsigned zero point of `bits`) / 128 (Sec. III-B)
        XCTAssertEqual(ChipConfig.paper.numerics.romBitsPerWeight(bits: 4), 4 + 20.0 / 128)
        XCTAssertEqual(ChipConfig.paper.numerics.romBitsPerWeight(bits: 2), 2 + 18.0 / 128)
        // L-Unit rate: weight bits per cycle / bits
        var c = ChipConfig.paper; c.lUnit.weightBitsPerCycle = 4096
        XCTAssertEqual(c.lUnit.macsPerCycle(bits: 4), 1024)
        XCTAssertEqual(c.lUnit.macsPerCycle(bits: 2), 2048)
    }

    func testPaperGeometryAndDerivedCapacities() {
        let c = ChipConfig.paper
        XCTAssertEqual(c.array.rows, 17)
        XCTAssertEqual(c.array.columns, 16)
        XCTAssertEqual(c.array.matrixUnits, 256)
        XCTAssertEqual(c.array.vectorUnits, 16)
        XCTAssertEqual(c.clockHz, 500e6)
        XCTAssertEqual(c.hUnitSRAMBytes, 288 * mib / 256)        // 1.125 MiB per H-Unit
        XCTAssertEqual(c.vectorUnitSRAMBytes, mib)               // 16 MiB / 16
        XCTAssertEqual(c.lUnitROMBytes, 1.86e9 / 256)
    }

    func testParameterCountsAndROMFill() {
        let w = SimWorkload.paper3B
        // 28 x (3072x5120 + 3072x3072 + 3x3072x8192) = 2,818,572,288 ; embedding 128256 x 3072 (tied head)
        XCTAssertEqual(w.blockWeights, 100_663_296)
        XCTAssertEqual(w.romWeights, 2_818_572_288 + 394_002_432)
        let cap = SimCapacity(chip: .paper, workload: w)
        // 3,212,574,720 x 4.15625 / 8 + 57 FP16 norm vectors of 3072
        XCTAssertEqual(cap.romBytesNeeded, 1_669_032_960 + 350_208)
        XCTAssertLessThan(cap.romFill, 1)
        // Llama3-8B INT2, untied head: 8,029,995,008 matrix weights (the model card's 8,030,261,248 less
        // 65 norm vectors of 4096) x 2.140625 / 8 + 65 x 4096 x 2 B of FP16 norms
        let c8 = SimCapacity(chip: .paper, workload: .paper8B)
        XCTAssertEqual(SimWorkload.paper8B.romWeights, 8_030_261_248 - 65 * 4096)
        XCTAssertEqual(c8.romBytesNeeded, 8_029_995_008 * 2.140625 / 8 + 65 * 4096 * 2)
        XCTAssertGreaterThan(c8.romFill, 1)
    }

    /// LoRA on q,k,v,o of Llama3.2-3B: r x 28 x (6144 + 4096 + 4096 + 6144) parameters.
    func testLoRAAndKVBytes() {
        let cap = SimCapacity(chip: .paper, workload: .paper3B)
        XCTAssertEqual(SimWorkload.paper3B.loraParams, 16 * 28 * 20_480)
        XCTAssertEqual(cap.loraBytes(.plain), 9_175_040 + 28 * 4 * 8)  // FP8 + A's and B's FP32 scales per layer, as the chip allocates
        XCTAssertEqual(cap.loraBytes(.paperFig10), 18_350_080)       // 17.5 MiB at 2 B
        XCTAssertEqual(cap.kvBytesPerToken(.plain), 114_688)         // 2 x 28 x 1024 x 2 B = 112 KiB
        XCTAssertEqual(cap.kvBytesPerToken(.paperFig10), 65_536)     // 2 x 32 x 1024 x 1 B = 64 KiB
    }

    /// Fig. 10: 736 / 3808 / 0 with the paper accounting; plain FP16 gives 505 / 2260 / 265.
    func testFig10Points() {
        var w64 = SimWorkload.paper3B; w64.loraRank = 64
        let c16 = SimCapacity(chip: .paper, workload: .paper3B), c64 = SimCapacity(chip: .paper, workload: w64)
        XCTAssertEqual(c16.maxTokens(sramBytes: 64 * mib, .paperFig10), 736)
        XCTAssertEqual(c16.maxTokens(sramBytes: 256 * mib, .paperFig10), 3808)
        XCTAssertEqual(c64.maxTokens(sramBytes: 64 * mib, .paperFig10), 0)
        // (64 MiB - 9,175,040) / 114,688 = 505.1 ; (256 MiB - 9,175,040) / 114,688 = 2260.6 ; (64 MiB - 36,700,160) / 114,688 = 265.1
        XCTAssertEqual(c16.maxTokens(sramBytes: 64 * mib, .plain), 505)
        XCTAssertEqual(c16.maxTokens(sramBytes: 256 * mib, .plain), 2260)
        XCTAssertEqual(c64.maxTokens(sramBytes: 64 * mib, .plain), 265)
    }

    func testSecondsAndRates() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload())
        XCTAssertEqual(sim.seconds(500), 1e-6)
        XCTAssertEqual(sim.ttft(input: 3), sim.prefill(tokens: 3).cycles / 5e8)
    }

    /// Area arithmetic: bits x cell / array efficiency; logic = transistors / density / utilisation.
    func testAreaArithmetic() {
        let a = SimArea(chip: .paper)
        let t = ChipConfig.paper.technology
        XCTAssertEqual(a.hUnitSRAMMm2, 288 * mib * 8 * 0.027 / t.memoryArrayEfficiency * 1e-6, accuracy: 1e-9)
        XCTAssertEqual(a.logicMm2(transistors: 96.3e6 * 0.7), 1, accuracy: 1e-12)
        XCTAssertEqual(a.weightCellUm2(.romCompute), 0.009, accuracy: 1e-12)
        XCTAssertEqual(a.weightCellUm2(.bromCompute), 0.0054, accuracy: 1e-12)
        // B-ROM transistors (D/4)(W + NUM_CGEN) / (D W) with W = 512, NUM_CGEN = 32
        XCTAssertEqual(a.bromTransistorRatio, 544.0 / 2048)
        // Fused cell hides the compute under the B-ROM (overlap 1): area = max(store, compute)
        XCTAssertEqual(a.lUnitMm2(.fusedCell), max(a.lUnitStorageMm2(.fusedCell), a.lUnitComputeMm2), accuracy: 1e-9)
        XCTAssertEqual(a.lUnitMm2(.bromCompute), a.lUnitStorageMm2(.bromCompute) + a.lUnitComputeMm2, accuracy: 1e-9)
    }

    /// Energy = actions x energy per action.
    func testEnergyArithmetic() {
        let p = SimPower(chip: .paper)
        var w = SimWork(); w.fp16MACs = 1e6; w.vectorOps = 1e3; w.routerByteHops = 10
        let e = p.dynamicEnergy(w, bits: 4)
        XCTAssertEqual(e[.hUnit]!, 1e6 * 0.3e-12, accuracy: 1e-18)
        XCTAssertEqual(e[.vectorUnit]!, 1e3 * 1.6e-12, accuracy: 1e-18)
        XCTAssertEqual(e[.router]!, 10 * 1.6e-12, accuracy: 1e-20)
        XCTAssertEqual(e[.lUnit]!, 0)
    }

    func testFig12OrderingAndFig11Shares() throws {
        let sim = try ChipSimulator(chip: .paper, workload: .paper3B)
        let l = LUnitComparison(chip: .paper, simulator: sim)
        XCTAssertEqual(l.rows.map(\.design), LUnitDesign.allCases)
        XCTAssertTrue(l.orderingHolds)
    }
}
