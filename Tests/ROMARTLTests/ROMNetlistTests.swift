import Foundation
import XCTest
@testable import ROMARTL

/// The circuit model, its counts (Sec. III-C) and the Verilog text: pure Swift, no tools.
final class ROMNetlistTests: XCTestCase {
    func testCGenCandidatesMatchThePaperFormula() {
        // C_k = OR_{i=0..3} (A_{4b+i} & bit_i(k)) for every combination of the four lines (Sec. III-C).
        for structure in CGenStructure.allCases {
            let cg = CGen(structure)
            for a in 0..<16 {
                let c = cg.evaluate(a)
                for k in 0..<16 { XCTAssertEqual(c[k], a & k != 0, "\(structure) a=\(a) k=\(k)") }
            }
        }
        XCTAssertEqual(CGen(.flat).transistors, 28)     // 6 pairs*2 + 4 triples*3 + 1*4
        XCTAssertEqual(CGen(.pairwise).transistors, 22) // C_3, C_12: 2+2; 9 mixed candidates: 2 each
        XCTAssertEqual(CGen(.flat).orGates, 17)
        XCTAssertEqual(CGen(.pairwise).orGates, 11)
        XCTAssertEqual(CGen(.pairwise).inputs[7], [.candidate(3), .candidate(4)])
        XCTAssertEqual(CGen(.pairwise).inputs[0], [])
    }

    func testPaperTransistorFormulaAndRatioForW128D1024() throws {
        let g = try ROMGeometry(depth: 1024, width: 128)
        XCTAssertEqual(ROMCounts.paperTransistors(style: .standard, geometry: g, numCGen: 0), 131_072)
        XCTAssertEqual(ROMCounts.paperTransistors(style: .brom, geometry: g, numCGen: 22), 256 * 150)
        let f = ROMAreaFigures(tile: g)
        XCTAssertEqual(f.transistorRatio, 150.0 / 512.0) // 0.29296875: in the 0.25-0.3 band
        XCTAssertEqual(ROMAreaFigures(tile: g, cgen: .flat).transistorRatio, 156.0 / 512.0)
        XCTAssertEqual(f.tilesPerLUnit, 58_125_000.0 / 131_072.0)
        XCTAssertEqual(f.transistorsPerLUnit.standard, 58_125_000)
        XCTAssertEqual(f.transistorsPerLUnit.brom, 58_125_000 * 150.0 / 512.0)
        XCTAssertEqual(f.transistorsPerChip.standard, 1.488e10) // 1.86e9 * 8
        XCTAssertNil(f.cellRatio)
        let measured = ROMAreaFigures(tile: g, cells: PerStyle(standard: 1000, brom: 600), cellFlow: "generic")
        XCTAssertEqual(measured.cellRatio, 0.6)
        XCTAssertEqual(measured.cellsPerLUnit?.brom, 600.0 / 131_072.0 * 58_125_000.0)
        XCTAssertTrue(measured.text.contains("B-ROM saves 40.0% of cells"), measured.text)
        XCTAssertTrue(f.text.contains("3.41x fewer transistors"), f.text)
    }

    /// Independent counts straight from the words.
    private func reference(_ t: ROMTile) -> (ones: Int, nonZeroBlockColumns: Int) {
        var ones = 0, nz = 0
        for i in 0..<t.depth { for j in 0..<t.width where t.bit(i, j) { ones += 1 } }
        for b in 0..<t.depth / 4 {
            for j in 0..<t.width where (0..<4).contains(where: { t.bit(4 * b + $0, j) }) { nz += 1 }
        }
        return (ones, nz)
    }

    func testCountsAgainstIndependentReference() throws {
        for (d, w, seed) in [(64, 32, 1), (256, 13, 2), (16, 70, 3)] {
            let t = ROMTile.random(geometry: try ROMGeometry(depth: d, width: w), seed: UInt64(seed))
            let ref = reference(t)
            let std = try ROMNetlist(tile: t, style: .standard).counts
            XCTAssertEqual(std, ROMCounts(style: .standard, geometry: t.geometry, numCGen: 0,
                                          connections: ref.ones, transistorsPresent: ref.ones))
            XCTAssertEqual(std.transistors, d * w)
            let brom = try ROMNetlist(tile: t, style: .brom).counts
            XCTAssertEqual(brom.connections, d / 4 * w)
            XCTAssertEqual(brom.numCGen, 22)
            XCTAssertEqual(brom.transistors, d / 4 * (w + 22))
            XCTAssertEqual(brom.transistorsPresent, d / 4 * 22 + ref.nonZeroBlockColumns)
            XCTAssertEqual(try ROMNetlist(tile: t, style: .brom, cgen: .flat).counts.transistors, d / 4 * (w + 28))
        }
        // All-zero tile: no stored ones, every B-ROM connection goes to C_0 = ground.
        let zero = try ROMTile(geometry: ROMGeometry(depth: 8, width: 4), words: [UInt64](repeating: 0, count: 8))
        XCTAssertEqual(try ROMNetlist(tile: zero, style: .standard).counts.connections, 0)
        XCTAssertEqual(try ROMNetlist(tile: zero, style: .brom).counts.transistorsPresent, 2 * 22)
    }

