import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATestSupport

/// Truncated SVD against Eckart-Young, and recovery adapters that bring the ROM weights back toward
/// the float weights.
final class RecoveryTests: XCTestCase {
    func frob(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    func reconstruct(_ s: TruncatedSVD) -> [Double] {
        var out = [Double](repeating: 0, count: s.rows * s.cols)
        for r in 0..<s.rows { for j in 0..<s.rank { for c in 0..<s.cols {
            out[r * s.cols + c] += Double(s.u[r * s.rank + j]) * Double(s.s[j]) * Double(s.vt[j * s.cols + c])
        } } }
        return out
    }

    func testTruncatedSVDRecoversALowRankMatrixAndMeetsEckartYoung() throws {
        var rng = SplitMix(3)
        let (rows, cols) = (70, 45)
        // exact rank 5
        let U = (0..<(rows * 5)).map { _ in rng.normal() }, V = (0..<(5 * cols)).map { _ in rng.normal() }
        var m = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows { for c in 0..<cols { for j in 0..<5 { m[r * cols + c] += U[r * 5 + j] * V[j * cols + c] } } }
        let svd = TruncatedSVD(m, rows: rows, cols: cols, rank: 5)
        let rec = reconstruct(svd)
        let err = frob(zip(rec, m).map { $0 - Double($1) }) / frob(m.map(Double.init))
        XCTAssertLessThan(err, 1e-5)
        // orthonormal factors
        for i in 0..<5 { for j in 0..<5 {
            var du = 0.0, dv = 0.0
            for r in 0..<rows { du += Double(svd.u[r * 5 + i]) * Double(svd.u[r * 5 + j]) }
            for c in 0..<cols { dv += Double(svd.vt[i * cols + c]) * Double(svd.vt[j * cols + c]) }
            XCTAssertEqual(du, i == j ? 1 : 0, accuracy: 1e-5); XCTAssertEqual(dv, i == j ? 1 : 0, accuracy: 1e-5)
        } }
        // a full-rank random matrix: the rank-8 residual equals the energy of the discarded singular
        // values of the exact (full) decomposition, and the top values agree with it
        let g = (0..<(rows * cols)).map { _ in rng.normal() }
        let full = TruncatedSVD(g, rows: rows, cols: cols, rank: cols, oversample: 0)
        let fullRec = reconstruct(full)
        XCTAssertLessThan(frob(zip(fullRec, g).map { $0 - Double($1) }) / frob(g.map(Double.init)), 1e-5, "rank = cols is exact")
        XCTAssertEqual(full.s, full.s.sorted(by: >))
        let t8 = TruncatedSVD(g, rows: rows, cols: cols, rank: 8)
        for j in 0..<8 { XCTAssertEqual(t8.s[j], full.s[j], accuracy: 2e-3 * full.s[0], "sigma \(j)") }
        let residual = frob(zip(reconstruct(t8), g).map { $0 - Double($1) })
        let optimal = full.s[8...].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(residual, optimal, accuracy: 0.01 * optimal, "Eckart-Young optimum")
    }

    /// The tiny model compiled to INT2, and its FP32 reference engine.
    func int2Tiny() throws -> (rom: String, image: ROMImage, ref: Engine, refBackend: ReferenceBackend) {
        let gguf = try Fixtures.tinyGGUF()
        let rom = TempFiles.path("rec-\(UUID().uuidString).rom")
        _ = try ROMCompiler(bits: 2).compile(gguf: GGUFFile(path: gguf), output: rom)
        let ref = try Engine.reference(path: gguf)
        return (rom, try ROMImage(path: rom), ref, ref.backend as! ReferenceBackend)
    }

    /// On the tiny INT2 model: a full-rank recovery adapter restores the float weights (so the chip with
    /// it tracks the float model far better than without), and higher ranks never do worse.
    func testRecoveryAdapterRestoresTheFloatWeights() throws {
        let (rom, image, ref, refBackend) = try int2Tiny()
        func float(_ k: LinearKind, _ l: Int) -> [Float] { refBackend.weightArray(k, layer: l) }
        var lastAfter = Double.infinity
        var adapters: [Int: LoRAAdapter] = [:]
        for rank in [2, 8, 64] {
            let (a, report) = try RecoveryAdapter.build(image: image, rank: rank, name: "r\(rank)", float: float)
            let after = report.map(\.after).reduce(0, +) / Double(report.count)
            let before = report.map(\.before).reduce(0, +) / Double(report.count)
            XCTAssertGreaterThan(before, 0.1, "INT2 loses a lot")
            XCTAssertLessThan(after, lastAfter)
            lastAfter = after
            adapters[rank] = a
            XCTAssertEqual(a.layers.count, 14)
            XCTAssertEqual(a.layers[LoRATarget(layer: 0, kind: .k)]!.rank, min(rank, 32))
        }
        XCTAssertLessThan(lastAfter, 1e-5, "rank >= min(rows, cols) reproduces W_float - W_rom")
        // the chip with the full-rank adapter (stored FP32, to see the method rather than FP8) tracks the float model
        var chip = ChipConfig.paper
        chip.numerics.loraWeightFormat = .fp32
        let engine = try Engine.chip(imagePath: rom, chip: chip)
        try engine.adapters.register(adapters[64]!)
        try engine.adapters.register(adapters[2]!)
        let tokens = [5, 70, 120, 3, 250, 33]
        let want = try ref.session().feed(tokens, logitRows: 0..<6).array
        func err(_ adapters: [AdapterRequest]) throws -> Double {
            let got = try engine.session(adapters: adapters).feed(tokens, logitRows: 0..<6).array
            return frob(zip(got, want).map { Double($0 - $1) }) / frob(want.map(Double.init))
        }
        // every linear layer: ROM + adapter = the float weight's product, up to FP16 activations
        let chipBackend = engine.backend as! ChipBackend
        let full = try chipBackend.makeResident(adapters[64]!)
        var rng = SplitMix(4)
        for l in 0..<2 { for kind in LinearKind.allCases {
            let (_, i) = kind.shape(in: image.model)
            let x = Matrix(rows: 5, cols: i, values: (0..<(5 * i)).map { _ in FP16.round(rng.normal()) })
            let yf = refBackend.linear(x, kind, layer: l)
            let yc = chipBackend.linear(x, kind, layer: l, adapters: AdapterSelection([(full, 1)]))
            let y0 = chipBackend.linear(x, kind, layer: l)
            let e = frob((0..<(yf.rows * yf.cols)).map { Double(yc.data[$0] - yf.data[$0]) }) / frob(yf.array.map(Double.init))
            let e0 = frob((0..<(yf.rows * yf.cols)).map { Double(y0.data[$0] - yf.data[$0]) }) / frob(yf.array.map(Double.init))
            XCTAssertLessThan(e, 2e-3, "\(kind) \(l)")
            XCTAssertGreaterThan(e0, 0.2, "\(kind) \(l): INT2 alone is far off")
        } }
        // the whole model gets closer to the float path with rank; the INT2 embedding table / output head
        // (not adapted) keeps it from reaching it
        let plain = try err([]), r2 = try err([AdapterRequest("r2")]), r64 = try err([AdapterRequest("r64")])
        XCTAssertLessThan(r2, plain)
        XCTAssertLessThan(r64, r2)
        // written as PEFT and read back: the same adapter (B of q/k goes to HF order and back)
        let dir = TempFiles.path("rec-peft-\(UUID().uuidString)")
        try PEFTAdapter.save(adapters[8]!, model: image.model, to: dir)
        let back = try PEFTAdapter.load(path: dir, model: image.model)
        for t in back.targets { XCTAssertEqual(back.layers[t], adapters[8]!.layers[t]) }
    }

    /// With calibration Hessians the adapter minimises the output error ‖(ΔW − BA) X‖, which must come
    /// out below the plain SVD's at the same rank.
    func testActivationAwareRecoveryLowersTheWeightedError() throws {
        let (_, image, ref, refBackend) = try int2Tiny()
        var rng = SplitMix(8)
        let tokens = (0..<256).map { _ in Int(rng.next() % UInt64(ref.config.vocabSize)) }
        let hessians = try ref.calibrationHessians(tokens: tokens, count: 256, ctx: 64)
        func float(_ k: LinearKind, _ l: Int) -> [Float] { refBackend.weightArray(k, layer: l) }
        let plain = try RecoveryAdapter.build(image: image, rank: 4, float: float).adapter
        let aware = try RecoveryAdapter.build(image: image, rank: 4, hessians: hessians, float: float).adapter
        let name = LinearKind.gate.ggufName(layer: 1)
        let h = hessians[name]!
        let t = try image.requireTensor(name)
        let wf = float(.gate, 1)
        func weighted(_ a: LoRAAdapter) -> Double {
            let d = a.layers[LoRATarget(layer: 1, kind: .gate)]!.denseDelta()
            var e = [Double](repeating: 0, count: t.rows * t.cols)
            for r in 0..<t.rows {
                let q = image.dequantizeRow(t, r)
                for c in 0..<t.cols { e[r * t.cols + c] = Double(wf[r * t.cols + c]) - Double(q[c]) - d[r * t.cols + c] }
            }
            var s = 0.0   // tr(E H Eᵀ)
            for r in 0..<t.rows { for i in 0..<t.cols { for j in 0..<t.cols { s += e[r * t.cols + i] * Double(h.data[i * t.cols + j]) * e[r * t.cols + j] } } }
            return s
        }
        XCTAssertLessThan(weighted(aware), weighted(plain) * 0.95)
    }
}
