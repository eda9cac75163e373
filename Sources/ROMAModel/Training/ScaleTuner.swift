import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMANumerics

/// End-to-end tuning of a ROM image against the float model it was compiled from (`roma tune`):
/// the codes and zero points stay as the quantizer chose them; every group's FP16 scale `s` and every
/// RMSNorm gain are fitted by gradient descent so that the image's output distribution matches the
/// float model's on calibration text (knowledge distillation, loss = mean KL(p_float || p_image) per
/// token). GPTQ minimises each layer's own output error; this minimises the error of the whole
/// network, so layers compensate each other and the tied embedding/output head is fitted for both of
/// its uses. The result is a new image (new checksum, `header.tuning` naming its parent); the parent
/// is only read. Method and measurements: docs/rom-image.md.
///
/// Parametrisation: s = s₀·exp(θ) per group, g = g₀·(1 + φ) per norm gain, θ = φ = 0 at the start;
/// Adam on θ and φ with a cosine-decayed step size. The student runs `TrainableLlama` on the
/// dequantized image weights W = (c − z)·s in FP32; dL/ds = Σ_group dL/dW ⊙ (c − z).
public struct ScaleTuner: Sendable {
    /// Passes over the calibration chunks.
    public var epochs = 3
    /// Adam step size for θ and φ (a relative change per step).
    public var learningRate = 1e-3
    /// Tokens per chunk, every chunk from position 0.
    public var ctx = 512
    /// Chunks whose gradients are summed for one optimizer step.
    public var chunksPerStep = 1
    /// Also tune the RMSNorm gains (they are FP16 in the image).
    public var tuneNorms = true
    /// Also learn each weight's rounding (`TunedCodes`): codes move by at most `codeRadius`.
    public var tuneCodes = false
    /// Adam step size for the codes' latent values (in code steps).
    public var codeLearningRate = 0.02
    public var codeRadius: Float = 1
    public var beta1 = 0.9
    public var beta2 = 0.999

    public init() {}

    public struct Report: Sendable {
        /// Mean KL(float || image) per token, nats, for each epoch (measured during the epoch).
        public var klPerEpoch: [Double]
        public var steps: Int
        public var checksum: String
        public var bytes: Int
        /// Mean and largest |s/s₀ − 1| over all groups, after FP16 rounding.
        public var meanScaleChange: Double
        public var maxScaleChange: Double
        /// Codes that differ from the parent's, of `codeCount` (0 of 0 unless codes were tuned).
        public var changedCodes = 0
        public var codeCount = 0
        public var seconds: Double
    }

    /// Tunes `image` with `teacher` (the FP32 reference of the model the image was compiled from) on
    /// the first `count` of `tokens`, and writes the tuned image to `output`.
    public func tune(image: ROMImage, teacher: Backend, tokens: [Int], count: Int, output: String,
                     progress: (_ step: Int, _ steps: Int, _ kl: Double) -> Void = { _, _, _ in }) throws -> Report {
        let t0 = Date()
        try check(image: image, teacher: teacher, tokens: tokens, count: count, output: output)
        let m = image.model
        let ctx = min(self.ctx, m.contextLength)
        let chunks = (0..<(count / ctx)).map { Array(tokens[($0 * ctx)..<(($0 + 1) * ctx)]) }
        try checkMemory(model: m, chunks: chunks.count, ctx: ctx)
        let targets = try teacherDistributions(teacher, chunks: chunks, ctx: ctx)
        let student = try Student(image: image, codes: tuneCodes ? codeRadius : nil)
        let (klPerEpoch, steps, perStep) = try train(student, chunks: chunks, targets: targets, progress: progress)
        let tuned = try tunedData(image: image, student: student)
        defer { tuned.data.deallocate() }
        var header = image.header
        header.tuning = ROMImage.Tuning(method: methodName,
                                        parentSHA256: image.checksumHex, calibrationTokens: chunks.count * ctx,
                                        epochs: epochs, steps: steps, chunksPerStep: perStep, learningRate: learningRate,
                                        klFirstEpoch: klPerEpoch.first!, klLastEpoch: klPerEpoch.last!)
        let (sum, bytes) = try ROMImage.write(header: header, data: UnsafeRawBufferPointer(tuned.data), to: output)
        let codes = student.tensors.compactMap(\.codes)
        return Report(klPerEpoch: klPerEpoch, steps: steps, checksum: SHA256.hex(sum), bytes: bytes,
                      meanScaleChange: tuned.meanChange, maxScaleChange: tuned.maxChange,
                      changedCodes: student.tensors.reduce(0) { $0 + $1.changedCodes }, codeCount: codes.reduce(0) { $0 + $1.count },
                      seconds: Date().timeIntervalSince(t0))
    }

