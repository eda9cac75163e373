import XCTest
import ROMAChip
import ROMALlama
@testable import ROMASim

/// The training-step model (`ChipSimulator.trainingStep`) on the hand-checkable tiny chip.
final class TrainingStepTests: XCTestCase {
    func testTrainingStepCountsTheROMStreamTwiceAndTheOptimizerState() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload(rank: 2, targets: [.q, .v]))
        let s = try sim.trainingStep(tokens: 8, samples: 3, supervised: 5)
        // forward: embedding rows, every block weight once per token, the head on the 5 supervised rows
        let bpw = tinyChip().numerics.romBitsPerWeight(bits: 4)
        let block = Double(16 * (16 + 8 + 8) + 16 * 16 + 3 * 16 * 32)
        let forward = 3 * (8 * 16 * bpw + 8 * 2 * block * bpw + 5 * 64 * 16 * bpw)
        XCTAssertEqual(s.romBitsForward, forward, accuracy: 1e-6)
        // backward dX: the same block rows per token and the head's rows, no embedding
        XCTAssertEqual(s.romBitsBackward, 3 * (8 * 2 * block * bpw + 5 * 64 * 16 * bpw), accuracy: 1e-6)
        XCTAssertFalse(s.recompute, "8 tokens' activations fit 64 KiB")
        // LoRA on q (16 x 16) and v (8 x 16), rank 2, 2 blocks: r (in + out) per target and block
        XCTAssertEqual(s.parameters, 2 * 2 * Double((16 + 16) + (16 + 8)))
        XCTAssertEqual(s.part("LoRA gradients")!.work.fp16MACs, 3 * 8 * s.parameters)
        XCTAssertEqual(s.optimizerStateBytes, 16 * s.parameters, "FP32 master, gradient and two moments")
        XCTAssertEqual(s.part("AdamW")!.work.vectorOps, 12 * s.parameters)
        XCTAssertGreaterThan(s.part("backward dX")!.cycles, s.part("forward")!.cycles, "the backward adds the attention backward")
        XCTAssertGreaterThan(s.energyJoules, 0)
        XCTAssertTrue(s.sramFits)
        XCTAssertEqual(s.cycles, s.parts.reduce(0) { $0 + $1.cycles })
    }

    func testLongSamplesRecomputeAndBadArgumentsAreRefused() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload())
        let long = try sim.trainingStep(tokens: 512, samples: 1, supervised: 511)
        XCTAssertTrue(long.recompute, "\(long.tapeBytes) bytes of activations exceed 64 KiB")
        XCTAssertGreaterThan(long.part("recompute")!.cycles, 0)
        XCTAssertGreaterThan(long.romBitsForward, long.romBitsBackward, "the recompute reads the blocks' rows again")
        XCTAssertThrowsError(try sim.trainingStep(tokens: 8, samples: 1, supervised: 9))
        XCTAssertThrowsError(try sim.trainingStep(tokens: 1, samples: 1, supervised: 1))
    }
}
