import Foundation
import ROMANumerics

// The ONE declarative description of a ROMA chip (DEVELOPERS.md: "hardware parameters in one declarative
// config, JSON-loadable, paper preset default"). Every hardware number the functional model, the
// performance / area / power model and the RTL generator use lives here; `docs/sim-parameters.md` gives the
// source of each value of the `paper` preset.

/// A numeric storage / datapath format used somewhere on the chip.
public enum NumberFormat: String, Codable, Sendable, CaseIterable {
    case fp32, fp16, bf16, fp8e4m3, fp8e5m2, int8, uint4, uint2

    /// Storage width in bits.
    public var bits: Int {
        switch self {
        case .fp32: return 32
        case .fp16, .bf16: return 16
        case .fp8e4m3, .fp8e5m2, .int8: return 8
        case .uint4: return 4
        case .uint2: return 2
        }
    }
    /// Storage width in bytes (fractional for sub-byte formats).
    public var bytes: Double { Double(bits) / 8 }
}

/// ROMA chip configuration (paper Sec. III-A, Table I).
public struct ChipConfig: Codable, Sendable, Equatable {
    public var name: String
    /// Core clock (Table I: 500 MHz).
    public var clockHz: Double
    public var array: ArrayGeometry
    public var memory: MemoryCapacities
    public var numerics: Numerics
    public var lUnit: LUnit
    public var hUnit: HUnit
    public var vectorUnit: VectorUnit
    public var router: Router
    public var technology: Technology

    public init(name: String, clockHz: Double, array: ArrayGeometry, memory: MemoryCapacities, numerics: Numerics,
                lUnit: LUnit, hUnit: HUnit, vectorUnit: VectorUnit, router: Router, technology: Technology) {
        self.name = name; self.clockHz = clockHz; self.array = array; self.memory = memory; self.numerics = numerics
        self.lUnit = lUnit; self.hUnit = hUnit; self.vectorUnit = vectorUnit; self.router = router
        self.technology = technology
    }

    // MARK: - Sub-structures

    /// The 2-D unit array (Sec. III-A, Fig. 3): `matrixArrays` arrays of `matrixRowsPerArray` x `columns`
    /// matrix units (each an SRAM H-Unit + a ROM L-Unit) around `vectorRows` row(s) of vector units.
    public struct ArrayGeometry: Codable, Sendable, Equatable {
        public var columns: Int
        public var matrixRowsPerArray: Int
        public var matrixArrays: Int
        public var vectorRows: Int
        public init(columns: Int, matrixRowsPerArray: Int, matrixArrays: Int, vectorRows: Int) {
            self.columns = columns; self.matrixRowsPerArray = matrixRowsPerArray
            self.matrixArrays = matrixArrays; self.vectorRows = vectorRows
        }
        /// Total rows of the array (paper: 17).
        public var rows: Int { matrixRowsPerArray * matrixArrays + vectorRows }
        /// Matrix rows in one column (paper: 16, eight above and eight below the vector row).
        public var matrixRowsPerColumn: Int { matrixRowsPerArray * matrixArrays }
        /// Number of matrix units = number of L-Units = number of H-Units (paper: 256).
        public var matrixUnits: Int { matrixRowsPerColumn * columns }
        /// Number of vector units (paper: 16).
        public var vectorUnits: Int { vectorRows * columns }
    }

    /// On-chip memory capacities in bytes (Sec. I, Table I). Decimal GB/MB as the paper prints them
    /// unless noted in docs/sim-parameters.md.
    public struct MemoryCapacities: Codable, Sendable, Equatable {
        /// B-ROM holding the quantized base model, all L-Units together (1.86 GB).
        public var romBytes: Double
        /// SRAM for LoRA weights and KV cache, all H-Units together (288 MB).
        public var loraKVSRAMBytes: Double
        /// SRAM for intermediate data, all vector units together (16 MB).
        public var intermediateSRAMBytes: Double
        public init(romBytes: Double, loraKVSRAMBytes: Double, intermediateSRAMBytes: Double) {
            self.romBytes = romBytes; self.loraKVSRAMBytes = loraKVSRAMBytes
            self.intermediateSRAMBytes = intermediateSRAMBytes
        }
    }

