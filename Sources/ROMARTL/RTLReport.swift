import Foundation

/// A value for each ROM style.
public struct PerStyle<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    public var standard: Value
    public var brom: Value
    public init(standard: Value, brom: Value) { self.standard = standard; self.brom = brom }
    public subscript(style: ROMStyle) -> Value { style == .standard ? standard : brom }
}

/// The paper's claims the report compares against (Sec. I, III-B, III-C).
public enum PaperBROMClaims {
    /// "reduces the number of CMOS transistors to approximately one-fourth" (Sec. I, III-C).
    public static let transistorRatio = 0.25
    /// "reduces area by around 40% compared to standard ROM" (Sec. III-B).
    public static let areaSaving = 0.40
}

/// The figures an area model needs for the chip's ROM, scaled from one generated tile to one L-Unit
/// and to the chip (Sec. III-A: 256 L-Units; Table I: 1.86 GB of B-ROM). The ROM is assumed to be
/// built from identical tiles of `tile` geometry, each with its own decoder (and CGens for a B-ROM).
///
/// An area model uses `transistorsPerBit` (the paper's Sec. III-C counting) or, when present,
/// `cellsPerBit` (yosys generic-synthesis gates, decoder included) times the ROM bits, and
/// `transistorRatio` / `cellRatio` as the B-ROM factor relative to a standard ROM.
public struct ROMAreaFigures: Codable, Equatable, Sendable {
    public let tile: ROMGeometry
    public let cgen: CGenStructure
    /// NUM_CGEN of the tile's CGen.
    public let numCGen: Int
    public let array: RTLArrayConfig
    /// ROM bits per L-Unit (= romBytes * 8 / lUnits).
    public let romBitsPerLUnit: Double
    /// Tiles per L-Unit (fractional: the last tile may be partial).
    public let tilesPerLUnit: Double

    /// Transistors per stored bit: standard 1, B-ROM (W+NUM_CGEN)/(4W) (Sec. III-C).
    public let transistorsPerBit: PerStyle<Double>
    public let transistorsPerTile: PerStyle<Int>
    public let transistorsPerLUnit: PerStyle<Double>
    public let transistorsPerChip: PerStyle<Double>
    /// B-ROM / standard transistors (paper: ~0.25).
    public let transistorRatio: Double

    /// Which yosys flow the cell counts come from, when measured.
    public let cellFlow: String?
    public let cellsPerTile: PerStyle<Int>?
    public let cellsPerBit: PerStyle<Double>?
    public let cellsPerLUnit: PerStyle<Double>?
    public let cellsPerChip: PerStyle<Double>?
    /// B-ROM / standard cells; 1 - cellRatio is compared with the paper's ~40% area saving.
    public let cellRatio: Double?
    /// Cells of the tile's address decoder synthesized alone (identical in both styles), when measured.
    public let decoderCellsPerTile: Int?
    /// B-ROM / standard cells without the decoder (storage array + CGens only), when measured.
    public let arrayCellRatio: Double?

    public let paperTransistorRatio: Double
    public let paperAreaSaving: Double

    /// Scales the analytic transistor counts of a `tile` (and, if given, measured yosys cell counts of
    /// the same tile geometry) to one L-Unit and the whole chip.
    public init(tile: ROMGeometry, cgen: CGenStructure = .pairwise, array: RTLArrayConfig = .paper,
                cells: PerStyle<Int>? = nil, cellFlow: String? = nil, decoderCells: Int? = nil) {
        self.tile = tile
        self.cgen = cgen
        self.numCGen = CGen(cgen).transistors
        self.array = array
        romBitsPerLUnit = array.romBitsPerLUnit
        tilesPerLUnit = romBitsPerLUnit / Double(tile.bits)
        let t = PerStyle(standard: ROMCounts.paperTransistors(style: .standard, geometry: tile, numCGen: 0),
                         brom: ROMCounts.paperTransistors(style: .brom, geometry: tile, numCGen: numCGen))
        transistorsPerTile = t
        let bits = Double(tile.bits)
        transistorsPerBit = PerStyle(standard: Double(t.standard) / bits, brom: Double(t.brom) / bits)
        transistorsPerLUnit = PerStyle(standard: transistorsPerBit.standard * romBitsPerLUnit,
                                       brom: transistorsPerBit.brom * romBitsPerLUnit)
        transistorsPerChip = PerStyle(standard: transistorsPerLUnit.standard * Double(array.lUnits),
                                      brom: transistorsPerLUnit.brom * Double(array.lUnits))
        transistorRatio = Double(t.brom) / Double(t.standard)
        self.cellFlow = cells == nil ? nil : cellFlow
        cellsPerTile = cells
        if let c = cells {
            let perBit = PerStyle(standard: Double(c.standard) / bits, brom: Double(c.brom) / bits)
            cellsPerBit = perBit
            cellsPerLUnit = PerStyle(standard: perBit.standard * romBitsPerLUnit, brom: perBit.brom * romBitsPerLUnit)
            cellsPerChip = PerStyle(standard: perBit.standard * romBitsPerLUnit * Double(array.lUnits),
                                    brom: perBit.brom * romBitsPerLUnit * Double(array.lUnits))
            cellRatio = Double(c.brom) / Double(c.standard)
        } else {
            cellsPerBit = nil; cellsPerLUnit = nil; cellsPerChip = nil; cellRatio = nil
        }
        decoderCellsPerTile = cells == nil ? nil : decoderCells
        if let c = cells, let d = decoderCells, c.standard > d {
            arrayCellRatio = Double(c.brom - d) / Double(c.standard - d)
        } else {
            arrayCellRatio = nil
        }
        paperTransistorRatio = PaperBROMClaims.transistorRatio
        paperAreaSaving = PaperBROMClaims.areaSaving
    }