    /// The tuning method recorded in the image header.
    public var methodName: String {
        "kl-distillation" + (tuneCodes ? "-codes" : "") + "-scales" + (tuneNorms ? "-norms" : "")
    }

    /// Step 0: the settings, the teacher's shape, the tokens and the output path.
    func check(image: ROMImage, teacher: Backend, tokens: [Int], count: Int, output: String) throws {
        let m = image.model
        guard teacher.config.sameShape(as: m) else {
            throw EngineError.invalid("the teacher model (\(teacher.config.name)) does not have the image's shape (\(m.name))")
        }
        guard epochs >= 1, learningRate > 0, learningRate.isFinite, ctx >= 2, chunksPerStep >= 1,
              (0..<1).contains(beta1), (0..<1).contains(beta2) else {
            throw EngineError.invalid("tuning needs epochs >= 1, a positive learning rate, ctx >= 2, at least one chunk per step and Adam betas in [0, 1)")
        }
        guard count >= ctx else { throw EngineError.invalid("tuning needs at least one chunk of \(ctx) tokens, got \(count)") }
        guard tokens.count >= count else {
            throw EngineError.invalid("the calibration text has \(tokens.count) tokens; \(count) are needed")
        }
        guard !ROMImage.isSameFile(output, image.path) else {
            throw EngineError.invalid("the tuned image must be a new file: '\(output)' is the image being tuned (it is read-only)")
        }
        try ROMImage.checkOutputPath(output)
        if let bad = tokens.prefix(count).first(where: { $0 < 0 || $0 >= m.vocabSize }) {
            throw EngineError.invalid("calibration token id \(bad) is outside the vocabulary (\(m.vocabSize) tokens)")
        }
    }

    /// Step 0': refuses a job that would not fit in this machine's memory.
    func checkMemory(model m: ModelConfig, chunks: Int, ctx: Int) throws {
        let needed = ScaleTuner.memoryEstimate(model: m, chunks: chunks, ctx: ctx, codes: tuneCodes)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard Double(needed) < 0.8 * available else {
            throw EngineError.overBudget(String(format: "tuning %d chunks of %d tokens needs about %.1f GB of memory (teacher distributions %.1f GB); this machine has %.1f GB",
                                             chunks, ctx, Double(needed) / 1e9, Double(chunks * ctx * m.vocabSize * 4) / 1e9, available / 1e9))
        }
    }

    /// Step 1: the teacher's next-token distributions of every chunk, once.
    func teacherDistributions(_ teacher: Backend, chunks: [[Int]], ctx: Int) throws -> [Matrix] {
        let t = try DistillationTeacher(backend: teacher, maxSeqLen: ctx, budgetBytes: 0)
        return chunks.map { t.compute($0, rows: 0..<$0.count) }
    }

    /// The student: the image's weights in FP32 (`TrainableLlama`), its trainable scales (one
    /// `TunedTensor` per quantized tensor, each weight exactly once) and norm gains.
    final class Student {
        let model: TrainableLlama
        let grads: TrainableLlama.Gradients
        let tensors: [TunedTensor]
        let norms: NormParams

        /// `codes`: the radius within which codes may move, or nil to keep them.
        init(image: ROMImage, codes: Float?) throws {
            let m = image.model
            let gains = try NormWeights(model: m) { (name: String) throws -> [Float] in image.normValues(try image.requireTensor(name)) }
            model = TrainableLlama(config: m, norms: gains)
            grads = model.makeGradients()
            var covered = Set<ObjectIdentifier>()
            let (model, grads) = (model, grads)
            tensors = try image.header.tensors.filter { $0.kind != .norm }.map { t -> TunedTensor in
                guard let w = model.weight(named: t.name), let g = grads.weight(named: t.name) else {
                    throw EngineError.invalid("the image's tensor '\(t.name)' is not a weight of the model")
                }
                guard covered.insert(ObjectIdentifier(w)).inserted else {
                    throw EngineError.invalid("the image holds the weight of '\(t.name)' twice")
                }
                return TunedTensor(image: image, tensor: t, weight: w, gradient: g, codeRadius: codes)
            }
            let weightCount = m.numLayers * LinearKind.allCases.count + (m.tiedEmbeddings ? 1 : 2)
            guard covered.count == weightCount else {
                throw EngineError.invalid("the image holds \(covered.count) of the model's \(weightCount) weights")
            }
            norms = NormParams(gains)
        }
    }