    /// Number formats (Sec. III-B, IV-A).
    public struct Numerics: Codable, Sendable, Equatable {
        /// Base-weight bit widths the L-Units support (INT4 for 3B, INT2 for 8B).
        public var baseWeightBitsSupported: [Int]
        /// Weights per quantization group (128).
        public var quantGroupSize: Int
        /// Format of the per-group scale s (FP16).
        public var quantScaleFormat: NumberFormat
        /// The per-group zero point z is unsigned and as wide as the weights (UInt2 for 2-bit).
        public var quantZeroPointUnsigned: Bool
        /// LoRA A/B weight format in SRAM (FP8 E4M3).
        public var loraWeightFormat: NumberFormat
        /// Activation format between units (FP16).
        public var activationFormat: NumberFormat
        /// KV-cache element format in SRAM (FP16).
        public var kvCacheFormat: NumberFormat
        /// Format of partial sums travelling between matrix units before the final reduction.
        public var partialSumFormat: NumberFormat
        public init(baseWeightBitsSupported: [Int], quantGroupSize: Int, quantScaleFormat: NumberFormat,
                    quantZeroPointUnsigned: Bool, loraWeightFormat: NumberFormat, activationFormat: NumberFormat,
                    kvCacheFormat: NumberFormat, partialSumFormat: NumberFormat,
                    datapath: DatapathNumerics = .paper) {
            self.baseWeightBitsSupported = baseWeightBitsSupported; self.quantGroupSize = quantGroupSize
            self.quantScaleFormat = quantScaleFormat; self.quantZeroPointUnsigned = quantZeroPointUnsigned
            self.loraWeightFormat = loraWeightFormat; self.activationFormat = activationFormat
            self.kvCacheFormat = kvCacheFormat; self.partialSumFormat = partialSumFormat
            self.datapath = datapath
        }

        /// The datapath choices the paper leaves open (alignment shift rounding, Bias, residual format);
        /// optional in JSON, the paper's defaults when absent (docs/numerics.md).
        public var datapath: DatapathNumerics

        enum CodingKeys: String, CodingKey {
            case baseWeightBitsSupported, quantGroupSize, quantScaleFormat, quantZeroPointUnsigned, loraWeightFormat
            case activationFormat, kvCacheFormat, partialSumFormat, datapath
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(baseWeightBitsSupported: try c.decode([Int].self, forKey: .baseWeightBitsSupported),
                      quantGroupSize: try c.decode(Int.self, forKey: .quantGroupSize),
                      quantScaleFormat: try c.decode(NumberFormat.self, forKey: .quantScaleFormat),
                      quantZeroPointUnsigned: try c.decode(Bool.self, forKey: .quantZeroPointUnsigned),
                      loraWeightFormat: try c.decode(NumberFormat.self, forKey: .loraWeightFormat),
                      activationFormat: try c.decode(NumberFormat.self, forKey: .activationFormat),
                      kvCacheFormat: try c.decode(NumberFormat.self, forKey: .kvCacheFormat),
                      partialSumFormat: try c.decode(NumberFormat.self, forKey: .partialSumFormat),
                      datapath: try c.decodeIfPresent(DatapathNumerics.self, forKey: .datapath) ?? .paper)
        }
        /// Bits of ROM per base weight including the group's scale and zero point:
        /// bits + (scaleBits + zeroPointBits) / groupSize (Sec. III-B).
        public func romBitsPerWeight(bits: Int) -> Double {
            Double(bits) + Double(quantScaleFormat.bits + bits) / Double(quantGroupSize)
        }
    }

