import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

/// The Llama graph of `LlamaModel` with its backward pass, in FP32, for training against a frozen
/// graph: `forward` runs one sequence from position 0 with the reference engine's operations (same
/// kernels and order, so its logits equal `ReferenceBackend`'s) and keeps what backpropagation needs;
/// `backward` takes dLoss/dlogits and returns the gradient of every weight, norm gain and the
/// embedding table (`Gradients`). Used by `ScaleTuner` (end-to-end tuning of a ROM image's scales).
///
///     x₀ = E[tokens]
///     h = norm₁(x);  q, k = RoPE(Wq h, Wk h);  v = Wv h;  x' = x + Wo · softmax(q kᵀ/√d) v
///     h₂ = norm₂(x');  x'' = x' + Wdown · (silu(Wgate h₂) ⊙ Wup h₂)
///     logits = Wout · normₒ(x_L)
/// `@unchecked Sendable`: its weights and gains change only between passes (the tuner's steps), never during one.
public final class TrainableLlama: @unchecked Sendable {
    public let config: ModelConfig
    /// [vocab, hidden]; the output head is the same object when the model ties them.
    public let embedding: DenseWeight
    public let output: DenseWeight
    public let weights: [[LinearKind: DenseWeight]]
    /// RMSNorm gains (mutable: tuning updates them between steps).
    public var attentionNorms: [[Float]]
    public var ffnNorms: [[Float]]
    public var outputNorm: [Float]
    let rotary: RotaryEmbedding
    /// LoRA factors trained on top of the weights (`roma finetune`); nil runs the bare graph.
    public var lora: TrainableLoRA?
    /// The weights, gains and embedding are constants (LoRA training): `backward` computes only the
    /// gradients that flow through them (dX = dY·W), never their own, and keeps each Wᵀ it builds.
    public var frozenBase = false {
        didSet { if !frozenBase { transposes.removeAll() } }
    }
    /// Wᵀ of stacked weights, kept while the base is frozen (keyed by the first weight's identity).
    var transposes: [ObjectIdentifier: Transposed] = [:]

    final class Transposed: @unchecked Sendable {
        let data: UnsafeMutablePointer<Float>
        init(count: Int) { data = .allocate(capacity: count) }
        deinit { data.deallocate() }
    }

    /// The parameters: every weight as an uninitialized matrix the caller fills (`DenseWeight.data`).
    public init(config: ModelConfig, norms: NormWeights) {
        self.config = config
        rotary = RotaryEmbedding(config)
        embedding = DenseWeight(rows: config.vocabSize, cols: config.hiddenSize)
        output = config.tiedEmbeddings ? embedding : DenseWeight(rows: config.vocabSize, cols: config.hiddenSize)
        weights = (0..<config.numLayers).map { _ in
            var m: [LinearKind: DenseWeight] = [:]
            for k in LinearKind.allCases {
                let (o, i) = k.shape(in: config)
                m[k] = DenseWeight(rows: o, cols: i)
            }
            return m
        }
        attentionNorms = norms.attention
        ffnNorms = norms.ffn
        outputNorm = norms.output
    }

    /// A copy of the reference engine's FP32 weights and gains (training from the float model).
    public convenience init(copying r: ReferenceBackend) {
        self.init(config: r.config, norms: r.norms)
        let c = r.config
        embedding.data.update(from: r.embedding.data, count: c.vocabSize * c.hiddenSize)
        if !c.tiedEmbeddings { output.data.update(from: r.output.data, count: c.vocabSize * c.hiddenSize) }
        for l in 0..<c.numLayers {
            for k in LinearKind.allCases {
                let w = r.weight(k, layer: l)
                weights[l][k]!.data.update(from: w.data, count: w.rows * w.cols)
            }
        }
    }

    /// Gradients of a loss, shaped like the parameters. `embedding` holds the tied table's whole
    /// gradient (lookup rows and output head).
    /// `@unchecked Sendable`: written by one backward pass (disjoint blocks per worker), read after it.
    public final class Gradients: @unchecked Sendable {
        public let embedding: DenseWeight
        public let output: DenseWeight
        public let weights: [[LinearKind: DenseWeight]]
        public var attentionNorms: [[Float]]
        public var ffnNorms: [[Float]]
        public var outputNorm: [Float]