    func testNetlistEvaluatesEveryWord() throws {
        for style in ROMStyle.allCases {
            for (d, w, seed) in [(64, 32, 11), (32, 100, 12), (4, 1, 13)] {
                let t = ROMTile.random(geometry: try ROMGeometry(depth: d, width: w), seed: UInt64(seed))
                for cg in CGenStructure.allCases {
                    let n = try ROMNetlist(tile: t, style: style, cgen: cg)
                    for a in 0..<d { XCTAssertEqual(n.evaluate(address: a), t.word(a), "\(style) \(d)x\(w) addr \(a)") }
                }
            }
        }
    }

    func testStyleDepthRulesApplyToNetlist() throws {
        let t = try ROMTile(geometry: ROMGeometry(depth: 2, width: 4), words: [3, 5])
        XCTAssertNoThrow(try ROMNetlist(tile: t, style: .standard))
        XCTAssertThrowsError(try ROMNetlist(tile: t, style: .brom)) { e in
            XCTAssertEqual(e as? RTLError, .invalidDepth(2, reason: "a B-ROM groups addresses in blocks of four, so the depth must be a multiple of 4"))
        }
    }

    // MARK: - Verilog text

    /// `assign data[j] = |{...};` terms of each output bit, parsed from the text.
    private func dataTerms(_ verilog: String, width: Int) -> [[String]] {
        var terms = [[String]](repeating: [], count: width)
        for st in verilog.components(separatedBy: ";") {
            guard let start = st.range(of: "assign data[") else { continue }
            let s = st[start.lowerBound...]
            guard let close = s.firstIndex(of: "]") else { continue }
            let j = Int(s[s.index(s.startIndex, offsetBy: 12)..<close])!
            guard let open = s.range(of: "|{") else { continue } // 1'b0
            terms[j] = s[open.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        return terms
    }

    func testStandardVerilogHasOneTermPerStoredOne() throws {
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 64, width: 32), seed: 5)
        let rom = try GeneratedROM(tile: t, style: .standard, name: "s64")
        XCTAssertTrue(rom.verilog.contains("module s64 (input [5:0] addr, output [31:0] data);"))
        XCTAssertTrue(rom.verilog.contains("module s64_adec (input [5:0] addr, output [63:0] a);"))
        XCTAssertTrue(rom.verilog.contains("  assign a = {(addr == 6'd63), (addr == 6'd62), "))
        XCTAssertTrue(rom.verilog.contains(", (addr == 6'd1), (addr == 6'd0)};"))
        XCTAssertFalse(rom.verilog.contains("cgen"))
        let terms = dataTerms(rom.verilog, width: 32)
        for j in 0..<32 {
            XCTAssertEqual(terms[j], (0..<64).filter { t.bit($0, j) }.map { "a[\($0)]" }, "column \(j)")
        }
        XCTAssertEqual(terms.reduce(0) { $0 + $1.count }, reference(t).ones)
        XCTAssertEqual(rom.hex, t.hexFile)
    }

