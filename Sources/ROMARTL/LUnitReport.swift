import Foundation
import ROMAChip

/// The three L-Unit designs of Fig. 12 that a netlist can stand for, scaled from one synthesized slice
/// (`LUnitCounts`) to an L-Unit and the chip (`roma rtl report --lunit DIR`).
///
/// Storage scales with the bits an L-Unit stores (`RTLArrayConfig.romBitsPerLUnit`); the datapath
/// with the weight bits an L-Unit reads per cycle (`ChipConfig.LUnit.weightBitsPerCycle`), one slice
/// datapath per G·b bits. Storage is given twice: as bit cells (the paper's Sec. III-C counting; a 6T
/// cell for SRAM) and as the yosys netlist of the same function (a ROM synthesized into gates, which is
/// not how a ROM array is laid out: it says how much logic the contents are, not how large the array is).
public struct LUnitAreaFigures: Codable, Equatable, Sendable {
    public struct Design: Codable, Equatable, Sendable {
        /// Fig. 12's name ("SRAM + compute", "ROM + compute", "B-ROM + compute").
        public let design: String
        public let style: LUnitStorageStyle
        public let storageBitCellsPerBit: Double
        public let storageNetlistPerBit: Double
        public let perLUnitBitCells: Double
        public let perLUnitNetlist: Double
        public let chipBitCells: Double
        public let chipNetlist: Double
        /// `roma sim area`'s L-Unit area for this design (mm^2, all L-Units), when given.
        public let simAreaMm2: Double?
    }

    public let counts: LUnitCounts
    public let flow: String
    public let array: RTLArrayConfig
    /// Slice datapaths per L-Unit: weight bits read per cycle / (G · b).
    public let datapathsPerLUnit: Double
    /// Datapath (alignment + cells + epilogue + pipeline) transistors per 4-bit lane, measured.
    public let datapathPerLane: Double
    /// What `roma sim area` assumes per lane (`ChipConfig.Technology.lUnitLaneTransistors`).
    public let assumedPerLane: Double
    public let datapathPerLUnit: Double
    public let designs: [Design]
    /// Fig. 12's area ordering SRAM + compute > ROM + compute > B-ROM + compute, for bit-cell storage
    /// and for netlist storage.
    public let orderingHoldsBitCells: Bool
    public let orderingHoldsNetlist: Bool

    public static let designNames: [(LUnitStorageStyle, String)] = [(.sram, "SRAM + compute"), (.standard, "ROM + compute"),
                                                                     (.brom, "B-ROM + compute")]

    public init(counts c: LUnitCounts, chip: ChipConfig, flow: String = "generic", simAreaMm2: [String: Double] = [:]) throws {
        guard c.flows.contains(flow) else { throw RTLError.badFlags("the counts have no '\(flow)' flow (have \(c.flows.joined(separator: ", ")))") }
        counts = c; self.flow = flow
        array = RTLArrayConfig(chip: chip)
        let bitsPerCycle = Double(c.groupSize * c.bits)
        datapathsPerLUnit = chip.lUnit.weightBitsPerCycle / bitsPerCycle
        let datapath = Double(c.datapathTransistors(flow))
        datapathPerLane = datapath / (bitsPerCycle / 4)
        assumedPerLane = chip.technology.lUnitLaneTransistors
        let perUnitDatapath = datapath * chip.lUnit.weightBitsPerCycle / bitsPerCycle
        datapathPerLUnit = perUnitDatapath
        let storedBits = Double(c.depth * c.wordBits), unitBits = array.romBitsPerLUnit, units = Double(array.lUnits)
        designs = try Self.designNames.map { style, name in
            guard let s = c.storage(style), let net = s.transistors[flow] else { throw RTLError.badFlags("no \(style.rawValue) storage count for flow \(flow)") }
            let cellsPerBit = Double(s.bitCellTransistors) / storedBits, netPerBit = Double(net) / storedBits
            let perUnitCells = cellsPerBit * unitBits + perUnitDatapath, perUnitNet = netPerBit * unitBits + perUnitDatapath
            return Design(design: name, style: style, storageBitCellsPerBit: cellsPerBit, storageNetlistPerBit: netPerBit,
                          perLUnitBitCells: perUnitCells, perLUnitNetlist: perUnitNet,
                          chipBitCells: perUnitCells * units, chipNetlist: perUnitNet * units, simAreaMm2: simAreaMm2[name])
        }
        orderingHoldsBitCells = zip(designs, designs.dropFirst()).allSatisfy { $0.perLUnitBitCells > $1.perLUnitBitCells }
        orderingHoldsNetlist = zip(designs, designs.dropFirst()).allSatisfy { $0.perLUnitNetlist > $1.perLUnitNetlist }
    }

    public var text: String {
        func e(_ x: Double) -> String { String(format: "%.4g", x) }
        func pad(_ s: String, _ n: Int = 11) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        let c = counts
        var s = "L-Unit slice G=\(c.groupSize), \(c.bits)-bit codes, \(c.depth) words x \(c.wordBits) bits; yosys \(flow) synthesis, CMOS transistor estimate\n\n"
        s += "slice blocks (transistors)     " + LUnitStorageStyle.allCases.map { pad($0.rawValue) }.joined() + "\n"
        s += "  storage (netlist)            " + LUnitStorageStyle.allCases.map { pad(c.storage($0)?.transistors[flow].map(String.init) ?? "-") }.joined() + "\n"
        s += "  storage (bit cells)          " + LUnitStorageStyle.allCases.map { pad(c.storage($0).map { String($0.bitCellTransistors) } ?? "-") }.joined() + "\n"
        for b in LUnitCounts.Block.allCases where b != .storage {
            s += "  " + b.rawValue.padding(toLength: 29, withPad: " ", startingAt: 0) + pad(String(c.datapath[flow]?[b.rawValue] ?? 0)) + "  (every style)\n"
        }
        s += """

        datapath per 4-bit lane: \(e(datapathPerLane)) transistors measured, \(e(assumedPerLane)) assumed by `roma sim area` \
        (ratio \(String(format: "%.2f", datapathPerLane / assumedPerLane)))
        scaled: \(e(array.romBitsPerLUnit)) ROM bits and \(String(format: "%.1f", datapathsPerLUnit)) slice datapaths per L-Unit, \(array.lUnits) L-Units

        Fig. 12 design       per L-Unit (bit cells)  chip (bit cells)  per L-Unit (netlist)  chip (netlist)  sim area mm^2
        """
        s += "\n"
        for d in designs {
            s += d.design.padding(toLength: 20, withPad: " ", startingAt: 0) + pad(e(d.perLUnitBitCells), 23) + pad(e(d.chipBitCells), 18)
                + pad(e(d.perLUnitNetlist), 22) + pad(e(d.chipNetlist), 16) + pad(d.simAreaMm2.map { String(format: "%.1f", $0) } ?? "-", 15) + "\n"
        }
        s += "Fig. 12 ordering SRAM+compute > ROM+compute > B-ROM+compute: bit cells \(orderingHoldsBitCells ? "holds" : "does not hold"), "
            + "netlist \(orderingHoldsNetlist ? "holds" : "does not hold")\n"
        s += "(counts, not area: no layout, no wiring, no Fused-cell placement; a ROM netlist is the contents as gates, not a ROM array)\n"
        return s
    }
}
