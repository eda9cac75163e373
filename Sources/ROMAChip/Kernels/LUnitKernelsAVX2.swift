#if ROMA_AVX2
import _Builtin_intrinsics.intel

/// The L-Unit compute cells on AVX2's 8-bit multipliers, exact like the portable kernels. Built only
/// when the scripts compile for an AVX2 host (scripts/cpu-flags.sh adds `-DROMA_AVX2` beside
/// `-target-cpu`); the portable `LUnitKernels` run otherwise, and the tests check both bit for bit
/// against the golden L-Unit.
///
/// An aligned activation is an integer with |a| <= 2047 (an 11-bit significand shifted right). It is
/// split once per token into a = 64·h + l with h = a >> 6 in [-32, 31] and l = a & 63 in [0, 63], both
/// signed bytes, so that vpmaddubsw (unsigned 4-bit code x signed byte, adjacent pairs summed to Int16,
/// |pair| <= 2·15·63 = 1890: no saturation) computes Σ w·h and Σ w·l; then
/// dot = 64·Σ w·h + Σ w·l exactly (vpmaddwd widens to Int32).
enum LUnitAVX2 {
    typealias M = SIMD4<Int64>   // __m256i

    @inline(__always) static func load(_ p: UnsafeRawPointer) -> M { p.loadUnaligned(as: M.self) }

    /// The byte split of aligned activations, [count] each.
    @inline(__always)
    static func split(_ v: UnsafePointer<Int16>, count: Int, hi: UnsafeMutablePointer<Int8>, lo: UnsafeMutablePointer<Int8>) {
        for k in 0..<count {
            hi[k] = Int8(truncatingIfNeeded: v[k] &>> 6)
            lo[k] = Int8(truncatingIfNeeded: v[k] & 63)
        }
    }

    /// The two code vectors of one packed 4-bit 64-group: codes 0-31 (low nibbles), codes 32-63 (high).
    @inline(__always)
    static func codes(_ p: UnsafePointer<UInt8>) -> (M, M) {
        let packed = load(p)
        let mask = _mm256_set1_epi8(0x0F)
        return (_mm256_and_si256(packed, mask), _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask))
    }

    /// Int32 lanes summing to Σ_k code_k · a_k over one 64-group.
    @inline(__always)
    static func dot(_ w0: M, _ w1: M, _ hi: UnsafePointer<Int8>, _ lo: UnsafePointer<Int8>) -> M {
        let mh = _mm256_add_epi16(_mm256_maddubs_epi16(w0, load(hi)), _mm256_maddubs_epi16(w1, load(hi + 32)))
        let ml = _mm256_add_epi16(_mm256_maddubs_epi16(w0, load(lo)), _mm256_maddubs_epi16(w1, load(lo + 32)))
        return _mm256_add_epi32(_mm256_madd_epi16(mh, _mm256_set1_epi16(64)), _mm256_madd_epi16(ml, _mm256_set1_epi16(1)))
    }

    @inline(__always)
    static func hsum(_ v: M) -> Int32 {
        unsafeBitCast(v, to: SIMD8<Int32>.self).wrappedSum()
    }

    /// One row, one token, group 64: Eq. 1 per group summed in FP32 in group order.
    @inline(__always)
    static func row64(codes rc: UnsafePointer<UInt8>, hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>, gpr: Int,
                      vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                      zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>) -> Float {
        var acc: Float = 0
        for g in 0..<gpr {
            let (w0, w1) = codes(rc + g &* 32)
            let d = hsum(dot(w0, w1, hi + g &* 64, lo + g &* 64))
            let s = table[Int(UInt16(littleEndian: scales[g]))]
            acc += Float(d &- vsum[g] &* Int32(zeros[g])) * s * pow2[g]
        }
        return acc
    }

    /// One row, four tokens sharing each group's codes.
    @inline(__always)
    static func row64x4(codes rc: UnsafePointer<UInt8>, hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>, cols: Int, gpr: Int,
                        vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                        zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
        let h1 = hi + cols, h2 = h1 + cols, h3 = h2 + cols
        let l1 = lo + cols, l2 = l1 + cols, l3 = l2 + cols
        let v1 = vsum + gpr, v2 = v1 + gpr, v3 = v2 + gpr
        let p1 = pow2 + gpr, p2 = p1 + gpr, p3 = p2 + gpr
        for g in 0..<gpr {
            let (w0, w1) = codes(rc + g &* 32)
            let off = g &* 64
            let d0 = hsum(dot(w0, w1, hi + off, lo + off)), d1 = hsum(dot(w0, w1, h1 + off, l1 + off))
            let d2 = hsum(dot(w0, w1, h2 + off, l2 + off)), d3 = hsum(dot(w0, w1, h3 + off, l3 + off))
            let s = table[Int(UInt16(littleEndian: scales[g]))], z = Int32(zeros[g])
            a0 += Float(d0 &- vsum[g] &* z) * s * pow2[g]
            a1 += Float(d1 &- v1[g] &* z) * s * p1[g]
            a2 += Float(d2 &- v2[g] &* z) * s * p2[g]
            a3 += Float(d3 &- v3[g] &* z) * s * p3[g]
        }
        return (a0, a1, a2, a3)
    }
}
#endif