    /// Synthesizes one random tile of `tile` geometry in both styles with yosys and returns the figures
    /// with its cell counts (a 1024x128 tile takes a few minutes of yosys time).
    public static func measured(tile: ROMGeometry, cgen: CGenStructure = .pairwise, array: RTLArrayConfig = .paper,
                                flow: Yosys.Flow = .generic, seed: UInt64 = 1, work: URL,
                                timeout: Double = 600) throws -> ROMAreaFigures {
        let data = ROMTile.random(geometry: tile, seed: seed)
        var cells: [ROMStyle: Yosys.Cells] = [:]
        for style in ROMStyle.allCases {
            let name = "report_\(style.rawValue)_\(tile.depth)x\(tile.width)"
            let files = try GeneratedROM(tile: data, style: style, name: name, cgen: cgen,
                                         source: "random words, seed \(seed)").write(to: work)
            cells[style] = try Yosys.cells(verilog: files[0], top: name, flow: flow, work: work,
                                           decoder: style == .standard ? "\(name)_adec" : nil, timeout: timeout)
        }
        return ROMAreaFigures(tile: tile, cgen: cgen, array: array,
                              cells: PerStyle(standard: cells[.standard]!.total, brom: cells[.brom]!.total),
                              cellFlow: flow.rawValue, decoderCells: cells[.standard]!.decoder)
    }

    /// Human-readable report (`roma rtl report`).
    public var text: String {
        func e(_ x: Double) -> String { String(format: "%.4g", x) }
        func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
        var s = """
        ROM tile \(tile.depth)x\(tile.width), \(cgen.rawValue) CGen (NUM_CGEN = \(numCGen)); \
        chip \(array.rows)x\(array.columns) array, \(array.lUnits) L-Units, \(e(array.romBytes / 1e9)) GB ROM
        ROM bits per L-Unit \(e(romBitsPerLUnit)) = \(String(format: "%.1f", tilesPerLUnit)) tiles

        transistors (paper Sec. III-C counting, decoders excluded)
                        standard        B-ROM      ratio
          per tile   \(pad(e(Double(transistorsPerTile.standard))))  \(pad(e(Double(transistorsPerTile.brom))))  \(String(format: "%9.4f", transistorRatio))
          per L-Unit \(pad(e(transistorsPerLUnit.standard)))  \(pad(e(transistorsPerLUnit.brom)))
          chip       \(pad(e(transistorsPerChip.standard)))  \(pad(e(transistorsPerChip.brom)))
          B-ROM: \(String(format: "%.2f", 1 / transistorRatio))x fewer transistors, saving \(pct(1 - transistorRatio)) \
        (paper: ~\(String(format: "%.0f", 1 / paperTransistorRatio))x, limit W >> NUM_CGEN)

        """
        if let c = cellsPerTile, let l = cellsPerLUnit, let ch = cellsPerChip, let r = cellRatio {
            s += """
            yosys cells (\(cellFlow ?? "?") synthesis of a random tile, decoder included)
                            standard        B-ROM      ratio
              per tile   \(pad(e(Double(c.standard))))  \(pad(e(Double(c.brom))))  \(String(format: "%9.4f", r))
              per L-Unit \(pad(e(l.standard)))  \(pad(e(l.brom)))
              chip       \(pad(e(ch.standard)))  \(pad(e(ch.brom)))
              B-ROM saves \(pct(1 - r)) of cells (paper: ~\(pct(paperAreaSaving)) of ROM area)

            """
            if let d = decoderCellsPerTile, let ar = arrayCellRatio {
                s += "  decoder alone \(d) cells per tile; without it B-ROM/standard = \(String(format: "%.4f", ar)), saving \(pct(1 - ar))\n"
            }
        } else {
            s += "yosys cells: not measured (add --synthesize; needs yosys)\n"
        }
        return s
    }

    private func pad(_ s: String) -> String { String(repeating: " ", count: max(0, 11 - s.count)) + s }
}