    /// Step 2: Adam over the epochs, `chunksPerStep` chunks' gradients per step, cosine-decayed step
    /// size. Returns the mean KL per token of each epoch, the steps and the chunks per step.
    func train(_ st: Student, chunks: [[Int]], targets: [Matrix],
               progress: (Int, Int, Double) -> Void) throws -> (klPerEpoch: [Double], steps: Int, perStep: Int) {
        let perStep = min(chunksPerStep, chunks.count)
        let stepsPerEpoch = (chunks.count + perStep - 1) / perStep
        let steps = epochs * stepsPerEpoch
        var adam = AdamState(beta1: beta1, beta2: beta2)
        var klPerEpoch: [Double] = []
        var step = 0
        for _ in 0..<epochs {
            var klSum = 0.0
            for s in 0..<stepsPerEpoch {
                let batch = (s * perStep)..<min(chunks.count, (s + 1) * perStep)
                let kl = gradients(st, chunks: chunks, targets: targets, batch: batch)
                adam.t += 1
                let decay = 0.5 * (1 + cos(Double.pi * Double(step) / Double(steps)))   // cosine, shared by both step sizes
                let lr = learningRate * decay
                for t in st.tensors { t.update(adam, lr: Float(lr), codeLR: Float(codeLearningRate * decay)) }
                if tuneNorms { st.norms.update(adam, lr: Float(lr)) }
                guard kl.isFinite else {
                    throw EngineError.diverged("tuning diverged at step \(step + 1) (KL \(kl))")
                }
                klSum += kl
                step += 1
                progress(step, steps, kl / Double(batch.count))
            }
            klPerEpoch.append(klSum / Double(chunks.count))
        }
        return (klPerEpoch, steps, perStep)
    }

    /// One step's gradients: the student at the current scales and gains, forward and backward over
    /// the chunks of `batch`, summed into the scale and gain gradients. Returns the summed KL.
    func gradients(_ st: Student, chunks: [[Int]], targets: [Matrix], batch: Range<Int>) -> Double {
        for t in st.tensors { t.materialize() }
        st.norms.apply(to: st.model)
        var kl = 0.0
        for ci in batch {
            let (logits, tape) = st.model.forward(chunks[ci])
            kl += ScaleTuner.klGradient(logits: logits, target: targets[ci])   // logits := dL/dlogits
            st.model.backward(tape, dLogits: logits, into: st.grads)
            for t in st.tensors { t.accumulate() }
            st.norms.accumulate(st.grads)
        }
        return kl
    }