        init(_ m: TrainableLlama) {
            let c = m.config
            embedding = DenseWeight(rows: c.vocabSize, cols: c.hiddenSize)
            output = c.tiedEmbeddings ? embedding : DenseWeight(rows: c.vocabSize, cols: c.hiddenSize)
            weights = m.weights.map { $0.mapValues { DenseWeight(rows: $0.rows, cols: $0.cols) } }
            attentionNorms = Array(repeating: [Float](repeating: 0, count: c.hiddenSize), count: c.numLayers)
            ffnNorms = attentionNorms
            outputNorm = [Float](repeating: 0, count: c.hiddenSize)
        }

        /// The gradient of one GGUF-named weight ("blk.3.attn_q.weight", "token_embd.weight", "output.weight").
        public func weight(named name: String) -> DenseWeight? {
            TrainableLlama.find(name, embedding: embedding, output: output, weights: weights)
        }
    }

    /// What one layer's backward pass reads.
    final class LayerTape {
        var x: Matrix!, r1: [Float] = [], h1: Matrix!
        var q: Matrix!, k: Matrix!, v: Matrix!   // q, k after RoPE
        var probs: UnsafeMutablePointer<Float>!  // [heads, T, T], causal rows
        var a: Matrix!, xMid: Matrix!, r2: [Float] = [], h2: Matrix!
        var gate: Matrix!, up: Matrix!, act: Matrix!
        var lora: [LinearKind: TrainableLoRA.Record] = [:]
        deinit { probs?.deallocate() }
    }

    /// One forward pass, kept for `backward`.
    public final class Tape: @unchecked Sendable {  // @unchecked: filled by one pass, then only read
        public let tokens: [Int]
        /// The rows whose logits the pass computed.
        public let logitRows: Range<Int>
        var layers: [LayerTape] = []
        var xFinal: Matrix!, rFinal: [Float] = [], hFinal: Matrix!
        init(tokens: [Int], logitRows: Range<Int>) { self.tokens = tokens; self.logitRows = logitRows }
    }

    /// A weight by GGUF name (nil for names the model lacks).
    public func weight(named name: String) -> DenseWeight? {
        TrainableLlama.find(name, embedding: embedding, output: output, weights: weights)
    }

    static func find(_ name: String, embedding: DenseWeight, output: DenseWeight, weights: [[LinearKind: DenseWeight]]) -> DenseWeight? {
        if name == TensorName.embedding { return embedding }
        if name == TensorName.output { return output }
        for (l, layer) in weights.enumerated() {
            for (k, w) in layer where k.ggufName(layer: l) == name { return w }
        }
        return nil
    }

    public func makeGradients() -> Gradients { Gradients(self) }

    // MARK: forward

    /// Logits [rows, vocab] of the positions `logitRows` (default: all) of `tokens` run from position 0,
    /// and the tape: the one Llama forward pass (`LlamaModel.forward`) run on a `TapeRecorder` over
    /// these weights (and `lora`'s factors).
    public func forward(_ tokens: [Int], logitRows: Range<Int>? = nil) -> (logits: Matrix, tape: Tape) {
        let c = config, T = tokens.count
        let rows = logitRows ?? 0..<T
        precondition(T > 0 && T <= c.contextLength && rows.lowerBound >= 0 && rows.upperBound <= T && !rows.isEmpty)
        let recorder = TapeRecorder(self, tokens: tokens, logitRows: rows)
        let cache = KVCache(layers: c.numLayers, kvDim: c.kvDim, capacity: T)
        let logits = LlamaModel(backend: recorder).forward(tokens, cache: cache, logitRows: rows)
        return (logits, recorder.tape)
    }

    /// The reference engine's RMSNorm, also returning 1/rms per token.
    func rmsNorm(_ x: Matrix, _ g: [Float]) -> (Matrix, [Float]) {
        ReferenceBackend.rmsNorm(x, g, eps: Float(config.rmsNormEps))
    }

    // MARK: backward

