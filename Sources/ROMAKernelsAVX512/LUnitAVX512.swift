#if arch(x86_64)
import _Builtin_intrinsics.intel

/// A packed-code shape the AVX-512 kernels are specialized for (constant bits and group size).
protocol CodeShape { static var bits: Int { get }; static var group: Int { get } }
enum Int4G32: CodeShape { static var bits: Int { 4 }; static var group: Int { 32 } }
enum Int2G32: CodeShape { static var bits: Int { 2 }; static var group: Int { 32 } }
enum Int4G64: CodeShape { static var bits: Int { 4 }; static var group: Int { 64 } }
enum Int2G64: CodeShape { static var bits: Int { 2 }; static var group: Int { 64 } }
enum Int4G128: CodeShape { static var bits: Int { 4 }; static var group: Int { 128 } }
enum Int2G128: CodeShape { static var bits: Int { 2 }; static var group: Int { 128 } }
enum Int4G256: CodeShape { static var bits: Int { 4 }; static var group: Int { 256 } }
enum Int2G256: CodeShape { static var bits: Int { 2 }; static var group: Int { 256 } }

/// The L-Unit compute cells on AVX-512 VNNI, exact like the portable kernels. This module is compiled
/// for Ice Lake server (AVX-512 F/BW/DQ/VL/VNNI, Package.swift) and runs only when
/// `KernelPath.selected` is `.avx512vnni`.
///
/// Every product is vpdpwssd: Int16 code x Int16 aligned activation (|a| <= 2047), adjacent pairs
/// summed into Int32 lanes (|pair| <= 2·15·2047: exact, no saturation).
/// - Prefill: sixteen tokens in the lanes. The activations are interleaved as column pairs
///   (`ActivationLayout.blocked`: [block, group, G/2 pairs, 16 tokens, 2]), a row's codes widened to
///   Int16 once per group and each code pair broadcast from memory, so one instruction does 32 MACs for
///   16 tokens of one row and the dot products land in the token lanes: no horizontal sums.
/// - Decode (one token): the codes as bytes against the byte-split activations on vpdpbusd, eight
///   rows at a time with the rows in the lanes (`LUnitAVX512Decode.swift`).
enum LUnitAVX512 {
    typealias Z = SIMD8<Int64>   // __m512i
    typealias Y = SIMD4<Int64>   // __m256i
    typealias X = SIMD2<Int64>   // __m128i

    @inline(__always) static func loadZ(_ p: UnsafeRawPointer) -> Z { p.loadUnaligned(as: Z.self) }
    @inline(__always) static func loadY(_ p: UnsafeRawPointer) -> Y { p.loadUnaligned(as: Y.self) }
    @inline(__always) static func loadX(_ p: UnsafeRawPointer) -> X { p.loadUnaligned(as: X.self) }

    /// Per-lane shift counts for vpsrlvw: eight Int16 lanes of each of the four 128-bit quarters.
    @inline(__always)
    static func shifts(_ a: Int16, _ b: Int16, _ c: Int16, _ d: Int16) -> Z {
        let q = SIMD32<Int16>(lowHalf: SIMD16(lowHalf: .init(repeating: a), highHalf: .init(repeating: b)),
                              highHalf: SIMD16(lowHalf: .init(repeating: c), highHalf: .init(repeating: d)))
        return unsafeBitCast(q, to: Z.self)
    }

