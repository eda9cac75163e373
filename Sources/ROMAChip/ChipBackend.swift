import Foundation
import ROMAFormats
import ROMALlama
import ROMANumerics

/// The ROMA chip running the Llama graph: base-weight products on the L-Units straight from the
/// read-only ROM image (Eq. 1), attention and LoRA on the H-Units from SRAM (KV cache and LoRA in the
/// chip's formats: FP16 and FP8 E4M3 on the paper's chip), everything else on the vector units,
/// activations FP16 throughout (docs/numerics.md). Every size and format comes from `chip`.
///
/// `@unchecked Sendable`: after init every stored property is immutable (the image is mapped
/// read-only; `hUnitSRAM` locks itself).
public final class ChipBackend: Backend, @unchecked Sendable {
    public let image: ROMImage
    public let config: ModelConfig
    public let chip: ChipConfig
    public let numerics: DatapathNumerics
    /// The H-Units' SRAM: KV caches and resident adapters share its budget.
    public let hUnitSRAM: SRAM
    public var memory: DeviceMemory? { hUnitSRAM }
    public var name: String { "chip" }
    let linearTensors: [[LinearKind: ROMImage.Tensor]]
    let embedding: ROMImage.Tensor
    let output: ROMImage.Tensor
    let norms: NormWeights
    let invFreq: [Float]
    /// Rounds a value to the KV-cache format (`chip.numerics.kvCacheFormat`).
    let kvRound: @Sendable (Float) -> Float

    /// Runs `image` on `chip`; refuses an image the chip cannot hold or whose weights it cannot read.
    public init(image: ROMImage, chip: ChipConfig = .paper) throws {
        try chip.validate()
        try ChipBackend.check(image, fits: chip)
        self.image = image
        self.chip = chip
        numerics = chip.numerics.datapath
        hUnitSRAM = SRAM(capacity: Int(chip.memory.loraKVSRAMBytes))
        kvRound = try HUnit.storageRounding(chip.numerics.kvCacheFormat)
        let m = image.model
        config = m
        linearTensors = try (0..<m.numLayers).map { l in
            var d: [LinearKind: ROMImage.Tensor] = [:]
            for k in LinearKind.allCases { d[k] = try image.requireTensor(k.ggufName(layer: l)) }
            return d
        }
        norms = try NormWeights(model: m) { (name: String) throws -> [Float] in image.normValues(try image.requireTensor(name)) }
        embedding = try image.requireTensor(TensorName.embedding)
        output = m.tiedEmbeddings ? embedding : try image.requireTensor(TensorName.output)
        invFreq = (0..<(m.headDim / 2)).map { Float(pow(m.ropeTheta, -2.0 * Double($0) / Double(m.headDim))) }
    }

    /// Loads a ROM image (checksum verified).
    public static func load(imagePath: String, chip: ChipConfig = .paper) throws -> ChipBackend {
        try ChipBackend(image: ROMImage(path: imagePath), chip: chip)
    }

    /// The image's weights must use bit widths the chip's L-Units support and fit its ROM.
    static func check(_ image: ROMImage, fits chip: ChipConfig) throws {
        let supported = chip.numerics.baseWeightBitsSupported
        for t in image.header.tensors where t.kind != .norm && !supported.contains(t.bits) {
            throw ChipConfigError.unsupported("the image's tensor '\(t.name)' has \(t.bits)-bit weights; chip '\(chip.name)' supports \(supported.map { "\($0)-bit" }.joined(separator: ", ")) (numerics.baseWeightBitsSupported)")
        }
        let bytes = Double(image.file.bytes.count - image.dataOffset)
        guard bytes <= chip.memory.romBytes else {
            throw ChipConfigError.unsupported(String(format: "the image's data is %.3f GB, more than chip '%@''s ROM of %.3f GB (memory.romBytes)", bytes / 1e9, chip.name, chip.memory.romBytes / 1e9))
        }
    }

    // MARK: SRAM (H-Unit): KV caches and LoRA

    public func kvCacheBytes(capacity: Int) -> Int { capacity * SRAMAccounting.kvBytesPerToken(config, chip: chip) }

    public func residentBytes(_ adapter: LoRAAdapter) -> Int {
        adapter.layers.values.reduce(0) {
            $0 + SRAMAccounting.loraLayerBytes(rank: $1.rank, inDim: $1.inDim, outDim: $1.outDim, format: chip.numerics.loraWeightFormat)
        }
    }