    /// ROM-based L-Unit: B-ROM + shared-exponent alignment unit + low-bit compute cells (Sec. III-B).
    public struct LUnit: Codable, Sendable, Equatable {
        /// Base-weight bits the B-ROM delivers to the compute cells per cycle. MACs per cycle = this / bits,
        /// so a 2-bit model does twice the MACs of a 4-bit one. Fitted to R1 (see docs/paper-reproduction.md).
        public var weightBitsPerCycle: Double
        /// Cycles from an activation group entering the alignment unit to its dequantized partial sum.
        public var pipelineLatencyCycles: Double
        /// B-ROM word width W in bits (Sec. III-C; sets the CGen overhead ratio).
        public var bromWordBits: Int
        /// B-ROM address block size (4 addresses -> 16 candidates, Sec. III-C).
        public var bromBlockSize: Int
        /// Transistor-equivalents of the CGen module per block, NUM_CGEN (Sec. III-C).
        public var bromCGenTransistors: Int
        public init(weightBitsPerCycle: Double, pipelineLatencyCycles: Double, bromWordBits: Int,
                    bromBlockSize: Int, bromCGenTransistors: Int) {
            self.weightBitsPerCycle = weightBitsPerCycle; self.pipelineLatencyCycles = pipelineLatencyCycles
            self.bromWordBits = bromWordBits; self.bromBlockSize = bromBlockSize
            self.bromCGenTransistors = bromCGenTransistors
        }
        /// Base-weight MACs per cycle for `bits`-bit weights.
        public func macsPerCycle(bits: Int) -> Double { weightBitsPerCycle / Double(bits) }
    }

    /// SRAM-based H-Unit: LoRA (FP8) and attention (FP16) over its SRAM (Sec. III-A).
    public struct HUnit: Codable, Sendable, Equatable {
        /// FP16 multiply-accumulates per cycle (attention scores and weighted sums).
        public var fp16MACsPerCycle: Double
        /// FP8 x FP16 multiply-accumulates per cycle (LoRA A and B).
        public var fp8MACsPerCycle: Double
        /// SRAM read bandwidth in bytes per cycle (KV-cache and LoRA streaming).
        public var sramReadBytesPerCycle: Double
        /// Pipeline latency of one H-Unit pass in cycles.
        public var pipelineLatencyCycles: Double
        /// Prefill query tokens that share one read of the KV cache (register-blocked query tile).
        public var prefillQueryTileTokens: Double
        public init(fp16MACsPerCycle: Double, fp8MACsPerCycle: Double, sramReadBytesPerCycle: Double,
                    pipelineLatencyCycles: Double, prefillQueryTileTokens: Double) {
            self.fp16MACsPerCycle = fp16MACsPerCycle; self.fp8MACsPerCycle = fp8MACsPerCycle
            self.sramReadBytesPerCycle = sramReadBytesPerCycle; self.pipelineLatencyCycles = pipelineLatencyCycles
            self.prefillQueryTileTokens = prefillQueryTileTokens
        }
    }

    /// Vector unit: element-wise, reduction and permutation operations (Sec. III-A).
    public struct VectorUnit: Codable, Sendable, Equatable {
        /// FP16 lanes: element operations per cycle per vector unit.
        public var lanes: Double
        /// Pipeline latency of one vector operation in cycles.
        public var opLatencyCycles: Double
        public init(lanes: Double, opLatencyCycles: Double) {
            self.lanes = lanes; self.opLatencyCycles = opLatencyCycles
        }
    }

    /// Router between neighbouring units (Sec. III-A: "exchange input and results with adjacent units").
    public struct Router: Codable, Sendable, Equatable {
        /// Link width in bytes per cycle per direction.
        public var linkBytesPerCycle: Double
        /// Average cycles per hop including arbitration. Fitted to R7 (see docs/paper-reproduction.md).
        public var hopLatencyCycles: Double
        public init(linkBytesPerCycle: Double, hopLatencyCycles: Double) {
            self.linkBytesPerCycle = linkBytesPerCycle; self.hopLatencyCycles = hopLatencyCycles
        }
    }

