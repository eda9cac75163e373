import XCTest
import Foundation
import ROMALlama
import ROMAModel
import ROMATestSupport

/// `LoRATrainer` against PyTorch + PEFT + transformers on the real model: the same initial adapter, the
/// same samples in the same order and the same settings give the same per-step losses
/// (Fixtures/peft-finetune-steps.json, from scripts/finetune-vs-peft.sh). Release build only.
final class FinetuneGoldenTests: XCTestCase {
    struct Fixture: Decodable {
        struct Sample: Decodable { let tokens: [Int]; let mask: [Int] }
        struct Step: Decodable { let samples: [Sample]; let peft_loss: Double; let peft_grad_norm: Double; let peft_learning_rate: Double }
        struct Settings: Decodable { let learning_rate: Double; let warmup: Int; let steps: Int; let rank: Int; let alpha: Double; let grad_clip: Double }
        let settings: Settings
        let seed: UInt64
        let steps: [Step]
    }

    func testPerStepLossesMatchPEFT() throws {
        guard RealModelTests.enabled else { throw XCTSkip("set ROMA_REAL_MODEL_TESTS=1 (release build) to run real-model tests") }
        guard let path = RealModel.path else { throw XCTSkip("model missing: run scripts/fetch-model.sh") }
        let url = Bundle.module.url(forResource: "peft-finetune-steps", withExtension: "json", subdirectory: "Fixtures")!
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let base = try FinetuneBase(image: nil, model: path, chip: .paper)
        var o = FinetuneOptions()
        o.rank = f.settings.rank; o.alpha = f.settings.alpha; o.learningRate = f.settings.learning_rate
        o.warmup = f.settings.warmup; o.iters = f.settings.steps; o.gradClip = f.settings.grad_clip; o.seed = f.seed
        o.servedFormat = nil   // PEFT has no FP8 rounding
        let lora = TrainableLoRA(model: base.config, targets: o.loraTargets(base.config), rank: o.rank, alpha: o.resolvedAlpha,
                                 servedFormat: nil, seed: o.seed)
        let steps = f.steps.map { st in
            st.samples.enumerated().map { TrainingSample(tokens: $1.tokens, supervised: $1.mask.map { $0 == 1 }, origin: "step sample \($0)") }
        }
        let trainer = try LoRATrainer(model: try base.trainable(), lora: lora, options: o, train: steps.flatMap { $0 })
        for (i, st) in f.steps.enumerated() {
            let r = try trainer.runStep(samples: steps[i])
            XCTAssertEqual(r.learningRate, st.peft_learning_rate, accuracy: 1e-12, "step \(i + 1) learning rate")
            XCTAssertEqual(r.loss, st.peft_loss, accuracy: 1e-3 * st.peft_loss, "step \(i + 1): roma \(r.loss), PEFT \(st.peft_loss)")
            XCTAssertEqual(r.gradNorm, st.peft_grad_norm, accuracy: 1e-2 * st.peft_grad_norm, "step \(i + 1) gradient norm")
        }
    }
}
