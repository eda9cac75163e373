import XCTest
import Foundation
import ROMAChip
import ROMALlama
@testable import ROMASim

final class PaperAndConfigTests: XCTestCase {
    /// `roma sim paper --format json`: exactly {"rows": [{"id", "value", "paper", "error"}]} for R1..R19.
    func testPaperJSONShape() throws {
        let repro = try PaperReproduction()
        let obj = try JSONSerialization.jsonObject(with: Data(repro.json().utf8)) as! [String: Any]
        XCTAssertEqual(Set(obj.keys), ["rows"])
        let rows = obj["rows"] as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["id"] as! String }, (1...19).map { "R\($0)" })
        for r in rows {
            XCTAssertEqual(Set(r.keys), ["id", "value", "paper", "error"])
            XCTAssertNotNil(r["value"] as? NSNumber); XCTAssertNotNil(r["paper"] as? NSNumber); XCTAssertNotNil(r["error"] as? NSNumber)
        }
        func row(_ id: String) -> [String: Any] { rows.first { $0["id"] as! String == id }! }
        XCTAssertEqual((row("R16")["value"] as! NSNumber).intValue, 736)
        XCTAssertEqual((row("R17")["value"] as! NSNumber).intValue, 3808)
        XCTAssertEqual((row("R18")["value"] as! NSNumber).intValue, 0)
        XCTAssertEqual((row("R18")["error"] as! NSNumber).doubleValue, 0)
        XCTAssertEqual((row("R3")["paper"] as! NSNumber).doubleValue, 7)
    }

    /// Calibration rows within 5% (they are fitted), the fitted values are the preset's, and the preset
    /// reproduces them without refitting.
    func testCalibration() throws {
        let cal = try SimCalibration.fit()
        XCTAssertEqual(cal.fitted.map(\.parameter), ["lUnit.weightBitsPerCycle", "router.hopLatencyCycles"])
        let s = try ChipSimulator(chip: .paper, workload: .paper3B)
        XCTAssertEqual(s.ttft(input: 256), 5.6e-3, accuracy: 5.6e-3 * 1e-4)
        XCTAssertEqual(s.decodeRate(cached: 0), 31_800, accuracy: 31_800 * 1e-4)
        XCTAssertEqual(cal.chip.lUnit.weightBitsPerCycle, ChipConfig.paper.lUnit.weightBitsPerCycle, accuracy: 0.01)
        XCTAssertEqual(cal.chip.router.hopLatencyCycles, ChipConfig.paper.router.hopLatencyCycles, accuracy: 1e-5)
    }

    /// Error definitions of the rows.
    func testRowErrors() {
        XCTAssertEqual(PaperRow(id: "x", quantity: "", unit: "ms", kind: .prediction, value: 110, paper: 100, note: "").error, 0.1, accuracy: 1e-12)
        XCTAssertEqual(PaperRow(id: "x", quantity: "", unit: "ms", kind: .upperBound, value: 6.9, paper: 7, note: "").error, 0)
        XCTAssertEqual(PaperRow(id: "x", quantity: "", unit: "ms", kind: .upperBound, value: 7.7, paper: 7, note: "").error, 0.1, accuracy: 1e-12)
        XCTAssertEqual(PaperRow(id: "x", quantity: "", unit: "t/s", kind: .lowerBound, value: 9000, paper: 10000, note: "").error, 0.1, accuracy: 1e-12)
        XCTAssertEqual(PaperRow(id: "x", quantity: "", unit: "", kind: .ordering, value: 0, paper: 1, note: "").error, 1)
        XCTAssertEqual(PaperRow(id: "x", quantity: "", unit: "tokens", kind: .prediction, value: 3, paper: 0, note: "").error, 3)
    }

    func testChipConfigJSONRoundTrip() throws {
        let data = try ChipConfig.paper.jsonData()
        XCTAssertEqual(try ChipConfig.decode(json: data), ChipConfig.paper)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("roma-chip-\(UUID()).json")
        try data.write(to: url); defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try ChipConfig.load(from: url), ChipConfig.paper)
    }

    func testChipConfigErrorsNameTheProblem() throws {
        func message(_ json: String) -> String {
            do { _ = try ChipConfig.decode(json: Data(json.utf8), source: "t.json"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("not json"), "chip config 't.json': not valid JSON (The given data was not valid JSON.)")
        XCTAssertEqual(message("{\"name\": \"x\"}"), "chip config 't.json': missing key 'clockHz'")
        var obj = try JSONSerialization.jsonObject(with: ChipConfig.paper.jsonData()) as! [String: Any]
        var arr = obj["array"] as! [String: Any]; arr["columns"] = "sixteen"; obj["array"] = arr
        let bad = String(decoding: try JSONSerialization.data(withJSONObject: obj), as: UTF8.self)
        XCTAssertEqual(message(bad), "chip config 't.json': wrong type at 'array.columns' (expected Int)")
        var neg = ChipConfig.paper; neg.clockHz = -5
        XCTAssertThrowsError(try ChipConfig.decode(json: neg.jsonData())) {
            XCTAssertEqual("\($0)", "chip config: clockHz must be a positive number, got -5.0")
        }
        XCTAssertThrowsError(try ChipConfig.load(from: URL(fileURLWithPath: "/nonexistent/chip.json"))) {
            XCTAssertTrue("\($0)".hasPrefix("chip config: cannot read '/nonexistent/chip.json'"))
        }
    }

    func testBadArguments() throws {
        XCTAssertThrowsError(try LoRAModule.parseList("q,qq")) {
            XCTAssertEqual("\($0)", "unknown LoRA target 'qq' (expected some of q,k,v,o,gate,up,down, or 'all' or 'none')")
        }
        XCTAssertEqual(try LoRAModule.parseList("v_proj,q_proj,v"), [.q, .v])
        XCTAssertEqual(try LoRAModule.parseList("none"), [])
        XCTAssertEqual(try LoRAModule.parseList("all"), LoRAModule.allCases)
        var w = SimWorkload.paper3B; w.weightBits = 3
        XCTAssertThrowsError(try ChipSimulator(chip: .paper, workload: w)) {
            XCTAssertEqual("\($0)", "3-bit weights are not supported by chip 'roma-paper' (supports 2, 4)")
        }
        XCTAssertThrowsError(try SweepAxis.parse("sram")) { XCTAssertTrue("\($0)".contains("expected NAME=VALUES")) }
        XCTAssertThrowsError(try SweepAxis.parse("volts=1")) { XCTAssertTrue("\($0)".hasPrefix("sweep: unknown parameter 'volts'")) }
        XCTAssertThrowsError(try SweepAxis.parse("sram=1:x:2")) { XCTAssertEqual("\($0)", "sweep sram: 'x' is not a number") }
        XCTAssertEqual(try SweepAxis.parse("sram=32:128:32").values, [32, 64, 96, 128])
        XCTAssertEqual(try SweepAxis.parse("rank=0:30/4").values, [0, 10, 20, 30])
        XCTAssertEqual(try SweepAxis.parse("bits=2,4").values, [2, 4])
        let sim = try ChipSimulator(chip: .paper, workload: .paper3B)
        XCTAssertThrowsError(try SimRunReport(sim: sim, input: 0, output: 1, kvPoints: [])) {
            XCTAssertEqual("\($0)", "the input length must be >= 1 token, got 0")
        }
        var tiny = tinyChip(); tiny.memory.intermediateSRAMBytes = 100
        XCTAssertThrowsError(try ChipSimulator(chip: tiny, workload: tinyWorkload())) {
            XCTAssertTrue("\($0)".contains("cannot hold one token's activations"))
        }
    }

    /// A sweep point with an impossible value reports the error instead of crashing.
    func testSweepErrorsAndCSV() throws {
        let sweep = SimSweep(base: tinyChip(), workload: tinyWorkload(), axes: [try SweepAxis.parse("rank=2,2.5")], input: 8, output: 8)
        let pts = sweep.run()
        XCTAssertNil(pts[0].error)
        XCTAssertEqual(pts[1].error, "rank must be a positive integer, got 2.5")
        let csv = sweep.csv(pts).split(separator: "\n")
        XCTAssertEqual(csv.count, 3)
        XCTAssertTrue(csv[0].hasPrefix("rank,ttft_ms,"))
    }
}

final class ReportAndSweepTests: XCTestCase {
    func testRunReportJSON() throws {
        let sim = try ChipSimulator(chip: tinyChip(), workload: tinyWorkload())
        let r = try SimRunReport(sim: sim, input: 8, output: 4, kvPoints: [0, 8])
        let o = try JSONSerialization.jsonObject(with: Data(try r.json().utf8)) as! [String: Any]
        XCTAssertEqual(o["input"] as? Int, 8)
        XCTAssertEqual((o["ttftMs"] as! Double), sim.ttft(input: 8) * 1e3, accuracy: 1e-12)
        XCTAssertEqual((o["decode"] as! [[String: Any]]).count, 2)
        let cap = o["capacity"] as! [String: Any]
        XCTAssertEqual(cap["kvBytesPerToken"] as? Double, 2 * 2 * 8 * 2)   // 2 (K,V) x 2 layers x kvDim 8 x FP16
        XCTAssertTrue(r.text().contains("TTFT (prefill 8 tokens)"))
    }

    func testSweepAppliesParametersAndFindsSmallestChip() throws {
        var chip = ChipConfig.paper, w = SimWorkload.paper3B
        try SweepParameter.sram.apply(64, chip: &chip, workload: &w)
        try SweepParameter.clock.apply(250, chip: &chip, workload: &w)
        try SweepParameter.bits.apply(3, chip: &chip, workload: &w)
        XCTAssertEqual(chip.memory.loraKVSRAMBytes, 64 * 1_048_576)
        XCTAssertEqual(chip.clockHz, 250e6)
        XCTAssertEqual(w.weightBits, 3)
        XCTAssertTrue(chip.numerics.baseWeightBitsSupported.contains(3))
        // 3B at 1K + 1K needs LoRA 8.75 MiB + 2048 x 112 KiB = 232.75 MiB: the 256 MiB point is the smallest that fits.
        let sweep = SimSweep(base: .paper, workload: .paper3B, axes: [try SweepAxis.parse("sram=128,256,512")], input: 1024, output: 1024)
        let pts = sweep.run()
        XCTAssertEqual(pts.map(\.fitsContext), [false, true, true])
        XCTAssertEqual(sweep.smallestFitting(pts)?.values, [256])
        XCTAssertNil(sweep.smallestFitting(pts, minTokensPerSecond: 1e9))
        XCTAssertLessThan(pts[1].areaMm2, pts[2].areaMm2)
    }
}
