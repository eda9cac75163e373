import Foundation
import ROMANumerics

/// The SRAM-based H-Unit (Sec. III-A): holds the KV cache (FP16) and LoRA weights (FP8 E4M3) and
/// computes attention and the LoRA products.
public enum HUnit {
    /// Attention for one query head over `n` cached positions of one KV head (K, V hold FP16 values):
    /// score_j = q·k_j (the H-Unit's FP32 dot product: four 8-lane accumulators over 32-element
    /// blocks, then a fixed reduction, `F32Kernels.dot`) times `scale`; softmax on the vector unit;
    /// out_d = fp16(Σ_j p_j v_jd), accumulated in FP32 in position order.
    public static func attendHead(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                  stride: Int, n: Int, headDim: Int, scale: Float,
                                  scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        for j in 0..<n { scores[j] = F32Kernels.dot(q, keys + j &* stride, headDim) * scale }
        VectorUnit.softmax(scores, n)
        if headDim == 64 {
            // the same sums (each output lane in position order), held in eight 8-lane registers
            typealias V = SIMD8<Float>
            @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
            var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
            for j in 0..<n {
                let v = values + j &* stride, p = V(repeating: scores[j])
                a0 += p * ld(v); a1 += p * ld(v + 8); a2 += p * ld(v + 16); a3 += p * ld(v + 24)
                a4 += p * ld(v + 32); a5 += p * ld(v + 40); a6 += p * ld(v + 48); a7 += p * ld(v + 56)
            }
            for (k, a) in [a0, a1, a2, a3, a4, a5, a6, a7].enumerated() {
                for l in 0..<8 { out[8 * k + l] = FP16.round(a[l]) }
            }
            return
        }
        for d in 0..<headDim { out[d] = 0 }
        for j in 0..<n {
            let v = values + j &* stride, p = scores[j]
            for d in 0..<headDim { out[d] += p * v[d] }
        }
        for d in 0..<headDim { out[d] = FP16.round(out[d]) }
    }

    /// LoRA on the H-Unit for `tokens` rows of x [tokens, inDim]: A [rank, inDim] and Bᵀ [rank, outDim]
    /// hold the stored weight values (FP8 E4M3 values by default) without their per-tensor scales.
    ///     h[t, r] = fp16(aScale · (x[t] · A[r]))          (FP32 dot product, `F32Kernels.dot` order)
    ///     y[t, o] += (Σ_r h[t, r] · B[o, r]) · (bScale · scale)   (FP32, r in order)
    /// y is [tokens, outDim] and accumulates in FP32; the caller rounds the sum to FP16.
    public static func loraAccumulate(x: UnsafePointer<Float>, tokens: Int, inDim: Int, a: UnsafePointer<Float>, aScale: Float,
                                      bT: UnsafePointer<Float>, bScale: Float, rank: Int, outDim: Int, scale: Float,
                                      y: UnsafeMutablePointer<Float>) {
        let h = UnsafeMutablePointer<Float>.allocate(capacity: tokens * rank)
        defer { h.deallocate() }
        matmul(x: x, tokens: tokens, w: a, n: inDim, outputs: rank, out: h)
        for i in 0..<(tokens * rank) { h[i] = FP16.round(h[i] * aScale) }
        expand(h: h, tokens: tokens, rank: rank, bT: bT, outDim: outDim, scale: bScale * scale, y: y)
    }

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
                F32Kernels.matmulRows(x: xp.value, T: T, w: wp.value, n: n, oRange: (blk * 16)..<min(outputs, blk * 16 + 16),
                                      out: op.value, outStride: outputs)
            }
        } else {
            Parallel.forEach((T + 3) / 4) { tb in
                let t0 = tb * 4, tn = min(T, t0 + 4) - t0
                F32Kernels.matmulRows(x: xp.value + t0 * n, T: tn, w: wp.value, n: n, oRange: 0..<outputs,
                                      out: op.value + t0 * outputs, outStride: outputs)
            }
        }
    }
}