    /// Step 3: the parent's data section with the tuned FP16 scales (and gains); the mean and largest
    /// relative scale change. The caller deallocates `data`.
    func tunedData(image: ROMImage, student st: Student) throws -> (data: UnsafeMutableRawBufferPointer, meanChange: Double, maxChange: Double) {
        let dataBytes = image.file.bytes.count - image.dataOffset
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, dataBytes), alignment: 64)
        buf.copyMemory(from: UnsafeRawBufferPointer(start: image.data, count: dataBytes))
        do {
            let (mean, mx) = try writeScales(st.tensors, into: buf)
            writeCodes(st.tensors, into: buf)
            if tuneNorms { try writeGains(st.norms, image: image, into: buf) }
            return (UnsafeMutableRawBufferPointer(rebasing: buf[0..<dataBytes]), mean, mx)
        } catch {
            buf.deallocate()
            throw error
        }
    }

    /// The final FP16 scales into their places; mean and largest |s/s₀ − 1|.
    func writeScales(_ tensors: [TunedTensor], into buf: UnsafeMutableRawBufferPointer) throws -> (Double, Double) {
        var changeSum = 0.0, changeMax = 0.0, groups = 0
        for t in tensors {
            let p = (buf.baseAddress! + t.tensor.scalesOffset).assumingMemoryBound(to: UInt16.self)
            for (i, bits) in t.finalScales().enumerated() {
                let s = FP16.toFloat(bits)
                guard s.isFinite else {
                    throw EngineError.diverged("tuning diverged: a scale of '\(t.tensor.name)' left the FP16 range")
                }
                p[i] = bits.littleEndian
                let s0 = Double(t.s0[i])
                if s0 != 0 {
                    let c = abs(Double(s) / s0 - 1)
                    changeSum += c; changeMax = max(changeMax, c)
                }
            }
            groups += t.groups
        }
        return (changeSum / Double(max(1, groups)), changeMax)
    }

    /// The learned codes into their places (tensors whose codes were tuned).
    func writeCodes(_ tensors: [TunedTensor], into buf: UnsafeMutableRawBufferPointer) {
        for t in tensors {
            guard let codes = t.codes else { continue }
            let quant = GroupQuantizer(bits: t.tensor.bits, groupSize: t.tensor.groupSize)
            let base = Unchecked((buf.baseAddress! + t.tensor.codesOffset).assumingMemoryBound(to: UInt8.self))
            let (rowBytes, gpr) = (t.tensor.rowCodeBytes, t.tensor.groupsPerRow)
            Parallel.forEach(t.tensor.rows, minChunk: 64) { r in
                codes.pack(row: r, groupsPerRow: gpr, quantizer: quant, into: base.value + r * rowBytes)
            }
        }
    }

    /// The final FP16 norm gains into their places.
    func writeGains(_ norms: NormParams, image: ROMImage, into buf: UnsafeMutableRawBufferPointer) throws {
        for (name, values) in norms.finalValues(layers: image.model.numLayers) {
            let t = try image.requireTensor(name)
            let p = (buf.baseAddress! + t.codesOffset).assumingMemoryBound(to: UInt16.self)
            for (i, v) in values.enumerated() {
                let bits = FP16.fromFloat(v)
                guard FP16.toFloat(bits).isFinite else {
                    throw EngineError.diverged("tuning diverged: a gain of '\(name)' left the FP16 range")
                }
                p[i] = bits.littleEndian
            }
        }
    }

    /// Bytes the tuning holds at its peak: teacher distributions, student and teacher weights, the
    /// gradients, and one forward pass's tape (activations and attention probabilities).
    public static func memoryEstimate(model m: ModelConfig, chunks: Int, ctx: Int, codes: Bool = false) -> Int {
        let weights = LinearKind.allCases.reduce(0) { let s = $1.shape(in: m); return $0 + s.out * s.in } * m.numLayers
            + m.vocabSize * m.hiddenSize * (m.tiedEmbeddings ? 1 : 2)
        let perToken = m.numLayers * (6 * m.hiddenSize + 2 * m.kvDim + 3 * m.intermediateSize) + 2 * m.vocabSize
        let tape = m.numLayers * m.numHeads * ctx * ctx + ctx * perToken
        return 4 * (chunks * ctx * m.vocabSize + 3 * weights + tape) + (codes ? 17 * weights : 0)
    }

    /// Rows of `x` := softmax(rows), in place (FP64 sums).
    static func softmaxRows(_ x: Matrix) {
        let (xp, n) = (Unchecked(x.data), x.cols)
        Parallel.forEach(x.rows) { r in
            let row = xp.value + r * n
            var mx = -Float.infinity
            for i in 0..<n { mx = max(mx, row[i]) }
            var sum = 0.0
            for i in 0..<n { let e = expf(row[i] - mx); row[i] = e; sum += Double(e) }
            let inv = Float(1 / sum)
            for i in 0..<n { row[i] *= inv }
        }
    }

    /// Mean over rows of KL(target || softmax(logits)); replaces `logits` with the loss's gradient
    /// (softmax(logits) − target) / rows.
    static func klGradient(logits: Matrix, target: Matrix) -> Double {
        let T = logits.rows, n = logits.cols
        let kls = UnsafeMutablePointer<Double>.allocate(capacity: T)
        defer { kls.deallocate() }
        let (lp, tp, kp) = (Unchecked(logits.data), Unchecked(target.data), Unchecked(kls))
        let invT = Float(1) / Float(T)
        Parallel.forEach(T) { r in
            kp.value[r] = TrainingLoss.klRow(lp.value + r * n, teacher: tp.value + r * n, count: n, gradientScale: invT)
        }
        var total = 0.0
        for r in 0..<T { total += kls[r] }
        return total / Double(T)
    }
}

