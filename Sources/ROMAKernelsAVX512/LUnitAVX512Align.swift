#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The alignment unit (Sec. III-B) on AVX-512, for the prefill blocks: one token's activations to
/// FP16 bits (vcvtps2ph, round to nearest even: `FP16.fromFloat`'s bits), then per group max_exp, the
/// aligned integers with truncating shifts and their sum (`LUnitAVX2Cells.alignTruncate`'s operations,
/// sixteen lanes at a time); and a block of sixteen tokens copied into the cells' interleaved layout by
/// 16 x 16 transposes instead of one store per column pair.
extension LUnitAVX512Cells {
    /// Token `x` [cols] (FP16 values held as FP32) through the alignment unit: `values` [cols],
    /// `vsum` and `maxExp` [cols / groupSize]. `bits` is scratch for `groupSize` UInt16.
    /// groupSize must be a multiple of 16.
    public static func alignToken(_ x: UnsafePointer<Float>, cols: Int, groupSize G: Int, bits: UnsafeMutablePointer<UInt16>,
                                  values: UnsafeMutablePointer<Int16>, vsum: UnsafeMutablePointer<Int32>, maxExp: UnsafeMutablePointer<Int32>) {
        #if arch(x86_64)
        var g = 0
        while g &* G < cols {
            let (e, s) = LUnitAVX512.alignGroup(x + g &* G, count: G, bits: bits, values: values + g &* G)
            maxExp[g] = e; vsum[g] = s
            g &+= 1
        }
        #else
        preconditionFailure("no AVX-512 alignment unit on this architecture")
        #endif
    }

    /// Tokens b·16 ..< b·16 + live of `values` [T, cols] into block b of the prefill layout
    /// (`ActivationLayout.blocked`: [block, group, G/2 column pairs, 16 tokens, 2]); the block's
    /// tokens past `live` are zeros. groupSize must be a multiple of 32 (sixteen column pairs per transpose).
    public static func layOutBlock(_ values: UnsafePointer<Int16>, cols: Int, groupSize G: Int, live: Int,
                                   blocked: UnsafeMutablePointer<Int16>) {
        #if arch(x86_64)
        precondition(G % 32 == 0, "layOutBlock: groups of a multiple of 32 columns")
        let ng = cols / G
        let zero = LUnitAVX512.Z()
        for g in 0..<ng {
            let dst = UnsafeMutableRawPointer(blocked + g &* 16 &* G)
            var kc = 0
            while kc < G / 2 {   // sixteen column pairs at a time: a 16 x 16 transpose of UInt32 pairs
                typealias Z = LUnitAVX512.Z
                let first: Int = g &* G &+ 2 &* kc, rowBytes: Int = 2 &* cols
                let src = UnsafeRawPointer(values + first)
                @inline(__always) func row(_ i: Int) -> Z { i < live ? LUnitAVX512.loadZ(src + i &* rowBytes) : zero }
                let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
                let r8 = row(8), r9 = row(9), r10 = row(10), r11 = row(11), r12 = row(12), r13 = row(13), r14 = row(14), r15 = row(15)
                let c = LUnitAVX512.transpose16((r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15))
                let d: UnsafeMutableRawPointer = dst + kc &* 64
                @inline(__always) func put(_ z: Z, _ k: Int) { d.storeBytes(of: z, toByteOffset: k &* 64, as: Z.self) }
                put(c.0, 0); put(c.1, 1); put(c.2, 2); put(c.3, 3); put(c.4, 4); put(c.5, 5); put(c.6, 6); put(c.7, 7)
                put(c.8, 8); put(c.9, 9); put(c.10, 10); put(c.11, 11); put(c.12, 12); put(c.13, 13); put(c.14, 14); put(c.15, 15)
                kc &+= 16
            }
        }
        #else
        preconditionFailure("no AVX-512 cells on this architecture")
        #endif
    }
}