    public func makeKVCache(capacity: Int) throws -> KVCache {
        let bytes = kvCacheBytes(capacity: capacity)
        let reservation = try hUnitSRAM.reserve(bytes, label: "KV cache for \(capacity) tokens")
        return KVCache(layers: config.numLayers, kvDim: config.kvDim, capacity: capacity, reservation: reservation)
    }

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
        let reservation = try hUnitSRAM.reserve(bytes, label: "adapter '\(adapter.name)'")
        return ResidentAdapter(name: adapter.name, bytes: bytes, owner: self, numLayers: config.numLayers, products: products) {
            withExtendedLifetime(reservation) {}
        }
    }

    // MARK: Backend

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
            let (xs, ys, gs) = (Unchecked(x), Unchecked(y), Unchecked(gp.baseAddress!))
            Self.rows(x.rows) { r in VectorUnit.rmsNorm(xs.value.row(r), gs.value, xs.value.cols, eps: eps, ys.value.row(r)) }
        }
        return y
    }

    /// Products of one broadcast input: aligned once, all tensors' rows of every sequence in one pass
    /// over the L-Units (the ROM is read once per step). A layer that adapters target keeps its FP32
    /// sums, adds each span's H-Unit LoRA products on that span's rows, then rounds to FP16
    /// (y = fp16(W_rom x + Σ scale·B(A x))).
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters spans: [AdapterSpan]) -> [Matrix] {
        for s in spans { s.selection.check(self) }
        let tensors = linearTensors[layer]
        var outs: [Matrix] = []
        outs.reserveCapacity(kinds.count)
        let act = LUnitArray.AlignedActivations(x: x.data, tokens: x.rows, cols: x.cols, groupSize: tensors[kinds[0]]!.groupSize, numerics: numerics)
        // each product's LoRA spans (no array at all without adapters)
        let lora = spans.isEmpty ? [] : kinds.map { kind in
            spans.flatMap { s in s.selection.products(layer: layer, kind: kind).map { (s.rows, $0.0, $0.1) } }
        }
        withUnsafeTemporaryAllocation(of: LUnitArray.Product.self, capacity: kinds.count) { products in
            for (i, kind) in kinds.enumerated() {
                let t = tensors[kind]!
                let out = Matrix(overwrittenRows: x.rows, cols: t.rows)   // the L-Unit array writes every element
                outs.append(out)
                products.initializeElement(at: i, to: LUnitArray.Product(tensor: t, out: out.data, outStride: t.rows,
                                                                          roundToFP16: lora.isEmpty || lora[i].isEmpty))
            }
            LUnitArray.matmul(image: image, products: UnsafeBufferPointer(products), x: act)
            _ = products.deinitialize()
        }
        for (i, ps) in lora.enumerated() where !ps.isEmpty {
            HUnit.loraSpans(ps, x: x, into: outs[i])
            let out = outs[i]
            for j in 0..<(out.rows * out.cols) { out.data[j] = FP16.round(out.data[j]) }
        }
        return outs
    }

    public func rope(_ x: Matrix, heads: Int, positions: [Int]) {
        invFreq.withUnsafeBufferPointer { f in
            let (xs, fs, hd) = (Unchecked(x), Unchecked(f.baseAddress!), config.headDim)
            Self.rows(x.rows) { t in VectorUnit.rope(xs.value.row(t), heads: heads, headDim: hd, pos: positions[t], invFreq: fs.value) }
        }
    }

    /// K and V into H-Unit SRAM in the KV-cache format, then attention on the H-Units (`HUnit.attendHead`).
    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch) -> Matrix {
        for i in 0..<(k.rows * k.cols) {
            k.data[i] = kvRound(k.data[i])
            v.data[i] = kvRound(v.data[i])
        }
        let hd = config.headDim, scale = 1 / Float(hd).squareRoot()
        // tiles of rows: each key and value read once for the rows' query heads of its KV head
        let tileRows = HUnit.tileRows(group: config.numHeads / config.numKVHeads)
        return Attention.runTiled(q: q, k: k, v: v, layer: layer, batch: batch, heads: config.numHeads, headDim: hd, tileRows: tileRows) {
            tile, keys, values, stride in
            HUnit.attendTile(tile, keys: keys, values: values, stride: stride, headDim: hd, scale: scale)
        }
    }

    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix {
        let y = Matrix(rows: gate.rows, cols: gate.cols)
        let (g, u, ys, n) = (Unchecked(gate), Unchecked(up), Unchecked(y), gate.cols)
        Self.rows(gate.rows) { r in VectorUnit.swiGLU(g.value.row(r), u.value.row(r), n, ys.value.row(r)) }
        return y
    }

    public func addResidual(_ x: Matrix, _ y: Matrix) {
        let (xs, ys, n, fp16) = (Unchecked(x), Unchecked(y), x.cols, numerics.residual == .fp16)
        Self.rows(x.rows) { r in VectorUnit.residualAdd(xs.value.row(r), ys.value.row(r), n, fp16: fp16) }
    }

    /// The vector units' element-wise and per-row operations over a prefill's rows, spread over the
    /// cores (every row's numbers are computed alone, so the results do not depend on the split);
    /// a decode step's row runs where it is.
    private static func rows(_ n: Int, _ body: (Int) -> Void) {
        Parallel.forEach(n, minChunk: 16, body)
    }

    /// The output head on the L-Units; logits leave the chip in FP32.
    public func outputLogits(_ x: Matrix) -> Matrix {
        let out = Matrix(rows: x.rows, cols: output.rows)
        let act = LUnitArray.AlignedActivations(x: x.data, tokens: x.rows, cols: x.cols, groupSize: output.groupSize, numerics: numerics)
        LUnitArray.matmul(image: image, tensor: output, x: act, out: out.data, outStride: output.rows, roundToFP16: false)
        return out
    }
}