/// Adam's shared state (the step count and its β's).
struct AdamState {
    let beta1: Double, beta2: Double
    var t = 0
    /// Bias corrections 1 − βᵗ.
    var corrections: (Float, Float) { (Float(1 - pow(beta1, Double(t))), Float(1 - pow(beta2, Double(t)))) }

    /// One Adam update of `p` from gradient `g` with moments `m`, `v`.
    @inline(__always)
    func update(_ p: inout Float, _ g: Float, _ m: inout Float, _ v: inout Float, lr: Float, corrections c: (Float, Float)) {
        m = Float(beta1) * m + Float(1 - beta1) * g
        v = Float(beta2) * v + Float(1 - beta2) * g * g
        let vh = (v / c.1).squareRoot()
        if vh > 0 { p -= lr * (m / c.0) / vh }
    }
}

/// One quantized tensor of the image under tuning: its codes minus zero points, its original and
/// current scales, and Adam moments per group.
/// `@unchecked Sendable`: owned by one tuning run; its buffers are touched only between passes, by the tuner's thread (the parallel kernels write disjoint rows).
final class TunedTensor: @unchecked Sendable {
    let tensor: ROMImage.Tensor
    let weight: DenseWeight, gradient: DenseWeight
    let groups: Int
    /// c − z per weight, [rows, cols].
    let q: UnsafeMutablePointer<Int8>
    let s0: [Float]
    /// log-scale offsets, their Adam moments, and the gradient summed since the last step.
    let theta: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let acc: UnsafeMutablePointer<Float>
    /// The learned rounding, when codes are tuned; how many codes differ from the parent's.
    let codes: TunedCodes?
    private(set) var changedCodes = 0

    init(image: ROMImage, tensor t: ROMImage.Tensor, weight: DenseWeight, gradient: DenseWeight, codeRadius: Float? = nil) {
        precondition(weight.rows == t.rows && weight.cols == t.cols)
        tensor = t; self.weight = weight; self.gradient = gradient
        groups = t.rows * t.groupsPerRow
        q = .allocate(capacity: t.rows * t.cols)
        let quant = GroupQuantizer(bits: t.bits, groupSize: t.groupSize)
        let sc = image.scales(t), zp = image.zeros(t)
        s0 = (0..<groups).map { FP16.toFloat(UInt16(littleEndian: sc[$0])) }
        let (qp, gpr, G) = (Unchecked(q), t.groupsPerRow, t.groupSize)
        let codes = Unchecked(image.codes(t))
        let rowBytes = t.rowCodeBytes
        Parallel.forEach(t.rows, minChunk: 64) { r in
            let unpacked = UnsafeMutablePointer<UInt8>.allocate(capacity: G)
            defer { unpacked.deallocate() }
            for g in 0..<gpr {
                quant.unpack(codes.value + r * rowBytes + g * quant.packedGroupBytes, into: unpacked)
                let z = Int(zp[r * gpr + g])
                for k in 0..<G { qp.value[r * gpr * G + g * G + k] = Int8(Int(unpacked[k]) - z) }
            }
        }
        theta = .allocate(capacity: groups); theta.initialize(repeating: 0, count: groups)
        m = .allocate(capacity: groups); m.initialize(repeating: 0, count: groups)
        v = .allocate(capacity: groups); v.initialize(repeating: 0, count: groups)
        acc = .allocate(capacity: groups); acc.initialize(repeating: 0, count: groups)
        if let codeRadius {
            self.codes = TunedCodes(q: qp.value, count: t.rows * t.cols, groupSize: G, zeros: Array(UnsafeBufferPointer(start: zp, count: groups)),
                                    bits: t.bits, radius: codeRadius)
        } else { self.codes = nil }
    }
    deinit { q.deallocate(); theta.deallocate(); m.deallocate(); v.deallocate(); acc.deallocate() }

    func scale(_ i: Int) -> Float { s0[i] * expf(theta[i]) }