#if arch(x86_64)
extension LUnitAVX512 {
    /// One group: FP16 bits into `bits`, max_exp over them, then a_k = sign · (mag_k >> (max_exp − e_k))
    /// (mag = 1.m · 2^10 for normals, m · 2 for subnormals; shifts of 32 or more give 0) into `values`.
    /// Returns (max_exp, Σ a_k).
    @inline(__always)
    static func alignGroup(_ x: UnsafePointer<Float>, count: Int, bits: UnsafeMutablePointer<UInt16>,
                           values: UnsafeMutablePointer<Int16>) -> (Int32, Int32) {
        let e5 = _mm256_set1_epi16(0x1F)
        var mx = _mm256_setzero_si256()
        // round to nearest even (vectorized by the compiler into vcvtps2ph: its immediate form has no Swift import)
        for i in 0..<count { bits[i] = Float16(x[i]).bitPattern }
        var k = 0
        while k < count {
            mx = _mm256_max_epu16(mx, _mm256_and_si256(_mm256_srli_epi16(loadY(UnsafeRawPointer(bits + k)), 10), e5))
            k &+= 16
        }
        let me = _mm512_reduce_max_epi32(_mm512_cvtepu16_epi32(mx))
        let mev = _mm512_set1_epi32(me)
        let m10 = _mm512_set1_epi32(0x3FF), one10 = _mm512_set1_epi32(0x400), e5w = _mm512_set1_epi32(0x1F)
        var vs = Z()
        k = 0
        while k < count {
            let h = _mm512_cvtepu16_epi32(loadY(UnsafeRawPointer(bits + k)))
            let e = _mm512_and_si512(_mm512_srli_epi32(h, 10), e5w), m = _mm512_and_si512(h, m10)
            let normal = _mm512_test_epi32_mask(e, e)   // e != 0
            let mag = _mm512_mask_blend_epi32(normal, _mm512_slli_epi32(m, 1), _mm512_or_si512(m, one10))
            let q = _mm512_srlv_epi32(mag, _mm512_sub_epi32(mev, e))
            let neg = _mm512_srai_epi32(_mm512_slli_epi32(h, 16), 31)   // all ones where the sign bit is set
            let a = _mm512_sub_epi32(_mm512_xor_si512(q, neg), neg)
            vs = _mm512_add_epi32(vs, a)
            // |a| <= 2047: the truncating narrowing is exact
            UnsafeMutableRawPointer(values + k).storeBytes(of: _mm512_cvtepi32_epi16(a), as: Y.self)
            k &+= 16
        }
        return (me, _mm512_reduce_add_epi32(vs))
    }

    /// Columns of the 16 x 16 matrix of UInt32 with rows r.0 ... r.15: result.k = (r.0[k], ..., r.15[k]).
    /// Two unpack stages transpose the 4 x 4 blocks inside each 128-bit lane, two vpermt2d stages move
    /// the lanes.
    @inline(__always)
    static func transpose16(_ r: (Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z))
        -> (Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z) {
        @inline(__always) func lo32(_ a: Z, _ b: Z) -> Z { _mm512_unpacklo_epi32(a, b) }
        @inline(__always) func hi32(_ a: Z, _ b: Z) -> Z { _mm512_unpackhi_epi32(a, b) }
        @inline(__always) func lo64(_ a: Z, _ b: Z) -> Z { _mm512_unpacklo_epi64(a, b) }
        @inline(__always) func hi64(_ a: Z, _ b: Z) -> Z { _mm512_unpackhi_epi64(a, b) }
        // rows 4R..4R+3: x_j's lane L holds column 4L + j of those rows
        @inline(__always) func quad(_ a: Z, _ b: Z, _ c: Z, _ d: Z) -> (Z, Z, Z, Z) {
            let t0 = lo32(a, b), t1 = hi32(a, b), t2 = lo32(c, d), t3 = hi32(c, d)
            return (lo64(t0, t2), hi64(t0, t2), lo64(t1, t3), hi64(t1, t3))
        }
        let x0 = quad(r.0, r.1, r.2, r.3), x1 = quad(r.4, r.5, r.6, r.7), x2 = quad(r.8, r.9, r.10, r.11), x3 = quad(r.12, r.13, r.14, r.15)
        @inline(__always) func idx(_ a: Int32, _ b: Int32, _ c: Int32, _ d: Int32) -> Z {
            let v = SIMD16<Int32>(a, a + 1, a + 2, a + 3, b, b + 1, b + 2, b + 3, c, c + 1, c + 2, c + 3, d, d + 1, d + 2, d + 3)
            return unsafeBitCast(v, to: Z.self)
        }
        let lanes01 = idx(0, 4, 16, 20), lanes23 = idx(8, 12, 24, 28), even = idx(0, 8, 16, 24), odd = idx(4, 12, 20, 28)
        @inline(__always) func perm(_ a: Z, _ i: Z, _ b: Z) -> Z { _mm512_permutex2var_epi32(a, i, b) }
        // column 4L + j: lane R of the result is x_R.j's lane L
        @inline(__always) func columns(_ a: Z, _ b: Z, _ c: Z, _ d: Z) -> (Z, Z, Z, Z) {
            let p = perm(a, lanes01, b), q = perm(c, lanes01, d), p2 = perm(a, lanes23, b), q2 = perm(c, lanes23, d)
            return (perm(p, even, q), perm(p, odd, q), perm(p2, even, q2), perm(p2, odd, q2))
        }
        let c0 = columns(x0.0, x1.0, x2.0, x3.0), c1 = columns(x0.1, x1.1, x2.1, x3.1)
        let c2 = columns(x0.2, x1.2, x2.2, x3.2), c3 = columns(x0.3, x1.3, x2.3, x3.3)
        // c_j = (column j, 4 + j, 8 + j, 12 + j)
        return (c0.0, c1.0, c2.0, c3.0, c0.1, c1.1, c2.1, c3.1, c0.2, c1.2, c2.2, c3.2, c0.3, c1.3, c2.3, c3.3)
    }
}
#endif