    /// Gradients of the loss whose gradient with respect to the logits of `tape`'s forward pass is
    /// `dLogits` [logitRows, vocab]. Overwrites `grads` (the base's; with a frozen base only the norm
    /// gains' are written, `grads` may be nil) and adds to `lora`'s gradients.
    public func backward(_ tape: Tape, dLogits: Matrix, into grads: Gradients?) {
        let c = config, T = tape.tokens.count, d = c.hiddenSize, V = c.vocabSize, R = tape.logitRows.count
        precondition(dLogits.rows == R && dLogits.cols == V)
        precondition(frozenBase || grads != nil, "a trainable base needs its gradients")
        // output head: logits = hFinal · Wᵀ
        let dH = Matrix(rows: R, cols: d)
        withTransposed([output]) { F32Kernels.gemmNT(a: dLogits.data, m: R, b: $0, n: d, k: V, c: dH.data) }
        if let grads, !frozenBase {
            productGradient(dY: dLogits, x: tape.hFinal, into: grads.output.data)
            if !c.tiedEmbeddings { grads.embedding.data.initialize(repeating: 0, count: V * d) }
        }
        var dgOut = [Float](repeating: 0, count: d)
        let dxRows = rmsNormBackward(dH, x: tape.xFinal, inv: tape.rFinal, g: outputNorm, dg: &dgOut)
        grads?.outputNorm = dgOut
        let dx = Matrix(rows: T, cols: d)
        (dx.data + tape.logitRows.lowerBound * d).update(from: dxRows.data, count: R * d)
        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
            let lt = tape.layers[l], w = weights[l], gw = frozenBase ? nil : grads?.weights[l]
            // feed-forward: x'' = x' + Wdown · act
            let dAct = inputGradient(dY: dx, w[.down]!)
            loraBackward(lt, layer: l, [.down], dY: dx, dX: dAct)
            if let gw { productGradient(dY: dx, x: lt.act, into: gw[.down]!.data) }
            let F = c.intermediateSize
            let dGU = Matrix(rows: T, cols: 2 * F)          // [dgate | dup]
            for t in 0..<T {
                let g = lt.gate.row(t), u = lt.up.row(t), da = dAct.row(t), out = dGU.row(t)
                for i in 0..<F {
                    let sg = 1 / (1 + expf(-g[i]))
                    let silu = g[i] * sg
                    out[i] = da[i] * u[i] * sg * (1 + g[i] * (1 - sg))
                    out[F + i] = da[i] * silu
                }
            }
            let dH2 = stackedInputGradient(dY: dGU, [w[.gate]!, w[.up]!])
            loraBackward(lt, layer: l, [.gate, .up], dY: dGU, dX: dH2)
            if let gw { stackedProductGradient(dY: dGU, x: lt.h2, into: [gw[.gate]!, gw[.up]!]) }
            var dg2 = [Float](repeating: 0, count: d)
            add(dx, rmsNormBackward(dH2, x: lt.xMid, inv: lt.r2, g: ffnNorms[l], dg: &dg2))
            grads?.ffnNorms[l] = dg2
            // attention: x' = x + Wo · a
            let dA = inputGradient(dY: dx, w[.o]!)
            loraBackward(lt, layer: l, [.o], dY: dx, dX: dA)
            if let gw { productGradient(dY: dx, x: lt.a, into: gw[.o]!.data) }
            let (dq, dk, dv) = attentionBackward(lt, dA: dA)
            rotary.apply(dq, heads: c.numHeads, positions: Array(0..<T), inverse: true)
            rotary.apply(dk, heads: c.numKVHeads, positions: Array(0..<T), inverse: true)
            let dQKV = Matrix(rows: T, cols: dq.cols + dk.cols + dv.cols)
            for t in 0..<T {
                let o = dQKV.row(t)
                o.update(from: dq.row(t), count: dq.cols)
                (o + dq.cols).update(from: dk.row(t), count: dk.cols)
                (o + dq.cols + dk.cols).update(from: dv.row(t), count: dv.cols)
            }
            let dH1 = stackedInputGradient(dY: dQKV, [w[.q]!, w[.k]!, w[.v]!])
            loraBackward(lt, layer: l, [.q, .k, .v], dY: dQKV, dX: dH1)
            if let gw { stackedProductGradient(dY: dQKV, x: lt.h1, into: [gw[.q]!, gw[.k]!, gw[.v]!]) }
            var dg1 = [Float](repeating: 0, count: d)
            add(dx, rmsNormBackward(dH1, x: lt.x, inv: lt.r1, g: attentionNorms[l], dg: &dg1))
            grads?.attentionNorms[l] = dg1
        }
        // embedding lookup
        guard let grads, !frozenBase else { return }
        for (t, tok) in tape.tokens.enumerated() {
            F32Kernels.axpy(1, dx.row(t), grads.embedding.data + tok * d, d)
        }
    }

    /// The LoRA factors' share of a (stacked) product's backward pass: their gradients, and dX through them.
    func loraBackward(_ lt: LayerTape, layer: Int, _ kinds: [LinearKind], dY: Matrix, dX: Matrix) {
        guard let lora else { return }
        var col = 0
        for k in kinds {
            let out = k.shape(in: config).out
            if let f = lora.factors[LoRATarget(layer: layer, kind: k)], let r = lt.lora[k] {
                lora.backward(f, r, dY: dY, cols: col..<(col + out), dX: dX)
            }
            col += out
        }
    }

    /// dX = dY · W for y = W x (dY [T, out] -> [T, in]).
    func inputGradient(dY: Matrix, _ w: DenseWeight) -> Matrix {
        stackedInputGradient(dY: dY, [w])
    }

    /// dX = Σ dYᵢ · Wᵢ for weights reading the same input, dY = [dY₁ | dY₂ | ...].
    func stackedInputGradient(dY: Matrix, _ ws: [DenseWeight]) -> Matrix {
        let n = ws[0].cols, outs = ws.reduce(0) { $0 + $1.rows }
        precondition(dY.cols == outs)
        let dX = Matrix(rows: dY.rows, cols: n)
        withTransposed(ws) { F32Kernels.gemmNT(a: dY.data, m: dY.rows, b: $0, n: n, k: outs, c: dX.data) }
        return dX
    }

    /// Runs `body` on [W₁ | W₂ | ...]ᵀ = [in, Σ out] of weights reading the same input: built once and
    /// kept while the base is frozen, else built for this call only (the weights change between steps).
    func withTransposed(_ ws: [DenseWeight], _ body: (UnsafePointer<Float>) -> Void) {
        let key = ObjectIdentifier(ws[0])
        if let t = transposes[key] { return body(t.data) }
        let n = ws[0].cols, outs = ws.reduce(0) { $0 + $1.rows }
        let t = Transposed(count: n * outs)
        var col = 0
        for w in ws {
            F32Kernels.transpose(w.data, rows: w.rows, cols: n, into: t.data + col, dstStride: outs)
            col += w.rows
        }
        if frozenBase { transposes[key] = t }
        withExtendedLifetime(t) { body(t.data) }
    }

    /// dW = dYᵀ · X [out, in] into `out`.
    func productGradient(dY: Matrix, x: Matrix, into out: UnsafeMutablePointer<Float>) {
        let T = dY.rows
        let dYT = UnsafeMutablePointer<Float>.allocate(capacity: dY.cols * T)
        let xT = UnsafeMutablePointer<Float>.allocate(capacity: x.cols * T)
        defer { dYT.deallocate(); xT.deallocate() }
        F32Kernels.transpose(dY.data, rows: T, cols: dY.cols, into: dYT)
        F32Kernels.transpose(x.data, rows: T, cols: x.cols, into: xT)
        F32Kernels.gemmNT(a: dYT, m: dY.cols, b: xT, n: x.cols, k: T, c: out)
    }

    /// The weight gradients of stacked products: rows of dYᵀ X go to each weight in turn.
    func stackedProductGradient(dY: Matrix, x: Matrix, into gs: [DenseWeight]) {
        let all = UnsafeMutablePointer<Float>.allocate(capacity: dY.cols * x.cols)
        defer { all.deallocate() }
        productGradient(dY: dY, x: x, into: all)
        var off = 0
        for g in gs {
            g.data.update(from: all + off, count: g.rows * g.cols)
            off += g.rows * g.cols
        }
    }

    /// y = x·r·g with r = 1/√(mean x² + ε): dx = r·(g⊙dy) − x·r³·(Σ dy⊙g⊙x)/n; dg += Σ_t dy⊙x·r.
    func rmsNormBackward(_ dy: Matrix, x: Matrix, inv: [Float], g: [Float], dg: inout [Float]) -> Matrix {
        let n = x.cols
        let dx = Matrix(rows: x.rows, cols: n)
        for t in 0..<x.rows {
            let xr = x.row(t), dyr = dy.row(t), out = dx.row(t)
            let r = inv[t]
            var dot: Float = 0
            for i in 0..<n { dot += dyr[i] * g[i] * xr[i]; dg[i] += dyr[i] * xr[i] * r }
            let k = r * r * r * dot / Float(n)
            for i in 0..<n { out[i] = r * g[i] * dyr[i] - xr[i] * k }
        }
        return dx
    }

    /// Softmax attention backward per query head (P kept by the forward pass):
    /// dP = dA·Vᵀ, dS = P⊙(dP − rowsum(P⊙dP)), dQ = dS·K/√d, dK = dSᵀ·Q/√d, dV = Pᵀ·dA.
    /// Each head writes its own dK, dV; heads sharing a KV head are summed after.
    func attentionBackward(_ lt: LayerTape, dA: Matrix) -> (Matrix, Matrix, Matrix) {
        let c = config, T = lt.q.rows, H = c.numHeads, hd = c.headDim, kvDim = c.kvDim
        let group = H / c.numKVHeads
        let scale = 1 / Float(hd).squareRoot()
        let dq = Matrix(rows: T, cols: H * hd)
        let dkH = UnsafeMutablePointer<Float>.allocate(capacity: H * T * hd)
        let dvH = UnsafeMutablePointer<Float>.allocate(capacity: H * T * hd)
        defer { dkH.deallocate(); dvH.deallocate() }
        dkH.initialize(repeating: 0, count: H * T * hd)
        dvH.initialize(repeating: 0, count: H * T * hd)
        let (qp, kp, vp, pp, dap, dqp, dkp, dvp) = (Unchecked(lt.q.data), Unchecked(lt.k.data), Unchecked(lt.v.data), Unchecked(lt.probs!),
                                                   Unchecked(dA.data), Unchecked(dq.data), Unchecked(dkH), Unchecked(dvH))
        Parallel.forEach(H) { h in
            let kvh = h / group
            let ds = UnsafeMutablePointer<Float>.allocate(capacity: T)
            defer { ds.deallocate() }
            for t in 0..<T {
                let p = pp.value + (h * T + t) * T
                let da = dap.value + t * H * hd + h * hd
                var rowDot: Float = 0
                for j in 0...t {
                    let dp = F32Kernels.dot(da, vp.value + j * kvDim + kvh * hd, hd)
                    ds[j] = dp
                    rowDot += p[j] * dp
                    F32Kernels.axpy(p[j], da, dvp.value + (h * T + j) * hd, hd)
                }
                let dqt = dqp.value + t * H * hd + h * hd
                let qt = qp.value + t * H * hd + h * hd
                for j in 0...t {
                    let s = p[j] * (ds[j] - rowDot) * scale
                    F32Kernels.axpy(s, kp.value + j * kvDim + kvh * hd, dqt, hd)
                    F32Kernels.axpy(s, qt, dkp.value + (h * T + j) * hd, hd)
                }
            }
        }
        let dk = Matrix(rows: T, cols: kvDim), dv = Matrix(rows: T, cols: kvDim)
        for h in 0..<H {
            let kvh = h / group
            for t in 0..<T {
                F32Kernels.axpy(1, dkH + (h * T + t) * hd, dk.row(t) + kvh * hd, hd)
                F32Kernels.axpy(1, dvH + (h * T + t) * hd, dv.row(t) + kvh * hd, hd)
            }
        }
        return (dq, dk, dv)
    }

    func copy(_ x: Matrix) -> Matrix {
        let y = Matrix(rows: x.rows, cols: x.cols)
        y.data.update(from: x.data, count: x.rows * x.cols)
        return y
    }

    func add(_ x: Matrix, _ y: Matrix) {
        F32Kernels.axpy(1, y.data, x.data, x.rows * x.cols)
    }
}

