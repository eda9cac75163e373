import Foundation
import XCTest
import ROMAChip
import ROMALlama
import ROMAModel
import ROMANumerics
@testable import ROMARTL
import ROMATestSupport

/// `roma rtl verify` on L-Unit slices (read back, both simulators, every style, the proof), the
/// per-block yosys counts, and activations captured from a chip run.
final class LUnitVerifyTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("roma-lunitv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if ProcessInfo.processInfo.environment["KEEP"] == nil { try? FileManager.default.removeItem(at: dir) } }

    private func slice(name: String, style: LUnitStorageStyle, vectors: Int = 96, seed: UInt64 = 5) throws -> LUnitSlice {
        var rng = SplitMix64(seed: seed)
        let words = (0..<8).map { _ in
            LUnitWord(codes: (0..<16).map { _ in UInt8(rng.next() % 16) }, zero: Int(rng.next() % 16),
                      scale: UInt16(rng.next() % 0x7C00) | (rng.next() & 1 == 0 ? 0 : 0x8000))
        }
        let spec = try LUnitSliceSpec(name: name, groupSize: 16, bits: 4, depth: 8, style: style)
        return try LUnitSlice(spec: spec, words: words, vectors: LUnitStimulus.edgeCases(count: vectors, groupSize: 16, addresses: 8, seed: seed),
                              source: "test words, seed \(seed)")
    }

    func testReadBackGivesTheSameSlice() throws {
        let s = try slice(name: "rb", style: .sram)
        try GeneratedLUnit(slice: s).write(to: dir)
        let m = try XCTUnwrap(try LUnitVerifier.manifests(in: dir).first)
        let back = try LUnitSlice.read(directory: dir, manifest: m)
        XCTAssertEqual(back.words, s.words)
        XCTAssertEqual(back.vectors, s.vectors)
        XCTAssertEqual(back.spec, s.spec)
        // a stimulus line of the wrong length names its file and line
        let stim = dir.appendingPathComponent("rb_stim.hex")
        var lines = try String(contentsOf: stim, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[3].removeLast()
        try (lines.joined(separator: "\n") + "\n").write(to: stim, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LUnitSlice.read(directory: dir, manifest: m)) { XCTAssertTrue("\($0)".contains("rb_stim.hex:4"), "\($0)") }
    }

    func testVerifierComparesEveryOutputOfEveryStyleAndProvesTheStorage() throws {
        guard EDATools.available else { throw XCTSkip("iverilog/yosys not installed (run scripts/install-eda.sh)") }
        let s = try slice(name: "vf", style: .brom)
        try GeneratedLUnit(slice: s).write(to: dir)
        let m = try XCTUnwrap(try LUnitVerifier.manifests(in: dir).first)
        let r = try LUnitVerifier.verify(directory: dir, manifest: m)
        XCTAssertTrue(r.passed, "\(r.runs) \(r.notes)")
        let verilator = EDATools.locate("verilator") != nil
        XCTAssertEqual(r.runs.map(\.style), [.brom] + (verilator ? [.brom] : []) + [.standard, .sram])
        XCTAssertEqual(r.runs.map(\.mismatches), Array(repeating: 0, count: r.runs.count))
        if verilator { XCTAssertEqual(r.simulatorsAgree, true) }
        XCTAssertEqual(r.outputs.count, 96)
        XCTAssertTrue(zip(r.outputs, s.expected.map(LUnitOutput.init)).allSatisfy { $0.matches($1) })
        XCTAssertEqual(r.equivalence?.proved, true)
        XCTAssertEqual(r.origins, m.origins)

        // The stored words file is changed in one group: the golden results are recomputed from it while
        // the Verilog still holds the old word, so exactly the vectors at that address fail, in every style.
        let words = dir.appendingPathComponent("vf_words.hex")
        var lines = try String(contentsOf: words, encoding: .utf8).split(separator: "\n").map(String.init)
        let address = s.vectors[0].address
        lines[address] = String(lines[address].dropLast()) + (lines[address].last == "0" ? "1" : "0")   // code 0 of that group
        try (lines.joined(separator: "\n") + "\n").write(to: words, atomically: true, encoding: .utf8)
        var o = LUnitVerifier.Options(); o.verilator = false; o.equivalence = false
        let bad = try LUnitVerifier.verify(directory: dir, manifest: m, options: o)
        XCTAssertFalse(bad.passed)
        let atAddress = s.vectors.indices.filter { s.vectors[$0].address == address }
        let changed = try LUnitSlice.read(directory: dir, manifest: m).expected.map(LUnitOutput.init)
        let differing = atAddress.filter { !changed[$0].matches(LUnitOutput(s.expected[$0])) }.count
        XCTAssertGreaterThan(differing, 0)
        // the regenerated styles hold the changed word and agree with the recomputed golden results;
        // only the slice's own Verilog (old word) disagrees, on exactly the vectors whose result changed
        XCTAssertEqual(bad.runs.map(\.mismatches), [differing, 0, 0])
    }

    /// yosys's CMOS estimate, read per module with the hierarchy kept: an inverter is 2 transistors and a
    /// D flip-flop 16 in yosys's `-tech cmos` table, so two inverter instances and 3 flops are 2·2 + 3·16.
    func testCMOSCountsAreReadPerModule() throws {
        guard EDATools.available else { throw XCTSkip("yosys not installed (run scripts/install-eda.sh)") }
        let v = dir.appendingPathComponent("inv.v")
        try """
        module inv1 (input a, output y); assign y = ~a; endmodule
        module pair (input clk, input a, b, output reg [2:0] q);
          wire x, z;
          inv1 i0 (.a(a), .y(x));
          inv1 i1 (.a(b), .y(z));
          always @(posedge clk) q <= {x, z, a};
        endmodule
        """.write(to: v, atomically: true, encoding: .utf8)
        let d = try Yosys.cmos(files: [v], top: "pair", flow: .generic, work: dir)
        XCTAssertEqual(d.modules["inv1"]?.transistors, 2)
        XCTAssertEqual(d.modules["pair"]?.instances, ["inv1": 2])
        XCTAssertEqual(d.modules["pair"]?.transistors, 48)
        XCTAssertEqual(d.transistors("pair"), 52)
        XCTAssertEqual(d.cells("pair"), 5)
    }

    func testBlockCountsOfTheThreeStylesAndTheirFig12Ordering() throws {
        guard EDATools.available else { throw XCTSkip("iverilog/yosys not installed (run scripts/install-eda.sh)") }
        let s = try slice(name: "ct", style: .standard, vectors: 8)
        try GeneratedLUnit(slice: s).write(to: dir)
        let m = try XCTUnwrap(try LUnitVerifier.manifests(in: dir).first)
        var o = LUnitVerifier.Options(); o.verilator = false; o.counts = true
        let r = try LUnitVerifier.verify(directory: dir, manifest: m, options: o)
        XCTAssertTrue(r.passed)
        let c = try XCTUnwrap(r.counts)
        let W = s.spec.wordBits, D = 8
        XCTAssertEqual(c.storage(.standard)?.bitCellTransistors, D * W)
        XCTAssertEqual(c.storage(.brom)?.bitCellTransistors, D / 4 * (W + 22))
        XCTAssertEqual(c.storage(.sram)?.bitCellTransistors, 6 * D * W)
        for flow in ["generic", "structural"] {
            for b in LUnitCounts.Block.allCases where b != .storage { XCTAssertGreaterThan(c.datapath[flow]?[b.rawValue] ?? 0, 0, "\(flow) \(b)") }
            // the register file holds D·W flip-flops of 16 transistors each, at least
            XCTAssertGreaterThanOrEqual(c.storage(.sram)?.transistors[flow] ?? 0, 16 * D * W, flow)
            XCTAssertGreaterThan(c.storage(.brom)?.transistors[flow] ?? 0, 0)
            XCTAssertGreaterThan(c.storage(.standard)?.transistors[flow] ?? 0, 0)
        }
        // the pipeline holds at least its registers: {codes, z, s} + G·12 aligned values + flags, 16 transistors per flop
        XCTAssertGreaterThan(c.datapath["generic"]![LUnitCounts.Block.pipeline.rawValue]!, 16 * (16 * 12))
        let f = try LUnitAreaFigures(counts: c, chip: .paper)
        XCTAssertEqual(f.designs.map(\.style), [.sram, .standard, .brom])
        XCTAssertTrue(f.orderingHoldsBitCells)
        XCTAssertEqual(f.datapathsPerLUnit, ChipConfig.paper.lUnit.weightBitsPerCycle / 64, accuracy: 1e-9)
        XCTAssertThrowsError(try LUnitAreaFigures(counts: c, chip: .paper, flow: "nonesuch"))
    }

    /// The activations captured from a chip run are what the chip's product received: the golden
    /// group results over a whole row, summed in group order and rounded to FP16, give the chip's output.
    func testCapturedActivationsReproduceTheChipsProduct() throws {
        let (_, romPath) = try TinyChip.files(seed: 44)
        let engine = try Engine.chip(imagePath: romPath)
        let image = try ROMImage(path: romPath)
        let name = "blk.1.ffn_down.weight"
        let t = try XCTUnwrap(image.tensor(name))
        let tokens = engine.tokenizer.encode("Hello world, this is a test")
        let cap = try engine.capture(tensor: name, tokens: tokens)
        XCTAssertEqual(cap.inputs.count, tokens.count)
        XCTAssertEqual(cap.inputs[0].count, t.cols)
        let unit = try XCTUnwrap((0..<(t.unitRowStart.count - 1)).first { t.unitRowStart[$0 + 1] > t.unitRowStart[$0] })
        let (words, rows, gpr) = try LUnitStimulus.words(image: image, tensor: name, unit: unit, rows: 3)
        XCTAssertEqual(gpr, t.cols / t.groupSize)
        let vectors = LUnitStimulus.vectors(activations: cap.inputs, rows: rows.count, groupsPerRow: gpr, groupSize: t.groupSize)
        XCTAssertEqual(vectors.count, tokens.count * rows.count * gpr)
        let numerics = ChipConfig.paper.numerics.datapath
        var checked = 0
        for tok in 0..<tokens.count {
            for (i, r) in rows.enumerated() {
                var acc: Float = 0
                for g in 0..<gpr {
                    let v = vectors[(tok * rows.count + i) * gpr + g], w = words[v.address]
                    acc += LUnit.group(a: v.activations, w: w.codes, z: w.zero, scaleBits: w.scale, numerics: numerics).res
                }
                XCTAssertEqual(FP16.round(acc), cap.outputs[tok][r], "token \(tok) row \(r)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, tokens.count * rows.count)
        XCTAssertThrowsError(try engine.capture(tensor: "blk.0.attn_norm.weight", tokens: tokens)) {
            XCTAssertTrue("\($0)".contains("not a weight the model multiplies"), "\($0)")
        }
        XCTAssertThrowsError(try engine.capture(tensor: name, tokens: []))
    }
}