    /// Process-technology parameters for area and energy (TSMC N7 class).
    public struct Technology: Codable, Sendable, Equatable {
        public var processName: String
        /// 6T HD SRAM bit cell area, um^2 (TSMC N7: 0.027).
        public var sramBitCellUm2: Double
        /// ROM bit cell area as a fraction of the SRAM bit cell (paper Sec. II-C: about 1/3).
        public var romCellToSRAMCellRatio: Double
        /// B-ROM area as a fraction of a standard ROM of the same capacity (Sec. III-B: "around 40%" less).
        public var bromAreaToROMRatio: Double
        /// Fraction of the smaller of (B-ROM, compute) area hidden by the Fused-cell overlap (Sec. III-D).
        public var fusedCellOverlap: Double
        /// Cell-array area over macro area (periphery, sense amps, decoders) for SRAM/ROM macros.
        public var memoryArrayEfficiency: Double
        /// Logic transistor density, million transistors per mm^2.
        public var logicMTrPerMm2: Double
        /// Placement utilisation of standard-cell logic.
        public var logicUtilization: Double
        /// Transistors of one L-Unit compute lane (one 4-bit x aligned-int MAC with its adder-tree share).
        public var lUnitLaneTransistors: Double
        /// Transistors of one FP16 MAC (H-Unit attention datapath).
        public var fp16MACTransistors: Double
        /// Transistors of one FP8xFP16 MAC (H-Unit LoRA datapath).
        public var fp8MACTransistors: Double
        /// Transistors of one vector lane (FP16 ALU + special-function share).
        public var vectorLaneTransistors: Double
        /// Transistors of one router (5-port, link-width crossbar + buffers).
        public var routerTransistors: Double
        /// Energy of reading one bit from SRAM, pJ.
        public var sramReadPJPerBit: Double
        /// Energy of writing one bit to SRAM, pJ.
        public var sramWritePJPerBit: Double
        /// Energy of reading one bit from a standard ROM, pJ.
        public var romReadPJPerBit: Double
        /// B-ROM read energy as a fraction of standard ROM (fewer transistors on the bit lines, Sec. III-C).
        public var bromReadEnergyRatio: Double
        /// Energy of one L-Unit lane MAC (4-bit weight x aligned activation), pJ.
        public var lUnitMACPJ: Double
        /// Energy of one FP16 MAC, pJ.
        public var fp16MACPJ: Double
        /// Energy of one FP8 x FP16 MAC, pJ.
        public var fp8MACPJ: Double
        /// Energy of one FP16 vector element operation, pJ.
        public var vectorOpPJ: Double
        /// Energy to move one byte across one router hop, pJ.
        public var routerPJPerByteHop: Double
        /// On-chip wire energy, pJ per bit per mm (L-Unit storage-to-compute wires).
        public var wirePJPerBitMm: Double
        /// SRAM leakage, pW per bit.
        public var sramLeakagePWPerBit: Double
        /// Logic leakage, mW per mm^2 of logic.
        public var logicLeakageMWPerMm2: Double
        public init(processName: String, sramBitCellUm2: Double, romCellToSRAMCellRatio: Double,
                    bromAreaToROMRatio: Double, fusedCellOverlap: Double, memoryArrayEfficiency: Double,
                    logicMTrPerMm2: Double, logicUtilization: Double, lUnitLaneTransistors: Double,
                    fp16MACTransistors: Double, fp8MACTransistors: Double, vectorLaneTransistors: Double,
                    routerTransistors: Double, sramReadPJPerBit: Double, sramWritePJPerBit: Double,
                    romReadPJPerBit: Double, bromReadEnergyRatio: Double, lUnitMACPJ: Double, fp16MACPJ: Double,
                    fp8MACPJ: Double, vectorOpPJ: Double, routerPJPerByteHop: Double, wirePJPerBitMm: Double,
                    sramLeakagePWPerBit: Double, logicLeakageMWPerMm2: Double) {
            self.processName = processName; self.sramBitCellUm2 = sramBitCellUm2
            self.romCellToSRAMCellRatio = romCellToSRAMCellRatio; self.bromAreaToROMRatio = bromAreaToROMRatio
            self.fusedCellOverlap = fusedCellOverlap; self.memoryArrayEfficiency = memoryArrayEfficiency
            self.logicMTrPerMm2 = logicMTrPerMm2; self.logicUtilization = logicUtilization
            self.lUnitLaneTransistors = lUnitLaneTransistors; self.fp16MACTransistors = fp16MACTransistors
            self.fp8MACTransistors = fp8MACTransistors; self.vectorLaneTransistors = vectorLaneTransistors
            self.routerTransistors = routerTransistors; self.sramReadPJPerBit = sramReadPJPerBit
            self.sramWritePJPerBit = sramWritePJPerBit; self.romReadPJPerBit = romReadPJPerBit
            self.bromReadEnergyRatio = bromReadEnergyRatio; self.lUnitMACPJ = lUnitMACPJ
            self.fp16MACPJ = fp16MACPJ; self.fp8MACPJ = fp8MACPJ; self.vectorOpPJ = vectorOpPJ
            self.routerPJPerByteHop = routerPJPerByteHop; self.wirePJPerBitMm = wirePJPerBitMm
            self.sramLeakagePWPerBit = sramLeakagePWPerBit
            self.logicLeakageMWPerMm2 = logicLeakageMWPerMm2
        }
    }

