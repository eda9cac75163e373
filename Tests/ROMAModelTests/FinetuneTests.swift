import XCTest
import ROMAChip
import ROMAFormats
import ROMALlama
import ROMAModel
import ROMANumerics
import ROMATestSupport
import ROMATokenizer

/// LoRA training against a frozen base (`LoRATrainer`, `TrainableLoRA`, `TrainingData`).
final class FinetuneTests: XCTestCase {
    func reference(_ tiny: TinyModel) throws -> ReferenceBackend { try ReferenceBackend(gguf: GGUFFile(path: tiny.write())) }

    /// A LoRA with random A and B (B = 0 would give dA = 0) on `targets`, FP32 (no rounding to differentiate through).
    func randomLoRA(_ c: ModelConfig, targets: [LoRATarget], rank: Int = 3, seed: UInt64 = 4, served: NumberFormat? = nil) throws -> TrainableLoRA {
        var rng = SplitMix(seed)
        var layers: [LoRATarget: LoRALayer] = [:]
        for t in targets {
            let (o, i) = t.kind.shape(in: c)
            layers[t] = LoRALayer(rank: rank, inDim: i, outDim: o, a: (0..<(rank * i)).map { _ in rng.normal() * 0.1 },
                                  b: (0..<(o * rank)).map { _ in rng.normal() * 0.1 }, scale: 2)
        }
        return try TrainableLoRA(adapter: LoRAAdapter(name: "t", layers: layers, source: "test"), alpha: Double(2 * rank), servedFormat: served)
    }

    func allTargets(_ c: ModelConfig) -> [LoRATarget] {
        (0..<c.numLayers).flatMap { l in LinearKind.allCases.map { LoRATarget(layer: l, kind: $0) } }
    }

    // MARK: gradients

    /// dL/dA and dL/dB of every target against central finite differences, tied and untied heads,
    /// with a frozen base (only LoRA gradients), logits of a sub-range of rows, and with dropout (a
    /// fixed mask).
    func testLoRAGradientsMatchFiniteDifferences() throws {
        let tiny = TinyModel(seed: 5, layers: 2)
        for (model, dropout) in [(tiny, Float(0)), (tiny.untied(), Float(0)), (tiny, Float(0.3))] {
            let m = TrainableLlama(copying: try reference(model))
            let lora = try randomLoRA(m.config, targets: allTargets(m.config))
            lora.dropout = dropout
            lora.dropoutSeed = 1234
            m.lora = lora
            m.frozenBase = true
            try checkLoRAGradients(m, lora, label: "\(model.outputHead == nil ? "tied" : "untied"), dropout \(dropout)")
        }
    }

    /// dL/dA = s·Bᵀ G and dL/dB = s·G Aᵀ, G = dL/dW' the gradient of the merged weight W' = W + s·B·A
    /// from the full backward pass (itself checked against finite differences in TrainingTests): every
    /// target, tied and untied heads, logits of a sub-range of rows.
    func testLoRAGradientsEqualTheMergedWeightGradient() throws {
        let tiny = TinyModel(seed: 5, layers: 2)
        for model in [tiny, tiny.untied()] {
            let ref = try reference(model)
            let m = TrainableLlama(copying: ref)
            let lora = try randomLoRA(m.config, targets: allTargets(m.config))
            m.lora = lora
            m.frozenBase = true
            let merged = TrainableLlama(copying: ref)
            for (t, l) in lora.adapter(name: "x").layers {
                let w = merged.weights[t.layer][t.kind]!
                for (i, d) in l.denseDelta().enumerated() { w.data[i] += Float(d) }
            }
            let tokens = [9, 200, 31, 77, 260, 4, 150, 42, 8], rows = 2..<8
            var rng = SplitMix(99)
            let R = Matrix(rows: rows.count, cols: m.config.vocabSize)
            for i in 0..<(R.rows * R.cols) { R.data[i] = rng.normal() }
            lora.zeroGradients()
            m.backward(m.forward(tokens, logitRows: rows).tape, dLogits: R, into: nil)
            let grads = merged.makeGradients()
            merged.backward(merged.forward(tokens, logitRows: rows).tape, dLogits: R, into: grads)
            for t in lora.targets {
                let f = lora.factors[t]!, G = grads.weights[t.layer][t.kind]!, s = lora.scale
                var expA = [Double](repeating: 0, count: f.a.count), expB = [Double](repeating: 0, count: f.b.count)
                for o in 0..<f.outDim {
                    for i in 0..<f.inDim {
                        let g = Double(G.data[o * f.inDim + i])
                        for r in 0..<f.rank {
                            expA[r * f.inDim + i] += Double(s) * Double(f.b[o * f.rank + r]) * g
                            expB[o * f.rank + r] += Double(s) * g * Double(f.a[r * f.inDim + i])
                        }
                    }
                }
                for (name, got, exp) in [("A", f.gradientA, expA), ("B", f.gradB, expB)] {
                    let scale = exp.map(abs).max()!
                    XCTAssertGreaterThan(scale, 1e-3, "\(t).\(name) has a gradient")
                    let err = zip(got, exp).map { abs(Double($0) - $1) }.max()!
                    XCTAssertLessThan(err, 2e-4 * scale, "\(model.outputHead == nil ? "tied" : "untied") \(t).\(name): largest error \(err) of \(scale)")
                }
            }
        }
    }