    /// W = (c − z)·s with the current scales.
    func materialize() {
        let (qp, wp, G, gpr) = (Unchecked(q), Unchecked(weight.data), tensor.groupSize, tensor.groupsPerRow)
        let scales = (0..<groups).map(scale)
        Parallel.forEach(tensor.rows, minChunk: 64) { r in
            for g in 0..<gpr {
                let s = scales[r * gpr + g], base = (r * gpr + g) * G
                for k in 0..<G { wp.value[base + k] = Float(qp.value[base + k]) * s }
            }
        }
    }

    /// Adds dL/dθ = s · Σ_group dL/dW ⊙ (c − z) from the current weight gradient (and dL/du = s · dL/dW
    /// when codes are tuned).
    func accumulate() {
        let (qp, gp, tp, ap, G) = (Unchecked(q), Unchecked(gradient.data), Unchecked(theta), Unchecked(acc), tensor.groupSize)
        let s0 = self.s0, codes = self.codes
        Parallel.forEach(groups, minChunk: 256) { i in
            let base = i * G
            var ds: Float = 0
            for k in 0..<G { ds += gp.value[base + k] * Float(qp.value[base + k]) }
            let s = s0[i] * expf(tp.value[i])
            ap.value[i] += ds * s
            codes?.accumulate(group: i, groupSize: G, scale: s, gradient: gp.value)
        }
    }

    /// One Adam step on θ (and on the codes' latents, at `codeLR`) from the accumulated gradients,
    /// which it clears.
    func update(_ adam: AdamState, lr: Float, codeLR: Float = 0) {
        if let codes { changedCodes = codes.update(adam, lr: codeLR, groupSize: tensor.groupSize, q: q) }
        let (tp, mp, vp, ap) = (Unchecked(theta), Unchecked(m), Unchecked(v), Unchecked(acc))
        let c = adam.corrections
        Parallel.forEach(groups, minChunk: 4096) { i in
            adam.update(&tp.value[i], ap.value[i], &mp.value[i], &vp.value[i], lr: lr, corrections: c)
            ap.value[i] = 0
        }
    }

    /// The tuned scales as FP16 bit patterns.
    func finalScales() -> [UInt16] { (0..<groups).map { FP16.fromFloat(scale($0)) } }
}

/// The RMSNorm gains under tuning: g = g₀·(1 + φ).
/// `@unchecked Sendable`: owned by one tuning run and updated only between passes, by the tuner's thread.
final class NormParams: @unchecked Sendable {
    let g0: [[Float]]   // attention layers, ffn layers, output (2L + 1 vectors)
    var phi: [[Float]], m: [[Float]], v: [[Float]], acc: [[Float]]

    init(_ n: NormWeights) {
        g0 = n.attention + n.ffn + [n.output]
        phi = g0.map { [Float](repeating: 0, count: $0.count) }
        m = phi; v = phi; acc = phi
    }

    func values(_ i: Int) -> [Float] { zip(g0[i], phi[i]).map { $0 * (1 + $1) } }

    func apply(to s: TrainableLlama) {
        let L = s.config.numLayers
        for l in 0..<L { s.attentionNorms[l] = values(l); s.ffnNorms[l] = values(L + l) }
        s.outputNorm = values(2 * L)
    }

    /// Adds dL/dφ = g₀ ⊙ dL/dg.
    func accumulate(_ grads: TrainableLlama.Gradients) {
        let all = grads.attentionNorms + grads.ffnNorms + [grads.outputNorm]
        for i in 0..<g0.count { for k in 0..<g0[i].count { acc[i][k] += all[i][k] * g0[i][k] } }
    }

    /// One Adam step on φ from the accumulated gradient, which it clears.
    func update(_ adam: AdamState, lr: Float) {
        let c = adam.corrections
        for i in 0..<g0.count {
            for k in 0..<g0[i].count {
                adam.update(&phi[i][k], acc[i][k], &m[i][k], &v[i][k], lr: lr, corrections: c)
                acc[i][k] = 0
            }
        }
    }

    /// Image tensor names and their tuned gains.
    func finalValues(layers L: Int) -> [(String, [Float])] {
        (0..<L).map { (TensorName.attentionNorm(layer: $0), values($0)) } + (0..<L).map { (TensorName.ffnNorm(layer: $0), values(L + $0)) }
            + [(TensorName.outputNorm, values(2 * L))]
    }
}
