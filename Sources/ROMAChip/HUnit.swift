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