    func checkLoRAGradients(_ m: TrainableLlama, _ lora: TrainableLoRA, label: String) throws {
        let tokens = [9, 200, 31, 77, 260, 4, 150, 42, 8]
        let rows = 2..<8
        var rng = SplitMix(99)
        let R = Matrix(rows: rows.count, cols: m.config.vocabSize)
        for i in 0..<(R.rows * R.cols) { R.data[i] = rng.normal() }
        func loss() -> Double {
            lora.refreshServed()
            let (logits, _) = m.forward(tokens, logitRows: rows)
            var s = 0.0
            for i in 0..<(R.rows * R.cols) { s += Double(R.data[i]) * Double(logits.data[i]) }
            return s
        }
        lora.zeroGradients()
        let (_, tape) = m.forward(tokens, logitRows: rows)
        m.backward(tape, dLogits: R, into: nil)
        for t in lora.targets {
            let f = lora.factors[t]!
            let (gA, gB) = (f.gradientA, f.gradB)
            for (name, count, grad, isA) in [("A", f.a.count, gA, true), ("B", f.b.count, gB, false)] {
                // along the gradient's own direction plus a random one, both unit length: the loss moves
                // by about |g|·h, well above the FP32 rounding of the logits (a random direction alone
                // moves a rank-3 LoRA's loss too little to measure to 0.3%)
                let norm = grad.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
                let r = (0..<count).map { _ in rng.normal() }
                let rn = r.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
                let dir = zip(grad, r).map { Float(Double($0) / norm + 0.5 * Double($1) / rn) }
                let analytic = zip(grad, dir).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let orig = isA ? f.a : f.b
                let h: Float = 1e-3
                func set(_ sign: Float) { let v = zip(orig, dir).map { $0 + sign * h * $1 }; if isA { f.a = v } else { f.b = v } }
                set(1); let lp = loss()
                set(-1); let lm = loss()
                if isA { f.a = orig } else { f.b = orig }
                let numeric = (lp - lm) / (2 * Double(h))
                XCTAssertGreaterThan(abs(numeric), 1e-2, "\(label) \(t).\(name): the direction should move the loss")
                XCTAssertEqual(analytic, numeric, accuracy: 0.003 * abs(numeric), "\(label) \(t).\(name): backprop \(analytic) vs finite differences \(numeric)")
            }
        }
        lora.refreshServed()
    }

    /// A frozen base gets no gradient of its own: its weights' gradients are never written.
    func testFrozenBaseComputesNoWeightGradients() throws {
        let m = TrainableLlama(copying: try reference(TinyModel(seed: 5)))
        m.lora = try randomLoRA(m.config, targets: [LoRATarget(layer: 0, kind: .v)])
        m.frozenBase = true
        let before = try ROMImageTestHash.weights(m)
        let (logits, tape) = m.forward([3, 4, 5, 6])
        m.backward(tape, dLogits: logits, into: nil)
        XCTAssertEqual(try ROMImageTestHash.weights(m), before)
    }

    // MARK: served values

    /// Zeroed B reproduces the base bit for bit: in the trainer's graph and on the chip with the adapter resident.
    func testZeroBReproducesTheBaseLogitsBitForBit() throws {
        let (_, rom) = try TinyChip.files(seed: 31)
        let image = try ROMImage(path: rom)
        let m = try TrainableLlama(image: image)
        let tokens = [5, 70, 120, 3, 250, 33]
        let bare = m.forward(tokens).logits.array
        let lora = TrainableLoRA(model: m.config, targets: allTargets(m.config), rank: 4, alpha: 8, servedFormat: .fp8e4m3, seed: 1)
        m.lora = lora
        XCTAssertEqual(m.forward(tokens).logits.array, bare, "B = 0 in the trainer")
        let engine = try Engine.chip(imagePath: rom)
        try engine.adapters.register(lora.adapter(name: "zero"))
        let plain = try engine.session(capacity: 16).feed(tokens, logitRows: 0..<tokens.count).array
        let withZero = try engine.session(capacity: 16, adapters: [AdapterRequest("zero")]).feed(tokens, logitRows: 0..<tokens.count).array
        XCTAssertEqual(withZero, plain, "B = 0 resident on the chip")
    }

