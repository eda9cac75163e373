import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

/// LoRA factors under training on a frozen base (QLoRA-style): FP32 master weights A [rank, in] and
/// B [out, rank] per target, the values the forward pass computes with, and the gradients.
///
/// The forward pass sees the masters as the H-Units store them (`HUnitLoRA.servedValues`: FP8 E4M3
/// with one scale per tensor on the paper's chip) and rounds the rank-wide product A·x to FP16 as
/// `HUnit.loraAccumulate` does; both roundings are straight-through (their gradient is taken as 1),
/// so the masters learn what the chip will serve:
///
///     y = W x + scale · B̂ (fp16(Â x̃)),   x̃ = dropout(x),   Â, B̂ = served(A), served(B)
///     dB = scale · dyᵀ h,   dh = scale · dy B̂,   dA = dhᵀ x̃,   dx += (dh Â) ⊙ keep
///
/// `@unchecked Sendable`: owned by one training run; changed only between passes.
public final class TrainableLoRA: @unchecked Sendable {
    /// One target's factors.
    public final class Factors: @unchecked Sendable {
        public let target: LoRATarget
        public let rank: Int, inDim: Int, outDim: Int
        /// FP32 masters.
        public var a: [Float], b: [Float]
        /// What the forward pass uses: Â [rank, in] and B̂ᵀ [rank, out].
        var aServed: [Float] = [], bServedT: [Float] = []
        /// dL/dA [rank, in] and dL/dBᵀ [rank, out], summed since the last `zeroGradients`.
        var gradA: [Float], gradBT: [Float]

        init(target: LoRATarget, rank: Int, inDim: Int, outDim: Int, a: [Float], b: [Float]) {
            self.target = target; self.rank = rank; self.inDim = inDim; self.outDim = outDim
            self.a = a; self.b = b
            gradA = [Float](repeating: 0, count: rank * inDim)
            gradBT = [Float](repeating: 0, count: rank * outDim)
        }

        /// dL/dB [out, rank].
        public var gradB: [Float] { F32Kernels.transpose(gradBT, rows: rank, cols: outDim) }
        public var gradientA: [Float] { gradA }
    }

    public let targets: [LoRATarget]
    public let factors: [LoRATarget: Factors]
    public let rank: Int
    public let alpha: Double
    /// alpha / rank: PEFT's scaling.
    public var scale: Float { Float(alpha / Double(rank)) }
    /// The format the H-Units store LoRA weights in (`ChipConfig.numerics.loraWeightFormat`); nil trains
    /// plain FP32 LoRA (no straight-through rounding), as a float-model trainer would.
    public let servedFormat: NumberFormat?
    /// Probability of zeroing an input element of the LoRA path (PEFT's lora_dropout); 0 disables it.
    public var dropout: Float = 0
    /// Seed of the dropout masks of the next forward pass (the trainer sets one per sample).
    public var dropoutSeed: UInt64 = 0

    /// A from Kaiming-uniform (bound 1/√in, PEFT's default init for A), B = 0, drawn in target order
    /// from `seed`: the adapter starts as the identity update.
    public init(model m: ModelConfig, targets: [LoRATarget], rank: Int, alpha: Double, servedFormat: NumberFormat?, seed: UInt64) {
        precondition(rank > 0 && !targets.isEmpty)
        self.targets = targets.sorted(); self.rank = rank; self.alpha = alpha; self.servedFormat = servedFormat
        var rng = SplitMix64(seed: seed)
        var f: [LoRATarget: Factors] = [:]
        for t in self.targets {
            let (o, i) = t.kind.shape(in: m)
            let bound = 1 / Float(i).squareRoot()
            let a = (0..<(rank * i)).map { _ in Float(rng.unit() * 2 - 1) * bound }
            f[t] = Factors(target: t, rank: rank, inDim: i, outDim: o, a: a, b: [Float](repeating: 0, count: o * rank))
        }
        factors = f
        refreshServed()
    }

