import Foundation

/// Rotary position embedding in FP32, adjacent-pair convention (GGUF llama / ggml NORM mode: llama.cpp's
/// converter permutes Q/K rows so that pairs (2i, 2i+1) rotate together): for each row at position p and
/// each pair i, θ = p · base^(-2i/headDim), computed in FP64 and rounded to FP32 cos/sin.
/// The reference backend applies it; the trainer's backward pass applies its inverse R(−θ) = Rᵀ.
/// (The chip's FP16 version is the vector unit's, `VectorUnit.rope`.)
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    let invFreq: [Double]

    public init(_ m: ModelConfig) {
        headDim = m.headDim
        invFreq = (0..<(m.headDim / 2)).map { pow(m.ropeTheta, -2.0 * Double($0) / Double(m.headDim)) }
    }

    /// Rotates `heads` heads of every row of x in place (row t at `positions[t]`); `inverse` rotates back.
    public func apply(_ x: Matrix, heads: Int, positions: [Int], inverse: Bool = false) {
        let hd = headDim
        for t in 0..<x.rows {
            let pos = Double(positions[t])
            let row = x.row(t)
            for i in 0..<(hd / 2) {
                let theta = pos * invFreq[i]
                let c = Float(cos(theta)), s = inverse ? -Float(sin(theta)) : Float(sin(theta))
                for h in 0..<heads {
                    let p = row + h * hd + 2 * i
                    let x0 = p[0], x1 = p[1]
                    p[0] = x0 * c - x1 * s
                    p[1] = x0 * s + x1 * c
                }
            }
        }
    }
}