    /// The chip stores exactly what the trainer's forward pass used: re-encoding the served values
    /// gives the masters' FP8 codes and scales.
    func testServedValuesAreWhatTheChipStores() throws {
        var rng = SplitMix(8)
        let x = (0..<500).map { _ in rng.normal() * 0.02 }
        let served = HUnitLoRA.servedValues(x, format: .fp8e4m3)
        XCTAssertEqual(HUnitLoRA.servedValues(served, format: .fp8e4m3), served, "idempotent")
        let l = LoRALayer(rank: 5, inDim: 100, outDim: 100, a: x, b: x, scale: 1)
        let ls = LoRALayer(rank: 5, inDim: 100, outDim: 100, a: served, b: served, scale: 1)
        let (h1, h2) = (try HUnitLoRA(l), try HUnitLoRA(ls))
        XCTAssertEqual(h1.aCodes, h2.aCodes)
        XCTAssertEqual(h1.aScale, h2.aScale)
        XCTAssertGreaterThan(zip(x, served).map { abs($0 - $1) }.max()!, 0, "FP8 rounds")
    }

    /// Trained, then merged: the adapter applied at run time on the reference backend equals the
    /// merged weight W + scale·B·A run bare.
    func testRuntimeAdapterEqualsMergedWeights() throws {
        let ref = try reference(TinyModel(seed: 12))
        let m = TrainableLlama(copying: ref)
        let c = m.config
        let trainer = try LoRATrainer(model: m, lora: TrainableLoRA(model: c, targets: allTargets(c), rank: 4, alpha: 8, servedFormat: nil, seed: 2),
                                      options: quickOptions(iters: 5, lr: 2e-2), train: samples(c, count: 8, seed: 3))
        while !trainer.isFinished { try trainer.runStep() }
        let adapter = trainer.lora.adapter(name: "trained")
        XCTAssertGreaterThan(adapter.layers.values.map { $0.b.map(abs).max()! }.max()!, 1e-3, "B moved")
        let engine = try Engine(tokenizer: BPETokenizer(gguf: GGUFFile(path: TinyModel(seed: 12).write())), backend: ref)
        try engine.adapters.register(adapter)
        let tokens = [7, 99, 250, 31, 4, 180]
        let runtime = try engine.session(capacity: 16, adapters: [AdapterRequest("trained")]).feed(tokens, logitRows: 0..<tokens.count)
        let merged = TrainableLlama(copying: ref)
        for (t, l) in adapter.layers {
            let w = merged.weights[t.layer][t.kind]!
            for (i, d) in l.denseDelta().enumerated() { w.data[i] += Float(d) }
        }
        let mergedLogits = merged.forward(tokens).logits
        var maxErr: Float = 0, maxAbs: Float = 0
        for i in 0..<(runtime.rows * runtime.cols) {
            maxErr = max(maxErr, abs(runtime.data[i] - mergedLogits.data[i])); maxAbs = max(maxAbs, abs(runtime.data[i]))
        }
        XCTAssertLessThan(maxErr, 1e-4 * maxAbs, "runtime LoRA vs merged weights")
    }

    // MARK: training runs

    func quickOptions(iters: Int, lr: Double = 1e-2, batch: Int = 2) -> FinetuneOptions {
        var o = FinetuneOptions()
        o.rank = 4; o.iters = iters; o.learningRate = lr; o.batchSize = batch; o.warmup = 2; o.maxSeqLen = 64; o.seed = 7
        o.dropout = 0.1
        return o
    }

    /// Samples of a learnable rule: after a random prefix, the completion repeats the prefix's first tokens.
    func samples(_ c: ModelConfig, count: Int, seed: UInt64) -> [TrainingSample] {
        var rng = SplitMix(seed)
        return (0..<count).map { i in
            let n = 6 + Int(rng.next() % 6)
            let prefix = (0..<n).map { _ in 3 + Int(rng.next() % UInt64(c.vocabSize - 3)) }
            let tokens = prefix + [1] + Array(prefix.prefix(4)) + [2]
            return TrainingSample(tokens: tokens, supervised: tokens.indices.map { $0 > n }, origin: "sample \(i)")
        }
    }

