import Foundation
import XCTest
@testable import ROMARTL

/// Icarus Verilog simulation and yosys proofs/synthesis of small tiles. Skipped only when the tools
/// are absent (scripts/install-eda.sh installs them; CI runs it). Each test takes about a second.
final class EDAToolTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("roma-rtl-eda-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func requireTools() throws {
        guard EDATools.available else { throw XCTSkip("iverilog/yosys not installed (run scripts/install-eda.sh)") }
    }

    func testProcessRunnerTimeoutAndMissingTool() throws {
        XCTAssertThrowsError(try EDATools.run("roma-no-such-tool-xyz", [], timeout: 5)) { e in
            XCTAssertEqual(e as? RTLError, .toolMissing("roma-no-such-tool-xyz"))
        }
        guard EDATools.locate("sleep") != nil else { throw XCTSkip("no sleep(1)") }
        XCTAssertThrowsError(try EDATools.run("sleep", ["10"], timeout: 0.3)) { e in
            XCTAssertEqual(e as? RTLError, .toolTimedOut(tool: "sleep", seconds: 0.3))
        }
    }

    func testSimulationReadsEveryWordInBothStyles() throws {
        try requireTools()
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 64, width: 40), seed: 31)
        for style in ROMStyle.allCases {
            try GeneratedROM(tile: t, style: style, name: "sim_\(style.rawValue)").write(to: dir)
            let r = try Simulation.run(directory: dir, name: "sim_\(style.rawValue)", work: dir.appendingPathComponent("w"))
            XCTAssertEqual(r.passed, true, r.log)
            XCTAssertEqual([r.words, r.wrong], [64, 0])
        }
    }

    func testSimulationReportsAWrongWord() throws {
        try requireTools()
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 16, width: 8), seed: 32)
        let rom = try GeneratedROM(tile: t, style: .brom, name: "bad")
        try rom.write(to: dir)
        let k = t.blockCode(block: 1, column: 2)
        let wrong = rom.verilog.replacingOccurrences(of: "b1_c[\(k)]", with: "b1_c[\(k ^ 2)]")
        try wrong.write(to: dir.appendingPathComponent("bad.v"), atomically: true, encoding: .utf8)
        let r = try Simulation.run(directory: dir, name: "bad", work: dir.appendingPathComponent("w"))
        XCTAssertFalse(r.passed)
        XCTAssertEqual([r.words, r.wrong], [16, 1]) // bit 1 of k: address 4*1+1
        XCTAssertTrue(r.log.contains("MISMATCH bad addr=5"), r.log)
    }

    func testYosysProvesStandardEqualsBROMAndRefutesAWrongOne() throws {
        try requireTools()
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 64, width: 16), seed: 33)
        let s = try GeneratedROM(tile: t, style: .standard, name: "eq_std").write(to: dir)[0]
        let b = try GeneratedROM(tile: t, style: .brom, name: "eq_brom").write(to: dir)[0]
        XCTAssertTrue(try Yosys.prove(gold: "eq_std", in: s, gate: "eq_brom", in: b).proved)
        // Same structure, one stored bit different: the proof must fail.
        var words = (0..<64).map { t.word($0)[0] }
        words[37] ^= 1 << 9
        let other = try ROMTile(geometry: t.geometry, words: words)
        let b2 = try GeneratedROM(tile: other, style: .brom, name: "eq_brom2").write(to: dir)[0]
        XCTAssertFalse(try Yosys.prove(gold: "eq_std", in: s, gate: "eq_brom2", in: b2).proved)
    }

    func testYosysCellCounts() throws {
        try requireTools()
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 64, width: 32), seed: 34)
        var cells: [ROMStyle: Yosys.Cells] = [:]
        for style in ROMStyle.allCases {
            let v = try GeneratedROM(tile: t, style: style, name: "c_\(style.rawValue)").write(to: dir)[0]
            cells[style] = try Yosys.cells(verilog: v, top: "c_\(style.rawValue)", flow: .structural, work: dir,
                                           decoder: "c_\(style.rawValue)_adec")
            XCTAssertEqual(cells[style]!.byType.values.reduce(0, +), cells[style]!.total)
        }
        // Structural flow keeps the circuit as written, minus what nothing reads. Beyond the (identical)
        // decoders: standard = (ones_j - 1) ORs per column; B-ROM = (connections_j - 1) = 15 ORs per
        // column + the CGen ORs of the candidates some column uses (C_3, C_12 and the mixed candidates,
        // which also need their C_lo and C_hi).
        XCTAssertEqual(cells[.standard]!.decoder, cells[.brom]!.decoder)
        let columns = (0..<32).map { j in (0..<64).filter { t.bit($0, j) }.count }
        XCTAssertTrue(columns.allSatisfy { $0 > 0 })
        XCTAssertEqual(cells[.standard]!.array, columns.reduce(0) { $0 + $1 - 1 })
        var cgenOr = 0
        for b in 0..<16 {
            var used = Set((0..<32).map { t.blockCode(block: b, column: $0) })
            for k in used where k & 3 != 0 && k & 12 != 0 { used.formUnion([k & 3, k & 12]) }
            cgenOr += used.filter { [3, 12].contains($0) || ($0 & 3 != 0 && $0 & 12 != 0) }.count
        }
        XCTAssertEqual(cgenOr, 158) // of 16 * 11 = 176 for this seed
        XCTAssertEqual(cells[.brom]!.array, 32 * 15 + cgenOr)
        XCTAssertLessThan(cells[.brom]!.total, cells[.standard]!.total)
    }

    func testMeasuredAreaFigures() throws {
        try requireTools()
        let g = try ROMGeometry(depth: 64, width: 64)
        let f = try ROMAreaFigures.measured(tile: g, flow: .structural, seed: 7, work: dir)
        let c = try XCTUnwrap(f.cellsPerTile), d = try XCTUnwrap(f.decoderCellsPerTile)
        XCTAssertEqual(f.cellFlow, "structural")
        XCTAssertEqual(f.cellRatio, Double(c.brom) / Double(c.standard))
        XCTAssertEqual(f.arrayCellRatio, Double(c.brom - d) / Double(c.standard - d))
        // 64x64 random: ~2048 ones -> ~2000 ORs vs 16*63 + <=16*11 ORs in the B-ROM array.
        XCTAssertLessThan(try XCTUnwrap(f.arrayCellRatio), 0.65)
        XCTAssertEqual(f.cellsPerLUnit?.standard, Double(c.standard) / 4096 * 58_125_000)
        let back = try JSONDecoder().decode(ROMAreaFigures.self, from: JSONEncoder().encode(f))
        XCTAssertEqual(back, f)
    }

    func testVerifyDirectoryEndToEnd() throws {
        try requireTools()
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 32, width: 24), seed: 35)
        try GeneratedROM(tile: t, style: .brom, name: "v32").write(to: dir)
        var o = RTLVerifier.Options()
        o.flows = [.generic]
        var lines: [String] = []
        let r = try RTLVerifier.verify(directory: dir, options: o) { lines.append($0) }
        XCTAssertEqual(r.count, 1)
        XCTAssertTrue(r[0].passed)
        XCTAssertEqual(r[0].equivalence?.proved, true)
        XCTAssertEqual(r[0].styles.map { $0.simulation?.words }, [32, 32])
        XCTAssertEqual(r[0].styles.map(\.module), ["v32_as_standard", "v32"])
        XCTAssertTrue(r[0].styles.allSatisfy { ($0.cells["generic"]?.total ?? 0) > 0 })
        XCTAssertTrue(lines.contains("v32: yosys equivalence standard == brom PROVED") || lines.contains { $0.hasPrefix("v32: yosys equivalence standard == brom PROVED") }, "\(lines)")
    }
}
