import ROMALlama
import Foundation
import ROMAFormats
import ROMANumerics

/// Compiles a GGUF model into a ROMA ROM image: quantizes every linear weight, the embedding table
/// and the output head into the L-Unit format (Sec. III-B), partitions rows over the L-Units, and
/// writes the self-contained, checksummed image (docs/rom-image.md).
public struct ROMCompiler {
    public var bits: Int
    /// Bits of the embedding table (and the tied output head) when they differ from `bits`: INT2 linears
    /// with an INT4 embedding, like llama.cpp's Q2_K mix keeps its embedding and head wider.
    public var embeddingBits: Int?
    /// nil: the chip's `quantGroupSize` if it divides every row length, else the largest power of two
    /// below it that does.
    public var groupSize: Int?
    /// The chip the image is for: its L-Units, ROM size, supported bit widths and group size.
    public let chip: ChipConfig
    public var units: Int { chip.array.matrixUnits }
    public var unitRows: Int { chip.array.matrixRowsPerColumn }
    public var unitColumns: Int { chip.array.columns }
    public var romBytes: Double { chip.memory.romBytes }
    /// Input Hessians per GGUF weight name (from calibration text, `CalibrationBackend`): a tensor
    /// with one is quantized by GPTQ (`GPTQ`), the others by the per-group clip search alone.
    public var hessians: [String: Hessian] = [:]
    /// GPTQ's relative diagonal dampening (fraction of mean diag H). nil: `defaultDampening`,
    /// measured on SmolLM2 (G = 64, docs/rom-image.md).
    public var dampening: Double?
    var effectiveDampening: Double { dampening ?? ROMCompiler.defaultDampening(bits: bits, actOrder: actOrder) }

    /// Act-order (GPTQ, 14 GPL-3 chunks): INT4 0.1 -> 20.16, 0.3 -> 20.33, 1.0 -> 20.79; INT2 0.1.
    /// Left to right (2 chunks): INT4 0.3 (0.01 -> 20.71, 0.1 -> 20.05, 0.3 -> 19.58, 1.0 -> 20.37),
    /// INT2 0.1 (0.03 -> 626, 0.1 -> 359, 0.3 -> 633).
    public static func defaultDampening(bits: Int, actOrder: Bool = true) -> Double {
        bits == 2 || actOrder ? 0.1 : 0.3
    }
    /// GPTQ: pick group scales and zero points by the output-error-weighted clip search.
    public var weightedGroupSearch = true
    /// GPTQ: act-order with static groups (`GPTQ.actOrder`); false: left to right, each group's
    /// parameters chosen on the error-compensated weights.
    public var actOrder = true
    /// The image header's quantization.method.
    public var quantizer: String { hessians.isEmpty ? "clip-search-mse" : actOrder ? "gptq-act-order" : "gptq-clip-search" }
    func solver(_ q: GroupQuantizer) -> GPTQ {
        GPTQ(quantizer: q, dampening: effectiveDampening, weightedGroupSearch: weightedGroupSearch, actOrder: actOrder)
    }

    /// Rows spread over the chip's L-Units; the fit report uses its ROM size.
    public init(bits: Int, groupSize: Int? = nil, chip: ChipConfig = .paper) {
        self.bits = bits; self.groupSize = groupSize; self.chip = chip
    }

    /// Weight widths a ROM image can hold (docs/rom-image.md: 4-bit and 2-bit codes).
    public static let imageBits = [2, 4]

    /// `bits` must be a width the chip's L-Units take (`numerics.baseWeightBitsSupported`) and one the
    /// image format holds.
    public static func checkBits(_ bits: Int, chip: ChipConfig, what: String = "bits") throws {
        let ok = chip.numerics.baseWeightBitsSupported.filter(imageBits.contains)
        guard ok.contains(bits) else {
            throw ROMImageError.invalid("\(what) must be one of \(ok.map(String.init).joined(separator: ", ")) (chip '\(chip.name)' supports \(chip.numerics.baseWeightBitsSupported.map(String.init).joined(separator: ", ")); ROM images hold \(imageBits.map(String.init).joined(separator: ", "))), got \(bits)")
        }
    }

    public struct Report: Sendable {
        public var path: String
        public var checksum: String
        public var bytes: Int
        public var groupSize: Int
        /// Relative RMS quantization error per tensor (||W - Wq|| / ||W||).
        public var tensorErrors: [(name: String, relativeRMS: Double)]
        public var seconds: Double
    }