    func trainer(_ rom: String, iters: Int, seed: UInt64 = 7, served: NumberFormat? = .fp8e4m3) throws -> LoRATrainer {
        let m = try TrainableLlama(image: ROMImage(path: rom))
        var o = quickOptions(iters: iters)
        o.seed = seed
        o.servedFormat = served
        let lora = TrainableLoRA(model: m.config, targets: o.loraTargets(m.config), rank: o.rank, alpha: o.resolvedAlpha, servedFormat: served, seed: o.seed)
        return try LoRATrainer(model: m, lora: lora, options: o, train: samples(m.config, count: 12, seed: 3), valid: samples(m.config, count: 4, seed: 9))
    }

    /// Training against a ROM image lowers the loss; the same seed gives the same losses and bytes on
    /// one thread and on two; the image's bytes never change.
    func testTrainingIsThreadCountInvariantAndLeavesTheImageAlone() throws {
        let (_, rom) = try TinyChip.files(seed: 31)
        let before = try ROMImageTestHash.file(rom)
        var runs: [([Double], [Float])] = []
        for threads in [1, 2] {
            Parallel.use(threads: threads)
            let t = try trainer(rom, iters: 12)
            let v0 = t.loss()
            while !t.isFinished { try t.runStep() }
            XCTAssertLessThan(t.loss(), v0, "validation loss falls")
            runs.append((t.history.map(\.loss), t.lora.targets.flatMap { t.lora.factors[$0]!.a + t.lora.factors[$0]!.b }))
        }
        Parallel.use(threads: 2)
        XCTAssertEqual(runs[0].0, runs[1].0, "losses with 1 and 2 threads")
        XCTAssertEqual(runs[0].1, runs[1].1, "weights with 1 and 2 threads")
        XCTAssertEqual(try ROMImageTestHash.file(rom), before, "the image is only read")
    }