    func testBROMVerilogHasOneTermPerBlockAndBit() throws {
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 64, width: 32), seed: 6)
        let rom = try GeneratedROM(tile: t, style: .brom, name: "b64")
        XCTAssertTrue(rom.verilog.contains("module b64 (input [5:0] addr, output [31:0] data);"))
        XCTAssertTrue(rom.verilog.contains("module b64_cgen (input [3:0] a, output [15:0] c);"))
        XCTAssertTrue(rom.verilog.contains("  assign c[7] = c[3] | c[4];"))
        XCTAssertTrue(rom.verilog.contains("  b64_cgen cgen_b15 (.a(a[63:60]), .c(b15_c));"))
        XCTAssertEqual(rom.verilog.components(separatedBy: "b64_cgen cgen_b").count - 1, 16)
        let terms = dataTerms(rom.verilog, width: 32)
        for j in 0..<32 {
            // k_b from the words: bit i of k = M_{4b+i, j}
            let expected = (0..<16).map { b in "b\(b)_c[\((0..<4).reduce(0) { $0 | (t.bit(4 * b + $1, j) ? 1 << $1 : 0) })]" }
            XCTAssertEqual(terms[j], expected, "column \(j)")
        }
        XCTAssertEqual(terms.reduce(0) { $0 + $1.count }, 16 * 32)
    }

    func testEmptyColumnIsConstantZero() throws {
        let t = try ROMTile(geometry: ROMGeometry(depth: 4, width: 3), words: [1, 1, 0, 5])
        let v = try GeneratedROM(tile: t, style: .standard, name: "z").verilog
        XCTAssertTrue(v.contains("  assign data[1] = 1'b0;"))
        XCTAssertTrue(v.contains("  assign data[0] = |{a[0], a[1], a[3]};"))
        XCTAssertTrue(v.contains("  assign data[2] = |{a[3]};"))
    }

    func testVerilogTextEvaluatesToEveryWordInBothStyles() throws {
        for style in ROMStyle.allCases {
            for (d, w, seed) in [(64, 32, 21), (16, 130, 22), (4, 1, 23)] {
                let t = ROMTile.random(geometry: try ROMGeometry(depth: d, width: w), seed: UInt64(seed))
                let rom = try GeneratedROM(tile: t, style: style, name: "m")
                let ev = try VerilogEvaluator(verilog: rom.verilog, top: "m")
                XCTAssertEqual([ev.addressBits, ev.dataBits], [d.trailingZeroBitCount, w])
                for a in 0..<d { XCTAssertEqual(ev.evaluate(address: a), t.word(a), "\(style) \(d)x\(w) addr \(a)") }
            }
        }
    }

    func testEvaluatorCatchesAWrongConnection() throws {
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 16, width: 8), seed: 9)
        let rom = try GeneratedROM(tile: t, style: .brom, name: "m")
        let k = t.blockCode(block: 2, column: 3)
        let wrong = rom.verilog.replacingOccurrences(of: "b2_c[\(k)]", with: "b2_c[\(k ^ 1)]")
        XCTAssertNotEqual(wrong, rom.verilog)
        let ev = try VerilogEvaluator(verilog: wrong, top: "m")
        let bad = (0..<16).filter { ev.evaluate(address: $0) != t.word($0) }
        XCTAssertEqual(bad, [8]) // bit 0 of k is the block's first address, 4*2+0
        // Undriven and malformed text are errors, not wrong answers.
        XCTAssertThrowsError(try VerilogEvaluator(verilog: rom.verilog.replacingOccurrences(of: "  assign data[5] =", with: "  assign data[6] ="), top: "m"))
        XCTAssertThrowsError(try VerilogEvaluator(verilog: rom.verilog.replacingOccurrences(of: "endmodule", with: ""), top: "m"))
        XCTAssertThrowsError(try VerilogEvaluator(verilog: rom.verilog, top: "nosuch"))
    }

    func testTestbenchAndManifest() throws {
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 8, width: 12), seed: 3)
        let rom = try GeneratedROM(tile: t, style: .brom, name: "tb8", source: "unit test")
        XCTAssertTrue(rom.testbench.contains("$readmemh(\"tb8.hex\", expected);"))
        XCTAssertTrue(rom.testbench.contains("for (i = 0; i < 8; i = i + 1) begin"))
        XCTAssertTrue(rom.testbench.contains("tb8 dut (.addr(addr), .data(data));"))
        XCTAssertTrue(rom.testbench.contains("if (data !== expected[i]) begin"))
        let json = try JSONSerialization.jsonObject(with: rom.manifest.json()) as! [String: Any]
        XCTAssertEqual(Set(json.keys), ["style", "depth", "width", "transistors", "num_cgen", "connections",
                                        "transistors_present", "name", "cgen", "source", "counting"])
        XCTAssertEqual(json["style"] as? String, "brom")
        XCTAssertEqual(json["transistors"] as? Int, 2 * (12 + 22))
        XCTAssertEqual(json["num_cgen"] as? Int, 22)
        XCTAssertEqual(json["connections"] as? Int, 24)
        XCTAssertEqual(try JSONDecoder().decode(RTLManifest.self, from: rom.manifest.json()), rom.manifest)
        // Deterministic output.
        XCTAssertEqual(try GeneratedROM(tile: t, style: .brom, name: "tb8", source: "unit test").verilog, rom.verilog)
    }

    func testWriteAndSwiftOnlyVerify() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roma-rtl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = ROMTile.random(geometry: try ROMGeometry(depth: 32, width: 16), seed: 4)
        let files = try GeneratedROM(tile: t, style: .standard, name: "w32").write(to: dir)
        XCTAssertEqual(files.map(\.lastPathComponent), ["w32.v", "w32_tb.v", "w32.hex", "w32.json"])
        XCTAssertEqual(try HexFileTileSource(url: files[2]).tile(geometry: t.geometry), t)
        var o = RTLVerifier.Options()
        o.swiftOnly = true
        let r = try RTLVerifier.verify(directory: dir, options: o)
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r[0].styles.map(\.style), [.standard, .brom])
        XCTAssertEqual(r[0].styles.map(\.swiftWordsCorrect), [32, 32])
        XCTAssertEqual(r[0].styles.map(\.module), ["w32", "w32_as_brom"])
        XCTAssertTrue(r[0].passed)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("verify/report.json").path))
        // A corrupted hex file makes verification fail loudly.
        try "zz\n".write(to: files[2], atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RTLVerifier.verify(directory: dir, options: o)) { e in
            XCTAssertTrue("\(e)".hasPrefix("w32.hex:1:"), "\(e)")
        }
        // An empty directory is an error.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try RTLVerifier.verify(directory: empty, options: o))
    }
}
