import Foundation
import ROMALlama
import ROMANumerics

/// LoRA training against a frozen base (`roma finetune`): the base is a `TrainableLlama` holding the
/// ROM image's weights exactly as dequantized codes ((c − z)·s in FP32) with `frozenBase` set, so only
/// the `TrainableLoRA` factors learn; AdamW with warm-up and a cosine or constant schedule, global
/// gradient clipping, the loss the mean cross-entropy over a step's supervised tokens.
///
/// Every sample runs alone from position 0 (no padding), its output head only on the rows the loss
/// reads; a step's gradients are summed over its samples in order, so the losses do not depend on
/// the thread count. The step index fixes the data order, the learning rate and the dropout masks
/// (`FinetuneSchedule`): a checkpoint holds the masters, the AdamW moments and the step.
///
/// `@unchecked Sendable`: one run, driven by one caller.
public final class LoRATrainer: @unchecked Sendable {
    public let options: FinetuneOptions
    public let model: TrainableLlama
    public let lora: TrainableLoRA
    public let train: [TrainingSample]
    public let valid: [TrainingSample]
    /// Optimizer steps of the whole run.
    public let steps: Int
    /// Steps done.
    public internal(set) var step = 0
    public internal(set) var history: [StepRecord] = []
    /// With `options.distill`: the model whose distributions the loss is measured against (KL);
    /// without, the loss is the cross-entropy of the data's tokens.
    public let teacher: DistillationTeacher?
    var moments: [LoRATarget: Moments] = [:]

    /// AdamW's first and second moments of one target's A and B.
    final class Moments: @unchecked Sendable {
        var mA: [Float], vA: [Float], mB: [Float], vB: [Float]
        init(_ f: TrainableLoRA.Factors) {
            mA = [Float](repeating: 0, count: f.a.count); vA = mA
            mB = [Float](repeating: 0, count: f.b.count); vB = mB
        }
    }

    /// What one optimizer step did.
    public struct StepRecord: Sendable, Codable, Equatable {
        public var step: Int
        public var loss: Double
        public var learningRate: Double
        /// Global L2 norm of the LoRA gradients before clipping.
        public var gradNorm: Double
        public var samples: Int
        public var tokens: Int
        public var supervisedTokens: Int
        public var seconds: Double
        public var validLoss: Double?
    }

