import Foundation
import XCTest
import ROMAChip
import ROMANumerics
@testable import ROMARTL
import ROMATestSupport

/// The generated L-Unit slice (alignment unit, compute cells, Eq. 1) simulated with Icarus Verilog
/// against the golden model, on random stored groups and the edge-case activations.
final class LUnitRTLTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("roma-lunit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if ProcessInfo.processInfo.environment["KEEP"] == nil { try? FileManager.default.removeItem(at: dir) } }

    private func randomWords(_ n: Int, g: Int, bits: Int, seed: UInt64) -> [LUnitWord] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            let codes = (0..<g).map { _ in UInt8(rng.next() % UInt64(1 << bits)) }
            // finite scales of either sign, denormal ones included
            let scale = UInt16(rng.next() % 0x7C00) | (rng.next() & 1 == 0 ? 0 : 0x8000)
            return LUnitWord(codes: codes, zero: Int(rng.next() % UInt64(1 << bits)), scale: scale)
        }
    }

    func testSliceMatchesGoldenModelBitForBitInIcarusAndVerilator() throws {
        guard EDATools.available else { throw XCTSkip("iverilog/yosys not installed (run scripts/install-eda.sh)") }
        for (style, rounding, bits) in [(LUnitStorageStyle.brom, DatapathNumerics.ShiftRounding.truncate, 4),
                                        (.standard, .nearestEven, 2), (.sram, .floor, 4)] {
            let spec = try LUnitSliceSpec(name: "lu_\(style.rawValue)", groupSize: 16, bits: bits, depth: 8, style: style,
                                          numerics: DatapathNumerics(shiftRounding: rounding))
            let words = randomWords(8, g: 16, bits: bits, seed: 7)
            let vectors = LUnitStimulus.edgeCases(count: 160, groupSize: 16, addresses: 8, seed: 11)
            let slice = try LUnitSlice(spec: spec, words: words, vectors: vectors, source: "test")
            try GeneratedLUnit(slice: slice).write(to: dir)
            let r = try LUnitSimulation.icarus(directory: dir, name: spec.name)
            XCTAssertTrue(r.passed, "\(style) \(rounding): \(r.log)")
            let expected = slice.expected.map(LUnitOutput.init)
            XCTAssertEqual(r.outputs.count, expected.count)
            let wrong = zip(r.outputs, expected).filter { !$0.matches($1) }.count
            XCTAssertEqual(wrong, 0, "\(style) \(rounding)")
            // the edge cases really reach NaN, zero and denormal-only groups
            XCTAssertTrue(expected.contains { $0.res.isNaN })
            XCTAssertTrue(expected.contains { $0.maxExp == 0 })
            guard EDATools.locate("verilator") != nil else { print("verilator not installed: Icarus only"); continue }
            let v = try LUnitSimulation.verilator(directory: dir, name: spec.name)
            XCTAssertTrue(v.passed, "verilator \(style) \(rounding): \(v.log)")
            XCTAssertEqual(v.outputs, r.outputs, "verilator and iverilog produced different results")
        }
    }

    func testBROMAndStandardStorageOfASliceAreProvedEquivalent() throws {
        guard EDATools.available else { throw XCTSkip("iverilog/yosys not installed (run scripts/install-eda.sh)") }
        let words = randomWords(16, g: 16, bits: 4, seed: 3)
        let vectors = LUnitStimulus.edgeCases(count: 8, groupSize: 16, addresses: 16, seed: 5)
        var files: [ROMStyle: URL] = [:]
        for style in ROMStyle.allCases {
            let spec = try LUnitSliceSpec(name: "eq_\(style.rawValue)", groupSize: 16, bits: 4, depth: 16,
                                          style: style == .brom ? .brom : .standard)
            let url = dir.appendingPathComponent("eq_\(style.rawValue)_storage.v")
            try LUnitVerilogWriter.storage(try LUnitSlice(spec: spec, words: words, vectors: vectors, source: "test"))
                .write(to: url, atomically: true, encoding: .utf8)
            files[style] = url
        }
        let proof = try Yosys.prove(gold: "eq_standard_storage", in: files[.standard]!, gate: "eq_brom_storage", in: files[.brom]!)
        XCTAssertTrue(proof.proved)
        // a slice whose storage differs in one code is refuted
        var other = words
        other[5].codes[3] ^= 1
        let spec = try LUnitSliceSpec(name: "eq_bad", groupSize: 16, bits: 4, depth: 16, style: .brom)
        let bad = dir.appendingPathComponent("eq_bad_storage.v")
        try LUnitVerilogWriter.storage(try LUnitSlice(spec: spec, words: other, vectors: vectors, source: "test"))
            .write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertFalse(try Yosys.prove(gold: "eq_standard_storage", in: files[.standard]!, gate: "eq_bad_storage", in: bad).proved)
    }

    func testBadSliceShapesAreRefusedWithTheirReason() throws {
        XCTAssertThrowsError(try LUnitSliceSpec(name: "x", groupSize: 48, bits: 4, depth: 8, style: .brom)) {
            XCTAssertTrue("\($0)".contains("group size 48"), "\($0)")
        }
        XCTAssertThrowsError(try LUnitSliceSpec(name: "x", groupSize: 64, bits: 3, depth: 8, style: .brom)) {
            XCTAssertTrue("\($0)".contains("2 or 4 bits"), "\($0)")
        }
        XCTAssertThrowsError(try LUnitSliceSpec(name: "x", groupSize: 64, bits: 4, depth: 6, style: .brom)) {
            XCTAssertTrue("\($0)".contains("depth 6"), "\($0)")
        }
        XCTAssertThrowsError(try LUnitSliceSpec(name: "x", groupSize: 64, bits: 4, depth: 8, style: .brom,
                                                numerics: DatapathNumerics(bias: 120))) {
            XCTAssertTrue("\($0)".contains("Bias 120"), "\($0)")
        }
        let spec = try LUnitSliceSpec(name: "x", groupSize: 16, bits: 4, depth: 4, style: .brom)
        let inf = LUnitWord(codes: Array(repeating: 1, count: 16), zero: 0, scale: 0x7C00)
        XCTAssertThrowsError(try LUnitSlice(spec: spec, words: [inf], vectors: LUnitStimulus.edgeCases(count: 1, groupSize: 16, addresses: 1, seed: 1), source: "t")) {
            XCTAssertTrue("\($0)".contains("non-finite FP16 scale"), "\($0)")
        }
        XCTAssertThrowsError(try LUnitStimulus.golden(jsonl: "{\"a\":[1,2],\"w\":[1],\"z\":0,\"s\":15360,\"bits\":4}\n", file: "s.jsonl")) {
            XCTAssertTrue("\($0)".contains("s.jsonl:1"), "\($0)")
        }
    }

    func testImageSliceHoldsTheUnitsRowsAndSimulatesBitExact() throws {
        let (_, romPath) = try TinyChip.files(seed: 44)
        let image = try ROMImage(path: romPath)
        let name = "blk.0.attn_q.weight"
        let t = try XCTUnwrap(image.tensor(name))
        let unit = try XCTUnwrap((0..<(t.unitRowStart.count - 1)).first { t.unitRowStart[$0 + 1] > t.unitRowStart[$0] })
        let (words, rows, gpr) = try LUnitStimulus.words(image: image, tensor: name, unit: unit, rows: 2)
        XCTAssertEqual(rows.lowerBound, t.unitRowStart[unit])
        XCTAssertEqual(words.count, rows.count * gpr)
        // (w - z) * s of the stored words is the image's dequantized row, value for value
        for (i, r) in rows.enumerated() {
            let deq = image.dequantizeRow(t, r)
            for g in 0..<gpr {
                let w = words[i * gpr + g]
                for k in 0..<t.groupSize {
                    XCTAssertEqual(Float(Int(w.codes[k]) - w.zero) * FP16.toFloat(w.scale), deq[g * t.groupSize + k])
                }
            }
        }
        XCTAssertThrowsError(try LUnitStimulus.words(image: image, tensor: "blk.0.no_such.weight", unit: unit, rows: 1)) {
            XCTAssertTrue("\($0)".contains("no quantized tensor 'blk.0.no_such.weight'"), "\($0)")
        }
        guard EDATools.available else { throw XCTSkip("iverilog/yosys not installed (run scripts/install-eda.sh)") }
        let spec = try LUnitSliceSpec(name: "img", groupSize: t.groupSize, bits: t.bits,
                                      depth: LUnitSliceSpec.depth(forGroups: words.count), style: .brom)
        let slice = try LUnitSlice(spec: spec, words: words,
                                   vectors: LUnitStimulus.edgeCases(count: 64, groupSize: t.groupSize, addresses: words.count, seed: 9),
                                   source: "\(romPath) \(name) unit \(unit)")
        try GeneratedLUnit(slice: slice).write(to: dir)
        let r = try LUnitSimulation.icarus(directory: dir, name: "img")
        XCTAssertTrue(r.passed, r.log)
        XCTAssertEqual(zip(r.outputs, slice.expected.map(LUnitOutput.init)).filter { !$0.matches($1) }.count, 0)
        XCTAssertEqual(r.outputs.count, 64)
    }
}
