import Foundation
import ROMAFormats
import ROMANumerics

/// A dense FP32 weight matrix [rows (outputs), cols (inputs)], row-major.
///
/// `@unchecked Sendable`: written only while it is built (and by the trainer between steps, never
/// during a pass); every pass only reads it.
public final class DenseWeight: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let data: UnsafeMutablePointer<Float>

    public init(rows: Int, cols: Int) {
        self.rows = rows; self.cols = cols
        data = .allocate(capacity: rows * cols)
    }

    /// Dequantizes a GGUF tensor (ne = [cols, rows]).
    public convenience init(gguf g: GGUFFile, _ t: GGUFTensorInfo) throws {
        guard t.type.canDequantize else {
            throw FormatError.invalid("tensor '\(t.name)': type \(t.type) is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q2_K, Q4_K, Q6_K)")
        }
        self.init(rows: t.rows, cols: t.columns)
        let src = g.data(t).baseAddress!
        let rowBytes = t.type.rowBytes(cols)!
        let (d, c) = (Unchecked(data), cols)
        Parallel.forEach(rows, minChunk: 64) { r in
            Dequantize.row(type: t.type, src: src + r * rowBytes, dst: d.value + r * c, count: c)
        }
    }

    deinit { data.deallocate() }

    /// out[T, rows] = x[T, cols] · Wᵀ, over all cores.
    public func apply(_ x: Matrix) -> Matrix {
        precondition(x.cols == cols, "input width \(x.cols) != weight columns \(cols)")
        let out = Matrix(rows: x.rows, cols: rows)
        let blocks = (rows + 15) / 16
        let (xp, wp, op, n, T, R) = (Unchecked(x.data), Unchecked(data), Unchecked(out.data), cols, x.rows, rows)
        Parallel.forEach(blocks) { b in
            let r = (b * 16)..<min(R, b * 16 + 16)
            F32Kernels.matmulRows(x: xp.value, T: T, w: wp.value, n: n, oRange: r, out: op.value, outStride: R)
        }
        return out
    }
}

/// The FP32 reference engine: weights dequantized once to FP32, every operation in FP32
/// (RMSNorm sums in FP64, as ggml does). It is the float path the chip is compared against.
///
/// `@unchecked Sendable`: immutable after init (the weights are read-only during every pass).
public final class ReferenceBackend: Backend, @unchecked Sendable {
    public let config: ModelConfig
    public var name: String { "reference" }
    /// [vocab, hidden]
    public let embedding: DenseWeight
    /// The output head; the same object as `embedding` when the model ties them.
    public let output: DenseWeight
    let weights: [[LinearKind: DenseWeight]]
    public let norms: NormWeights
    let rotary: RotaryEmbedding

    public init(gguf g: GGUFFile) throws {
        let cfg = try ModelConfig(gguf: g)
        for (name, shape) in cfg.expectedTensors() { _ = try g.requireTensor(name, shape: shape) }
        config = cfg
        embedding = try DenseWeight(gguf: g, g.requireTensor(TensorName.embedding))
        output = cfg.tiedEmbeddings ? embedding : try DenseWeight(gguf: g, g.requireTensor(TensorName.output))
        weights = try (0..<cfg.numLayers).map { l in
            var m: [LinearKind: DenseWeight] = [:]
            for k in LinearKind.allCases { m[k] = try DenseWeight(gguf: g, g.requireTensor(k.ggufName(layer: l))) }
            return m
        }
        norms = try NormWeights(model: cfg) { try g.dequantize(g.requireTensor($0)) }
        rotary = RotaryEmbedding(cfg)
    }

    /// The FP32 weight of one linear layer (used by tests and adapter tools).
    public func weight(_ kind: LinearKind, layer: Int) -> DenseWeight { weights[layer][kind]! }
    /// A copy of that weight, [rows, cols] row-major.
    public func weightArray(_ kind: LinearKind, layer: Int) -> [Float] {
        let w = weights[layer][kind]!
        return Array(UnsafeBufferPointer(start: w.data, count: w.rows * w.cols))
    }

    /// Host memory, no budget.
    public var memory: DeviceMemory? { nil }

    /// Keeps the adapter in FP32 (the float path the chip's FP8 adapters are compared against).
    public func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter {
        try adapter.validate(for: config)
        return ResidentAdapter(name: adapter.name, bytes: 0, owner: self, numLayers: config.numLayers,
                               products: adapter.layers.mapValues { FP32LoRAProduct($0) })
    }

