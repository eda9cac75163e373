#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Lane moves the AVX2 H-Unit and L-Unit kernels share.
enum AVX2Lanes {
    /// Columns of the 8 x 8 matrix with rows r0...r7: result.k = (r0[k], ..., r7[k]). Bit moves only
    /// (no arithmetic), so any 32-bit lanes held as FP32 pass through unchanged.
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
        // (u.low | w.low) and (u.high | w.high) by a lane permute and a blend: lowHalf/highHalf would be
        // element copies
        let dupLo = unsafeBitCast(SIMD8<Int32>(0, 1, 2, 3, 0, 1, 2, 3), to: SIMD4<Int64>.self)
        let dupHi = unsafeBitCast(SIMD8<Int32>(4, 5, 6, 7, 4, 5, 6, 7), to: SIMD4<Int64>.self)
        let upper = unsafeBitCast(SIMD8<Int32>(0, 0, 0, 0, -1, -1, -1, -1), to: V.self)
        @inline(__always) func l(_ u: V, _ w: V) -> V { _mm256_blendv_ps(u, _mm256_permutevar8x32_ps(w, dupLo), upper) }
        @inline(__always) func h(_ u: V, _ w: V) -> V { _mm256_blendv_ps(_mm256_permutevar8x32_ps(u, dupHi), w, upper) }
        return (l(u0, w0), l(u1, w1), l(u2, w2), l(u3, w3), h(u0, w0), h(u1, w1), h(u2, w2), h(u3, w3))
    }
}
#endif
