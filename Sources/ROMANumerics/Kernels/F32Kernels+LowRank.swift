/// The two FP32 products of a low-rank (LoRA) update, shared by the reference engine's FP32 LoRA and
/// the H-Unit's (which rounds between them): h = x · Aᵀ, then y += h · Bᵀ · scale.
extension F32Kernels {
    /// y[t, o] += (Σ_r h[t, r] · bT[r, o]) · scale, eight outputs at a time, tokens spread over the cores.
    public static func expand(h: UnsafePointer<Float>, tokens: Int, rank: Int, bT: UnsafePointer<Float>, outDim: Int, scale: Float,
                              y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let (hp, bp, yp) = (Unchecked(UnsafeMutablePointer(mutating: h)), Unchecked(UnsafeMutablePointer(mutating: bT)), Unchecked(y))
        Parallel.forEach(tokens, minChunk: max(1, 8192 / max(1, rank * outDim))) { t in
            let hr = hp.value + t * rank, yr = yp.value + t * outDim, b = bp.value
            var o = 0
            while o + 8 <= outDim {
                var acc = V()
                for r in 0..<rank { acc += V(repeating: hr[r]) * UnsafeRawPointer(b + r * outDim + o).loadUnaligned(as: V.self) }
                let cur = UnsafeRawPointer(yr + o).loadUnaligned(as: V.self)
                UnsafeMutableRawPointer(yr + o).storeBytes(of: cur + acc * scale, as: V.self)
                o += 8
            }
            while o < outDim {
                var acc: Float = 0
                for r in 0..<rank { acc += hr[r] * b[r * outDim + o] }
                yr[o] += acc * scale
                o += 1
            }
        }
    }

    /// out[t, o] = x[t] · w[o] (FP32, `F32Kernels` order), spread over the cores: by blocks of 16
    /// outputs when there are many, else by blocks of 4 tokens.
    public static func matmul(x: UnsafePointer<Float>, tokens T: Int, w: UnsafePointer<Float>, n: Int, outputs: Int,
                              out: UnsafeMutablePointer<Float>) {
        let (xp, wp, op) = (Unchecked(UnsafeMutablePointer(mutating: x)), Unchecked(UnsafeMutablePointer(mutating: w)), Unchecked(out))
        if outputs >= 64 || T < 8 {
            Parallel.forEach((outputs + 15) / 16, minChunk: T * n < 4096 ? 1 << 20 : 1) { blk in
                matmulRows(x: xp.value, T: T, w: wp.value, n: n, oRange: (blk * 16)..<min(outputs, blk * 16 + 16),
                                      out: op.value, outStride: outputs)
            }
        } else {
            Parallel.forEach((T + 3) / 4) { tb in
                let t0 = tb * 4, tn = min(T, t0 + 4) - t0
                matmulRows(x: xp.value + t0 * n, T: tn, w: wp.value, n: n, oRange: 0..<outputs,
                                      out: op.value + t0 * outputs, outStride: outputs)
            }
        }
    }

    /// [rows, cols] -> [cols, rows].
    public static func transpose(_ m: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: m.count)
        for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = m[r * cols + c] } }
        return t
    }
}