    public func residentBytes(_ adapter: LoRAAdapter) -> Int { 0 }
    public func kvCacheBytes(capacity: Int) -> Int { 0 }

    /// K and V in FP32.
    public func makeKVCache(capacity: Int) throws -> KVCache {
        KVCache(layers: config.numLayers, kvDim: config.kvDim, capacity: capacity)
    }

    public func embed(_ tokens: [Int]) -> Matrix {
        let x = Matrix(rows: tokens.count, cols: config.hiddenSize)
        for (i, t) in tokens.enumerated() {
            precondition(t >= 0 && t < config.vocabSize, "token id \(t) outside the vocabulary")
            x.row(i).update(from: embedding.data + t * config.hiddenSize, count: config.hiddenSize)
        }
        return x
    }

    public func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix {
        ReferenceBackend.rmsNorm(x, norms[norm], eps: Float(config.rmsNormEps)).y
    }

    /// y = x / sqrt(mean(x²) + eps) * g per row, the sum of squares in FP64 (as ggml); also returns
    /// each row's 1/rms (the training graph's backward pass needs it).
    public static func rmsNorm(_ x: Matrix, _ g: [Float], eps: Float) -> (y: Matrix, inv: [Float]) {
        let y = Matrix(rows: x.rows, cols: x.cols)
        var inv = [Float](repeating: 0, count: x.rows)
        for r in 0..<x.rows {
            let xr = x.row(r), yr = y.row(r)
            var ss: Double = 0
            for i in 0..<x.cols { ss += Double(xr[i] * xr[i]) }
            let scale = 1 / (Float(ss / Double(x.cols)) + eps).squareRoot()
            inv[r] = scale
            for i in 0..<x.cols { yr[i] = xr[i] * scale * g[i] }
        }
        return (y, inv)
    }

    /// y = W x + Σ scale·B(A x) on each span's rows, all FP32.
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters spans: [AdapterSpan]) -> [Matrix] {
        for s in spans { s.selection.check(self) }
        return kinds.map { kind in
            let y = weights[layer][kind]!.apply(x)
            for s in spans {
                for (p, scale) in s.selection.products(layer: layer, kind: kind) { p.accumulate(x, rows: s.rows, userScale: scale, into: y) }
            }
            return y
        }
    }

    public func rope(_ x: Matrix, heads: Int, positions: [Int]) {
        rotary.apply(x, heads: heads, positions: positions)
    }

    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch) -> Matrix {
        let hd = config.headDim, scale = 1 / Float(hd).squareRoot()
        return Attention.run(q: q, k: k, v: v, layer: layer, batch: batch, heads: config.numHeads, headDim: hd) {
            _, _, qv, keys, values, stride, n, scores, o in
            ReferenceBackend.attendHead(q: qv, keys: keys, values: values, stride: stride, n: n, headDim: hd, scale: scale,
                                        probabilities: scores, out: o)
        }
    }

    /// One query head over `n` positions (keys and values `stride` floats apart), in FP32: the
    /// softmax of q·k·scale, left in `probabilities[0..<n]`, and out = Σ p_j v_j (the training graph
    /// keeps the probabilities for its backward pass).
    public static func attendHead(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                           n: Int, headDim hd: Int, scale: Float,
                           probabilities p: UnsafeMutablePointer<Float>, out o: UnsafeMutablePointer<Float>) {
        var mx = -Float.infinity
        for j in 0..<n {
            let s = F32Kernels.dot(q, keys + j * stride, hd) * scale
            p[j] = s
            mx = max(mx, s)
        }
        var sum: Float = 0
        for j in 0..<n { let e = expf(p[j] - mx); p[j] = e; sum += e }
        o.initialize(repeating: 0, count: hd)
        for j in 0..<n {
            p[j] /= sum
            let vr = values + j * stride
            for d in 0..<hd { o[d] += p[j] * vr[d] }
        }
    }

    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix { ReferenceBackend.swiGLU(gate, up) }

    /// silu(gate) * up, elementwise in FP32.
    public static func swiGLU(_ gate: Matrix, _ up: Matrix) -> Matrix {
        let y = Matrix(rows: gate.rows, cols: gate.cols)
        for i in 0..<(gate.rows * gate.cols) {
            let g = gate.data[i]
            y.data[i] = g / (1 + expf(-g)) * up.data[i]
        }
        return y
    }

    public func addResidual(_ x: Matrix, _ y: Matrix) {
        for i in 0..<(x.rows * x.cols) { x.data[i] += y.data[i] }
    }

    public func outputLogits(_ x: Matrix) -> Matrix { output.apply(x) }
}
