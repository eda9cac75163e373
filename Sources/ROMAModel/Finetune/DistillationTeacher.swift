import Foundation
import ROMALlama
import ROMANumerics

/// The float model a LoRA learns to imitate (`roma finetune --distill`): its next-token
/// distributions on a training sample's loss rows, softmax of the FP32 reference's logits. The base a
/// ROM image was compiled from is the teacher of a recovery adapter: the adapter learns what the
/// quantization took from the whole network's output, not from each layer's weights.
///
/// Each sample's distributions are computed once and kept while they fit `budgetBytes` (a 512-token
/// sample of a 49,152-token vocabulary is 100 MB); beyond the budget they are recomputed when needed.
///
/// `@unchecked Sendable`: used by one training run, from one thread.
public final class DistillationTeacher: @unchecked Sendable {
    let model: LlamaModel
    let cache: KVCache
    public let config: ModelConfig
    public let budgetBytes: Int
    /// A sample's tokens and loss rows: what its distributions are a function of.
    struct Key: Hashable { let tokens: [Int]; let rows: Range<Int> }
    private var kept: [Key: Matrix] = [:]
    public private(set) var keptBytes = 0
    /// Forward passes run (a sample counts once while it is kept).
    public private(set) var passes = 0

    public init(backend: Backend, maxSeqLen: Int, budgetBytes: Int) throws {
        model = LlamaModel(backend: backend)
        config = backend.config
        cache = try backend.makeKVCache(capacity: min(maxSeqLen, backend.config.contextLength))
        self.budgetBytes = budgetBytes
    }

    /// The default budget: half of this machine's memory, at most 16 GB.
    public static var defaultBudget: Int { Int(min(16e9, 0.5 * Double(ProcessInfo.processInfo.physicalMemory))) }

    /// p_teacher for the rows `sample.logitRows` (row i predicts token logitRows.lowerBound + i + 1).
    public func distributions(_ sample: TrainingSample) -> Matrix {
        let key = Key(tokens: sample.tokens, rows: sample.logitRows)
        if let m = kept[key] { return m }
        let p = compute(sample.tokens, rows: sample.logitRows)
        let bytes = p.rows * p.cols * MemoryLayout<Float>.size
        if keptBytes + bytes <= budgetBytes {
            kept[key] = p
            keptBytes += bytes
        }
        return p
    }

    /// softmax of the teacher's logits on `tokens` (from position 0) for the rows `rows`, not kept.
    public func compute(_ tokens: [Int], rows: Range<Int>) -> Matrix {
        cache.truncate(to: 0)
        let p = model.forward(tokens, cache: cache, logitRows: rows)
        ScaleTuner.softmaxRows(p)
        passes += 1
        return p
    }
}

extension TrainingLoss {
    /// Σ KL(p_teacher ‖ softmax(logits)) over the supervised targets of `sample` whose logits are `rows`
    /// (row i predicts token rows.lowerBound + i + 1; `teacher` has the same rows). With `gradientScale` g,
    /// `logits` becomes dL/dlogits of L = g · Σ KL, i.e. (softmax(logits) − p_teacher) · g, and zero on
    /// unsupervised rows.
    public static func distillation(_ logits: Matrix, teacher: Matrix, sample: TrainingSample, rows: Range<Int>, gradientScale: Float?) -> Double {
        precondition(teacher.rows == logits.rows && teacher.cols == logits.cols, "teacher and student rows differ")
        let n = logits.cols
        let kl = UnsafeMutablePointer<Double>.allocate(capacity: logits.rows)
        defer { kl.deallocate() }
        let (lp, tp, kp) = (Unchecked(logits.data), Unchecked(teacher.data), Unchecked(kl))
        Parallel.forEach(logits.rows) { i in
            let row = lp.value + i * n, p = tp.value + i * n
            guard sample.supervised[rows.lowerBound + i + 1] else {
                kp.value[i] = 0
                if gradientScale != nil { row.initialize(repeating: 0, count: n) }
                return
            }
            kp.value[i] = klRow(row, teacher: p, count: n, gradientScale: gradientScale)
        }
        var total = 0.0
        for i in 0..<logits.rows { total += kl[i] }
        return total
    }

    /// KL(p ‖ softmax(row)) of one row of `count` logits (FP64 sums; 0 log 0 = 0); with
    /// `gradientScale`, the row becomes (softmax(row) − p) · scale. `roma tune` and `--distill` share it.
    static func klRow(_ row: UnsafeMutablePointer<Float>, teacher p: UnsafeMutablePointer<Float>, count n: Int, gradientScale: Float?) -> Double {
        var mx = -Float.infinity
        for v in 0..<n { mx = max(mx, row[v]) }
        var sum = 0.0
        for v in 0..<n { sum += Double(expf(row[v] - mx)) }
        let logZ = Double(mx) + log(sum)
        var d = 0.0
        for v in 0..<n {
            let logQ = Double(row[v]) - logZ
            if p[v] > 0 { d += Double(p[v]) * (log(Double(p[v])) - logQ) }
            if let g = gradientScale { row[v] = (Float(exp(logQ)) - p[v]) * g }
        }
        return d
    }
}
