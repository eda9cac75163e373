import Foundation

/// The best rank-k approximation of a matrix (Eckart-Young): M ≈ U diag(s) Vᵀ with the k largest
/// singular values. Randomized range finder with power iterations (Halko, Martinsson & Tropp 2011,
/// Alg. 4.4) for the large products in FP32 on all cores, then an exact one-sided Jacobi SVD
/// (Hestenes) of the small (k+p) x cols matrix in FP64. When k + p reaches min(rows, cols) the
/// range is the whole row space and the result is exact up to rounding.
public struct TruncatedSVD: Sendable {
    public let rows: Int, cols: Int, rank: Int
    /// [rows, rank] row-major, orthonormal columns.
    public let u: [Float]
    /// Singular values, largest first.
    public let s: [Float]
    /// [rank, cols] row-major, orthonormal rows.
    public let vt: [Float]

    /// - m: [rows, cols] row-major.
    public init(_ m: [Float], rows: Int, cols: Int, rank k: Int, oversample: Int = 10, powerIterations: Int = 4, seed: UInt64 = 1) {
        precondition(m.count == rows * cols && k >= 1)
        let kk = min(k + oversample, rows, cols)
        let k = min(k, kk)
        self.rows = rows; self.cols = cols; self.rank = k
        // mt = Mᵀ [cols, rows], so every product below is "rows of x dot rows of w".
        var mt = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows { for c in 0..<cols { mt[c * rows + r] = m[r * cols + c] } }
        // Yᵀ [kk, rows] = (M Ω)ᵀ with Ω's columns random normal (Ωᵀ [kk, cols])
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func normal() -> Float {
            func next() -> Double {
                state = state &+ 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return (Double((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0
            }
            return Float((-2 * log(next())).squareRoot() * cos(2 * Double.pi * next()))
        }
        let omegaT = (0..<(kk * cols)).map { _ in normal() }
        var yt = TruncatedSVD.product(omegaT, kk, m, rows, cols)        // [kk, rows]
        TruncatedSVD.orthonormalizeRows(&yt, kk, rows)
        for _ in 0..<powerIterations {
            var zt = TruncatedSVD.product(yt, kk, mt, cols, rows)      // (Mᵀ Q)ᵀ [kk, cols]
            TruncatedSVD.orthonormalizeRows(&zt, kk, cols)
            yt = TruncatedSVD.product(zt, kk, m, rows, cols)           // (M Z)ᵀ [kk, rows]
            TruncatedSVD.orthonormalizeRows(&yt, kk, rows)
        }
        // small = Qᵀ M [kk, cols]; its SVD small = G diag(σ) Vᵀ gives M ≈ (Q G) diag(σ) Vᵀ
        let small = TruncatedSVD.product(yt, kk, mt, cols, rows)
        let (g, sigma, v) = TruncatedSVD.jacobiSVD(small.map(Double.init), kk, cols)
        let order = (0..<kk).sorted { sigma[$0] > sigma[$1] }.prefix(k)
        var u = [Float](repeating: 0, count: rows * k), vt = [Float](repeating: 0, count: k * cols), s = [Float]()
        for (j, idx) in order.enumerated() {
            s.append(Float(sigma[idx]))
            for c in 0..<cols { vt[j * cols + c] = Float(v[idx * cols + c]) }
            for r in 0..<rows {
                var acc = 0.0
                for i in 0..<kk { acc += Double(yt[i * rows + r]) * g[i * kk + idx] }
                u[r * k + j] = Float(acc)
            }
        }
        self.u = u; self.s = s; self.vt = vt
    }

    /// out [xr, wr] = x [xr, n] · wᵀ (w [wr, n]), over the cores.
    public static func product(_ x: [Float], _ xr: Int, _ w: [Float], _ wr: Int, _ n: Int) -> [Float] {
        var out = [Float](repeating: 0, count: xr * wr)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    let (xu, wu, ou) = (Unchecked(xp.baseAddress!), Unchecked(wp.baseAddress!), Unchecked(op.baseAddress!))
                    Parallel.forEach((wr + 15) / 16) { b in
                        F32Kernels.matmulRows(x: xu.value, T: xr, w: wu.value, n: n, oRange: (b * 16)..<min(wr, b * 16 + 16),
                                              out: ou.value, outStride: wr)
                    }
                }
            }
        }
        return out
    }

    /// Modified Gram-Schmidt (twice, in FP64) on the rows of a [k, n] matrix; rows that vanish stay 0.
    static func orthonormalizeRows(_ a: inout [Float], _ k: Int, _ n: Int) {
        var d = a.map(Double.init)
        for _ in 0..<2 {
            for i in 0..<k {
                for j in 0..<i {
                    var dot = 0.0
                    for c in 0..<n { dot += d[i * n + c] * d[j * n + c] }
                    for c in 0..<n { d[i * n + c] -= dot * d[j * n + c] }
                }
                var norm = 0.0
                for c in 0..<n { norm += d[i * n + c] * d[i * n + c] }
                norm = norm.squareRoot()
                for c in 0..<n { d[i * n + c] = norm > 1e-30 ? d[i * n + c] / norm : 0 }
            }
        }
        a = d.map(Float.init)
    }

    /// One-sided Jacobi SVD of a [k, n] matrix B (k <= n): rotates pairs of rows until all rows are
    /// orthogonal. Returns G [k, k] (orthogonal, B = G W), σ_i = |W_i| and V rows W_i / σ_i.
    static func jacobiSVD(_ b: [Double], _ k: Int, _ n: Int) -> (g: [Double], sigma: [Double], v: [Double]) {
        var w = b
        var g = [Double](repeating: 0, count: k * k)
        for i in 0..<k { g[i * k + i] = 1 }
        for _ in 0..<60 {
            var rotated = false
            for p in 0..<k {
                for q in (p + 1)..<max(p + 1, k) {
                    var alpha = 0.0, beta = 0.0, gamma = 0.0
                    for c in 0..<n {
                        let x = w[p * n + c], y = w[q * n + c]
                        alpha += x * x; beta += y * y; gamma += x * y
                    }
                    if gamma == 0 || abs(gamma) <= 1e-12 * (alpha * beta).squareRoot() { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let cs = 1 / (1 + t * t).squareRoot(), sn = cs * t
                    for c in 0..<n {
                        let x = w[p * n + c], y = w[q * n + c]
                        w[p * n + c] = cs * x - sn * y
                        w[q * n + c] = sn * x + cs * y
                    }
                    // B = G W stays true: G <- G Rᵀ
                    for r in 0..<k {
                        let x = g[r * k + p], y = g[r * k + q]
                        g[r * k + p] = cs * x - sn * y
                        g[r * k + q] = sn * x + cs * y
                    }
                }
            }
            if !rotated { break }
        }
        var sigma = [Double](repeating: 0, count: k)
        for i in 0..<k {
            var s = 0.0
            for c in 0..<n { s += w[i * n + c] * w[i * n + c] }
            sigma[i] = s.squareRoot()
            for c in 0..<n { w[i * n + c] = sigma[i] > 0 ? w[i * n + c] / sigma[i] : 0 }
        }
        return (g, sigma, w)
    }
}