    /// Row lengths of the quantized tensors: the group size must divide each of them.
    static func rowLengths(_ m: ModelConfig) -> [(String, Int)] {
        [(TensorName.embedding, m.hiddenSize), (LinearKind.q.ggufName(layer: 0), m.hiddenSize),
         (LinearKind.o.ggufName(layer: 0), m.qDim), (LinearKind.down.ggufName(layer: 0), m.intermediateSize)]
    }

    public static func resolveGroupSize(_ requested: Int?, model m: ModelConfig, chip: ChipConfig = .paper) throws -> Int {
        if let g = requested {
            guard g >= 8, g % 8 == 0 else { throw ROMImageError.invalid("group size must be a positive multiple of 8, got \(g)") }
            for (name, n) in rowLengths(m) where n % g != 0 {
                throw ROMImageError.invalid("group size \(g) does not divide the row length \(n) of '\(name)'")
            }
            return g
        }
        let preferred = chip.numerics.quantGroupSize
        var g = preferred
        while g > 8, rowLengths(m).contains(where: { $0.1 % g != 0 }) { g = g % 2 == 0 ? g / 2 : 8 }
        guard g % 8 == 0, rowLengths(m).allSatisfy({ $0.1 % g == 0 }) else {
            throw ROMImageError.invalid("no group size from the chip's \(preferred) (numerics.quantGroupSize) down to 8 divides the model's row lengths")
        }
        return g
    }