    /// Starts from an existing adapter (every layer of one rank; its scale must be alpha/rank).
    public init(adapter: LoRAAdapter, alpha: Double, servedFormat: NumberFormat?) throws {
        guard let rank = adapter.ranks.first, adapter.ranks.count == 1 else {
            throw AdapterError.invalid("adapter '\(adapter.name)' mixes ranks \(adapter.ranks); training needs one rank")
        }
        self.targets = adapter.targets; self.rank = rank; self.alpha = alpha; self.servedFormat = servedFormat
        var f: [LoRATarget: Factors] = [:]
        for (t, l) in adapter.layers { f[t] = Factors(target: t, rank: rank, inDim: l.inDim, outDim: l.outDim, a: l.a, b: l.b) }
        factors = f
        refreshServed()
    }

    /// The forward pass uses the FP32 masters unrounded (`useMasters`) until the next `refreshServed`.
    public private(set) var usingMasters = false

    /// Recomputes the served values from the masters (after every optimizer step).
    public func refreshServed() {
        usingMasters = false
        for f in factors.values {
            let b = servedFormat.map { HUnitLoRA.servedValues(f.b, format: $0) } ?? f.b
            f.aServed = servedFormat.map { HUnitLoRA.servedValues(f.a, format: $0) } ?? f.a
            f.bServedT = F32Kernels.transpose(b, rows: f.outDim, cols: f.rank)
        }
    }

    /// Runs the forward pass on the FP32 masters, without the H-Units' roundings (to measure what
    /// serving in the chip's formats costs).
    public func useMasters() {
        usingMasters = true
        for f in factors.values {
            f.aServed = f.a
            f.bServedT = F32Kernels.transpose(f.b, rows: f.outDim, cols: f.rank)
        }
    }

    public func zeroGradients() {
        for f in factors.values {
            for i in f.gradA.indices { f.gradA[i] = 0 }
            for i in f.gradBT.indices { f.gradBT[i] = 0 }
        }
    }

    /// The masters as an adapter (what `roma finetune` writes; the chip rounds them to the served values again, exactly).
    public func adapter(name: String, metadata: [String: String] = [:]) -> LoRAAdapter {
        var layers: [LoRATarget: LoRALayer] = [:]
        for (t, f) in factors { layers[t] = LoRALayer(rank: rank, inDim: f.inDim, outDim: f.outDim, a: f.a, b: f.b, scale: scale) }
        return LoRAAdapter(name: name, layers: layers, source: "roma-finetune", alpha: alpha, metadata: metadata)
    }

    /// The served values as an adapter (what the H-Units compute with).
    public func servedAdapter(name: String) -> LoRAAdapter {
        var layers: [LoRATarget: LoRALayer] = [:]
        for (t, f) in factors {
            layers[t] = LoRALayer(rank: rank, inDim: f.inDim, outDim: f.outDim, a: f.aServed,
                                  b: F32Kernels.transpose(f.bServedT, rows: rank, cols: f.outDim), scale: scale)
        }
        return LoRAAdapter(name: name, layers: layers, source: "roma-finetune", alpha: alpha)
    }

    public var parameterCount: Int { factors.values.reduce(0) { $0 + $1.rank * ($1.inDim + $1.outDim) } }

    // MARK: the graph's LoRA step

    /// What one target's backward pass reads.
    final class Record {
        let input: Matrix        // x̃ (x itself without dropout)
        let keep: [Float]?       // 0 or 1/(1-p) per input element, with dropout
        let hidden: Matrix       // fp16(Â x̃) [T, rank]
        init(input: Matrix, keep: [Float]?, hidden: Matrix) { self.input = input; self.keep = keep; self.hidden = hidden }
    }

    /// y += scale · B̂ fp16(Â x̃); returns what backward needs.
    func forward(_ f: Factors, x: Matrix, into y: Matrix) -> Record {
        let T = x.rows
        var input = x, keep: [Float]? = nil
        if dropout > 0 {
            (input, keep) = dropped(x, target: f.target)
        }
        let h = Matrix(rows: T, cols: rank)
        f.aServed.withUnsafeBufferPointer { a in
            F32Kernels.matmul(x: input.data, tokens: T, w: a.baseAddress!, n: f.inDim, outputs: rank, out: h.data)
        }
        if servedFormat != nil && !usingMasters { for i in 0..<(T * rank) { h.data[i] = FP16.round(h.data[i]) } }
        f.bServedT.withUnsafeBufferPointer { bT in
            F32Kernels.expand(h: h.data, tokens: T, rank: rank, bT: bT.baseAddress!, outDim: f.outDim, scale: scale, y: y.data)
        }
        return Record(input: input, keep: keep, hidden: h)
    }

