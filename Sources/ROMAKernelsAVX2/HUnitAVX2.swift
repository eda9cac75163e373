#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The H-Unit's attention scores on AVX2 (`KernelPath.avx2`), bit for bit `HUnit.scores64`.
public enum HUnitAVX2 {
    /// scores[j] = (q·k_j) · scale for whole blocks of eight positions, with `HUnit.scores64`'s
    /// arithmetic: per position s_c = q_c·k_c + q_(c+4)·k_(c+4) over 8-lane chunks c < 4,
    /// S = (s0 + s1) + (s2 + s3), its lanes added in order; eight positions are transposed so that
    /// their in-order lane sums run in the lanes. Returns the positions done (n rounded down to 8).
    /// `HUnit.scores64` starts each s_c from the zeroed accumulator, (0 + q_c·k_c); that add is left out
    /// here: it changes only the sign of a zero score, and softmax gives ±0 the same probability
    /// (e^(±0 − m) has the same bits), so the probabilities and outputs are `attendHead`'s, bit for bit.
    public static func scores64(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                scores: UnsafeMutablePointer<Float>) -> Int {
        #if !arch(x86_64)
        return 0
        #else
        // intrinsics, not SIMD8 operators: those were split into 4-lane pieces here, with spills
        typealias V = SIMD8<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { _mm256_loadu_ps(p) }
        @inline(__always) func mul(_ a: V, _ b: V) -> V { _mm256_mul_ps(a, b) }
        @inline(__always) func add(_ a: V, _ b: V) -> V { _mm256_add_ps(a, b) }
        let q0 = ld(q), q1 = ld(q + 8), q2 = ld(q + 16), q3 = ld(q + 24), q4 = ld(q + 32), q5 = ld(q + 40), q6 = ld(q + 48), q7 = ld(q + 56)
        @inline(__always) func lanes(_ k: UnsafePointer<Float>) -> V {
            let s0 = add(mul(q0, ld(k)), mul(q4, ld(k + 32))), s1 = add(mul(q1, ld(k + 8)), mul(q5, ld(k + 40)))
            let s2 = add(mul(q2, ld(k + 16)), mul(q6, ld(k + 48))), s3 = add(mul(q3, ld(k + 24)), mul(q7, ld(k + 56)))
            return add(add(s0, s1), add(s2, s3))
        }
        let sv = _mm256_set1_ps(scale)
        var j = 0
        while j &+ 8 <= n {
            let k = keys + j &* stride
            let r0 = lanes(k), r1 = lanes(k + stride), r2 = lanes(k + 2 &* stride), r3 = lanes(k + 3 &* stride)
            let r4 = lanes(k + 4 &* stride), r5 = lanes(k + 5 &* stride), r6 = lanes(k + 6 &* stride), r7 = lanes(k + 7 &* stride)
            let c = AVX2Lanes.transpose8(r0, r1, r2, r3, r4, r5, r6, r7)
            let sum = add(add(add(add(add(add(add(c.0, c.1), c.2), c.3), c.4), c.5), c.6), c.7)
            _mm256_storeu_ps(scores + j, mul(sum, sv))
            j &+= 8
        }
        return j
        #endif
    }
}
