#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Decode on AVX-512 VNNI: one token against a row's packed codes, on the 8-bit multipliers.
/// The token's aligned activations come byte-split, a = 64·h + l (`ActivationLayout.hi8`/`lo8`,
/// h in [-32, 31], l in [0, 63]); a group's codes are unpacked to bytes in column order, 64 per zmm,
/// and vpdpbusd (unsigned code byte x signed activation byte, four adjacent products summed into an
/// Int32 lane, no saturation) gives Σ w·h and Σ w·l, so dot = 64·Σ w·h + Σ w·l exactly: the same
/// integers as an Int16 product (vpdpwssd, as in prefill) with half the code bytes per register, so the same bits.
extension LUnitAVX512 {
    /// The codes of one packed group as bytes in column order, 64 columns per call of `body` (the
    /// column offset in the group is its second argument). 4-bit: byte j = code j | code j+G/2 << 4;
    /// 2-bit: byte j = codes j, j+G/4, j+G/2, j+3G/4 in bits 0-1, 2-3, 4-5, 6-7. Group 32 has one
    /// 32-column slice (`codeBytes32`).
    @inline(__always)
    static func forEachCodeBytes<S: CodeShape>(_ g: UnsafePointer<UInt8>, _: S.Type, _ body: (Z, Int) -> Void) {
        let G = S.group
        if S.bits == 4 {
            let m = _mm512_set1_epi8(0x0F)
            if G == 64 {
                // 32 bytes in both halves; the upper half's high nibbles are columns 32-63
                let y = loadY(g)
                body(_mm512_and_si512(_mm512_srlv_epi16(Z(lowHalf: y, highHalf: y), shifts(0, 0, 4, 4)), m), 0)
            } else {
                var c = 0
                while c < G / 2 {
                    let z = loadZ(g + c)
                    body(_mm512_and_si512(z, m), c)
                    body(_mm512_and_si512(_mm512_srli_epi16(z, 4), m), G / 2 + c)
                    c += 64
                }
            }
        } else {
            let m = _mm512_set1_epi8(3)
            if G == 64 {
                // 16 bytes in every quarter; quarter q's bit pair q holds columns 16q..16q+15
                let x = loadX(g), y = Y(lowHalf: x, highHalf: x)
                body(_mm512_and_si512(_mm512_srlv_epi16(Z(lowHalf: y, highHalf: y), shifts(0, 2, 4, 6)), m), 0)
            } else if G == 128 {
                // 32 bytes in both halves: bit pairs 0, 1 are columns 0-63, bit pairs 2, 3 columns 64-127
                let y = loadY(g), z = Z(lowHalf: y, highHalf: y)
                body(_mm512_and_si512(_mm512_srlv_epi16(z, shifts(0, 0, 2, 2)), m), 0)
                body(_mm512_and_si512(_mm512_srlv_epi16(z, shifts(4, 4, 6, 6)), m), 64)
            } else {
                let q = G / 4
                var c = 0
                while c < q {
                    let z = loadZ(g + c)
                    body(_mm512_and_si512(z, m), c)
                    body(_mm512_and_si512(_mm512_srli_epi16(z, 2), m), q + c)
                    body(_mm512_and_si512(_mm512_srli_epi16(z, 4), m), 2 * q + c)
                    body(_mm512_and_si512(_mm512_srli_epi16(z, 6), m), 3 * q + c)
                    c += 64
                }
            }
        }
    }