    /// 32 codes widened to Int16 for the 32 consecutive columns starting at `column` of the group,
    /// for every slice of one packed group, in column order within each slice.
    /// 4-bit groups store byte j = code j | code j+G/2 << 4; 2-bit groups byte j = codes j, j+G/4,
    /// j+G/2, j+3G/4 in bits 0-1, 2-3, 4-5, 6-7.
    @inline(__always)
    static func forEachSlice<S: CodeShape>(_ g: UnsafePointer<UInt8>, _: S.Type, _ body: (Z, Int) -> Void) {
        let G = S.group
        if S.bits == 4 {
            if G == 32 {
                // 16 bytes: low nibbles are columns 0-15, high nibbles 16-31
                let y = _mm256_cvtepu8_epi16(loadX(g))
                let z = _mm512_srlv_epi16(Z(lowHalf: y, highHalf: y), shifts(0, 0, 4, 4))
                body(_mm512_and_si512(z, _mm512_set1_epi16(0x0F)), 0)
            } else {
                var c = 0
                while c < G / 2 {
                    let z = _mm512_cvtepu8_epi16(loadY(g + c))
                    body(_mm512_and_si512(z, _mm512_set1_epi16(0x0F)), c)
                    body(_mm512_srli_epi16(z, 4), G / 2 + c)
                    c += 32
                }
            }
        } else {
            let m = _mm512_set1_epi16(3)
            if G == 32 {
                // 8 bytes: bit pairs 0-3 are columns 0-7, 8-15, 16-23, 24-31
                let x = _mm_cvtepu8_epi16(X(Int64(bitPattern: UnsafeRawPointer(g).loadUnaligned(as: UInt64.self)), 0))
                let y = Y(lowHalf: x, highHalf: x)
                body(_mm512_and_si512(_mm512_srlv_epi16(Z(lowHalf: y, highHalf: y), shifts(0, 2, 4, 6)), m), 0)
            } else if G == 64 {
                // 16 bytes: bit pairs are columns 0-15, 16-31, 32-47, 48-63
                let y = _mm256_cvtepu8_epi16(loadX(g))
                let z = Z(lowHalf: y, highHalf: y)
                body(_mm512_and_si512(_mm512_srlv_epi16(z, shifts(0, 0, 2, 2)), m), 0)
                body(_mm512_and_si512(_mm512_srlv_epi16(z, shifts(4, 4, 6, 6)), m), 32)
            } else {
                let q = G / 4
                var c = 0
                while c < q {
                    let z = _mm512_cvtepu8_epi16(loadY(g + c))
                    body(_mm512_and_si512(z, m), c)
                    body(_mm512_and_si512(_mm512_srli_epi16(z, 2), m), q + c)
                    body(_mm512_and_si512(_mm512_srli_epi16(z, 4), m), 2 * q + c)
                    body(_mm512_srli_epi16(z, 6), 3 * q + c)
                    c += 32
                }
            }
        }
    }

    /// A group's codes minus its zero point, w − z, as Int16 in column order into `w` [G]: then
    /// Σ a·(w − z) = dot − vsum·z exactly (|w − z| <= 15), Eq. 1's integer part in one product.
    @inline(__always)
    static func widen<S: CodeShape>(_ g: UnsafePointer<UInt8>, _ s: S.Type, zero: UInt8, into w: UnsafeMutablePointer<Int16>) {
        let zv = _mm512_set1_epi16(Int16(zero))
        forEachSlice(g, s) { z, c in UnsafeMutableRawPointer(w + c).storeBytes(of: _mm512_sub_epi16(z, zv), as: Z.self) }
    }

    /// `FP16.round` in the lanes (round to nearest even, back to FP32): the same bits.
    @inline(__always)
    static func roundFP16(_ v: SIMD16<Float>) -> SIMD16<Float> {
        var u = v
        for i in 0..<16 { u[i] = Float(Float16(v[i])) }
        return u
    }

    // MARK: prefill: sixteen tokens in the lanes, four rows at a time

