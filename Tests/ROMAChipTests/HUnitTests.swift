import XCTest
import ROMAChip
import ROMALlama
import ROMANumerics
import ROMATestSupport

/// The H-Unit's attention and LoRA kernels against their documented arithmetic (docs/numerics.md),
/// written out plainly here.
final class HUnitTests: XCTestCase {
    func testAttendHeadIsBitExactToTheDocumentedSums() {
        var rng = SplitMix(12)
        for (hd, n, stride) in [(64, 1, 64), (64, 37, 192), (16, 9, 32), (64, 300, 64)] {
            let q = (0..<hd).map { _ in FP16.round(rng.normal()) }
            let k = (0..<(n * stride)).map { _ in FP16.round(rng.normal()) }
            let v = (0..<(n * stride)).map { _ in FP16.round(rng.normal()) }
            var scores = [Float](repeating: 0, count: n), out = [Float](repeating: 0, count: hd)
            let scale = 1 / Float(hd).squareRoot()
            HUnit.attendHead(q: q, keys: k, values: v, stride: stride, n: n, headDim: hd, scale: scale, scores: &scores, out: &out)
            // the same steps, plainly
            var s = (0..<n).map { j in k.withUnsafeBufferPointer { F32Kernels.dot(q, $0.baseAddress! + j * stride, hd) } * scale }
            VectorUnit.softmax(&s, n)
            XCTAssertEqual(scores.map(\.bitPattern), s.map(\.bitPattern), "probabilities, hd \(hd) n \(n)")
            for d in 0..<hd {
                var acc: Float = 0
                for j in 0..<n { acc += s[j] * v[j * stride + d] }
                XCTAssertEqual(out[d].bitPattern, FP16.round(acc).bitPattern, "hd \(hd) n \(n) d \(d)")
            }
        }
    }