    /// Inverted dropout of x with a mask drawn from (dropoutSeed, target).
    func dropped(_ x: Matrix, target: LoRATarget) -> (Matrix, [Float]) {
        let n = x.rows * x.cols, p = Double(dropout), inv = 1 / (1 - dropout)
        var rng = SplitMix64(seed: dropoutSeed ^ (UInt64(target.layer) << 32 | UInt64(LinearKind.allCases.firstIndex(of: target.kind)!) << 8))
        let keep = (0..<n).map { _ in rng.unit() < p ? Float(0) : inv }
        let out = Matrix(rows: x.rows, cols: x.cols)
        for i in 0..<n { out.data[i] = x.data[i] * keep[i] }
        return (out, keep)
    }

    /// Given dL/dy (`dY`, columns `cols` of a stacked gradient), adds dL/dA, dL/dB to the factors' gradients
    /// and dL/dx through the LoRA path to `dX`.
    func backward(_ f: Factors, _ r: Record, dY: Matrix, cols: Range<Int>, dX: Matrix) {
        let T = dY.rows, out = f.outDim, n = f.inDim, R = rank, s = scale
        precondition(cols.count == out && dX.cols == n && r.hidden.rows == T)
        let dy = Matrix(rows: T, cols: out)
        for t in 0..<T { dy.row(t).update(from: dY.row(t) + cols.lowerBound, count: out) }
        // dh = scale · dy B̂  [T, R]  (B̂ᵀ is [R, out]: one dot per (t, r))
        let dh = Matrix(rows: T, cols: R)
        f.bServedT.withUnsafeBufferPointer { bT in
            F32Kernels.matmul(x: dy.data, tokens: T, w: bT.baseAddress!, n: out, outputs: R, out: dh.data)
        }
        for i in 0..<(T * R) { dh.data[i] *= s }
        // dBᵀ[r] += scale · Σ_t h[t, r] dy[t];  dA[r] += Σ_t dh[t, r] x̃[t]
        f.gradBT.withUnsafeMutableBufferPointer { gb in
            f.gradA.withUnsafeMutableBufferPointer { ga in
                let (gbp, gap) = (Unchecked(gb.baseAddress!), Unchecked(ga.baseAddress!))
                Parallel.forEach(2 * R, minChunk: 1) { job in
                    let rr = job % R
                    if job < R {
                        for t in 0..<T { F32Kernels.axpy(s * r.hidden.data[t * R + rr], dy.row(t), gbp.value + rr * out, out) }
                    } else {
                        for t in 0..<T { F32Kernels.axpy(dh.data[t * R + rr], r.input.row(t), gap.value + rr * n, n) }
                    }
                }
            }
        }
        // dx += (dh Â) ⊙ keep
        f.aServed.withUnsafeBufferPointer { a in
            let (ap, dxp) = (Unchecked(UnsafeMutablePointer(mutating: a.baseAddress!)), Unchecked(dX.data))
            Parallel.forEach(T, minChunk: 16) { t in
                let row = dxp.value + t * n
                if let keep = r.keep {
                    let tmp = UnsafeMutablePointer<Float>.allocate(capacity: n)
                    defer { tmp.deallocate() }
                    tmp.initialize(repeating: 0, count: n)
                    for rr in 0..<R { F32Kernels.axpy(dh.data[t * R + rr], ap.value + rr * n, tmp, n) }
                    for i in 0..<n { row[i] += tmp[i] * keep[t * n + i] }
                } else {
                    for rr in 0..<R { F32Kernels.axpy(dh.data[t * R + rr], ap.value + rr * n, row, n) }
                }
            }
        }
    }
}
