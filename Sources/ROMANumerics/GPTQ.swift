import Foundation

/// Second-moment statistics of one linear layer's inputs, H = Σ_t x_t x_tᵀ over calibration tokens
/// (the Hessian of the layer's output error ||(W - Wq) X||² with respect to each weight row).
/// A class: layers that read the same input (q/k/v, gate/up) share one instance.
/// `@unchecked Sendable`: accumulated by one calibration pass (its owner serializes calls), then only read.
public final class Hessian: @unchecked Sendable {
    /// Input width (the weight's columns).
    public let n: Int
    /// n x n, row-major, symmetric once `finalize()` has run.
    public let data: UnsafeMutablePointer<Float>
    /// Calibration tokens accumulated.
    public private(set) var samples = 0

    public init(n: Int) {
        self.n = n
        data = .allocate(capacity: n * n)
        data.initialize(repeating: 0, count: n * n)
    }

    public convenience init(n: Int, values: [Float]) {
        precondition(values.count == n * n)
        self.init(n: n)
        for i in 0..<(n * n) { data[i] = values[i] }
    }

    deinit { data.deallocate() }

    /// H += XᵀX for `tokens` input rows x (row-major [tokens, n]). Accumulates the upper triangle
    /// (call `finalize()` before use), over all cores.
    public func accumulate(_ x: UnsafePointer<Float>, tokens: Int) {
        guard tokens > 0 else { return }
        let n = self.n
        // Xᵀ: one contiguous row of `tokens` values per feature, so each entry is a dot product.
        let xt = UnsafeMutablePointer<Float>.allocate(capacity: n * tokens)
        defer { xt.deallocate() }
        for t in 0..<tokens { for i in 0..<n { xt[i * tokens + t] = x[t * n + i] } }
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { tmp.deallocate() }
        let block = 16
        let blocks = (n + block - 1) / block
        let (xp, op) = (Unchecked(UnsafePointer(xt)), Unchecked(tmp))
        Parallel.forEach(blocks) { b in
            let cols = (b * block)..<min(n, b * block + block)
            // rows i < cols.upperBound: the upper triangle of this column block (and a little more)
            F32Kernels.matmulRows(x: xp.value, T: cols.upperBound, w: xp.value, n: tokens, oRange: cols,
                                  out: op.value, outStride: n)
        }
        for j in 0..<n {
            for i in 0...j { data[i * n + j] += tmp[i * n + j] }
        }
        samples += tokens
    }

    /// Mirrors the accumulated upper triangle into the lower one.
    public func finalize() {
        for i in 0..<n { for j in 0..<i { data[i * n + j] = data[j * n + i] } }
    }
}

public enum GPTQError: Error, CustomStringConvertible {
    case notPositiveDefinite(column: Int)
    case shape(String)
    public var description: String {
        switch self {
        case .notPositiveDefinite(let c): return "Hessian is not positive definite (Cholesky pivot \(c)); increase the dampening"
        case .shape(let m): return m
        }
    }
}

/// GPTQ (Frantar et al., 2023, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
/// Transformers"), adapted to ROMA's group format (Sec. III-B): the columns of a weight row are
/// quantized left to right; the rounding error of column i, divided by U[i][i], is spread over the
/// not-yet-quantized columns j > i with weights U[i][j], where Uᵀ U = H⁻¹ (U upper triangular,
/// H dampened by `dampening` · mean(diag H)). This minimises the layer's output error
/// ||(W - Wq) X||² rather than the weight error. A group's FP16 scale and zero point are chosen
/// (by `GroupQuantizer`'s clip search) when its first column is reached, from the error-compensated
/// weights of the whole group. Rows are independent given U, so they run in parallel.
///
/// With `actOrder` (GPTQ's "act-order" / `desc_act` with static groups) every group's scale and zero
/// point are chosen first, from the original weights, and the columns are then quantized in order of
/// decreasing H_ii: the columns fed by the largest activations are rounded first, while most of the
/// row can still absorb their error. SmolLM2's few very large activation channels make this matter.
public struct GPTQ: Sendable {
    public let quantizer: GroupQuantizer
    /// Relative diagonal dampening (GPTQ's percdamp).
    public var dampening: Double = 0.01
    /// Choose each group's scale and zero point minimising the output-error-weighted squared error
    /// Σ (w_i - ŵ_i)² / [H⁻¹]ᵢᵢ (true) or the plain squared weight error (false).
    public var weightedGroupSearch = true

    /// Act-order with static groups (see the type's documentation).
    public var actOrder = false

    public init(quantizer: GroupQuantizer, dampening: Double = 0.01, weightedGroupSearch: Bool = true,
                actOrder: Bool = false) {
        self.quantizer = quantizer; self.dampening = dampening; self.weightedGroupSearch = weightedGroupSearch
        self.actOrder = actOrder
    }

