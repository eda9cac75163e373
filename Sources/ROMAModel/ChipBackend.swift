import Foundation
import ROMAChip
import ROMAFormats
import ROMANumerics

/// The KV cache in H-Unit SRAM: K and V per layer, [capacity, numKVHeads * headDim]. The values are
/// FP16 (rounded when stored); the functional model keeps them in FP32 words so the H-Unit kernels
/// need no conversion. SRAM is charged 2 bytes per value and released with the cache.
public final class ChipKVCache: FP32KVCache, @unchecked Sendable {
    let sram: SRAM
    let allocation: SRAM.Allocation

    /// Bytes of SRAM one token takes: K and V, every layer, FP16.
    public static func bytesPerToken(_ m: ModelConfig) -> Int { 2 * m.numLayers * m.kvDim * 2 }

    init(model m: ModelConfig, capacity: Int, sram: SRAM) throws {
        allocation = try sram.allocate(capacity * ChipKVCache.bytesPerToken(m), label: "KV cache for \(capacity) tokens")
        self.sram = sram
        super.init(layers: m.numLayers, kvDim: m.kvDim, capacity: capacity)
    }
    deinit { sram.release(allocation) }
}

/// The ROMA chip running the Llama graph: base-weight products on the L-Units straight from the
/// read-only ROM image (Eq. 1), attention and LoRA on the H-Units from SRAM (FP16 KV, FP8 LoRA),
/// everything else on the vector units, activations FP16 throughout (docs/numerics.md).
public final class ChipBackend: Backend, @unchecked Sendable {
    public let image: ROMImage
    public let config: ModelConfig
    public let numerics: DatapathNumerics
    /// The H-Units' SRAM: KV caches and resident adapters share its budget.
    public let hUnitSRAM: SRAM
    public var sram: SRAM? { hUnitSRAM }
    public var name: String { "chip" }
    let linearTensors: [[LinearKind: ROMImage.Tensor]]
    let embedding: ROMImage.Tensor
    let output: ROMImage.Tensor
    let norms: NormWeights
    let invFreq: [Float]

    public let chip: ChipConfig

    public init(image: ROMImage, chip: ChipConfig = .paper) throws {
        self.image = image
        self.chip = chip
        self.numerics = chip.numerics.datapath
        self.hUnitSRAM = SRAM(capacity: Int(chip.memory.loraKVSRAMBytes))
        let m = image.model
        config = m
        var lin: [[LinearKind: ROMImage.Tensor]] = []
        var an: [[Float]] = [], fn: [[Float]] = []
        for l in 0..<m.numLayers {
            var d: [LinearKind: ROMImage.Tensor] = [:]
            for k in LinearKind.allCases { d[k] = try image.requireTensor(k.ggufName(layer: l)) }
            lin.append(d)
            an.append(image.normValues(try image.requireTensor("blk.\(l).attn_norm.weight")))
            fn.append(image.normValues(try image.requireTensor("blk.\(l).ffn_norm.weight")))
        }
        linearTensors = lin
        norms = NormWeights(attention: an, ffn: fn, output: image.normValues(try image.requireTensor("output_norm.weight")))
        embedding = try image.requireTensor("token_embd.weight")
        output = m.tiedEmbeddings ? embedding : try image.requireTensor("output.weight")
        invFreq = (0..<(m.headDim / 2)).map { Float(pow(m.ropeTheta, -2.0 * Double($0) / Double(m.headDim))) }
    }

    /// Loads a ROM image (checksum verified) and its tokenizer.
    public static func load(imagePath: String, chip: ChipConfig = .paper) throws -> ChipBackend {
        try ChipBackend(image: ROMImage(path: imagePath), chip: chip)
    }

    // MARK: LoRA (H-Unit)

    /// Stores an adapter in H-Unit SRAM in the chip's LoRA weight format (FP8 E4M3 on the paper's chip);
    /// its bytes are charged to the SRAM budget until the resident adapter is released.
    public func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter {
        try adapter.validate(for: config)
        let format = chip.numerics.loraWeightFormat
        var products: [LoRATarget: LoRAProduct] = [:]
        var bytes = 0
        for (t, l) in adapter.layers {
            let p = try HUnitLoRA(l, format: format)
            products[t] = p
            bytes += p.bytes
        }
        let allocation = try hUnitSRAM.allocate(bytes, label: "adapter '\(adapter.name)'")
        let sram = hUnitSRAM
        return ResidentAdapter(name: adapter.name, bytes: bytes, owner: self, numLayers: config.numLayers, products: products) {
            sram.release(allocation)
        }
    }

    // MARK: Backend