    /// `model` must hold the base weights; its `lora` is set to `lora` and its base frozen.
    public init(model: TrainableLlama, lora: TrainableLoRA, options: FinetuneOptions, train: [TrainingSample], valid: [TrainingSample] = [],
                teacher: DistillationTeacher? = nil) throws {
        try options.validate()
        guard options.distill == (teacher != nil) else {
            throw FinetuneError.invalid(options.distill ? "distillation needs a teacher model" : "a teacher is only used with distillation")
        }
        if let teacher, !teacher.config.sameShape(as: model.config) {
            throw FinetuneError.invalid("the teacher (\(teacher.config.name)) does not have the base's shape (\(model.config.name))")
        }
        guard !train.isEmpty else { throw FinetuneError.invalid("no training samples") }
        let c = model.config
        for s in train + valid {
            guard s.tokens.count <= min(options.maxSeqLen, c.contextLength) else {
                throw FinetuneError.invalid("\(s.origin): \(s.tokens.count) tokens do not fit the maximum sequence length \(min(options.maxSeqLen, c.contextLength))")
            }
            if let bad = s.tokens.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
                throw FinetuneError.invalid("\(s.origin): token id \(bad) is outside the vocabulary (\(c.vocabSize) tokens)")
            }
            guard s.supervisedCount > 0 else { throw FinetuneError.invalid("\(s.origin): nothing to learn") }
        }
        self.options = options; self.model = model; self.lora = lora; self.train = train; self.valid = valid; self.teacher = teacher
        steps = options.steps(samples: train.count)
        lora.dropout = Float(options.dropout)
        model.lora = lora
        model.frozenBase = true
        for (t, f) in lora.factors { moments[t] = Moments(f) }
    }

    public var isFinished: Bool { step >= steps }

    /// The samples of step `s` (0-based), in order.
    public func samples(ofStep s: Int) -> [TrainingSample] {
        let perEpoch = FinetuneSchedule.stepsPerEpoch(samples: train.count, perStep: options.samplesPerStep)
        let epoch = s / perEpoch
        if epochOrder?.epoch != epoch {
            epochOrder = (epoch, FinetuneSchedule.epochOrder(lengths: train.map(\.tokens.count), perStep: options.samplesPerStep,
                                                             seed: options.seed, epoch: epoch))
        }
        return epochOrder!.steps[s % perEpoch].map { train[$0] }
    }
    /// The current epoch's steps (a function of the seed and the epoch, kept while the epoch lasts).
    var epochOrder: (epoch: Int, steps: [[Int]])?

    /// Runs the next optimizer step.
    @discardableResult
    public func runStep() throws -> StepRecord {
        precondition(!isFinished)
        return try runStep(samples: samples(ofStep: step))
    }

    /// Runs the next optimizer step on the given samples (an order fixed elsewhere: an independent
    /// trainer's golden steps).
    @discardableResult
    public func runStep(samples batch: [TrainingSample]) throws -> StepRecord {
        let t0 = Date()
        let supervised = batch.reduce(0) { $0 + $1.supervisedCount }
        lora.zeroGradients()
        var nll = 0.0
        for (j, sample) in batch.enumerated() {
            lora.dropoutSeed = FinetuneSchedule.dropoutSeed(options.seed, step: step, sample: j)
            let rows = sample.logitRows
            let (logits, tape) = model.forward(sample.tokens, logitRows: rows)
            nll += sampleLoss(logits, sample, gradientScale: 1 / Float(supervised))
            model.backward(tape, dLogits: logits, into: nil)
        }
        let loss = nll / Double(supervised)
        guard loss.isFinite else { throw FinetuneError.diverged("training diverged at step \(step + 1) (loss \(loss))") }
        let lr = FinetuneSchedule.learningRate(step: step, steps: steps, options)
        let norm = clipGradients()
        guard norm.isFinite else { throw FinetuneError.diverged("training diverged at step \(step + 1) (gradient norm \(norm))") }
        applyAdamW(lr: Float(lr))
        lora.refreshServed()
        step += 1
        let record = StepRecord(step: step, loss: loss, learningRate: lr, gradNorm: norm, samples: batch.count,
                                tokens: batch.reduce(0) { $0 + $1.tokens.count }, supervisedTokens: supervised,
                                seconds: Date().timeIntervalSince(t0))
        history.append(record)
        return record
    }

    /// Records the validation loss of the last step.
    public func recordValidation(_ loss: Double) {
        if !history.isEmpty { history[history.count - 1].validLoss = loss }
    }

    /// The summed loss of one sample's supervised tokens: cross-entropy, or KL to the teacher when
    /// distilling (with `gradientScale`, `logits` becomes the loss's gradient).
    func sampleLoss(_ logits: Matrix, _ s: TrainingSample, gradientScale: Float?) -> Double {
        if let teacher {
            return TrainingLoss.distillation(logits, teacher: teacher.distributions(s), sample: s, rows: s.logitRows, gradientScale: gradientScale)
        }
        return TrainingLoss.crossEntropy(logits, sample: s, rows: s.logitRows, gradientScale: gradientScale)
    }

    /// Global L2 norm of the gradients; scales them to `gradClip` when above (PyTorch's clip_grad_norm_).
    func clipGradients() -> Double {
        var sq = 0.0
        for t in lora.targets {
            let f = lora.factors[t]!
            for g in f.gradA { sq += Double(g) * Double(g) }
            for g in f.gradBT { sq += Double(g) * Double(g) }
        }
        let norm = sq.squareRoot()
        let coef = options.gradClip / (norm + 1e-6)
        if options.gradClip > 0 && coef < 1 {
            let c = Float(coef)
            for f in lora.factors.values {
                for i in f.gradA.indices { f.gradA[i] *= c }
                for i in f.gradBT.indices { f.gradBT[i] *= c }
            }
        }
        return norm
    }

    /// One AdamW step (PyTorch's arithmetic: decoupled decay, bias-corrected moments, ε outside the root).
    func applyAdamW(lr: Float) {
        let t = Double(step + 1), o = options
        let (b1, b2, eps, wd) = (Float(o.beta1), Float(o.beta2), Float(o.eps), Float(o.weightDecay))
        let c1 = Float(1 - pow(o.beta1, t)), c2 = Float((1 - pow(o.beta2, t)).squareRoot())
        let stepSize = lr / c1
        func update(_ p: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float]) {
            for i in p.indices {
                if wd > 0 { p[i] *= 1 - lr * wd }
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                p[i] -= stepSize * m[i] / (v[i].squareRoot() / c2 + eps)
            }
        }
        let targets = lora.targets
        let work = Unchecked((lora, moments))
        Parallel.forEach(targets.count) { i in
            let (lora, moments) = work.value
            let f = lora.factors[targets[i]]!, m = moments[targets[i]]!
            update(&f.a, f.gradA, &m.mA, &m.vA)
            update(&f.b, f.gradB, &m.mB, &m.vB)
        }
    }

    /// Mean loss (cross-entropy, or KL to the teacher) over the supervised tokens of `samples` (default: the validation set), with
    /// the served LoRA values (what the chip computes with) or the FP32 masters.
    public func loss(_ samples: [TrainingSample]? = nil, masters: Bool = false) -> Double {
        let set = samples ?? valid
        guard !set.isEmpty else { return .nan }
        let dropout = lora.dropout
        lora.dropout = 0
        if masters { lora.useMasters() }
        defer { lora.dropout = dropout; if masters { lora.refreshServed() } }
        var nll = 0.0, count = 0
        for s in set {
            let (logits, _) = model.forward(s.tokens, logitRows: s.logitRows)
            nll += sampleLoss(logits, s, gradientScale: nil)
            count += s.supervisedCount
        }
        return nll / Double(count)
    }
}

