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