    /// The factor of a dampened Hessian H' = H + λI for one column order P (`order`; left to right
    /// when nil): U upper triangular with Uᵀ U = (P H' Pᵀ)⁻¹, row-major n x n in FP32, so row k of U
    /// belongs to the k-th quantized column. `diagonal` is H'_ii in the original column order.
    /// `@unchecked Sendable`: an immutable factorization (its buffer is never written after init).
    public struct Factor: @unchecked Sendable {
        public let n: Int
        public let u: [Float]
        /// order[k] is the column quantized k-th; nil: left to right.
        public let order: [Int]?
        public let diagonal: [Float]
        public init(n: Int, u: [Float], order: [Int]? = nil, diagonal: [Float] = []) {
            self.n = n; self.u = u; self.order = order; self.diagonal = diagonal
        }
    }

    /// Dampens H (columns that never saw input get H[i][i] = 1) and returns U.
    public func factor(_ h: Hessian) throws -> Factor {
        let n = h.n
        var a = [Double](repeating: 0, count: n * n)
        var meanDiag = 0.0
        for i in 0..<n { meanDiag += Double(h.data[i * n + i]) }
        meanDiag /= Double(max(n, 1))
        if !(meanDiag > 0) { meanDiag = 1 }
        let damp = dampening * meanDiag
        for i in 0..<n {
            for j in 0..<n { a[i * n + j] = Double(h.data[i * n + j]) }
            if a[i * n + i] <= 0 { a[i * n + i] = 1 }
            a[i * n + i] += damp
        }
        let diagonal = (0..<n).map { Float(a[$0 * n + $0]) }
        guard actOrder else {
            return Factor(n: n, u: try GPTQ.inverseUpperFactor(a, n: n).map { Float($0) }, diagonal: diagonal)
        }
        // decreasing H'_ii; equal entries keep the column order
        let order = (0..<n).sorted { a[$0 * n + $0] != a[$1 * n + $1] ? a[$0 * n + $0] > a[$1 * n + $1] : $0 < $1 }
        var p = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { p[i * n + j] = a[order[i] * n + order[j]] } }
        return Factor(n: n, u: try GPTQ.inverseUpperFactor(p, n: n).map { Float($0) }, order: order, diagonal: diagonal)
    }

    /// Lower Cholesky factor L (L Lᵀ = A) of a symmetric positive definite row-major matrix.
    public static func cholesky(_ a: [Double], n: Int) throws -> [Double] {
        guard a.count == n * n else { throw GPTQError.shape("matrix has \(a.count) entries, expected \(n * n)") }
        var l = [Double](repeating: 0, count: n * n)
        try l.withUnsafeMutableBufferPointer { lb in
          try a.withUnsafeBufferPointer { ab in
            let L = Unchecked(lb.baseAddress!), A = Unchecked(ab.baseAddress!)
            for j in 0..<n {
                let d = A.value[j * n + j] - dot(L.value + j * n, L.value + j * n, j)
                guard d > 0, d.isFinite else { throw GPTQError.notPositiveDefinite(column: j) }
                let ljj = d.squareRoot()
                L.value[j * n + j] = ljj
                let rest = n - j - 1
                if rest == 0 { continue }
                Parallel.forEach(rest, minChunk: 64) { k in
                    let i = j + 1 + k
                    L.value[i * n + j] = (A.value[i * n + j] - dot(L.value + i * n, L.value + j * n, j)) / ljj
                }
            }
          }
        }
        return l
    }

    /// The inverse of a lower triangular matrix (row-major), also lower triangular.
    public static func invertLower(_ l: [Double], n: Int) -> [Double] {
        // Column j of L⁻¹ solves L x = e_j; stored transposed so that x is contiguous.
        var xt = [Double](repeating: 0, count: n * n)
        l.withUnsafeBufferPointer { lb in
            xt.withUnsafeMutableBufferPointer { xb in
                let (L, X) = (Unchecked(lb.baseAddress!), Unchecked(xb.baseAddress!))
                Parallel.forEach(n, minChunk: 8) { j in
                    let x = X.value + j * n
                    x[j] = 1 / L.value[j * n + j]
                    for i in (j + 1)..<max(j + 1, n) {
                        x[i] = -dot(L.value + i * n + j, x + j, i - j) / L.value[i * n + i]
                    }
                }
            }
        }
        var inv = [Double](repeating: 0, count: n * n)
        for j in 0..<n { for i in j..<n { inv[i * n + j] = xt[j * n + i] } }
        return inv
    }

    /// Upper triangular U with Uᵀ U = A⁻¹ (the Cholesky factor of A⁻¹ that GPTQ uses), from one
    /// Cholesky of the reversed matrix: if P A P = L̃ L̃ᵀ (P reverses the order) then U = P L̃⁻¹ P.
    public static func inverseUpperFactor(_ a: [Double], n: Int) throws -> [Double] {
        var r = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { r[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)] } }
        let li = invertLower(try cholesky(r, n: n), n: n)
        var u = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { u[i * n + j] = li[(n - 1 - i) * n + (n - 1 - j)] } }
        return u
    }

    @inline(__always) static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
        var s0 = SIMD4<Double>(), s1 = SIMD4<Double>()
        var k = 0
        while k + 8 <= n {
            let a0 = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD4<Double>.self)
            let b0 = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD4<Double>.self)
            let a1 = UnsafeRawPointer(a + k + 4).loadUnaligned(as: SIMD4<Double>.self)
            let b1 = UnsafeRawPointer(b + k + 4).loadUnaligned(as: SIMD4<Double>.self)
            s0 += a0 * b0; s1 += a1 * b1
            k += 8
        }
        var s = (s0 + s1).sum()
        while k < n { s += a[k] * b[k]; k += 1 }
        return s
    }

    /// Quantizes one weight row of `factor.n` columns. `w` is overwritten with the
    /// error-compensated working values; `codes` receives one unpacked code per column, `scales`
    /// and `zeros` one entry per group. Returns the squared weight error against `original`.
    /// With an act-order factor the groups are static (chosen from `original`, each column's squared
    /// error weighted by H'_ii) and the columns are quantized in the factor's order.
    @discardableResult
    public func quantizeRow(_ w: UnsafeMutablePointer<Float>, original: UnsafePointer<Float>, factor: Factor,
                            codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<UInt16>,
                            zeros: UnsafeMutablePointer<UInt8>) -> Float {
        if let order = factor.order {
            return quantizeRowActOrder(w, original: original, factor: factor, order: order, codes: codes, scales: scales, zeros: zeros)
        }
        let n = factor.n, g = quantizer.groupSize
        precondition(n % g == 0)
        let qmax = Float(quantizer.levels - 1)
        var s: Float = 0, z: Float = 0
        var err: Float = 0
        let cw = UnsafeMutablePointer<Float>.allocate(capacity: g)
        defer { cw.deallocate() }
        factor.u.withUnsafeBufferPointer { ub in
            let u = ub.baseAddress!
            for i in 0..<n {
                if i % g == 0 {
                    let d0 = u[i * n + i]
                    for k in 0..<g { let d = u[(i + k) * n + i + k]; cw[k] = (d0 * d0) / (d * d) }
                    let (sb, zb, _) = quantizer.quantizeGroup(w + i, g, codes: codes + i, weights: weightedGroupSearch ? UnsafePointer(cw) : nil)
                    scales[i / g] = sb; zeros[i / g] = zb
                    s = FP16.toFloat(sb); z = Float(zb)
                }
                codes[i] = step(w, i, n: n, u: u, original: original[i], s: s, z: z, qmax: qmax, err: &err)
            }
        }
        return err
    }

    /// One GPTQ step on working column k: rounds w[k] with (s, z) as `quantizeGroup` rounds, adds the
    /// squared error against the original value to `err`, and spreads the output-error compensation
    /// (w[k] − deq) / U_kk over the columns after k (row k of U). Returns the code.
    @inline(__always)
    func step(_ w: UnsafeMutablePointer<Float>, _ k: Int, n: Int, u: UnsafePointer<Float>, original: Float,
              s: Float, z: Float, qmax: Float, err: inout Float) -> UInt8 {
        let q = s > 0 ? min(max((w[k] / s).rounded() + z, 0), qmax) : z
        let deq = (q - z) * s
        let d0 = original - deq
        err += d0 * d0
        let e = (w[k] - deq) / u[k * n + k]
        let row = u + k * n
        for j in (k + 1)..<max(k + 1, n) { w[j] -= e * row[j] }
        return UInt8(q)
    }

    /// Act-order with static groups: parameters first (from the original weights), then GPTQ in
    /// `order` (w holds the working values in that order).
    func quantizeRowActOrder(_ w: UnsafeMutablePointer<Float>, original: UnsafePointer<Float>, factor: Factor, order: [Int],
                             codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<UInt16>,
                             zeros: UnsafeMutablePointer<UInt8>) -> Float {
        let n = factor.n, g = quantizer.groupSize
        precondition(n % g == 0 && order.count == n && factor.diagonal.count == n)
        let qmax = Float(quantizer.levels - 1)
        let cw = UnsafeMutablePointer<Float>.allocate(capacity: g)
        defer { cw.deallocate() }
        for gi in 0..<(n / g) {
            for k in 0..<g { cw[k] = factor.diagonal[gi * g + k] }
            let (sb, zb, _) = quantizer.quantizeGroup(original + gi * g, g, codes: codes + gi * g,
                                                      weights: weightedGroupSearch ? UnsafePointer(cw) : nil)
            scales[gi] = sb; zeros[gi] = zb
        }
        for k in 0..<n { w[k] = original[order[k]] }
        var err: Float = 0
        factor.u.withUnsafeBufferPointer { ub in
            let u = ub.baseAddress!
            for k in 0..<n {
                let c = order[k]
                codes[c] = step(w, k, n: n, u: u, original: original[c], s: FP16.toFloat(scales[c / g]), z: Float(zeros[c / g]),
                                qmax: qmax, err: &err)
            }
        }
        return err
    }
}

extension GPTQError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .notPositiveDefinite: return .diverged
        case .shape: return .invalidArgument
        }
    }
}