/// The training loss.
public enum TrainingLoss {
    /// Σ −log softmax(logits)[target] over the supervised targets of `sample` whose logits are `rows`
    /// (row i predicts token rows.lowerBound + i + 1). With `gradientScale`, `logits` becomes
    /// dL/dlogits of L = gradientScale · Σ (zero on unsupervised rows).
    public static func crossEntropy(_ logits: Matrix, sample: TrainingSample, rows: Range<Int>, gradientScale: Float?) -> Double {
        let n = logits.cols
        let nll = UnsafeMutablePointer<Double>.allocate(capacity: logits.rows)
        defer { nll.deallocate() }
        let (lp, np) = (Unchecked(logits.data), Unchecked(nll))
        Parallel.forEach(logits.rows) { i in
            let p = rows.lowerBound + i, row = lp.value + i * n
            guard sample.supervised[p + 1] else {
                np.value[i] = 0
                if gradientScale != nil { row.initialize(repeating: 0, count: n) }
                return
            }
            let target = sample.tokens[p + 1]
            var mx = -Float.infinity
            for v in 0..<n { mx = max(mx, row[v]) }
            var sum = 0.0
            for v in 0..<n { sum += Double(expf(row[v] - mx)) }
            let logZ = Double(mx) + log(sum)
            np.value[i] = logZ - Double(row[target])
            if let g = gradientScale {
                for v in 0..<n { row[v] = Float(exp(Double(row[v]) - logZ)) * g }
                row[target] -= g
            }
        }
        var total = 0.0
        for i in 0..<logits.rows { total += nll[i] }
        return total
    }
}
