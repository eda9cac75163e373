import Foundation
import ROMAChip

/// Transistor counts of one L-Unit slice, block by block, in each storage style (issue #18, Fig. 12):
/// yosys synthesis with the hierarchy kept, so that storage, alignment unit, compute cells, Eq. 1
/// epilogue and pipeline registers are counted on their own, and the bit-cell counting of the paper
/// (Sec. III-C) for the storage beside it. The datapath does not depend on the storage style (one
/// generator), so it is synthesized once, with the slice's own style.
public struct LUnitCounts: Codable, Equatable, Sendable {
    public enum Block: String, Codable, CaseIterable, Sendable {
        case storage, alignment, cells = "compute cells", epilogue = "Eq. 1 epilogue", pipeline = "pipeline + handshake"
    }

    /// Transistors of one 6T SRAM bit cell (the SRAM style's bit-cell counting; docs/rtl.md).
    public static let sramTransistorsPerBit = 6

    public struct Storage: Codable, Equatable, Sendable {
        public let style: LUnitStorageStyle
        /// yosys CMOS estimate per flow ("generic", "structural"): the storage as logic gates.
        public let transistors: [String: Int]
        public let cells: [String: Int]
        /// Bit-cell counting: standard ROM D·W, B-ROM D/4·(W + NUM_CGEN) (Sec. III-C), SRAM 6·D·W.
        public let bitCellTransistors: Int
    }

    public let groupSize: Int
    public let bits: Int
    public let depth: Int
    public let wordBits: Int
    public let storage: [Storage]
    /// Datapath blocks (alignment, cells, epilogue, pipeline) per flow: transistors and cells.
    public let datapath: [String: [String: Int]]
    public let datapathCells: [String: [String: Int]]
    public let flows: [String]
    public let seconds: Double

    public func storage(_ style: LUnitStorageStyle) -> Storage? { storage.first { $0.style == style } }
    /// Alignment + cells + epilogue + pipeline transistors for `flow`.
    public func datapathTransistors(_ flow: String) -> Int { datapath[flow]?.values.reduce(0, +) ?? 0 }

    /// Counts `slice` (its files already written to `directory`) and its other styles (written to
    /// `work`, module `NAME_as_<style>`, as `roma rtl verify` leaves them).
    public static func measure(slice: LUnitSlice, directory: URL, work: URL, flows: [Yosys.Flow] = [.generic, .structural],
                               timeout: Double = 1800, progress: (String) -> Void = { _ in }) throws -> LUnitCounts {
        let spec = slice.spec, n = spec.name
        let start = Date()
        var datapath: [String: [String: Int]] = [:], datapathCells: [String: [String: Int]] = [:]
        var storage: [LUnitStorageStyle: (t: [String: Int], c: [String: Int])] = [:]
        let files = LUnitSimulation.sources(n).dropLast().map { directory.appendingPathComponent($0) }   // without the testbench
        for flow in flows {
            let d = try Yosys.cmos(files: files, top: n, flow: flow, work: work, timeout: timeout)
            let blocks: [(Block, [String])] = [(.alignment, ["\(n)_align"]), (.cells, ["\(n)_cells"]),
                                               (.epilogue, ["\(n)_eq1_int", "\(n)_eq1_fp"])]
            var t: [String: Int] = [:], c: [String: Int] = [:]
            for (b, mods) in blocks {
                t[b.rawValue] = mods.reduce(0) { $0 + d.transistors($1) }
                c[b.rawValue] = mods.reduce(0) { $0 + d.cells($1) }
            }
            t[Block.pipeline.rawValue] = d.modules[n]!.transistors
            c[Block.pipeline.rawValue] = d.modules[n]!.cells
            datapath[flow.rawValue] = t; datapathCells[flow.rawValue] = c
            storage[spec.style, default: ([:], [:])].t[flow.rawValue] = d.transistors("\(n)_storage")
            storage[spec.style, default: ([:], [:])].c[flow.rawValue] = d.cells("\(n)_storage")
            progress("\(n): yosys \(flow.rawValue) \(d.transistors(n)) transistors, \(d.cells(n)) cells (\(String(format: "%.1f", d.seconds)) s)")
            for style in LUnitStorageStyle.allCases where style != spec.style {
                let m = "\(n)_as_\(style.rawValue)_storage"
                let s = try Yosys.cmos(files: [work.appendingPathComponent("\(m).v")], top: m, flow: flow, work: work, timeout: timeout)
                storage[style, default: ([:], [:])].t[flow.rawValue] = s.transistors(m)
                storage[style, default: ([:], [:])].c[flow.rawValue] = s.cells(m)
                progress("\(m): yosys \(flow.rawValue) \(s.transistors(m)) transistors (\(String(format: "%.1f", s.seconds)) s)")
            }
        }
        let g = try spec.storageGeometry
        let stored = LUnitStorageStyle.allCases.map { style in
            Storage(style: style, transistors: storage[style]?.t ?? [:], cells: storage[style]?.c ?? [:],
                    bitCellTransistors: style.rom.map { ROMCounts.paperTransistors(style: $0, geometry: g, numCGen: CGen(.pairwise).transistors) }
                        ?? sramTransistorsPerBit * g.bits)
        }
        return LUnitCounts(groupSize: spec.groupSize, bits: spec.bits, depth: spec.depth, wordBits: spec.wordBits,
                           storage: stored, datapath: datapath, datapathCells: datapathCells, flows: flows.map(\.rawValue),
                           seconds: Date().timeIntervalSince(start))
    }
}
