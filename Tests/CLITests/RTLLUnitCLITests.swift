import XCTest
import Foundation
import ROMATestSupport

/// `roma rtl lunit`, `roma rtl verify` on slices (checked against `roma golden lunit`) and `roma rtl report --lunit`.
final class RTLLUnitCLITests: XCTestCase {
    var eda: Bool { ["iverilog", "yosys"].allSatisfy { t in ["/usr/bin/", "/usr/local/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + t) } } }

    func json(_ s: String) throws -> [String: Any] { try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]) }

    /// A slice of a compiled image with the activations of a real chip run: every vector the simulated
    /// RTL produced equals, line for line, what `roma golden lunit` computes from the slice's golden file.
    func testImageSliceWithChipActivationsMatchesGoldenLUnitLineForLine() throws {
        guard eda else { throw XCTSkip("iverilog/yosys not installed (scripts/install-eda.sh)") }
        let (_, rom) = try TinyChip.files(seed: 44)
        let dir = TempFiles.path("lunit-cli-\(UUID().uuidString)")
        let w = try RomaCLI.run(["rtl", "lunit", "--image", rom, "--unit", "0,0", "--rows", "2", "--prompt", "Hello world, a test",
                                 "--random", "24", "--name", "img", "--output", dir, "--format", "json"])
        XCTAssertEqual(w.code, 0, w.err)
        XCTAssertTrue(w.err.contains("capturing the input of"), w.err)
        let m = try json(w.out)
        let origins = try XCTUnwrap(m["origins"] as? [String: Int])
        let chipVectors = try XCTUnwrap(origins["chip"])
        XCTAssertGreaterThan(chipVectors, 0)
        XCTAssertEqual(origins.filter { $0.key.hasPrefix("edge:") }.values.reduce(0, +), 24)
        let total = try XCTUnwrap(m["vectors"] as? Int)
        XCTAssertEqual(total, chipVectors + 24)

        let v = try RomaCLI.run(["rtl", "verify", dir, "--no-verilator", "--format", "json"])
        XCTAssertEqual(v.code, 0, v.err + v.out)
        let obj = try json(v.out)
        XCTAssertEqual(obj["passed"] as? Bool, true)
        let vectors = try XCTUnwrap(obj["vectors"] as? [[String: Any]])
        XCTAssertEqual(vectors.count, total)
        let g = try RomaCLI.run(["golden", "lunit", "--input", dir + "/img_golden.jsonl"])
        XCTAssertEqual(g.code, 0, g.err)
        let golden = try g.out.split(separator: "\n").map { try json(String($0)) }
        XCTAssertEqual(golden.count, total)
        for (i, (rtl, ref)) in zip(vectors, golden).enumerated() {
            for k in ["max_exp", "vsum", "dot"] { XCTAssertEqual(rtl[k] as? Int, ref[k] as? Int, "vector \(i) \(k)") }
            if ref["res"] is NSNull { XCTAssertTrue(rtl["res"] is NSNull, "vector \(i)") } else {
                XCTAssertEqual(rtl["res"] as? Double, ref["res"] as? Double, "vector \(i)")
            }
        }
        let slice = try XCTUnwrap((obj["slices"] as? [[String: Any]])?.first)
        XCTAssertEqual((slice["equivalence"] as? [String: Any])?["proved"] as? Bool, true)
        XCTAssertEqual((slice["runs"] as? [[String: Any]])?.count, 3)   // own style (Icarus) + the two others
    }

    /// A slice from `roma golden lunit` input lines, in both simulators, and its counts beside Fig. 12.
    func testStimulusSliceVerifiesAndReports() throws {
        guard eda else { throw XCTSkip("iverilog/yosys not installed (scripts/install-eda.sh)") }
        let dir = TempFiles.path("lunit-stim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let stim = dir + "/in.jsonl"
        let lines = (0..<5).map { i in
            "{\"a\":[\((0..<16).map { String(0x3C00 + 37 * $0 + 101 * i) }.joined(separator: ","))],\"w\":[\((0..<16).map { String(($0 + i) % 16) }.joined(separator: ","))],\"z\":\(i + 3),\"s\":\(0x2E66 + i),\"bits\":4}"
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: stim, atomically: true, encoding: .utf8)
        let w = try RomaCLI.run(["rtl", "lunit", "--stimulus", stim, "--style", "sram", "--random", "16", "--name", "st", "--output", dir])
        XCTAssertEqual(w.code, 0, w.err)
        XCTAssertTrue(w.out.hasPrefix("st: sram storage 8 groups x 84 bits, G=16, 4-bit codes, latency 4 cycles; 21 vectors"), w.out)
        let v = try RomaCLI.run(["rtl", "verify", dir])
        XCTAssertEqual(v.code, 0, v.out + v.err)
        XCTAssertTrue(v.out.contains("st (sram, G=16, 4-bit): OK"), v.out)
        XCTAssertTrue(v.out.contains("0 mismatches"), v.out)
        XCTAssertTrue(v.out.contains("standard == brom storage proved"), v.out)
        let g = try RomaCLI.run(["golden", "lunit", "--input", stim])
        let v2 = try json(try RomaCLI.run(["rtl", "verify", dir, "--no-verilator", "--format", "json"]).out)
        let first5 = try XCTUnwrap(v2["vectors"] as? [[String: Any]]).prefix(5)
        XCTAssertEqual(first5.map { $0["dot"] as? Int }, try g.out.split(separator: "\n").map { try json(String($0))["dot"] as? Int })

        let r = try RomaCLI.run(["rtl", "report", "--lunit", dir, "--format", "json"])
        XCTAssertEqual(r.code, 0, r.err)
        let figs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
        let designs = try XCTUnwrap(figs.first?["designs"] as? [[String: Any]])
        XCTAssertEqual(designs.map { $0["design"] as? String }, ["SRAM + compute", "ROM + compute", "B-ROM + compute"])
        XCTAssertEqual(figs.first?["orderingHoldsBitCells"] as? Bool, true)
        XCTAssertTrue(designs.allSatisfy { ($0["simAreaMm2"] as? Double ?? 0) > 0 })
        let reportPath = dir + "/report.json"
        try r.out.write(toFile: reportPath, atomically: true, encoding: .utf8)
        let perLane = try XCTUnwrap(figs.first?["datapathPerLane"] as? Double)
        let area = try RomaCLI.run(["sim", "area", "--lunit-report", reportPath])
        XCTAssertEqual(area.code, 0, area.err)
        XCTAssertTrue(area.out.hasPrefix(String(format: "L-Unit datapath %.0f transistors per 4-bit lane from %@", perLane, reportPath)), area.out)
        let plain = try RomaCLI.run(["sim", "area"])
        XCTAssertNotEqual(area.out.split(separator: "\n").first { $0.hasPrefix("detail:") },
                          plain.out.split(separator: "\n").first { $0.hasPrefix("detail:") })   // the L-Unit compute area moved
        let notReport = try RomaCLI.run(["sim", "area", "--lunit-report", stim])
        XCTAssertTrue(notReport.err.contains("is not `roma rtl report --lunit DIR --format json` output"), notReport.err)
        let text = try RomaCLI.run(["rtl", "report", "--lunit", dir])
        XCTAssertTrue(text.out.contains("Fig. 12 ordering SRAM+compute > ROM+compute > B-ROM+compute: bit cells holds"), text.out)
    }

    func testBadLUnitFlagsAndInputsNameTheProblem() throws {
        let dir = TempFiles.path("lunit-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let stim = dir + "/bad.jsonl"
        try "{\"a\":[1,2],\"w\":[1,2],\"z\":0,\"s\":15360,\"bits\":4}\n{\"a\":[1],\"w\":[1,2],\"z\":0,\"s\":15360,\"bits\":4}\n"
            .write(toFile: stim, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["rtl", "lunit", "--output", dir], "give exactly one of --image"),
            (["rtl", "lunit", "--stimulus", stim, "--image", "x.rom", "--output", dir], "give exactly one of --image"),
            (["rtl", "lunit", "--stimulus", stim, "--prompt", "hi", "--output", dir], "go with --image, not --stimulus"),
            (["rtl", "lunit", "--stimulus", stim, "--output", dir], "bad.jsonl:2: 'a' and 'w' must have the same"),
            (["rtl", "lunit", "--image", "/nonexistent.rom", "--unit", "0,0", "--output", dir], "/nonexistent.rom"),
            (["rtl", "lunit", "--image", "/nonexistent.rom", "--unit", "zero", "--output", dir], "invalid unit 'zero'"),
            (["rtl", "lunit", "--stimulus", stim, "--style", "flash", "--output", dir], "flash"),
            (["rtl", "report", "--lunit", dir], "no L-Unit slices"),
        ]
        for (args, message) in cases {
            let r = try RomaCLI.run(args)
            XCTAssertNotEqual(r.code, 0, args.joined(separator: " "))
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertFalse(r.err.contains("Fatal error"), r.err)
        }
        // a manifest with a shape no slice can have
        try "{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],\"w\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,0],\"z\":0,\"s\":15360,\"bits\":4}\n"
            .write(toFile: dir + "/ok.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(try RomaCLI.run(["rtl", "lunit", "--stimulus", dir + "/ok.jsonl", "--output", dir + "/m"]).code, 0)
        let mpath = dir + "/m/lunit.lunit.json"
        let text = try String(contentsOfFile: mpath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"groupSize\" : 16", with: "\"groupSize\" : 48").write(toFile: mpath, atomically: true, encoding: .utf8)
        let bad = try RomaCLI.run(["rtl", "verify", dir + "/m"])
        XCTAssertNotEqual(bad.code, 0)
        XCTAssertTrue(bad.err.contains("lunit.lunit.json: L-Unit group size 48 is not supported"), bad.err)
        // a manifest that is not one
        try "{\"spec\": 3}".write(toFile: dir + "/x.lunit.json", atomically: true, encoding: .utf8)
        let v = try RomaCLI.run(["rtl", "verify", dir])
        XCTAssertNotEqual(v.code, 0)
        XCTAssertTrue(v.err.contains("x.lunit.json: not an L-Unit manifest"), v.err)
    }
}
