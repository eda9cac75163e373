import XCTest
import ROMAChip
import ROMAFormats
import ROMALlama
import ROMAModel
import ROMANumerics
import ROMATestSupport

/// Distillation from the float model (`roma finetune --distill`): the KL loss and its gradient, and a
/// LoRA on a ROM image's base learning the float model's distributions.
final class DistillationTests: XCTestCase {
    /// KL(p ‖ softmax(z)) summed over the supervised rows equals the definition in Double; its gradient
    /// equals central finite differences of that definition; an unsupervised row adds nothing and gets
    /// a zero gradient; a teacher equal to the student's own softmax gives KL 0 and gradient 0.
    func testDistillationLossAndGradient() {
        let (rows, n) = (3, 11)
        var rng = SplitMix(17)
        let z = (0..<(rows * n)).map { _ in rng.normal() * 2 }
        var p = (0..<(rows * n)).map { _ in Float(exp(Double(rng.normal()))) }
        p[4] = 0   // a zero teacher probability contributes nothing (0 log 0 = 0)
        for r in 0..<rows {
            let s = p[(r * n)..<((r + 1) * n)].reduce(0, +)
            for v in 0..<n { p[r * n + v] /= s }
        }
        // tokens 0...3, logit rows 0..<3 predict tokens 1...3; token 2 is not learned
        let sample = TrainingSample(tokens: [5, 6, 7, 8], supervised: [false, true, false, true], origin: "t")
        func definition(_ z: [Float]) -> Double {
            var total = 0.0
            for r in [0, 2] {
                let row = (0..<n).map { Double(z[r * n + $0]) }
                let mx = row.max()!, logZ = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
                for v in 0..<n where p[r * n + v] > 0 { total += Double(p[r * n + v]) * (log(Double(p[r * n + v])) - (row[v] - logZ)) }
            }
            return total
        }
        let teacher = Matrix(rows: rows, cols: n, values: p)
        let value = TrainingLoss.distillation(Matrix(rows: rows, cols: n, values: z), teacher: teacher, sample: sample, rows: 0..<3, gradientScale: nil)
        XCTAssertEqual(value, definition(z), accuracy: 1e-5)
        XCTAssertGreaterThan(value, 0)
        let g = Matrix(rows: rows, cols: n, values: z)
        let scale: Float = 0.5
        XCTAssertEqual(TrainingLoss.distillation(g, teacher: teacher, sample: sample, rows: 0..<3, gradientScale: scale), value, accuracy: 1e-9)
        for i in 0..<(rows * n) {
            var up = z, down = z
            up[i] += 1e-2; down[i] -= 1e-2
            let fd = Double(scale) * (definition(up) - definition(down)) / 2e-2
            XCTAssertEqual(Double(g.data[i]), fd, accuracy: 1e-4, "dL/dz[\(i)]")
            if (n..<(2 * n)).contains(i) { XCTAssertEqual(g.data[i], 0, "the unsupervised row") }
        }
        // the student's own distribution as the teacher
        let own = Matrix(rows: rows, cols: n, values: z)
        for r in 0..<rows {
            let row = (0..<n).map { Double(z[r * n + $0]) }
            let mx = row.max()!, s = row.reduce(0) { $0 + exp($1 - mx) }
            for v in 0..<n { own.data[r * n + v] = Float(exp(row[v] - mx) / s) }
        }
        let self0 = Matrix(rows: rows, cols: n, values: z)
        XCTAssertEqual(TrainingLoss.distillation(self0, teacher: own, sample: sample, rows: 0..<3, gradientScale: 1), 0, accuracy: 1e-5)
        for i in 0..<(rows * n) { XCTAssertEqual(self0.data[i], 0, accuracy: 1e-6) }
    }

    /// Random token sequences of the tiny vocabulary, every token after the first learned.
    func texts(_ c: ModelConfig, count: Int, seed: UInt64) -> [TrainingSample] {
        var rng = SplitMix(seed)
        return (0..<count).map { i in
            let tokens = (0..<24).map { _ in 3 + Int(rng.next() % UInt64(c.vocabSize - 3)) }
            return TrainingSample(tokens: tokens, supervised: tokens.map { _ in true }, origin: "text \(i)")
        }
    }

    /// A LoRA on an INT4 image's base, distilled from the float model it was compiled from: the KL to
    /// the float model falls, in training and on the chip serving the adapter (FP8, ChipBackend); the
    /// teacher computes each sample once; the image is only read. (Random tokens, scored on the
    /// training samples: what carries over to unseen text is a property of real text, measured on
    /// SmolLM2 in the README.)
    func testDistilledLoRABringsTheImageTowardTheFloatModel() throws {
        let gguf = try TinyModel(seed: 41).write()
        let rom = TempFiles.path("distill-\(UUID().uuidString).rom")
        _ = try ROMCompiler(bits: 4).compile(gguf: GGUFFile(path: gguf), output: rom)
        let before = try ROMImageTestHash.file(rom)
        let reference = try ReferenceBackend(gguf: GGUFFile(path: gguf))
        let image = try ROMImage(path: rom)
        let student = try TrainableLlama(image: image)
        var o = FinetuneOptions()
        o.rank = 4; o.iters = 30; o.learningRate = 1e-2; o.batchSize = 4; o.maxSeqLen = 64; o.seed = 3
        o.distill = true
        let teacher = try DistillationTeacher(backend: reference, maxSeqLen: 64, budgetBytes: 1 << 30)
        let lora = TrainableLoRA(model: student.config, targets: o.loraTargets(student.config), rank: 4, alpha: o.resolvedAlpha,
                                 servedFormat: .fp8e4m3, seed: 3)
        let train = texts(student.config, count: 16, seed: 5), scored = Array(train.prefix(8))
        XCTAssertThrowsError(try LoRATrainer(model: student, lora: lora, options: o, train: train)) {
            XCTAssertTrue("\($0)".contains("distillation needs a teacher model"), "\($0)")
        }
        let t = try LoRATrainer(model: student, lora: lora, options: o, train: train, valid: scored, teacher: teacher)
        let kl0 = t.loss()
        while !t.isFinished { try t.runStep() }
        let kl1 = t.loss()
        XCTAssertLessThan(kl1, 0.7 * kl0, "KL to the float model: \(kl0) -> \(kl1)")
        XCTAssertEqual(teacher.passes, train.count, "each sample's distributions computed once")

        // the chip serving the adapter (FP8 on the H-Units, integer L-Unit products): closer to the float model
        func kl(_ backend: Backend, _ selection: AdapterSelection) throws -> Double {
            let model = LlamaModel(backend: backend)
            var total = 0.0, count = 0
            for s in scored {
                let logits = model.forward(s.tokens, cache: try backend.makeKVCache(capacity: 64), adapters: selection, logitRows: s.logitRows)
                total += TrainingLoss.distillation(logits, teacher: teacher.distributions(s), sample: s, rows: s.logitRows, gradientScale: nil)
                count += s.supervisedCount
            }
            return total / Double(count)
        }
        let chip = try ChipBackend(image: image, chip: .paper)
        let resident = try chip.makeResident(t.lora.adapter(name: "distilled"))
        let base = try kl(chip, .none), adapted = try kl(chip, AdapterSelection([(resident, 1)]))
        XCTAssertLessThan(adapted, 0.7 * base, "KL(float || chip): \(base) without the adapter, \(adapted) with it")
        XCTAssertEqual(try ROMImageTestHash.file(rom), before, "the image is only read")
    }
}