    // MARK: - Derived quantities

    /// SRAM bytes of one H-Unit.
    public var hUnitSRAMBytes: Double { memory.loraKVSRAMBytes / Double(array.matrixUnits) }
    /// ROM bytes of one L-Unit.
    public var lUnitROMBytes: Double { memory.romBytes / Double(array.matrixUnits) }
    /// Intermediate SRAM bytes of one vector unit.
    public var vectorUnitSRAMBytes: Double { memory.intermediateSRAMBytes / Double(array.vectorUnits) }

    // MARK: - Paper preset

    /// The chip of the paper (Sec. III, Table I). Sources of every number: docs/sim-parameters.md.
    /// `lUnit.weightBitsPerCycle` and `router.hopLatencyCycles` are the two values fitted to R1 and R7
    /// (`roma sim paper` refits them and prints the provenance).
    public static let paper = ChipConfig(
        name: "roma-paper",
        clockHz: 500e6,
        array: ArrayGeometry(columns: 16, matrixRowsPerArray: 8, matrixArrays: 2, vectorRows: 1),
        memory: MemoryCapacities(romBytes: 1.86e9, loraKVSRAMBytes: 288 * 1_048_576,
                                 intermediateSRAMBytes: 16 * 1_048_576),
        numerics: Numerics(baseWeightBitsSupported: [2, 4], quantGroupSize: 128, quantScaleFormat: .fp16,
                           quantZeroPointUnsigned: true, loraWeightFormat: .fp8e4m3, activationFormat: .fp16,
                           kvCacheFormat: .fp16, partialSumFormat: .fp32),
        lUnit: LUnit(weightBitsPerCycle: 4163.92, pipelineLatencyCycles: 3, bromWordBits: 512, bromBlockSize: 4,
                     bromCGenTransistors: 32),
        hUnit: HUnit(fp16MACsPerCycle: 256, fp8MACsPerCycle: 512, sramReadBytesPerCycle: 128,
                     pipelineLatencyCycles: 2, prefillQueryTileTokens: 4),
        vectorUnit: VectorUnit(lanes: 128, opLatencyCycles: 2),
        router: Router(linkBytesPerCycle: 64, hopLatencyCycles: 0.161842),
        technology: Technology(
            processName: "TSMC N7 (class)",
            sramBitCellUm2: 0.027, romCellToSRAMCellRatio: 1.0 / 3.0, bromAreaToROMRatio: 0.6,
            fusedCellOverlap: 1.0, memoryArrayEfficiency: 0.704,
            logicMTrPerMm2: 96.3, logicUtilization: 0.7,
            lUnitLaneTransistors: 2_000, fp16MACTransistors: 25_340, fp8MACTransistors: 12_000,
            vectorLaneTransistors: 60_000, routerTransistors: 2_000_000,
            sramReadPJPerBit: 0.0625, sramWritePJPerBit: 0.075, romReadPJPerBit: 0.0208, bromReadEnergyRatio: 0.6,
            lUnitMACPJ: 0.04, fp16MACPJ: 0.3, fp8MACPJ: 0.15, vectorOpPJ: 1.6, routerPJPerByteHop: 1.6,
            wirePJPerBitMm: 0.1, sramLeakagePWPerBit: 10, logicLeakageMWPerMm2: 50))

