import Foundation
import ROMANumerics

/// The row of vector units (Sec. III-A): element-wise operations, reductions and permutations.
/// Inputs and outputs are FP16 activations; internally each operation computes in FP32 in the order
/// written here, and rounds its result to FP16 once (docs/numerics.md).
public enum VectorUnit {
    /// RMSNorm over one row: y_i = fp16(x_i * (1 / sqrt(Σx²/n + eps)) * g_i); Σx² in FP32, in index order.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ n: Int, eps: Float, _ y: UnsafeMutablePointer<Float>) {
        var ss: Float = 0
        for i in 0..<n { ss += x[i] * x[i] }
        let scale = 1 / (ss / Float(n) + eps).squareRoot()
        for i in 0..<n { y[i] = FP16.round(x[i] * scale * g[i]) }
    }

    /// Rotary embedding of adjacent pairs (ggml NORM mode) for `heads` heads of `headDim` at `pos`;
    /// cos/sin of pos * invFreq[i] in FP32.
    public static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, pos: Int, invFreq: UnsafePointer<Float>) {
        for i in 0..<(headDim / 2) {
            let theta = Float(pos) * invFreq[i]
            let c = cosf(theta), s = sinf(theta)
            for h in 0..<heads {
                let p = x + h * headDim + 2 * i
                let x0 = p[0], x1 = p[1]
                p[0] = FP16.round(x0 * c - x1 * s)
                p[1] = FP16.round(x0 * s + x1 * c)
            }
        }
    }

    /// Softmax in place over n FP32 scores (max-subtracted, the vector unit's `exp`, sum in index order).
    public static func softmax(_ s: UnsafeMutablePointer<Float>, _ n: Int) {
        withUnsafePointer(to: n) { softmax(rows: s, stride: 0, counts: $0, count: 1) }
    }

    /// `softmax` of `count` rows (row i at `s + i·stride`, `n[i]` scores): per row the same operations,
    /// with the sums of four rows at a time interleaved (each still in index order) so that their
    /// dependency chains overlap (prefill attention, `HUnit.attendTile`).
    public static func softmax(rows s: UnsafeMutablePointer<Float>, stride: Int, counts n: UnsafePointer<Int>, count: Int) {
        for i in 0..<count {
            let r = s + i * stride, m = maxScore(r, n[i])
            for j in 0..<n[i] { r[j] = exp(r[j] - m) }
        }
        var i = 0
        while i < count {
            // up to four rows; a missing one repeats row i (its sum is not used)
            let k = min(4, count - i)
            let r0 = s + i * stride, r1 = k > 1 ? r0 + stride : r0, r2 = k > 2 ? r0 + 2 * stride : r0, r3 = k > 3 ? r0 + 3 * stride : r0
            var common = n[i]
            for t in 1..<k { common = min(common, n[i + t]) }
            var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
            for j in 0..<common { s0 += r0[j]; s1 += r1[j]; s2 += r2[j]; s3 += r3[j] }
            for t in 0..<k {
                let r = s + (i + t) * stride
                var sum = t == 0 ? s0 : (t == 1 ? s1 : (t == 2 ? s2 : s3))
                for j in common..<n[i + t] { sum += r[j] }
                let inv = 1 / sum
                for j in 0..<n[i + t] { r[j] *= inv }
            }
            i += k
        }
    }

    /// max_j s[j], NaN scores ignored (as `Swift.max` ignores them); exact in any order, so it runs in
    /// 16 lanes. (Only the sign of a zero maximum can differ, and s − m is the same for either sign.)
    @inline(__always)
    static func maxScore(_ s: UnsafePointer<Float>, _ n: Int) -> Float {
        typealias V = SIMD16<Float>
        var mv = V(repeating: -.infinity), j = 0
        while j + 16 <= n {
            let v = UnsafeRawPointer(s + j).loadUnaligned(as: V.self)
            mv = mv.replacing(with: v, where: v .> mv)
            j += 16
        }
        var m = -Float.infinity
        for l in 0..<16 where mv[l] > m { m = mv[l] }
        while j < n { if s[j] > m { m = s[j] }; j += 1 }
        return m
    }

    /// y = fp16(silu(gate) * up) = fp16(gate / (1 + e^-gate) * up).
    public static func swiGLU(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<n { let g = gate[i]; y[i] = FP16.round(g / (1 + exp(-g)) * up[i]) }
    }

    /// The vector unit's e^x in FP32, branch-free so that loops over it vectorize, and the same IEEE
    /// operations on every build: k = round(x·log2 e) (by adding and subtracting 1.5·2^23), r = x − k·ln2
    /// (ln2 in two parts), e^r by a degree-6 polynomial, times 2^k built in the exponent field (in two
    /// halves). Within 2 ulp of a correctly rounded exp on [−87.3, 88.7]; 0 below, +inf above, NaN stays NaN.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = x < -87.3 ? -87.3 : (x > 88.7 ? 88.7 : x)
        let t = xc * 1.44269504 + 12582912.0
        let kf = t - 12582912.0
        let k = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        let r = (xc - kf * 0.693359375) - kf * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let k1 = k &>> 1, k2 = k &- k1
        let y = p * Float(bitPattern: UInt32(bitPattern: (k1 &+ 127) &<< 23)) * Float(bitPattern: UInt32(bitPattern: (k2 &+ 127) &<< 23))
        return x != x ? x : (x < -87.3 ? 0 : (x > 88.7 ? .infinity : y))
    }

    /// `exp` in sixteen lanes: per lane the same IEEE operations in the same order (the same bits).
    @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> { VectorLanes.exp(x) }

    /// `softmax(rows:)` for up to sixteen rows held in the lanes (row i's score j at s[16·j + i], n[i]
    /// scores; the unused lanes are left alone), `VectorLanes.softmax`.
    public static func softmax(lanes s: UnsafeMutablePointer<Float>, counts n: UnsafePointer<Int>, count: Int) {
        VectorLanes.softmax(lanes: s, counts: n, count: count)
    }

    /// Residual add x += y, rounded to the residual format.
    public static func residualAdd(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int, fp16: Bool) {
        if fp16 { for i in 0..<n { x[i] = FP16.round(x[i] + y[i]) } } else { for i in 0..<n { x[i] += y[i] } }
    }
}