    /// A 32-group's codes as 32 bytes in column order (4-bit: low nibbles are columns 0-15, high
    /// nibbles 16-31; 2-bit: bit pair q of the 8 bytes is columns 8q..8q+7).
    @inline(__always)
    static func codeBytes32<S: CodeShape>(_ g: UnsafePointer<UInt8>, _: S.Type) -> Y {
        if S.bits == 4 {
            let x = loadX(g)
            return _mm256_and_si256(_mm256_srlv_epi16(Y(lowHalf: x, highHalf: x), _mm256_setr_epi64x(0, 0, 0x0004_0004_0004_0004, 0x0004_0004_0004_0004)),
                                    _mm256_set1_epi8(0x0F))
        }
        let q = _mm256_set1_epi64x(Int64(bitPattern: UnsafeRawPointer(g).loadUnaligned(as: UInt64.self)))
        return _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 2, 4, 6)), _mm256_set1_epi8(3))
    }

    /// Int32 lanes summing to Σ code·a over one group of one token (`hi`, `lo`: the group's first
    /// column of the byte split): Σ w·h over the group, times 64, then Σ w·l added on the same lanes.
    @inline(__always)
    static func groupDotSplit<S: CodeShape>(_ g: UnsafePointer<UInt8>, _ s: S.Type, _ hi: UnsafePointer<Int8>, _ lo: UnsafePointer<Int8>) -> Z {
        if S.group == 32 {
            let w = codeBytes32(g, s)
            let h = _mm256_maskz_dpbusd_epi32(0xFF, Y(), w, loadY(hi))
            return Z(lowHalf: _mm256_maskz_dpbusd_epi32(0xFF, _mm256_slli_epi32(h, 6), w, loadY(lo)), highHalf: Y())
        }
        var h = Z(), l = Z()
        forEachCodeBytes(g, s) { w, c in
            h = _mm512_dpbusd_epi32(h, w, loadZ(hi + c))
            l = _mm512_dpbusd_epi32(l, w, loadZ(lo + c))
        }
        return _mm512_add_epi32(_mm512_slli_epi32(h, 6), l)
    }

    /// One row, one token, on the byte split (`rowEpilogue` over `groupDotSplit`): tensors of fewer than eight rows.
    @inline(__always)
    static func row1Split<S: CodeShape>(_ s: S.Type, codes rc: UnsafePointer<UInt8>, gpr: Int, hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>,
                                        vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                                        zeros: UnsafePointer<UInt8>, table: UnsafePointer<Float>) -> Float {
        let G = S.group, groupBytes = G * S.bits / 8
        @inline(__always) func dot(_ g: Int) -> Z { groupDotSplit(rc + g &* groupBytes, s, hi + g &* G, lo + g &* G) }
        return rowEpilogue(gpr: gpr, vsum: vsum, pow2: pow2, scales: scales, zeros: zeros, table: table, dot)
    }

    /// Eight rows (`rc`, `scales`, `zeros` at the first; `rowBytes` and `gpr` apart), one token, on the
    /// byte split, with the rows in the lanes: for each group in order, the eight rows' dot products
    /// are reduced together (lane i = row i) and Eq. 1's epilogue, (Float(dot − vsum·z) · s) · 2^(max_exp − Bias),
    /// runs in the lanes and is added to the lane's row sum. Per row these are `rowEpilogue`'s
    /// operations in its order (no horizontal adds: the eight sums run side by side).
    @inline(__always)
    static func rows8Split<S: CodeShape>(_ s: S.Type, codes rc: UnsafePointer<UInt8>, rowBytes: Int, gpr: Int,
                                         hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>, vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>,
                                         scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt8>) -> SIMD8<Float> {
        let G = S.group, groupBytes = G * S.bits / 8
        var acc = SIMD8<Float>()
        for g in 0..<gpr {
            let c = rc + g &* groupBytes, h = hi + g &* G, l = lo + g &* G
            @inline(__always) func dot(_ i: Int) -> Z { groupDotSplit(c + i &* rowBytes, s, h, l) }
            let dots = reduce8((dot(0), dot(1), dot(2), dot(3), dot(4), dot(5), dot(6), dot(7)))
            @inline(__always) func z(_ i: Int) -> UInt8 { zeros[i &* gpr &+ g] }
            @inline(__always) func sc(_ i: Int) -> UInt16 { UInt16(littleEndian: scales[i &* gpr &+ g]) }
            let zv = _mm256_cvtepu8_epi32(unsafeBitCast(SIMD16<UInt8>(z(0), z(1), z(2), z(3), z(4), z(5), z(6), z(7), 0, 0, 0, 0, 0, 0, 0, 0), to: X.self))
            // the eight scales by vcvtph2ps: FP16 -> FP32 is exact, the same values as `FP16.table` (a NaN
            // comes out quieted, as the first multiply quiets the table's: the products' bits agree), and
            // no lookups into the 256 KiB table evicting the codes from L1 in a decode
            let sv = _mm256_cvtph_ps(unsafeBitCast(SIMD8<UInt16>(sc(0), sc(1), sc(2), sc(3), sc(4), sc(5), sc(6), sc(7)), to: X.self))
            let n = _mm256_sub_epi32(dots, _mm256_mullo_epi32(_mm256_set1_epi32(vsum[g]), zv))
            let f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), sv), _mm256_set1_ps(pow2[g]))
            acc = _mm256_add_ps(acc, f)
        }
        return acc
    }
}
#endif