    // MARK: - Loading and validation

    /// Reads a chip configuration from a JSON file (all keys of `roma chip show --format json`).
    public static func load(from url: URL) throws -> ChipConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ChipConfigError.unreadable(url.path, error.localizedDescription)
        }
        return try decode(json: data, source: url.path)
    }

    /// Decodes JSON, turning decoder errors into messages that name the offending key.
    public static func decode(json data: Data, source: String = "chip config") throws -> ChipConfig {
        let cfg: ChipConfig
        do { cfg = try JSONDecoder().decode(ChipConfig.self, from: data) } catch let e as DecodingError {
            throw ChipConfigError.invalid(source, describe(e))
        } catch {
            throw ChipConfigError.invalid(source, "\(error)")
        }
        try cfg.validate()
        return cfg
    }

    /// Pretty JSON of this configuration (stable key order).
    public func jsonData() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }

    /// Checks the configuration describes a buildable chip.
    public func validate() throws {
        func positive(_ name: String, _ v: Double) throws {
            if !(v > 0) || !v.isFinite { throw ChipConfigError.invalidValue("\(name) must be a positive number, got \(v)") }
        }
        try positive("clockHz", clockHz)
        try positive("array.columns", Double(array.columns))
        try positive("array.matrixRowsPerArray", Double(array.matrixRowsPerArray))
        try positive("array.matrixArrays", Double(array.matrixArrays))
        try positive("array.vectorRows", Double(array.vectorRows))
        try positive("memory.romBytes", memory.romBytes)
        try positive("memory.loraKVSRAMBytes", memory.loraKVSRAMBytes)
        try positive("memory.intermediateSRAMBytes", memory.intermediateSRAMBytes)
        try positive("numerics.quantGroupSize", Double(numerics.quantGroupSize))
        if numerics.baseWeightBitsSupported.isEmpty || numerics.baseWeightBitsSupported.contains(where: { $0 <= 0 || $0 > 8 }) {
            throw ChipConfigError.invalidValue("numerics.baseWeightBitsSupported must list widths in 1...8, got \(numerics.baseWeightBitsSupported)")
        }
        try positive("lUnit.weightBitsPerCycle", lUnit.weightBitsPerCycle)
        try positive("lUnit.bromWordBits", Double(lUnit.bromWordBits))
        try positive("lUnit.bromBlockSize", Double(lUnit.bromBlockSize))
        try positive("hUnit.fp16MACsPerCycle", hUnit.fp16MACsPerCycle)
        try positive("hUnit.fp8MACsPerCycle", hUnit.fp8MACsPerCycle)
        try positive("hUnit.sramReadBytesPerCycle", hUnit.sramReadBytesPerCycle)
        try positive("hUnit.prefillQueryTileTokens", hUnit.prefillQueryTileTokens)
        try positive("vectorUnit.lanes", vectorUnit.lanes)
        try positive("router.linkBytesPerCycle", router.linkBytesPerCycle)
        for (n, v) in [("lUnit.pipelineLatencyCycles", lUnit.pipelineLatencyCycles),
                       ("hUnit.pipelineLatencyCycles", hUnit.pipelineLatencyCycles),
                       ("vectorUnit.opLatencyCycles", vectorUnit.opLatencyCycles),
                       ("router.hopLatencyCycles", router.hopLatencyCycles)] where !(v >= 0) || !v.isFinite {
            throw ChipConfigError.invalidValue("\(n) must be >= 0, got \(v)")
        }
        let t = technology
        for (n, v) in [("technology.sramBitCellUm2", t.sramBitCellUm2), ("technology.romCellToSRAMCellRatio", t.romCellToSRAMCellRatio),
                       ("technology.bromAreaToROMRatio", t.bromAreaToROMRatio), ("technology.memoryArrayEfficiency", t.memoryArrayEfficiency),
                       ("technology.logicMTrPerMm2", t.logicMTrPerMm2), ("technology.logicUtilization", t.logicUtilization)] {
            try positive(n, v)
        }
        if t.fusedCellOverlap < 0 || t.fusedCellOverlap > 1 {
            throw ChipConfigError.invalidValue("technology.fusedCellOverlap must be in 0...1, got \(t.fusedCellOverlap)")
        }
        try numerics.checkImplemented()
    }

    /// Reads `path` (nil: the paper's chip).
    public static func load(path: String?) throws -> ChipConfig {
        guard let path else { return .paper }
        return try load(from: URL(fileURLWithPath: path))
    }

    private static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            c.isEmpty ? "(top level)" : c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .keyNotFound(let k, let ctx):
            let p = path(ctx.codingPath + [k])
            return "missing key '\(p)'"
        case .typeMismatch(let t, let ctx): return "wrong type at '\(path(ctx.codingPath))' (expected \(t))"
        case .valueNotFound(let t, let ctx): return "null at '\(path(ctx.codingPath))' (expected \(t))"
        case .dataCorrupted(let ctx):
            let p = path(ctx.codingPath)
            return p == "(top level)" ? "not valid JSON (\(ctx.debugDescription))" : "bad value at '\(p)': \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