    public func compile(gguf g: GGUFFile, output: String,
                        progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> Report {
        let t0 = Date()
        try ROMCompiler.checkBits(bits, chip: chip)
        if let e = embeddingBits { try ROMCompiler.checkBits(e, chip: chip, what: "embedding bits") }
        let model = try ModelConfig(gguf: g)
        for (name, shape) in model.expectedTensors() { _ = try g.requireTensor(name, shape: shape) }
        let group = try ROMCompiler.resolveGroupSize(groupSize, model: model, chip: chip)
        try ROMImage.checkOutputPath(output)

        // 1. plan the layout
        let (plan, dataBytes) = planLayout(model, group: group)
        // 2. header
        let header = try imageHeader(g, model: model, group: group, plan: plan)
        // 3. quantize into the data section, then write header + data
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, dataBytes), alignment: 64)
        defer { buf.deallocate() }
        buf.initializeMemory(as: UInt8.self, repeating: 0)
        let errors = try quantizeTensors(g, plan: plan, into: buf.baseAddress!, progress: progress)
        progress(plan.count, plan.count, "checksum")
        let (sum, total) = try ROMImage.write(header: header, data: UnsafeRawBufferPointer(rebasing: buf[0..<dataBytes]), to: output)
        return Report(path: output, checksum: SHA256.hex(sum), bytes: total, groupSize: group,
                      tensorErrors: errors, seconds: Date().timeIntervalSince(t0))
    }

    /// Layout step: each tensor's kind, bits, 64-byte-aligned offsets and unit rows; returns the plan and data size.
    func planLayout(_ model: ModelConfig, group: Int) -> ([ROMImage.Tensor], Int) {
        var plan: [ROMImage.Tensor] = []
        var offset = 0
        func align64(_ n: Int) -> Int { (n + 63) / 64 * 64 }
        func partition(_ rows: Int) -> [Int] { (0...units).map { $0 * rows / units } }
        for (name, shape) in model.expectedTensors() {
            if shape.count == 1 {
                plan.append(.init(name: name, kind: .norm, rows: 1, cols: shape[0], bits: 16, groupSize: shape[0],
                                  codesOffset: offset, codesBytes: shape[0] * 2, scalesOffset: 0, zerosOffset: 0,
                                  unitRowStart: partition(1)))
                offset = align64(offset + shape[0] * 2)
                continue
            }
            let cols = shape[0], rows = shape[1]
            let kind: ROMImage.TensorKind = name == TensorName.embedding ? .embedding : .linear
            let tbits = kind == .embedding ? (embeddingBits ?? bits) : bits
            let groups = rows * (cols / group)
            let codesBytes = rows * cols * tbits / 8
            let codesOffset = offset
            offset = align64(offset + codesBytes)
            let scalesOffset = offset
            offset = align64(offset + groups * 2)
            let zerosOffset = offset
            offset = align64(offset + groups)
            plan.append(.init(name: name, kind: kind, rows: rows, cols: cols,
                              bits: tbits, groupSize: group, codesOffset: codesOffset, codesBytes: codesBytes,
                              scalesOffset: scalesOffset, zerosOffset: zerosOffset, unitRowStart: partition(rows)))
        }
        return (plan, offset)
    }

    /// Header step: the model, quantization, source file (name and sha256), tokenizer, units and tensor plan.
    func imageHeader(_ g: GGUFFile, model: ModelConfig, group: Int, plan: [ROMImage.Tensor]) throws -> ROMImage.Header {
        ROMImage.Header(
            format: "roma-rom-image",
            model: model,
            quantization: .init(bits: bits, groupSize: group, method: quantizer),
            source: .init(file: URL(fileURLWithPath: g.path).lastPathComponent,
                          sha256: SHA256.hex(SHA256.hash(g.file.bytes)), compiler: "roma compile"),
            tokenizer: try ROMCompiler.tokenizerData(g),
            units: .init(count: units, rows: unitRows, columns: unitColumns, romBytesPerUnit: Int(romBytes / Double(units))),
            tensors: plan)
    }

    /// Quantize step: every planned tensor into the data section (norms as FP16); returns the relative RMS errors.
    func quantizeTensors(_ g: GGUFFile, plan: [ROMImage.Tensor], into data: UnsafeMutableRawPointer,
                         progress: (Int, Int, String) -> Void) throws -> [(String, Double)] {
        var errors: [(String, Double)] = []
        var factorCache: (ObjectIdentifier, GPTQ.Factor)?
        for (i, t) in plan.enumerated() {
            progress(i, plan.count, t.name)
            let src = try g.requireTensor(t.name)
            if t.kind == .norm {
                let v = try g.dequantize(src)
                let p = (data + t.codesOffset).assumingMemoryBound(to: UInt16.self)
                for k in 0..<v.count { p[k] = FP16.fromFloat(v[k]).littleEndian }
                continue
            }
            let factor = try gptqFactor(for: t, cache: &factorCache)
            errors.append((t.name, try quantizeTensor(g, src, t, factor: factor, into: data)))
        }
        return errors
    }

    /// GPTQ factor step: `t`'s Hessian factor (nil without one), reused from `factorCache` for a shared Hessian.
    func gptqFactor(for t: ROMImage.Tensor, cache factorCache: inout (ObjectIdentifier, GPTQ.Factor)?) throws -> GPTQ.Factor? {
        var factor: GPTQ.Factor?
        if let h = hessians[t.name] {
            guard h.n == t.cols else {
                throw ROMImageError.invalid("calibration Hessian for '\(t.name)' is \(h.n) x \(h.n), the weight has \(t.cols) columns")
            }
            if let c = factorCache, c.0 == ObjectIdentifier(h) {
                factor = c.1
            } else {
                let f = try solver(GroupQuantizer(bits: t.bits, groupSize: t.groupSize)).factor(h)
                factorCache = (ObjectIdentifier(h), f)
                factor = f
            }
        }
        return factor
    }

    /// Quantizes one GGUF tensor into the image layout (by GPTQ when `factor`, the tensor's inverse
    /// Hessian factor, is given); returns its relative RMS weight error.
    func quantizeTensor(_ g: GGUFFile, _ src: GGUFTensorInfo, _ t: ROMImage.Tensor, factor: GPTQ.Factor? = nil,
                        into data: UnsafeMutableRawPointer) throws -> Double {
        guard src.type.canDequantize else { throw FormatError.invalid("tensor '\(src.name)': type \(src.type) is not supported") }
        let q = GroupQuantizer(bits: t.bits, groupSize: t.groupSize)
        let rowBytes = src.type.rowBytes(t.cols)!
        let srcBase = g.data(src).baseAddress!
        let gpr = t.groupsPerRow
        let codes = Unchecked((data + t.codesOffset).assumingMemoryBound(to: UInt8.self))
        let scales = Unchecked((data + t.scalesOffset).assumingMemoryBound(to: UInt16.self))
        let zeros = Unchecked((data + t.zerosOffset).assumingMemoryBound(to: UInt8.self))
        let errs = Unchecked(UnsafeMutablePointer<Double>.allocate(capacity: 2 * t.rows))
        defer { errs.value.deallocate() }
        let (cols, rowCodeBytes, type) = (t.cols, t.rowCodeBytes, src.type)
        let gptq = factor.map { (solver(q), $0) }
        Parallel.forEach(t.rows, minChunk: 16) { r in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: cols)
            let unpacked = UnsafeMutablePointer<UInt8>.allocate(capacity: max(q.groupSize, cols))
            defer { row.deallocate(); unpacked.deallocate() }
            Dequantize.row(type: type, src: srcBase + r * rowBytes, dst: row, count: cols)
            if (0..<cols).contains(where: { !row[$0].isFinite }) {
                errs.value[2 * r] = .nan; errs.value[2 * r + 1] = 0   // reported below
                return
            }
            let rowCodes = codes.value + r * rowCodeBytes, rowScales = scales.value + r * gpr, rowZeros = zeros.value + r * gpr
            var err = 0.0, norm = 0.0
            if let (solver, f) = gptq {
                err = ROMCompiler.quantizeRowGPTQ(row, cols: cols, solver: solver, factor: f, q, gpr: gpr, unpacked: unpacked,
                                                  codes: rowCodes, scales: rowScales, zeros: rowZeros)
            } else {
                err = ROMCompiler.quantizeRowGroups(row, q, gpr: gpr, unpacked: unpacked, codes: rowCodes, scales: rowScales, zeros: rowZeros)
            }
            for k in 0..<cols { norm += Double(row[k] * row[k]) }
            errs.value[2 * r] = err; errs.value[2 * r + 1] = norm
        }
        return try ROMCompiler.relativeRMS(errs.value, rows: t.rows, tensor: t.name)
    }

    /// GPTQ row step: quantizes one row on a working copy and packs codes and scales; returns the squared error.
    static func quantizeRowGPTQ(_ row: UnsafeMutablePointer<Float>, cols: Int, solver: GPTQ, factor f: GPTQ.Factor,
                                _ q: GroupQuantizer, gpr: Int, unpacked: UnsafeMutablePointer<UInt8>,
                                codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<UInt16>,
                                zeros: UnsafeMutablePointer<UInt8>) -> Double {
        let work = UnsafeMutablePointer<Float>.allocate(capacity: cols)
        let rowScales = UnsafeMutablePointer<UInt16>.allocate(capacity: gpr)
        defer { work.deallocate(); rowScales.deallocate() }
        work.update(from: row, count: cols)
        let err = Double(solver.quantizeRow(work, original: row, factor: f, codes: unpacked, scales: rowScales,
                                            zeros: zeros))
        for gi in 0..<gpr {
            q.pack(unpacked + gi * q.groupSize, into: codes + gi * q.packedGroupBytes)
            scales[gi] = rowScales[gi].littleEndian
        }
        return err
    }

    /// Clip-search row step: quantizes and packs each group of one row; returns the summed squared error.
    static func quantizeRowGroups(_ row: UnsafeMutablePointer<Float>, _ q: GroupQuantizer, gpr: Int,
                                  unpacked: UnsafeMutablePointer<UInt8>, codes: UnsafeMutablePointer<UInt8>,
                                  scales: UnsafeMutablePointer<UInt16>, zeros: UnsafeMutablePointer<UInt8>) -> Double {
        var err = 0.0
        for gi in 0..<gpr {
            let (s, z, e) = q.quantizeGroup(row + gi * q.groupSize, q.groupSize, codes: unpacked)
            q.pack(unpacked, into: codes + gi * q.packedGroupBytes)
            scales[gi] = s.littleEndian
            zeros[gi] = z
            err += Double(e)
        }
        return err
    }

    /// Error step: rejects non-finite or unrepresentable rows, else sums the rows' (error, norm) into a relative RMS.
    static func relativeRMS(_ errs: UnsafeMutablePointer<Double>, rows: Int, tensor name: String) throws -> Double {
        if let bad = (0..<rows).first(where: { errs[2 * $0].isNaN }) {
            throw ROMImageError.invalid("tensor '\(name)' row \(bad) holds a non-finite weight (NaN or infinity); it cannot be quantized")
        }
        if let bad = (0..<rows).first(where: { errs[2 * $0].isInfinite }) {
            throw ROMImageError.invalid("tensor '\(name)' row \(bad) spans a range no FP16 scale can represent")
        }
        var e = 0.0, n = 0.0
        for r in 0..<rows { e += errs[2 * r]; n += errs[2 * r + 1] }
        return n > 0 ? (e / n).squareRoot() : 0
    }

    static func tokenizerData(_ g: GGUFFile) throws -> ROMImage.TokenizerData {
        let tokens = try g.stringArray("tokenizer.ggml.tokens")
        return ROMImage.TokenizerData(
            model: try g.requireString("tokenizer.ggml.model"),
            pre: g.value("tokenizer.ggml.pre")?.stringValue ?? "default",
            tokens: tokens,
            tokenTypes: (try? g.intArray("tokenizer.ggml.token_type")) ?? Array(repeating: 1, count: tokens.count),
            merges: try g.stringArray("tokenizer.ggml.merges"),
            bosTokenID: g.value("tokenizer.ggml.bos_token_id")?.intValue,
            eosTokenID: g.value("tokenizer.ggml.eos_token_id")?.intValue,
            eotTokenID: g.value("tokenizer.ggml.eot_token_id")?.intValue,
            addBOS: g.value("tokenizer.ggml.add_bos_token")?.boolValue ?? false,
            chatTemplate: g.value("tokenizer.chat_template")?.stringValue)
    }
}