/// The trainer's backend: the reference engine's FP32 operations on a `TrainableLlama`'s weights, each
/// keeping in the tape what the backward pass reads (the graph's order within a block is fixed:
/// attention norm, q/k/v, RoPE, attention, o, FFN norm, gate/up, SwiGLU, down).
///
/// `@unchecked Sendable`: one recorder serves one forward pass on one thread of control.
final class TapeRecorder: Backend, @unchecked Sendable {
    let m: TrainableLlama
    let tape: Tape
    var config: ModelConfig { m.config }
    var name: String { "trainer" }
    var memory: DeviceMemory? { nil }
    typealias Tape = TrainableLlama.Tape

    init(_ m: TrainableLlama, tokens: [Int], logitRows: Range<Int>) { self.m = m; tape = Tape(tokens: tokens, logitRows: logitRows) }

    func makeKVCache(capacity: Int) throws -> KVCache { KVCache(layers: config.numLayers, kvDim: config.kvDim, capacity: capacity) }
    func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter {
        throw AdapterError.invalid("the trainer's graph runs without adapters")
    }
    func residentBytes(_ adapter: LoRAAdapter) -> Int { 0 }
    func kvCacheBytes(capacity: Int) -> Int { 0 }

    func embed(_ tokens: [Int]) -> Matrix {
        let d = config.hiddenSize
        let x = Matrix(rows: tokens.count, cols: d)
        for (i, t) in tokens.enumerated() {
            precondition(t >= 0 && t < config.vocabSize, "token id \(t) outside the vocabulary")
            x.row(i).update(from: m.embedding.data + t * d, count: d)
        }
        return x
    }

