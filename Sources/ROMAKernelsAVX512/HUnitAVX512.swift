#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The H-Unit's attention output on AVX-512 (`KernelPath.avx512vnni`), bit for bit `HUnit.attendHead`'s:
/// o_d = Σ_j p_j · v_jd in FP32, each output lane in position order (a multiply, then an add), rounded
/// to FP16; the 64 lanes in four zmm registers instead of eight ymm.
public enum HUnitAVX512 {
    public static func weightedSum64(values: UnsafePointer<Float>, stride: Int, n: Int, p: UnsafePointer<Float>,
                                     out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        @inline(__always) func ld(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        for j in 0..<n {
            let v = values + j &* stride, w = V(repeating: p[j])
            a0 += w * ld(v); a1 += w * ld(v + 16); a2 += w * ld(v + 32); a3 += w * ld(v + 48)
        }
        #if arch(x86_64)
        (a0, a1, a2, a3) = (LUnitAVX512.roundFP16(a0), LUnitAVX512.roundFP16(a1), LUnitAVX512.roundFP16(a2), LUnitAVX512.roundFP16(a3))
        #else
        for i in 0..<16 { a0[i] = Float(Float16(a0[i])); a1[i] = Float(Float16(a1[i])); a2[i] = Float(Float16(a2[i])); a3[i] = Float(Float16(a3[i])) }
        #endif
        let o = UnsafeMutableRawPointer(out)
        o.storeBytes(of: a0, as: V.self); o.storeBytes(of: a1, toByteOffset: 64, as: V.self)
        o.storeBytes(of: a2, toByteOffset: 128, as: V.self); o.storeBytes(of: a3, toByteOffset: 192, as: V.self)
    }

    #if arch(x86_64)
    // The scores: `HUnitAVX2.scores64`'s code, compiled here for AVX-512, where 32 vector registers
    // hold q's eight lane vectors and eight positions' without the spills that sixteen force.
    /// scores[j] = (q·k_j) · scale for whole blocks of eight positions, with `HUnit.scores64`'s
    /// arithmetic: per position s_c = (0 + q_c·k_c) + q_(c+4)·k_(c+4) over 8-lane chunks c < 4,
    /// S = (s0 + s1) + (s2 + s3), its lanes added in order; eight positions are transposed so that
    /// their in-order lane sums run in the lanes. Returns the positions done (n rounded down to 8).
    public static func scores64(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                scores: UnsafeMutablePointer<Float>) -> Int {
        typealias V = SIMD8<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        let q0 = ld(q), q1 = ld(q + 8), q2 = ld(q + 16), q3 = ld(q + 24), q4 = ld(q + 32), q5 = ld(q + 40), q6 = ld(q + 48), q7 = ld(q + 56)
        @inline(__always) func lanes(_ k: UnsafePointer<Float>) -> V {
            let s0 = (V() + q0 * ld(k)) + q4 * ld(k + 32), s1 = (V() + q1 * ld(k + 8)) + q5 * ld(k + 40)
            let s2 = (V() + q2 * ld(k + 16)) + q6 * ld(k + 48), s3 = (V() + q3 * ld(k + 24)) + q7 * ld(k + 56)
            return (s0 + s1) + (s2 + s3)
        }
        let sv = V(repeating: scale)
        var j = 0
        while j &+ 8 <= n {
            let k = keys + j &* stride
            let r0 = lanes(k), r1 = lanes(k + stride), r2 = lanes(k + 2 &* stride), r3 = lanes(k + 3 &* stride)
            let r4 = lanes(k + 4 &* stride), r5 = lanes(k + 5 &* stride), r6 = lanes(k + 6 &* stride), r7 = lanes(k + 7 &* stride)
            let c = transpose8(r0, r1, r2, r3, r4, r5, r6, r7)
            let sum = ((((((c.0 + c.1) + c.2) + c.3) + c.4) + c.5) + c.6) + c.7
            UnsafeMutableRawPointer(scores + j).storeBytes(of: sum * sv, as: V.self)
            j &+= 8
        }
        return j
    }

    /// Columns of the 8x8 matrix with rows r0..r7: result.k = (r0[k], ..., r7[k]).
    @inline(__always)
    static func transpose8(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>,
                           _ r4: SIMD8<Float>, _ r5: SIMD8<Float>, _ r6: SIMD8<Float>, _ r7: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func pd(_ x: V) -> SIMD4<Double> { unsafeBitCast(x, to: SIMD4<Double>.self) }
        @inline(__always) func ps(_ x: SIMD4<Double>) -> V { unsafeBitCast(x, to: V.self) }
        // within 128-bit halves: u_k = (r0[k], r1[k], r2[k], r3[k] | r0[k+4], ..., r3[k+4]) for k < 4
        let t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3)
        let t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5), t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7)
        let u0 = ps(_mm256_unpacklo_pd(pd(t0), pd(t2))), u1 = ps(_mm256_unpackhi_pd(pd(t0), pd(t2)))
        let u2 = ps(_mm256_unpacklo_pd(pd(t1), pd(t3))), u3 = ps(_mm256_unpackhi_pd(pd(t1), pd(t3)))
        let w0 = ps(_mm256_unpacklo_pd(pd(t4), pd(t6))), w1 = ps(_mm256_unpackhi_pd(pd(t4), pd(t6)))
        let w2 = ps(_mm256_unpacklo_pd(pd(t5), pd(t7))), w3 = ps(_mm256_unpackhi_pd(pd(t5), pd(t7)))
        return (V(lowHalf: u0.lowHalf, highHalf: w0.lowHalf), V(lowHalf: u1.lowHalf, highHalf: w1.lowHalf),
                V(lowHalf: u2.lowHalf, highHalf: w2.lowHalf), V(lowHalf: u3.lowHalf, highHalf: w3.lowHalf),
                V(lowHalf: u0.highHalf, highHalf: w0.highHalf), V(lowHalf: u1.highHalf, highHalf: w1.highHalf),
                V(lowHalf: u2.highHalf, highHalf: w2.highHalf), V(lowHalf: u3.highHalf, highHalf: w3.highHalf))
    }

    #else
    public static func scores64(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                scores: UnsafeMutablePointer<Float>) -> Int { 0 }
    #endif
}