    /// A tile of queries sharing a KV head (four or five causal rows x three heads, as in a prefill:
    /// twelve or fifteen queries in the AVX-512 lanes; one or two rows, as in decode, on the blocked loop
    /// on every path) gives every query exactly `attendHead`'s
    /// probabilities-weighted outputs, for visible lengths around the blocks of eight positions and of
    /// `attendTileBlock` (32: lengths 30-34 and 61-65); with a
    /// query of negative zeros and a key of zeros among them, whose scores are zeros of either sign.
    func testAttendTileEqualsAttendHeadForEveryQuery() {
        var rng = SplitMix(14)
        for rows in [1, 2, 4, 5] {
        for (hd, base, stride) in [(64, 0, 192), (64, 5, 192), (64, 13, 64), (64, 29, 192), (64, 60, 192), (16, 9, 32)] {
            let heads = 3, n = base + rows
            var k = (0..<(n * stride)).map { _ in FP16.round(rng.normal()) }
            let v = (0..<(n * stride)).map { _ in FP16.round(rng.normal()) }
            var q = (0..<(rows * heads * hd)).map { _ in FP16.round(rng.normal()) }
            for d in 0..<hd { q[hd + d] = -0.0; k[(n / 2) * stride + d] = 0 }
            let scale = 1 / Float(hd).squareRoot()
            var tiled = [Float](repeating: .nan, count: rows * heads * hd), single = tiled
            q.withUnsafeBufferPointer { qp in
                k.withUnsafeBufferPointer { kp in
                    v.withUnsafeBufferPointer { vp in
                        tiled.withUnsafeMutableBufferPointer { op in
                            let c = rows * heads
                            let qs = (0..<c).map { qp.baseAddress! + $0 * hd }, ns = (0..<c).map { base + $0 / heads + 1 }
                            let outs = (0..<c).map { op.baseAddress! + $0 * hd }
                            qs.withUnsafeBufferPointer { qb in ns.withUnsafeBufferPointer { nb in outs.withUnsafeBufferPointer { ob in
                                HUnit.attendTile(Attention.Tile(count: c, q: qb.baseAddress!, n: nb.baseAddress!, out: ob.baseAddress!, maxN: n),
                                                 keys: kp.baseAddress!, values: vp.baseAddress!, stride: stride, headDim: hd, scale: scale)
                            } } }
                        }
                        var scores = [Float](repeating: 0, count: n)
                        for i in 0..<(rows * heads) {
                            single.withUnsafeMutableBufferPointer { op in
                                HUnit.attendHead(q: qp.baseAddress! + i * hd, keys: kp.baseAddress!, values: vp.baseAddress!, stride: stride,
                                                 n: base + i / heads + 1, headDim: hd, scale: scale, scores: &scores, out: op.baseAddress! + i * hd)
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(tiled.map(\.bitPattern), single.map(\.bitPattern), "rows \(rows) hd \(hd) positions \(base + 1)...\(n)")
        }
        }
    }

    func testLoRAAccumulateFollowsTheDocumentedOrder() {
        var rng = SplitMix(13)
        let (T, n, r, o) = (5, 40, 3, 19)
        let x = (0..<(T * n)).map { _ in FP16.round(rng.normal()) }
        let a = (0..<(r * n)).map { _ in FP8E4M3.table[Int(FP8E4M3.fromFloat(rng.normal() * 100))] }
        let b = (0..<(o * r)).map { _ in FP8E4M3.table[Int(FP8E4M3.fromFloat(rng.normal() * 100))] }
        var bT = [Float](repeating: 0, count: r * o)
        for i in 0..<o { for j in 0..<r { bT[j * o + i] = b[i * r + j] } }
        var y = (0..<(T * o)).map { _ in rng.normal() }
        let y0 = y
        let (aScale, bScale, scale): (Float, Float, Float) = (0.003, 0.002, 1.5)
        HUnit.loraAccumulate(x: x, tokens: T, inDim: n, a: a, aScale: aScale, bT: bT, bScale: bScale, rank: r, outDim: o, scale: scale, y: &y)
        for t in 0..<T {
            let h = (0..<r).map { j in FP16.round(x.withUnsafeBufferPointer { xp in a.withUnsafeBufferPointer { F32Kernels.dot(xp.baseAddress! + t * n, $0.baseAddress! + j * n, n) } } * aScale) }
            for i in 0..<o {
                var acc: Float = 0
                for j in 0..<r { acc += h[j] * b[i * r + j] }
                XCTAssertEqual(y[t * o + i].bitPattern, (y0[t * o + i] + acc * (bScale * scale)).bitPattern, "token \(t) output \(i)")
            }
        }
    }
}

/// The vector unit's exp against libm's expf.
final class VectorUnitExpTests: XCTestCase {
    func testExpIsWithinTwoULPAndHandlesTheEdges() {
        var worst: Float = 0
        var x: Float = -87.29
        while x < 88.69 {
            let want = expf(x)
            worst = max(worst, abs(VectorUnit.exp(x) - want) / want.ulp)
            x += 0.00731
        }
        XCTAssertLessThanOrEqual(worst, 2, "max error in ulp")
        XCTAssertEqual(VectorUnit.exp(0), 1)
        XCTAssertEqual(VectorUnit.exp(-.infinity), 0)
        XCTAssertEqual(VectorUnit.exp(-100), 0)
        XCTAssertEqual(VectorUnit.exp(.infinity), .infinity)
        XCTAssertEqual(VectorUnit.exp(100), .infinity)
        XCTAssertTrue(VectorUnit.exp(.nan).isNaN)
        // the sixteen-lane exp gives the scalar one's bits, edges included
        var rng = SplitMix(5)
        let edges: [Float] = [0, -0, -87.3, -87.31, 88.7, 88.71, -.infinity, .infinity, .nan, 1e-30, -1e-30, 0.5, -0.5, 70, -70, 88.69]
        for round in 0..<400 {
            var v = SIMD16<Float>()
            for l in 0..<16 { v[l] = round == 0 ? edges[l] : rng.normal() * Float(1 << (round % 7)) }
            let lanes = VectorUnit.exp(v)
            for l in 0..<16 { XCTAssertEqual(lanes[l].bitPattern, VectorUnit.exp(v[l]).bitPattern, "exp(\(v[l])) in lane \(l)") }
        }
        // a softmax row sums to 1 and keeps the order of its scores
        var s: [Float] = [0.5, -3, 2, 2, 11, -40]
        VectorUnit.softmax(&s, s.count)
        XCTAssertEqual(s.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(s[2], s[3])
        XCTAssertGreaterThan(s[4], s[2])
    }

    /// The softmax as the vector unit defines it, one score at a time: max (NaN ignored, `Swift.max`),
    /// exp(s − max), the sum in index order, times 1/sum.
    func plainSoftmax(_ x: [Float]) -> [Float] {
        var m = -Float.infinity
        for v in x { m = max(m, v) }
        let e = x.map { VectorUnit.exp($0 - m) }
        var sum: Float = 0
        for v in e { sum += v }
        let inv = 1 / sum
        return e.map { $0 * inv }
    }

    /// The 16-lane max and the interleaved sums of `softmax(rows:)`, and `softmax(lanes:)` with the rows
    /// in the lanes, give the plain definition's bits, for rows of every length around the 16-lane steps,
    /// with signed zeros, -inf, huge and NaN scores.
    func testSoftmaxKernelsEqualThePlainDefinitionBitForBit() {
        var rng = SplitMix(31)
        let specials: [Float] = [0, -0, -.infinity, 88, -88, .nan, 1e-30]
        for count in 1...7 {
            let n = (0..<count).map { i in [1, 15, 16, 17, 33, 64, 100][(i * 3 + count) % 7] }, stride = 112
            var rows = [Float](repeating: 0, count: count * stride)
            for i in 0..<count {
                for j in 0..<n[i] {
                    rows[i * stride + j] = (i + j) % 11 == 0 ? specials[(i + j) % specials.count] : 4 * rng.normal()
                }
            }
            let want = (0..<count).map { i in plainSoftmax(Array(rows[(i * stride)..<(i * stride + n[i])])) }
            var single = rows
            let input = rows
            for i in 0..<count { single.withUnsafeMutableBufferPointer { VectorUnit.softmax($0.baseAddress! + i * stride, n[i]) } }
            rows.withUnsafeMutableBufferPointer { r in n.withUnsafeBufferPointer { VectorUnit.softmax(rows: r.baseAddress!, stride: stride, counts: $0.baseAddress!, count: count) } }
            // the same rows in the lanes (row i's score j at 16·j + i), as the AVX-512 attention tiles hold them
            let N = n.max()!
            var lanes = [Float](repeating: 7, count: 16 * N)
            for i in 0..<count { for j in 0..<n[i] { lanes[16 * j + i] = input[i * stride + j] } }
            lanes.withUnsafeMutableBufferPointer { l in n.withUnsafeBufferPointer { VectorUnit.softmax(lanes: l.baseAddress!, counts: $0.baseAddress!, count: count) } }
            for i in 0..<count {
                XCTAssertEqual((0..<n[i]).map { lanes[16 * $0 + i].bitPattern }, want[i].map(\.bitPattern), "lanes \(count) row \(i)")
                XCTAssertEqual((n[i]..<N).map { lanes[16 * $0 + i] }, Array(repeating: 7, count: N - n[i]), "lanes past row \(i)'s end are left alone")
            }
            for i in 0..<count {
                XCTAssertEqual(rows[(i * stride)..<(i * stride + n[i])].map(\.bitPattern), want[i].map(\.bitPattern), "rows \(count) row \(i)")
                XCTAssertEqual(single[(i * stride)..<(i * stride + n[i])].map(\.bitPattern), want[i].map(\.bitPattern), "single \(count) row \(i)")
            }
        }
    }
}