    /// A run interrupted at a checkpoint and resumed writes the same adapter bytes and losses as one
    /// that ran straight through.
    func testResumeGivesTheSameBytesAsAnUninterruptedRun() throws {
        let (_, rom) = try TinyChip.files(seed: 31)
        let straightDir = TempFiles.path("ft-straight-\(UUID().uuidString)")
        let straight = try trainer(rom, iters: 8)
        try straight.run(outputDir: straightDir, baseName: "b", baseSHA256: "x")
        let dir = TempFiles.path("ft-resumed-\(UUID().uuidString)")
        let first = try trainer(rom, iters: 8)
        try first.run(outputDir: dir, baseName: "b", baseSHA256: "x", stopAfter: 3)
        let second = try trainer(rom, iters: 8)
        try second.restore(from: dir + "/checkpoint", baseSHA256: "x")
        XCTAssertEqual(second.step, 3)
        try second.run(outputDir: dir, baseName: "b", baseSHA256: "x")
        XCTAssertEqual(second.history.map(\.loss), straight.history.map(\.loss))
        let a = try Data(contentsOf: URL(fileURLWithPath: straightDir + "/" + PEFTAdapter.weightsName))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + PEFTAdapter.weightsName))
        XCTAssertEqual(a, b, "adapter bytes")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: straightDir + "/checkpoint/" + FinetuneCheckpoint.tensorsName)),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint/" + FinetuneCheckpoint.tensorsName)), "optimizer state")
        // the log holds every step once
        let log = try String(contentsOfFile: dir + "/" + LoRATrainer.logName, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 8)
        // the written adapter loads and names its base
        let loaded = try PEFTAdapter.load(path: dir, model: second.model.config)
        XCTAssertEqual(loaded.targets, second.lora.targets)
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any]
        XCTAssertEqual(cfg?["base_model_name_or_path"] as? String, "b")
    }

    /// A checkpoint is refused by a run that differs from it, naming the difference.
    func testResumeRefusesOtherSettingsBaseOrData() throws {
        let (_, rom) = try TinyChip.files(seed: 31)
        let dir = TempFiles.path("ft-ckpt-\(UUID().uuidString)")
        let t = try trainer(rom, iters: 4)
        try t.runStep()
        try t.saveCheckpoint(to: dir, baseSHA256: "base-a")
        XCTAssertThrowsError(try trainer(rom, iters: 4).restore(from: dir, baseSHA256: "base-b")) {
            XCTAssertTrue("\($0)".contains("trained on base sha256"), "\($0)")
        }
        XCTAssertThrowsError(try trainer(rom, iters: 4, seed: 8).restore(from: dir, baseSHA256: "base-a")) {
            XCTAssertTrue("\($0)".contains("seed 7 -> 8"), "\($0)")
        }
        let fp32 = try trainer(rom, iters: 4, served: nil)
        XCTAssertThrowsError(try fp32.restore(from: dir, baseSHA256: "base-a")) {
            XCTAssertTrue("\($0)".contains("servedFormat"), "\($0)")
        }
        XCTAssertThrowsError(try trainer(rom, iters: 4).restore(from: dir + "-missing", baseSHA256: "base-a")) {
            XCTAssertTrue("\($0)".contains("is not a checkpoint"), "\($0)")
        }
    }

    /// The adapter plus the KV cache at the maximum sequence length must fit the chip's SRAM.
    func testSRAMCheckRefusesAnAdapterThatDoesNotFit() throws {
        let c = try reference(TinyModel(seed: 5)).config
        let lora = TrainableLoRA(model: c, targets: allTargets(c), rank: 8, alpha: 16, servedFormat: .fp8e4m3, seed: 1)
        let fit = try FinetuneOutput.checkSRAM(lora.adapter(name: "a"), chip: .paper, model: c, maxSeqLen: 64)
        // per block: rank 8 x (in + out) FP8 bytes over q, k, v, o, gate, up, down (928 values wide) + two FP32 scales per layer
        XCTAssertEqual(fit.adapterBytes, 2 * (8 * (128 + 96 + 96 + 128 + 160 + 160 + 160) + 7 * 8))
        XCTAssertEqual(fit.kvCacheBytes, 64 * 2 * 2 * 32 * 2, "K and V, 2 blocks, kvDim 32, FP16")
        var small = ChipConfig.paper
        small.memory.loraKVSRAMBytes = Double(fit.adapterBytes + 10)
        XCTAssertThrowsError(try FinetuneOutput.checkSRAM(lora.adapter(name: "a"), chip: small, model: c, maxSeqLen: 64)) {
            XCTAssertEqual(($0 as? ROMAError)?.code, .overBudget)
            XCTAssertTrue("\($0)".contains("KV cache of 64 tokens"), "\($0)")
        }
    }

    // MARK: schedule and data order

    func testLearningRateScheduleAndDataOrder() {
        var o = FinetuneOptions()
        o.learningRate = 1e-3; o.warmup = 4
        XCTAssertEqual(FinetuneSchedule.learningRate(step: 0, steps: 14, o), 2.5e-4, accuracy: 1e-12)
        XCTAssertEqual(FinetuneSchedule.learningRate(step: 3, steps: 14, o), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(FinetuneSchedule.learningRate(step: 4, steps: 14, o), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(FinetuneSchedule.learningRate(step: 9, steps: 14, o), 5e-4, accuracy: 1e-12)
        o.schedule = .constant
        XCTAssertEqual(FinetuneSchedule.learningRate(step: 13, steps: 14, o), 1e-3)
        let lengths = (0..<50).map { ($0 * 37) % 23 + 2 }
        let e0 = FinetuneSchedule.epochOrder(lengths: lengths, perStep: 4, seed: 1, epoch: 0)
        XCTAssertEqual(e0, FinetuneSchedule.epochOrder(lengths: lengths, perStep: 4, seed: 1, epoch: 0), "deterministic")
        XCTAssertNotEqual(e0, FinetuneSchedule.epochOrder(lengths: lengths, perStep: 4, seed: 1, epoch: 1), "reshuffled per epoch")
        XCTAssertEqual(e0.count, 12)
        let flat = e0.flatMap { $0 }
        XCTAssertEqual(Set(flat).count, 48, "each sample at most once per epoch")
        // bucketing: within a step, lengths are close (sorted windows)
        let spread = e0.map { s in s.map { lengths[$0] }.max()! - s.map { lengths[$0] }.min()! }
        XCTAssertLessThanOrEqual(spread.reduce(0, +) / spread.count, 4)
    }
}

/// Hashes for "never changes" checks.
enum ROMImageTestHash {
    static func file(_ path: String) throws -> String { try SHA256.hex(ofFile: path) }
    static func weights(_ m: TrainableLlama) throws -> String {
        var bytes: [UInt8] = []
        for layer in m.weights { for k in LinearKind.allCases { let w = layer[k]!; bytes += UnsafeRawBufferPointer(start: w.data, count: w.rows * w.cols * 4) } }
        bytes += UnsafeRawBufferPointer(start: m.embedding.data, count: m.embedding.rows * m.embedding.cols * 4)
        return bytes.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
    }
}
