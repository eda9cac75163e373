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

    /// Softmax in place over n FP32 scores (max-subtracted, FP32 exp and sum, in index order).
    public static func softmax(_ s: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for j in 0..<n { m = max(m, s[j]) }
        var sum: Float = 0
        for j in 0..<n { let e = expf(s[j] - m); s[j] = e; sum += e }
        let inv = 1 / sum
        for j in 0..<n { s[j] *= inv }
    }

    /// y = fp16(silu(gate) * up) = fp16(gate / (1 + e^-gate) * up).
    public static func swiGLU(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<n { let g = gate[i]; y[i] = FP16.round(g / (1 + expf(-g)) * up[i]) }
    }

    /// Residual add x += y, rounded to the residual format.
    public static func residualAdd(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int, fp16: Bool) {
        if fp16 { for i in 0..<n { x[i] = FP16.round(x[i] + y[i]) } } else { for i in 0..<n { x[i] += y[i] } }
    }
}

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
        for d in 0..<headDim { out[d] = 0 }
        for j in 0..<n {
            let v = values + j &* stride, p = scores[j]
            for d in 0..<headDim { out[d] += p * v[d] }
        }
        for d in 0..<headDim { out[d] = FP16.round(out[d]) }
    }

    /// LoRA on the H-Unit: y += scale * B (A x), A [r, in] and B [out, r] in FP8 E4M3 with one FP32
    /// scale each (per-tensor); A x accumulates in FP32 and is rounded to FP16 before B.
    public static func loraAccumulate(x: UnsafePointer<Float>, inDim: Int, a: UnsafePointer<UInt8>, aScale: Float,
                                      b: UnsafePointer<UInt8>, bScale: Float, rank: Int, outDim: Int, scale: Float,
                                      y: UnsafeMutablePointer<Float>) {
        let t = FP8E4M3.table
        t.withUnsafeBufferPointer { t in
            var h = [Float](repeating: 0, count: rank)
            for r in 0..<rank {
                var s: Float = 0
                let row = a + r * inDim
                for i in 0..<inDim { s += t[Int(row[i])] * x[i] }
                h[r] = FP16.round(s * aScale)
            }
            for o in 0..<outDim {
                var s: Float = 0
                let row = b + o * rank
                for r in 0..<rank { s += t[Int(row[r])] * h[r] }
                y[o] += s * bScale * scale
            }
        }
    }
}