    /// Rows r0..r0+3 of 2- or 4-bit codes against one block of sixteen tokens (`blk`: the block's
    /// interleaved activations, [group, G/2, 16, 2]; `pow2`: [group, 16]). Returns the four rows'
    /// sums, lane i = token i: Eq. 1's FP32 epilogue, (Float(dot − vsum·z) · s) · 2^(max_exp − Bias),
    /// added in group order (the operations and order of the portable kernels); dot − vsum·z is one
    /// product with the codes minus the zero point (`widen`). `rc`, `sc`, `zp` point at
    /// the four rows' codes, scales and zero points; `w` is scratch for 4·G Int16 codes.
    @inline(__always)
    static func rows4x16<S: CodeShape>(_ s: S.Type, rc: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>),
                                       sc: (UnsafePointer<UInt16>, UnsafePointer<UInt16>, UnsafePointer<UInt16>, UnsafePointer<UInt16>),
                                       zp: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>),
                                       gpr: Int, blk: UnsafePointer<Int16>, pow2: UnsafePointer<Float>,
                                       table: UnsafePointer<Float>, w: UnsafeMutablePointer<Int16>)
        -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        let G = S.group, groupBytes = G * S.bits / 8
        var o0 = SIMD16<Float>(), o1 = SIMD16<Float>(), o2 = SIMD16<Float>(), o3 = SIMD16<Float>()
        let w0 = UnsafeRawPointer(w), w1 = UnsafeRawPointer(w + G), w2 = UnsafeRawPointer(w + 2 * G), w3 = UnsafeRawPointer(w + 3 * G)
        for g in 0..<gpr {
            widen(rc.0 + g &* groupBytes, s, zero: zp.0[g], into: w); widen(rc.1 + g &* groupBytes, s, zero: zp.1[g], into: w + G)
            widen(rc.2 + g &* groupBytes, s, zero: zp.2[g], into: w + 2 * G); widen(rc.3 + g &* groupBytes, s, zero: zp.3[g], into: w + 3 * G)
            // two accumulators per row (even and odd column pairs): eight independent vpdpwssd chains
            // keep the multipliers busy through the instruction's latency; integer sums, exact
            let zero = Z()
            var d0 = zero, d1 = zero, d2 = zero, d3 = zero, e0 = zero, e1 = zero, e2 = zero, e3 = zero
            let a = UnsafeRawPointer(blk + g &* 16 &* G)
            @inline(__always) func pair(_ w: UnsafeRawPointer, _ off: Int) -> Z { _mm512_set1_epi32(w.loadUnaligned(fromByteOffset: off, as: Int32.self)) }
            var k = 0
            while k < G / 2 {
                let x = loadZ(a + k &* 64), y = loadZ(a + (k &* 64 &+ 64))
                let off = k &* 4
                d0 = _mm512_dpwssd_epi32(d0, x, pair(w0, off)); d1 = _mm512_dpwssd_epi32(d1, x, pair(w1, off))
                d2 = _mm512_dpwssd_epi32(d2, x, pair(w2, off)); d3 = _mm512_dpwssd_epi32(d3, x, pair(w3, off))
                e0 = _mm512_dpwssd_epi32(e0, y, pair(w0, off &+ 4)); e1 = _mm512_dpwssd_epi32(e1, y, pair(w1, off &+ 4))
                e2 = _mm512_dpwssd_epi32(e2, y, pair(w2, off &+ 4)); e3 = _mm512_dpwssd_epi32(e3, y, pair(w3, off &+ 4))
                k &+= 2
            }
            d0 = _mm512_add_epi32(d0, e0); d1 = _mm512_add_epi32(d1, e1); d2 = _mm512_add_epi32(d2, e2); d3 = _mm512_add_epi32(d3, e3)
            let p2 = UnsafeRawPointer(pow2 + g &* 16).loadUnaligned(as: SIMD16<Float>.self)
            @inline(__always) func eq1(_ n: Z, _ sp: UnsafePointer<UInt16>) -> SIMD16<Float> {   // n = dot − vsum·z
                _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(n), _mm512_set1_ps(table[Int(UInt16(littleEndian: sp[g]))])), p2)
            }
            o0 = _mm512_add_ps(o0, eq1(d0, sc.0)); o1 = _mm512_add_ps(o1, eq1(d1, sc.1))
            o2 = _mm512_add_ps(o2, eq1(d2, sc.2)); o3 = _mm512_add_ps(o3, eq1(d3, sc.3))
        }
        return (o0, o1, o2, o3)
    }

    /// `rows4x16` for two consecutive blocks at once (`blk` and `pow2` at the first; the second
    /// follows at + 16·cols, + 16·gpr): each code pair broadcast is used for 32 tokens, so a vpdpwssd
    /// needs 0.75 loads instead of 1.25, and the eight accumulators are eight independent chains.
    /// Returns row i's sums for block 0 in .i and for block 1 in .(4 + i).
    @inline(__always)
    static func rows4x32<S: CodeShape>(_ s: S.Type, rc: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>),
                                       sc: (UnsafePointer<UInt16>, UnsafePointer<UInt16>, UnsafePointer<UInt16>, UnsafePointer<UInt16>),
                                       zp: (UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>, UnsafePointer<UInt8>),
                                       gpr: Int, cols: Int, blk: UnsafePointer<Int16>, pow2: UnsafePointer<Float>,
                                       table: UnsafePointer<Float>, w: UnsafeMutablePointer<Int16>)
        -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        let G = S.group, groupBytes = G * S.bits / 8
        typealias F = SIMD16<Float>
        var o = (F(), F(), F(), F(), F(), F(), F(), F())
        let w0 = UnsafeRawPointer(w), w1 = UnsafeRawPointer(w + G), w2 = UnsafeRawPointer(w + 2 * G), w3 = UnsafeRawPointer(w + 3 * G)
        let blk1 = blk + 16 &* cols, pow21 = pow2 + 16 &* gpr
        for g in 0..<gpr {
            widen(rc.0 + g &* groupBytes, s, zero: zp.0[g], into: w); widen(rc.1 + g &* groupBytes, s, zero: zp.1[g], into: w + G)
            widen(rc.2 + g &* groupBytes, s, zero: zp.2[g], into: w + 2 * G); widen(rc.3 + g &* groupBytes, s, zero: zp.3[g], into: w + 3 * G)
            let zero = Z()
            var d0 = zero, d1 = zero, d2 = zero, d3 = zero, e0 = zero, e1 = zero, e2 = zero, e3 = zero
            let a = UnsafeRawPointer(blk + g &* 16 &* G), b = UnsafeRawPointer(blk1 + g &* 16 &* G)
            @inline(__always) func pair(_ w: UnsafeRawPointer, _ off: Int) -> Z { _mm512_set1_epi32(w.loadUnaligned(fromByteOffset: off, as: Int32.self)) }
            for k in 0..<(G / 2) {
                let x = loadZ(a + k &* 64), y = loadZ(b + k &* 64)
                let off = k &* 4
                let c0 = pair(w0, off), c1 = pair(w1, off), c2 = pair(w2, off), c3 = pair(w3, off)
                d0 = _mm512_dpwssd_epi32(d0, x, c0); d1 = _mm512_dpwssd_epi32(d1, x, c1)
                d2 = _mm512_dpwssd_epi32(d2, x, c2); d3 = _mm512_dpwssd_epi32(d3, x, c3)
                e0 = _mm512_dpwssd_epi32(e0, y, c0); e1 = _mm512_dpwssd_epi32(e1, y, c1)
                e2 = _mm512_dpwssd_epi32(e2, y, c2); e3 = _mm512_dpwssd_epi32(e3, y, c3)
            }
            let p2A = UnsafeRawPointer(pow2 + g &* 16).loadUnaligned(as: F.self), p2B = UnsafeRawPointer(pow21 + g &* 16).loadUnaligned(as: F.self)
            @inline(__always) func eq1(_ n: Z, _ p2: F, _ sp: UnsafePointer<UInt16>) -> F {   // n = dot − vsum·z
                _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(n), _mm512_set1_ps(table[Int(UInt16(littleEndian: sp[g]))])), p2)
            }
            o.0 = _mm512_add_ps(o.0, eq1(d0, p2A, sc.0)); o.1 = _mm512_add_ps(o.1, eq1(d1, p2A, sc.1))
            o.2 = _mm512_add_ps(o.2, eq1(d2, p2A, sc.2)); o.3 = _mm512_add_ps(o.3, eq1(d3, p2A, sc.3))
            o.4 = _mm512_add_ps(o.4, eq1(e0, p2B, sc.0)); o.5 = _mm512_add_ps(o.5, eq1(e1, p2B, sc.1))
            o.6 = _mm512_add_ps(o.6, eq1(e2, p2B, sc.2)); o.7 = _mm512_add_ps(o.7, eq1(e3, p2B, sc.3))
        }
        return o
    }

    /// Codes minus zero points (`widen`) of `n` consecutive rows, every group, into `w` [n, cols]:
    /// done once per slice of rows, then read by every block of tokens (`rows8x32`).
    @inline(__always)
    static func widenRows<S: CodeShape>(_ s: S.Type, codes: UnsafePointer<UInt8>, zeros: UnsafePointer<UInt8>, rows n: Int, gpr: Int,
                                        into w: UnsafeMutablePointer<Int16>) {
        let G = S.group, groupBytes = G * S.bits / 8
        for r in 0..<n {
            for g in 0..<gpr { widen(codes + (r &* gpr &+ g) &* groupBytes, s, zero: zeros[r &* gpr &+ g], into: w + (r &* gpr &+ g) &* G) }
        }
    }

    /// `rows4x32` for eight rows (their widened codes at `w`, row stride `cols`; their scales at `sc`,
    /// row stride `gpr`): sixteen independent vpdpwssd chains, each code pair broadcast once for 32
    /// tokens and each activation vector loaded once for eight rows (0.625 loads per vpdpwssd instead of
    /// 0.75, no widening per block). The FP32 sums are in `acc` [16, 16] (row i, block 0 at 16·i,
    /// block 1 at 16·(8 + i)), added per group in group order: `rows4x32`'s operations and order.
    @inline(__always)
    static func rows8x32<S: CodeShape>(_ s: S.Type, w: UnsafePointer<Int16>, sc: UnsafePointer<UInt16>, gpr: Int, cols: Int,
                                       blk: UnsafePointer<Int16>, pow2: UnsafePointer<Float>, table: UnsafePointer<Float>,
                                       acc: UnsafeMutablePointer<Float>) {
        let G = S.group
        typealias F = SIMD16<Float>
        let blk1 = blk + 16 &* cols, pow21 = pow2 + 16 &* gpr
        for g in 0..<gpr {
            let zero = Z()
            var d0 = zero, d1 = zero, d2 = zero, d3 = zero, d4 = zero, d5 = zero, d6 = zero, d7 = zero
            var e0 = zero, e1 = zero, e2 = zero, e3 = zero, e4 = zero, e5 = zero, e6 = zero, e7 = zero
            let a = UnsafeRawPointer(blk + g &* 16 &* G), b = UnsafeRawPointer(blk1 + g &* 16 &* G)
            let wg = UnsafeRawPointer(w + g &* G), rs = cols &* 2
            @inline(__always) func pair(_ row: Int, _ off: Int) -> Z {
                _mm512_set1_epi32(wg.loadUnaligned(fromByteOffset: row &* rs &+ off, as: Int32.self))
            }
            for k in 0..<(G / 2) {
                let x = loadZ(a + k &* 64), y = loadZ(b + k &* 64)
                let off = k &* 4
                let c0 = pair(0, off), c1 = pair(1, off), c2 = pair(2, off), c3 = pair(3, off)
                d0 = _mm512_dpwssd_epi32(d0, x, c0); e0 = _mm512_dpwssd_epi32(e0, y, c0)
                d1 = _mm512_dpwssd_epi32(d1, x, c1); e1 = _mm512_dpwssd_epi32(e1, y, c1)
                d2 = _mm512_dpwssd_epi32(d2, x, c2); e2 = _mm512_dpwssd_epi32(e2, y, c2)
                d3 = _mm512_dpwssd_epi32(d3, x, c3); e3 = _mm512_dpwssd_epi32(e3, y, c3)
                let c4 = pair(4, off), c5 = pair(5, off), c6 = pair(6, off), c7 = pair(7, off)
                d4 = _mm512_dpwssd_epi32(d4, x, c4); e4 = _mm512_dpwssd_epi32(e4, y, c4)
                d5 = _mm512_dpwssd_epi32(d5, x, c5); e5 = _mm512_dpwssd_epi32(e5, y, c5)
                d6 = _mm512_dpwssd_epi32(d6, x, c6); e6 = _mm512_dpwssd_epi32(e6, y, c6)
                d7 = _mm512_dpwssd_epi32(d7, x, c7); e7 = _mm512_dpwssd_epi32(e7, y, c7)
            }
            let p2A = UnsafeRawPointer(pow2 + g &* 16).loadUnaligned(as: F.self), p2B = UnsafeRawPointer(pow21 + g &* 16).loadUnaligned(as: F.self)
            @inline(__always) func eq1(_ i: Int, _ n: Z, _ m: Z) {   // n, m = dot − vsum·z of row i, blocks 0 and 1
                let sv = _mm512_set1_ps(table[Int(UInt16(littleEndian: sc[i &* gpr &+ g]))])
                let o = UnsafeMutableRawPointer(acc + i &* 16), q = UnsafeMutableRawPointer(acc + (8 &+ i) &* 16)
                let so = g == 0 ? F() : o.load(as: F.self), sq = g == 0 ? F() : q.load(as: F.self)   // the sums start at 0
                o.storeBytes(of: _mm512_add_ps(so, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(n), sv), p2A)), as: F.self)
                q.storeBytes(of: _mm512_add_ps(sq, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(m), sv), p2B)), as: F.self)
            }
            eq1(0, d0, e0); eq1(1, d1, e1); eq1(2, d2, e2); eq1(3, d3, e3); eq1(4, d4, e4); eq1(5, d5, e5); eq1(6, d6, e6); eq1(7, d7, e7)
        }
    }

    /// Stores four rows' results for sixteen tokens into [T, rows] (`out` at token 0, row 0 of the
    /// four; `stride` floats per token): a 4 x 16 transpose, then one 4-float store per token.
    @inline(__always)
    static func store4x16(_ o: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _ out: UnsafeMutablePointer<Float>, stride: Int) {
        typealias F = SIMD16<Float>
        @inline(__always) func ps(_ x: SIMD8<Double>) -> F { unsafeBitCast(x, to: F.self) }
        // within each 128-bit lane q: t0 = (o0[4q], o1[4q], o0[4q+1], o1[4q+1]), ...
        let t0 = _mm512_unpacklo_ps(o.0, o.1), t1 = _mm512_unpackhi_ps(o.0, o.1)
        let t2 = _mm512_unpacklo_ps(o.2, o.3), t3 = _mm512_unpackhi_ps(o.2, o.3)
        @inline(__always) func d(_ x: F) -> SIMD8<Double> { unsafeBitCast(x, to: SIMD8<Double>.self) }
        // u_j's lane q holds token 4q + j: (o0, o1, o2, o3) at that token
        let u0 = ps(_mm512_unpacklo_pd(d(t0), d(t2))), u1 = ps(_mm512_unpackhi_pd(d(t0), d(t2)))
        let u2 = ps(_mm512_unpacklo_pd(d(t1), d(t3))), u3 = ps(_mm512_unpackhi_pd(d(t1), d(t3)))
        @inline(__always) func put(_ u: F, _ j: Int) {
            UnsafeMutableRawPointer(out + j &* stride).storeBytes(of: u.lowHalf.lowHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(out + (4 &+ j) &* stride).storeBytes(of: u.lowHalf.highHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(out + (8 &+ j) &* stride).storeBytes(of: u.highHalf.lowHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(out + (12 &+ j) &* stride).storeBytes(of: u.highHalf.highHalf, as: SIMD4<Float>.self)
        }
        put(u0, 0); put(u1, 1); put(u2, 2); put(u3, 3)
    }

    // MARK: decode: one token

    /// Lane i = the sum of the sixteen Int32 lanes of d_i (integer adds: exact in any order).
    @inline(__always)
    static func reduce8(_ d: (Z, Z, Z, Z, Z, Z, Z, Z)) -> Y {
        @inline(__always) func half(_ z: Z) -> Y { _mm256_add_epi32(z.lowHalf, z.highHalf) }
        let (d0, d1, d2, d3, d4, d5, d6, d7) = (half(d.0), half(d.1), half(d.2), half(d.3), half(d.4), half(d.5), half(d.6), half(d.7))
        let x = _mm256_hadd_epi32(_mm256_hadd_epi32(d0, d1), _mm256_hadd_epi32(d2, d3))
        let y = _mm256_hadd_epi32(_mm256_hadd_epi32(d4, d5), _mm256_hadd_epi32(d6, d7))
        let pair = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
        let s = _mm256_hadd_epi32(_mm256_permutevar8x32_epi32(x, pair), _mm256_permutevar8x32_epi32(y, pair))
        return _mm256_permutevar8x32_epi32(s, _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7))
    }

    /// Eq. 1's epilogue over a row's groups, whose Int32 dot-product lanes `dot(g)` gives: eight groups'
    /// dot products are reduced together and their epilogues, (Float(dot − vsum·z) · s) · 2^(max_exp − Bias),
    /// run in the lanes; the eight results are then added to the row sum one by one (group order).
    @inline(__always)
    static func rowEpilogue(gpr: Int, vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                            zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>, _ dot: (Int) -> Z) -> Float {
        var acc: Float = 0
        var g = 0
        while g &+ 8 <= gpr {
            let dots = reduce8((dot(g), dot(g &+ 1), dot(g &+ 2), dot(g &+ 3), dot(g &+ 4), dot(g &+ 5), dot(g &+ 6), dot(g &+ 7)))
            let z = _mm256_cvtepu8_epi32(X(Int64(bitPattern: UnsafeRawPointer(zeros + g).loadUnaligned(as: UInt64.self)), 0))
            let n = _mm256_sub_epi32(dots, _mm256_mullo_epi32(loadY(vsum + g), z))
            // the scales by vcvtph2ps: exact, `FP16.table`'s values (see `rows8Split`)
            let f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), _mm256_cvtph_ps(loadX(scales + g))), _mm256_loadu_ps(pow2 + g))
            acc += f[0]; acc += f[1]; acc += f[2]; acc += f[3]; acc += f[4]; acc += f[5]; acc += f[6]; acc += f[7]
            g &+= 8
        }
        while g < gpr {
            let d = _mm512_reduce_add_epi32(dot(g))
            acc += Float(d &- vsum[g] &* Int32(zeros[g])) * table[Int(UInt16(littleEndian: scales[g]))] * pow2[g]
            g &+= 1
        }
        return acc
    }
}
#endif