    public func makeKVCache(capacity: Int) throws -> KVCache {
        try ChipKVCache(model: config, capacity: capacity, sram: hUnitSRAM)
    }

    public func embed(_ tokens: [Int]) -> Matrix {
        let x = Matrix(rows: tokens.count, cols: config.hiddenSize)
        for (i, t) in tokens.enumerated() {
            precondition(t >= 0 && t < config.vocabSize, "token id \(t) outside the vocabulary")
            let row = image.dequantizeRow(embedding, t)
            for k in 0..<config.hiddenSize { x.row(i)[k] = FP16.round(row[k]) }
        }
        return x
    }

    public func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix {
        let g = norms[norm]
        let y = Matrix(rows: x.rows, cols: x.cols)
        let eps = Float(config.rmsNormEps)
        g.withUnsafeBufferPointer { gp in
            for r in 0..<x.rows { VectorUnit.rmsNorm(x.row(r), gp.baseAddress!, x.cols, eps: eps, y.row(r)) }
        }
        return y
    }

    /// Products of one broadcast input: aligned once, all tensors' rows in one pass over the L-Units;
    /// a layer that adapters target keeps its FP32 sum, adds their H-Unit LoRA products, then rounds
    /// to FP16 (y = fp16(W_rom x + Σ scale·B(A x))).
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: AdapterSelection) -> [Matrix] {
        adapters.check(self)
        let tensors = kinds.map { linearTensors[layer][$0]! }
        let outs = tensors.map { Matrix(rows: x.rows, cols: $0.rows) }
        let act = LUnitArray.AlignedActivations(x: x.data, tokens: x.rows, cols: x.cols, groupSize: tensors[0].groupSize, numerics: numerics)
        let lora = kinds.map { adapters.products(layer: layer, kind: $0) }
        let products = tensors.indices.map {
            LUnitArray.Product(tensor: tensors[$0], out: outs[$0].data, outStride: tensors[$0].rows, roundToFP16: lora[$0].isEmpty)
        }
        LUnitArray.matmul(image: image, products: products, x: act)
        for (i, ps) in lora.enumerated() where !ps.isEmpty {
            for (p, scale) in ps { p.accumulate(x, userScale: scale, into: outs[i]) }
            let out = outs[i]
            for j in 0..<(out.rows * out.cols) { out.data[j] = FP16.round(out.data[j]) }
        }
        return outs
    }

    public func rope(_ x: Matrix, heads: Int, startPosition: Int) {
        invFreq.withUnsafeBufferPointer { f in
            for t in 0..<x.rows {
                VectorUnit.rope(x.row(t), heads: heads, headDim: config.headDim, pos: startPosition + t, invFreq: f.baseAddress!)
            }
        }
    }

    /// K and V into H-Unit SRAM as FP16, then attention on the H-Units (`HUnit.attendHead`).
    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, cache: KVCache) -> Matrix {
        let c = cache as! ChipKVCache
        let kvDim = config.kvDim, hd = config.headDim
        let K = c.keys[layer] + c.count * kvDim, V = c.values[layer] + c.count * kvDim
        for i in 0..<(k.rows * kvDim) {
            K[i] = FP16.round(k.data[i])
            V[i] = FP16.round(v.data[i])
        }
        let scale = 1 / Float(hd).squareRoot()
        return c.attend(layer: layer, q: q, heads: config.numHeads, headDim: hd) { qv, keys, values, n, scores, o in
            HUnit.attendHead(q: qv, keys: keys, values: values, stride: kvDim, n: n, headDim: hd, scale: scale,
                             scores: scores, out: o)
        }
    }

    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix {
        let y = Matrix(rows: gate.rows, cols: gate.cols)
        VectorUnit.swiGLU(gate.data, up.data, gate.rows * gate.cols, y.data)
        return y
    }

    public func addResidual(_ x: Matrix, _ y: Matrix) {
        VectorUnit.residualAdd(x.data, y.data, x.rows * x.cols, fp16: numerics.residual == .fp16)
    }

    /// The output head on the L-Units; logits leave the chip in FP32.
    public func outputLogits(_ x: Matrix) -> Matrix {
        let out = Matrix(rows: x.rows, cols: output.rows)
        let act = LUnitArray.AlignedActivations(x: x.data, tokens: x.rows, cols: x.cols, groupSize: output.groupSize, numerics: numerics)
        LUnitArray.matmul(image: image, tensor: output, x: act, out: out.data, outStride: output.rows, roundToFP16: false)
        return out
    }

    public func commit(tokens: Int, cache: KVCache) { (cache as! ChipKVCache).advance(tokens) }
}
