#if arch(x86_64)
import _Builtin_intrinsics.intel
import ROMANumerics

/// A packed-code shape the AVX2 kernels are specialized for (constant bits and group size).
protocol CodeShape { static var bits: Int { get }; static var group: Int { get } }
enum Int4G64: CodeShape { static var bits: Int { 4 }; static var group: Int { 64 } }
enum Int2G64: CodeShape { static var bits: Int { 2 }; static var group: Int { 64 } }
enum Int4G128: CodeShape { static var bits: Int { 4 }; static var group: Int { 128 } }
enum Int2G128: CodeShape { static var bits: Int { 2 }; static var group: Int { 128 } }
enum Int4G256: CodeShape { static var bits: Int { 4 }; static var group: Int { 256 } }
enum Int2G256: CodeShape { static var bits: Int { 2 }; static var group: Int { 256 } }

/// The L-Unit compute cells on AVX2, exact like the portable kernels. This module is compiled for
/// x86-64-v3 (Package.swift) and runs only when `KernelPath.selected` is `.avx2`; the tests check every
/// path bit for bit against the golden L-Unit.
///
/// An aligned activation is an integer with |a| <= 2047 (an 11-bit significand shifted right).
/// - Blocks of eight tokens and the shapes other than 4-bit group 64: codes widened to Int16 and
///   multiplied with the Int16 activations on vpmaddwd (|code·a| <= 15·2047, pair sums fit Int32).
/// - One token, 4-bit group 64 (decode): each activation is split once into a = 64·h + l with
///   h = a >> 6 in [-32, 31] and l = a & 63 in [0, 63], both signed bytes, so that vpmaddubsw (unsigned
///   4-bit code x signed byte, adjacent pairs summed to Int16, |pair| <= 2·15·63 = 1890: no saturation)
///   computes Σ w·h and Σ w·l; then dot = 64·Σ w·h + Σ w·l exactly (vpmaddwd widens to Int32).
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

    /// One row, one token: Eq. 1 for each group whose dot-product lanes `groupDot(g)` gives, summed in
    /// FP32 in group order. The row's codes are read in order (one stream per row); eight groups' dot
    /// products are reduced together and their epilogues, (Float(dot − vsum·z) · s) · 2^(max_exp − Bias),
    /// run in the lanes; the eight results are then added to the row sum one by one.
    @inline(__always)
    static func rowSum(gpr: Int, vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                       zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>, _ groupDot: (Int) -> M) -> Float {
        var acc: Float = 0
        var g = 0
        while g &+ 8 <= gpr {
            let dots = reduce8(groupDot(g), groupDot(g &+ 1), groupDot(g &+ 2), groupDot(g &+ 3),
                               groupDot(g &+ 4), groupDot(g &+ 5), groupDot(g &+ 6), groupDot(g &+ 7))
            let z = _mm256_cvtepu8_epi32(SIMD2<Int64>(Int64(bitPattern: UnsafeRawPointer(zeros + g).loadUnaligned(as: UInt64.self)), 0))
            let n = _mm256_sub_epi32(dots, _mm256_mullo_epi32(loadI32(vsum + g), z))
            // the eight scales by vcvtph2ps (`scales8`), not the 256 KiB table: the same values, and no
            // table lines evicting the codes from L1 in a decode
            let f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), scales8(scales + g)), loadF32(pow2 + g))
            acc += f[0]; acc += f[1]; acc += f[2]; acc += f[3]; acc += f[4]; acc += f[5]; acc += f[6]; acc += f[7]
            g &+= 8
        }
        while g < gpr {
            let d = hsum(groupDot(g))
            acc += Float(d &- vsum[g] &* Int32(zeros[g])) * table[Int(UInt16(littleEndian: scales[g]))] * pow2[g]
            g &+= 1
        }
        return acc
    }

    /// Eight consecutive FP16 scales as FP32 by vcvtph2ps: FP16 -> FP32 is exact, so these are
    /// `FP16.table`'s values (a NaN comes out quieted; the epilogue's first multiply quiets the table's
    /// the same way, so the products have the same bits).
    @inline(__always)
    static func scales8(_ p: UnsafePointer<UInt16>) -> SIMD8<Float> {
        _mm256_cvtph_ps(UnsafeRawPointer(p).loadUnaligned(as: SIMD2<Int64>.self))
    }

    /// One row of 4-bit group-64 codes, one token, on the 8-bit multipliers (`dot` over the byte split).
    @inline(__always)
    static func row64(codes rc: UnsafePointer<UInt8>, hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>, gpr: Int,
                      vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                      zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>) -> Float {
        rowSum(gpr: gpr, vsum: vsum, pow2: pow2, scales: scales, zeros: zeros, table: table) { g in
            let (w0, w1) = codes(rc + g &* 32)
            return dot(w0, w1, hi + g &* 64, lo + g &* 64)
        }
    }

    // MARK: prefill: eight tokens in the lanes

    @inline(__always) static func loadI16(_ p: UnsafePointer<Int16>) -> M { UnsafeRawPointer(p).loadUnaligned(as: M.self) }
    @inline(__always) static func loadI32(_ p: UnsafePointer<Int32>) -> M { UnsafeRawPointer(p).loadUnaligned(as: M.self) }
    @inline(__always) static func loadF32(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

    /// Lane i = the sum of the eight Int32 lanes of d_i (integer adds: exact in any order).
    @inline(__always)
    static func reduce8(_ d0: M, _ d1: M, _ d2: M, _ d3: M, _ d4: M, _ d5: M, _ d6: M, _ d7: M) -> M {
        // within 128-bit halves: x = [d0..d3 over lanes 0-3 | d0..d3 over lanes 4-7], y likewise for d4..d7
        let x = _mm256_hadd_epi32(_mm256_hadd_epi32(d0, d1), _mm256_hadd_epi32(d2, d3))
        let y = _mm256_hadd_epi32(_mm256_hadd_epi32(d4, d5), _mm256_hadd_epi32(d6, d7))
        // pair each half sum with its partner, add the pairs, restore token order
        let pair = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
        let s = _mm256_hadd_epi32(_mm256_permutevar8x32_epi32(x, pair), _mm256_permutevar8x32_epi32(y, pair))  // d0 d1 d4 d5 | d2 d3 d6 d7
        return _mm256_permutevar8x32_epi32(s, _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7))
    }

    /// One 64-column step of a group's packed codes, widened to Int16: w0..w3 hold 16 codes each, for
    /// the columns starting at o0..o3 (offsets in the group). `step` is the step index.
    /// 4-bit groups (byte j = code j | code j+G/2 << 4), two steps of 32 bytes per 128 columns:
    /// columns 32s.., 32s+16.., G/2+32s.., G/2+32s+16... 2-bit groups (byte j = codes j, j+G/4, j+G/2,
    /// j+3G/4 in bits 0-1, 2-3, 4-5, 6-7), 16 bytes per step: columns 16s.., G/4+16s.., G/2+16s.., 3G/4+16s...
    struct Chunk { var w0: M, w1: M, w2: M, w3: M; var o0: Int, o1: Int, o2: Int, o3: Int }

    @inline(__always)
    static func chunk<S: CodeShape>(_ group: UnsafePointer<UInt8>, step: Int, _: S.Type) -> Chunk {
        let G = S.group
        if S.bits == 4 {
            let c = step &* 32, half = G / 2
            let p = UnsafeRawPointer(group + c)
            let b0 = _mm256_cvtepu8_epi16(p.loadUnaligned(as: SIMD2<Int64>.self))
            let b1 = _mm256_cvtepu8_epi16(p.loadUnaligned(fromByteOffset: 16, as: SIMD2<Int64>.self))
            let m = _mm256_set1_epi16(0x0F)
            return Chunk(w0: _mm256_and_si256(b0, m), w1: _mm256_and_si256(b1, m), w2: _mm256_srli_epi16(b0, 4), w3: _mm256_srli_epi16(b1, 4),
                         o0: c, o1: c &+ 16, o2: half &+ c, o3: half &+ c &+ 16)
        } else {
            let c = step &* 16, q = G / 4
            let b = _mm256_cvtepu8_epi16(UnsafeRawPointer(group + c).loadUnaligned(as: SIMD2<Int64>.self))
            let m = _mm256_set1_epi16(3)
            return Chunk(w0: _mm256_and_si256(b, m), w1: _mm256_and_si256(_mm256_srli_epi16(b, 2), m),
                         w2: _mm256_and_si256(_mm256_srli_epi16(b, 4), m), w3: _mm256_srli_epi16(b, 6),
                         o0: c, o1: q &+ c, o2: 2 &* q &+ c, o3: 3 &* q &+ c)
        }
    }

    /// acc += the Int32 lanes of Σ code·a over one chunk's 64 columns of the token's aligned activations
    /// `a` (the group's first column); vpmaddwd, |code·a| <= 15·2047.
    @inline(__always)
    static func mac(_ acc: inout M, _ a: UnsafePointer<Int16>, _ k: Chunk) {
        let s = _mm256_add_epi32(_mm256_madd_epi16(k.w0, loadI16(a + k.o0)), _mm256_madd_epi16(k.w1, loadI16(a + k.o1)))
        let t = _mm256_add_epi32(_mm256_madd_epi16(k.w2, loadI16(a + k.o2)), _mm256_madd_epi16(k.w3, loadI16(a + k.o3)))
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(s, t))
    }

    /// One row of 2- or 4-bit codes (group size a multiple of 64) against a block of eight tokens, one
    /// token per lane. Each group's codes are widened to Int16 once and used for all eight tokens; the
    /// eight group dot products are reduced together and Eq. 1's FP32 epilogue,
    /// (Float(dot − vsum·z) · s) · 2^(max_exp − Bias), runs on all lanes at once, summed in group order
    /// (the operations and order of `LUnitArray`'s portable kernels). `blk`, `vsum` and `pow2` are the
    /// block's activations in the `AlignedActivations.blocked` layout: group g of token i at
    /// blk + (g·8 + i)·G, its vsum and pow2 at [g·8 + i].
    @inline(__always)
    static func row8Tokens<S: CodeShape>(_ shape: S.Type, codes rc: UnsafePointer<UInt8>, gpr: Int, blk: UnsafePointer<Int16>,
                           vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>,
                           scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>) -> SIMD8<Float> {
        let G = S.group, groupBytes = S.group * S.bits / 8, steps = S.group / 64
        var acc = _mm256_setzero_ps()
        for g in 0..<gpr {
            let z0 = _mm256_setzero_si256()
            var d0 = z0, d1 = z0, d2 = z0, d3 = z0, d4 = z0, d5 = z0, d6 = z0, d7 = z0
            let a = blk + g &* 8 &* G
            for st in 0..<steps {
                let k = chunk(rc + g &* groupBytes, step: st, S.self)
                mac(&d0, a, k); mac(&d1, a + G, k); mac(&d2, a + 2 &* G, k); mac(&d3, a + 3 &* G, k)
                mac(&d4, a + 4 &* G, k); mac(&d5, a + 5 &* G, k); mac(&d6, a + 6 &* G, k); mac(&d7, a + 7 &* G, k)
            }
            let dot = reduce8(d0, d1, d2, d3, d4, d5, d6, d7)
            let n = _mm256_sub_epi32(dot, _mm256_mullo_epi32(loadI32(vsum + g &* 8), _mm256_set1_epi32(Int32(zeros[g]))))
            let s = _mm256_set1_ps(table[Int(UInt16(littleEndian: scales[g]))])
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), s), loadF32(pow2 + g &* 8)))
        }
        return acc
    }

    /// One row of 2- or 4-bit codes against one token (decode, and the tokens left after the blocks of
    /// eight): the widened codes against the token's Int16 values on vpmaddwd, summed by `rowSum`.
    @inline(__always)
    static func row1Token<S: CodeShape>(_ shape: S.Type, codes rc: UnsafePointer<UInt8>, gpr: Int, v: UnsafePointer<Int16>,
                                        vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>,
                                        scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>) -> Float {
        let G = S.group, groupBytes = S.group * S.bits / 8, steps = S.group / 64
        return rowSum(gpr: gpr, vsum: vsum, pow2: pow2, scales: scales, zeros: zeros, table: table) { g in
            var d = _mm256_setzero_si256()
            for st in 0..<steps { mac(&d, v + g &* G, chunk(rc + g &* groupBytes, step: st, S.self)) }
            return d
        }
    }

    // MARK: the alignment unit, eight activations per step

    /// `LUnit.align` with truncating shifts (the paper's step 2), count a multiple of 16: the same
    /// integers, vsum and max_exp. Step 1 in the lanes: vconv = ±(1024 + m) for exponent field e > 0,
    /// ±2m for e = 0; step 2: |vconv| >> (max_exp − e) (vpsrlvd: a count ≥ 32 gives 0), sign restored.
    @inline(__always)
    static func alignTruncate(_ h: UnsafePointer<UInt16>, count: Int, values: UnsafeMutablePointer<Int16>) -> (maxExp: Int, vsum: Int32) {
        let e5 = _mm256_set1_epi16(0x1F)
        var mx = _mm256_setzero_si256()
        var k = 0
        while k < count {
            mx = _mm256_max_epu16(mx, _mm256_and_si256(_mm256_srli_epi16(load(h + k), 10), e5))
            k &+= 16
        }
        let lanes = unsafeBitCast(mx, to: SIMD16<UInt16>.self)
        var maxExp: UInt16 = 0
        for i in 0..<16 { maxExp = Swift.max(maxExp, lanes[i]) }
        let me = _mm256_set1_epi32(Int32(maxExp))
        let m10 = _mm256_set1_epi32(0x3FF), one10 = _mm256_set1_epi32(0x400), e5w = _mm256_set1_epi32(0x1F)
        let order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7)
        var vs = _mm256_setzero_si256()
        @inline(__always) func aligned(_ p: UnsafePointer<UInt16>) -> M {
            let x = _mm256_cvtepu16_epi32(UnsafeRawPointer(p).loadUnaligned(as: SIMD2<Int64>.self))
            let e = _mm256_and_si256(_mm256_srli_epi32(x, 10), e5w), m = _mm256_and_si256(x, m10)
            let mag = _mm256_blendv_epi8(_mm256_or_si256(m, one10), _mm256_slli_epi32(m, 1), _mm256_cmpeq_epi32(e, _mm256_setzero_si256()))
            let q = _mm256_srlv_epi32(mag, _mm256_sub_epi32(me, e))
            let neg = _mm256_srai_epi32(_mm256_slli_epi32(x, 16), 31)   // all ones where the sign bit is set
            return _mm256_sub_epi32(_mm256_xor_si256(q, neg), neg)
        }
        k = 0
        while k < count {
            let a = aligned(h + k), b = aligned(h + (k &+ 8))
            vs = _mm256_add_epi32(vs, _mm256_add_epi32(a, b))
            // |value| <= 2047: the saturating pack is exact; it interleaves 128-bit halves, the permute restores order
            UnsafeMutableRawPointer(values + k).storeBytes(of: _mm256_permutevar8x32_epi32(_mm256_packs_epi32(a, b), order), as: M.self)
            k &+= 16
        }
        return (Int(maxExp), unsafeBitCast(vs, to: SIMD8<Int32>.self).wrappedSum())
    }
}
#endif