public enum ChipConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case invalid(String, String)
    case invalidValue(String)
    /// Describes a chip the functional model does not implement (refused rather than ignored).
    case unsupported(String)
    public var description: String {
        switch self {
        case .unsupported(let m): return "chip config: \(m)"
        case .unreadable(let p, let why): return "chip config: cannot read '\(p)': \(why)"
        case .invalid(let src, let why): return "chip config '\(src)': \(why)"
        case .invalidValue(let m): return "chip config: \(m)"
        }
    }
}

extension ChipConfig.Numerics {
    /// The number formats the functional model implements. A configuration outside them is refused by
    /// every command that reads it (the chip backend, `roma sram`, `roma sim`, ...) with the same message,
    /// so that no tool models a chip that the bit-accurate model would silently run differently.
    public func checkImplemented() throws {
        func require(_ key: String, _ f: NumberFormat, _ supported: [NumberFormat]) throws {
            guard supported.contains(f) else { throw ChipConfigError.unsupported(Self.unsupportedMessage(key, f, supported)) }
        }
        try require("activationFormat", activationFormat, [.fp16])
        try require("quantScaleFormat", quantScaleFormat, [.fp16])
        try require("partialSumFormat", partialSumFormat, [.fp32])
        try require("kvCacheFormat", kvCacheFormat, HUnit.kvCacheFormats)
        try require("loraWeightFormat", loraWeightFormat, HUnitLoRA.supportedFormats)
        guard quantZeroPointUnsigned else {
            throw ChipConfigError.unsupported("numerics.quantZeroPointUnsigned false is not implemented by the functional model (ROM images store unsigned zero points)")
        }
    }

    static func unsupportedMessage(_ key: String, _ f: NumberFormat, _ supported: [NumberFormat]) -> String {
        "numerics.\(key) \(f.rawValue) is not implemented by the functional model (supported: \(supported.map(\.rawValue).joined(separator: ", ")))"
    }
}

extension ChipConfigError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .unreadable: return .ioFailure
        case .invalid: return .corruptInput
        case .invalidValue: return .invalidArgument
        case .unsupported: return .unsupported
        }
    }
}