    func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix {
        switch norm {
        case .attention(let l):
            let lt = TrainableLlama.LayerTape()
            lt.x = m.copy(x)
            (lt.h1, lt.r1) = m.rmsNorm(x, m.attentionNorms[l])
            tape.layers.append(lt)
            return lt.h1
        case .ffn(let l):
            let lt = tape.layers[l]
            lt.xMid = m.copy(x)
            (lt.h2, lt.r2) = m.rmsNorm(x, m.ffnNorms[l])
            return lt.h2
        case .output:
            tape.xFinal = x
            (tape.hFinal, tape.rFinal) = m.rmsNorm(x, m.outputNorm)
            return tape.hFinal
        }
    }

    func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: [AdapterSpan]) -> [Matrix] {
        precondition(adapters.isEmpty, "the trainer's graph runs its own LoRA factors, not resident adapters")
        let ys = kinds.map { m.weights[layer][$0]!.apply(x) }
        let lt = tape.layers[layer]
        if let lora = m.lora {
            for (k, y) in zip(kinds, ys) {
                if let f = lora.factors[LoRATarget(layer: layer, kind: k)] { lt.lora[k] = lora.forward(f, x: x, into: y) }
            }
        }
        if kinds == [.q, .k, .v] { (lt.q, lt.k, lt.v) = (ys[0], ys[1], ys[2]) }   // RoPE rotates q, k in place
        if kinds == [.gate, .up] { (lt.gate, lt.up) = (ys[0], ys[1]) }
        return ys
    }

    func rope(_ x: Matrix, heads: Int, positions: [Int]) { m.rotary.apply(x, heads: heads, positions: positions) }

    /// The reference engine's per-head attention, its probabilities kept as [heads, T, T] (causal rows).
    func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch) -> Matrix {
        let c = config, T = q.rows, hd = c.headDim, scale = 1 / Float(hd).squareRoot()
        let lt = tape.layers[layer]
        lt.probs = .allocate(capacity: c.numHeads * T * T)
        let pp = Unchecked(lt.probs!)
        lt.a = Attention.run(q: q, k: k, v: v, layer: layer, batch: batch, heads: c.numHeads, headDim: hd) {
            t, h, qv, keys, values, stride, n, _, o in
            let p = pp.value + (h * T + t) * T
            ReferenceBackend.attendHead(q: qv, keys: keys, values: values, stride: stride, n: n, headDim: hd, scale: scale,
                                        probabilities: p, out: o)
            for j in n..<T { p[j] = 0 }
        }
        return lt.a
    }

    func swiGLU(gate: Matrix, up: Matrix) -> Matrix {
        let act = ReferenceBackend.swiGLU(gate, up)
        tape.layers[tape.layers.count - 1].act = act
        return act
    }

    func addResidual(_ x: Matrix, _ y: Matrix) { m.add(x, y) }

    func outputLogits(_ x: Matrix) -> Matrix { m.output.apply(x) }
}
