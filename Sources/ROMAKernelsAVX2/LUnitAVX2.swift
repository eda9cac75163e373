#if arch(x86_64)
import _Builtin_intrinsics.intel
import ROMANumerics
import CROMACPU

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
/// - Blocks of eight tokens (prefill): a slice's codes minus zero points widened to Int16 once, each
///   code pair broadcast against a column pair of eight tokens on vpmaddwd (|(w − z)·a| <= 15·2047,
///   pair sums fit Int32), four rows and two blocks at a time (`rows4x16`); the dot products land in
///   the token lanes.
/// - One token, shapes other than 4-bit group 64: codes widened to Int16 against the token's Int16
///   values on vpmaddwd.
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

    /// Eight rows, one token, with the rows in the lanes: for each group in order, the eight rows' dot
    /// products (`groupDot(g)`: Int32 lanes of each row's group g) are reduced together (lane i = row
    /// i) and Eq. 1's epilogue, (Float(dot − vsum·z) · s) · 2^(max_exp − Bias), runs in the lanes and
    /// is added to the lane's row sum, from 0: per row `rowSum`'s operations in its order, with no
    /// chain of scalar adds. `scales`, `zeros` at the first row, `gpr` apart.
    @inline(__always)
    static func rows8(gpr: Int, vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                      zeros: UnsafePointer<UInt8>, _ groupDot: (Int) -> (M, M, M, M, M, M, M, M)) -> SIMD8<Float> {
        var acc = _mm256_setzero_ps()
        for g in 0..<gpr {
            let d = groupDot(g)
            let dots = reduce8(d.0, d.1, d.2, d.3, d.4, d.5, d.6, d.7)
            // the eight rows' zero points and scales gathered in general registers (shifts and ors on
            // the integer ALUs, not element inserts on the vector pipes the products need)
            @inline(__always) func z(_ i: Int) -> UInt64 { UInt64(zeros[i &* gpr &+ g]) &<< UInt64(8 &* i) }
            @inline(__always) func sc(_ i: Int) -> UInt64 { UInt64(UInt16(littleEndian: scales[i &* gpr &+ g])) &<< UInt64(16 &* (i & 3)) }
            let z8 = z(0) | z(1) | z(2) | z(3) | z(4) | z(5) | z(6) | z(7)
            let zv = _mm256_cvtepu8_epi32(SIMD2<Int64>(Int64(bitPattern: z8), 0))
            // the scales by vcvtph2ps, as in `rowSum` (`scales8`)
            let s03 = sc(0) | sc(1) | sc(2) | sc(3), s47 = sc(4) | sc(5) | sc(6) | sc(7)
            let sv = _mm256_cvtph_ps(SIMD2<Int64>(Int64(bitPattern: s03), Int64(bitPattern: s47)))
            let n = _mm256_sub_epi32(dots, _mm256_mullo_epi32(_mm256_set1_epi32(vsum[g]), zv))
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), sv), _mm256_set1_ps(pow2[g])))
        }
        return acc
    }

    /// How far ahead the decode cells ask for the codes they will read (`roma_prefetch`): 16 rows of
    /// one stream, a few KiB, about a DRAM latency at the rate one core streams them.
    static let prefetchRows = 16

    /// `rows8` for 4-bit group-64 codes on the 8-bit multipliers (`dot` over the byte split); the
    /// rows' codes at `rc`, `rowBytes` apart (eight rows are one contiguous run of 8 · rowBytes bytes,
    /// 256 bytes a group: each group's step prefetches four lines of the run `prefetchRows` rows on).
    @inline(__always)
    static func rows8x64(codes rc: UnsafePointer<UInt8>, rowBytes rb: Int, hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>, gpr: Int,
                         vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>, scales: UnsafePointer<UInt16>,
                         zeros: UnsafePointer<UInt8>) -> SIMD8<Float> {
        let ahead = rc + prefetchRows &* rb, rb3 = 3 &* rb
        let runBytesPerGroup: Int = 8 &* 32   // eight rows' share of the run per group: gpr of them cover 8 · rb bytes
        return rows8(gpr: gpr, vsum: vsum, pow2: pow2, scales: scales, zeros: zeros) { g in
            let pf = ahead + g &* runBytesPerGroup
            roma_prefetch(pf); roma_prefetch(pf + 64); roma_prefetch(pf + 128); roma_prefetch(pf + 192)
            let h = hi + g &* 64, l = lo + g &* 64
            let c = rc + g &* 32, c4 = c + 4 &* rb
            @inline(__always) func row(_ p: UnsafePointer<UInt8>) -> M { let (w0, w1) = codes(p); return dot(w0, w1, h, l) }
            return (row(c), row(c + rb), row(c + 2 &* rb), row(c + rb3), row(c4), row(c4 + rb), row(c4 + 2 &* rb), row(c4 + rb3))
        }
    }

    /// Sixteen rows of 4-bit group-64 codes in a panel (`RowPanels`), one token, with the rows in the
    /// Int16 lanes of vpmaddubsw: each 32-byte load is sixteen rows' code pairs for columns (2j, 2j + 1)
    /// (low nibbles) and (2j + 32, 2j + 33) (high), each multiplied by that column pair of the byte
    /// split broadcast to every lane, so a group leaves Σ w·h and Σ w·l of every row in the lanes: no
    /// horizontal sums. The Int16 sums are exact with wrapping adds: |Σ w·h| <= 64·15·32 = 30720 and
    /// 0 <= Σ w·l <= 64·15·63 = 60480 (read as unsigned), and a pair from vpmaddubsw stays within
    /// 2·15·63 (no saturation). Then dot = 64·Σ w·h + Σ w·l and Eq. 1's epilogue as `rows8` runs it,
    /// per row in its order: rows 0-7 in the first result, 8-15 in the second.
    @inline(__always)
    static func rows16x64(panel pc: UnsafePointer<UInt16>, scales ps: UnsafePointer<UInt16>, zeros pz: UnsafePointer<UInt8>,
                          hi: UnsafePointer<Int8>, lo: UnsafePointer<Int8>, gpr: Int,
                          vsum: UnsafePointer<Int32>, pow2: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
        let m = _mm256_set1_epi8(0x0F)
        for g in 0..<gpr {
            let w = UnsafeRawPointer(pc + g &* 256)   // 512 bytes a group
            let ahead = w + panelPrefetchBytes
            for line in stride(from: 0, to: 512, by: 64) { roma_prefetch(ahead + line) }
            let h = UnsafeRawPointer(hi + g &* 64), l = UnsafeRawPointer(lo + g &* 64)
            @inline(__always) func pair(_ p: UnsafeRawPointer, _ q: Int) -> M { _mm256_set1_epi16(p.loadUnaligned(fromByteOffset: 2 &* q, as: Int16.self)) }
            // two chains of sums per half, so that consecutive words do not wait on each other's adds
            var h0 = _mm256_setzero_si256(), l0 = _mm256_setzero_si256(), h1 = _mm256_setzero_si256(), l1 = _mm256_setzero_si256()
            @inline(__always) func word(_ j: Int, _ sh: inout M, _ sl: inout M) {
                let c = w.loadUnaligned(fromByteOffset: j &* 32, as: M.self)
                let c0 = _mm256_and_si256(c, m), c1 = _mm256_and_si256(_mm256_srli_epi16(c, 4), m)
                sh = _mm256_add_epi16(sh, _mm256_add_epi16(_mm256_maddubs_epi16(c0, pair(h, j)), _mm256_maddubs_epi16(c1, pair(h, j &+ 16))))
                sl = _mm256_add_epi16(sl, _mm256_add_epi16(_mm256_maddubs_epi16(c0, pair(l, j)), _mm256_maddubs_epi16(c1, pair(l, j &+ 16))))
            }
            for j in stride(from: 0, to: 16, by: 2) { word(j, &h0, &l0); word(j &+ 1, &h1, &l1) }
            let sh = _mm256_add_epi16(h0, h1), sl = _mm256_add_epi16(l0, l1)
            @inline(__always) func dot(_ hh: SIMD2<Int64>, _ ll: SIMD2<Int64>) -> M {
                _mm256_add_epi32(_mm256_slli_epi32(_mm256_cvtepi16_epi32(hh), 6), _mm256_cvtepu16_epi32(ll))
            }
            let z = UnsafeRawPointer(pz + g &* 16).loadUnaligned(as: SIMD2<Int64>.self)
            let s = UnsafeRawPointer(ps + g &* 16)
            let vs = _mm256_set1_epi32(vsum[g]), p2 = _mm256_set1_ps(pow2[g])
            @inline(__always) func eq1(_ d: M, _ z8: SIMD2<Int64>, _ s8: SIMD2<Int64>) -> SIMD8<Float> {
                let n = _mm256_sub_epi32(d, _mm256_mullo_epi32(vs, _mm256_cvtepu8_epi32(z8)))
                return _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), _mm256_cvtph_ps(s8)), p2)
            }
            acc0 = _mm256_add_ps(acc0, eq1(dot(sh.lowHalf, sl.lowHalf), z, s.loadUnaligned(as: SIMD2<Int64>.self)))
            acc1 = _mm256_add_ps(acc1, eq1(dot(sh.highHalf, sl.highHalf), SIMD2(z[1], 0), s.loadUnaligned(fromByteOffset: 16, as: SIMD2<Int64>.self)))
        }
        return (acc0, acc1)
    }

    /// How far ahead `rows16x64` asks for panel codes: eight groups of one panel (4 KiB).
    static let panelPrefetchBytes = 4096

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

    /// A group's codes minus its zero point, w − z, as Int16 in column order into `w` [G]: then
    /// Σ a·(w − z) = dot − vsum·z exactly (|w − z| <= 15), Eq. 1's integer part in one product.
    @inline(__always)
    static func widen<S: CodeShape>(_ g: UnsafePointer<UInt8>, _ s: S.Type, zero: UInt8, into w: UnsafeMutablePointer<Int16>) {
        let zv = _mm256_set1_epi16(Int16(zero))
        @inline(__always) func put(_ v: M, _ o: Int) { UnsafeMutableRawPointer(w + o).storeBytes(of: _mm256_sub_epi16(v, zv), as: M.self) }
        for st in 0..<(S.group / 64) {
            let k = chunk(g, step: st, s)
            put(k.w0, k.o0); put(k.w1, k.o1); put(k.w2, k.o2); put(k.w3, k.o3)
        }
    }

    /// Codes minus zero points (`widen`) of n rows from `first`, every group, into `w` [n, cols]; rows
    /// past `last` repeat it (padding to whole sets of four, computed and not stored). Done once per
    /// slice of rows, then read by every pair of token blocks (`rows4x16`).
    @inline(__always)
    static func widenRows<S: CodeShape>(_ s: S.Type, codes: UnsafePointer<UInt8>, zeros: UnsafePointer<UInt8>, first: Int, last: Int, n: Int,
                                        gpr: Int, into w: UnsafeMutablePointer<Int16>) {
        let G = S.group, groupBytes = G * S.bits / 8
        for i in 0..<n {
            let r = Swift.min(first &+ i, last)
            for g in 0..<gpr { widen(codes + (r &* gpr &+ g) &* groupBytes, s, zero: zeros[r &* gpr &+ g], into: w + (i &* gpr &+ g) &* G) }
        }
    }

    /// Group g of four rows (their widened codes at `w`, row stride `cols`; their scales at `sc`) against
    /// two blocks of eight tokens (`blkA`, `blkB` in the pair-interleaved layout [group, G/2, 8, 2];
    /// `pow2A`, `pow2B` [group, 8]), one token per Int32 lane: each code pair is broadcast and
    /// multiplied with a column pair of eight tokens (vpmaddwd), so the dot products land in the token
    /// lanes with no horizontal sums; eight independent accumulator chains, 0.75 loads per vpmaddwd.
    /// Eq. 1's FP32 epilogue, (Float(dot − vsum·z) · s) · 2^(max_exp − Bias), is added to the sums in
    /// `acc` [8, 8] (row i's block A at 8·i, block B at 8·(4 + i)), group 0 to 0; called in group order,
    /// these are the operations and order of the portable kernels.
    @inline(__always)
    static func rows4x16<S: CodeShape>(_: S.Type, w: UnsafePointer<Int16>, cols: Int,
                                       sc: (UnsafePointer<UInt16>, UnsafePointer<UInt16>, UnsafePointer<UInt16>, UnsafePointer<UInt16>),
                                       group g: Int, blkA: UnsafePointer<Int16>, blkB: UnsafePointer<Int16>,
                                       pow2A: UnsafePointer<Float>, pow2B: UnsafePointer<Float>,
                                       table: UnsafePointer<Float>, acc: UnsafeMutablePointer<Float>) {
        let G = S.group
        typealias F = SIMD8<Float>
        let z = _mm256_setzero_si256()
        var d0 = z, d1 = z, d2 = z, d3 = z, e0 = z, e1 = z, e2 = z, e3 = z
        let a = UnsafeRawPointer(blkA + g &* 8 &* G), b = UnsafeRawPointer(blkB + g &* 8 &* G)
        let wg = UnsafeRawPointer(w + g &* G), rs = cols &* 2
        @inline(__always) func pair(_ row: Int, _ off: Int) -> M {
            _mm256_set1_epi32(wg.loadUnaligned(fromByteOffset: row &* rs &+ off, as: Int32.self))
        }
        for k in 0..<(G / 2) {
            let x = load(a + k &* 32), y = load(b + k &* 32)
            let off = k &* 4
            let c0 = pair(0, off), c1 = pair(1, off)
            d0 = _mm256_add_epi32(d0, _mm256_madd_epi16(x, c0)); e0 = _mm256_add_epi32(e0, _mm256_madd_epi16(y, c0))
            d1 = _mm256_add_epi32(d1, _mm256_madd_epi16(x, c1)); e1 = _mm256_add_epi32(e1, _mm256_madd_epi16(y, c1))
            let c2 = pair(2, off), c3 = pair(3, off)
            d2 = _mm256_add_epi32(d2, _mm256_madd_epi16(x, c2)); e2 = _mm256_add_epi32(e2, _mm256_madd_epi16(y, c2))
            d3 = _mm256_add_epi32(d3, _mm256_madd_epi16(x, c3)); e3 = _mm256_add_epi32(e3, _mm256_madd_epi16(y, c3))
        }
        let pA = loadF32(pow2A + g &* 8), pB = loadF32(pow2B + g &* 8)
        @inline(__always) func eq1(_ i: Int, _ sp: UnsafePointer<UInt16>, _ n: M, _ m: M) {   // n, m = dot − vsum·z, blocks A and B
            let sv = _mm256_set1_ps(table[Int(UInt16(littleEndian: sp[g]))])
            let o = UnsafeMutableRawPointer(acc + i &* 8), q = UnsafeMutableRawPointer(acc + (4 &+ i) &* 8)
            let so = g == 0 ? F() : o.load(as: F.self), sq = g == 0 ? F() : q.load(as: F.self)   // the sums start at 0
            o.storeBytes(of: _mm256_add_ps(so, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(n), sv), pA)), as: F.self)
            q.storeBytes(of: _mm256_add_ps(sq, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(m), sv), pB)), as: F.self)
        }
        eq1(0, sc.0, d0, e0); eq1(1, sc.1, d1, e1); eq1(2, sc.2, d2, e2); eq1(3, sc.3, d3, e3)
    }

    /// `FP16.round` in the lanes (round to nearest even, back to FP32): the same bits (vcvtps2ph).
    @inline(__always)
    static func roundFP16(_ v: SIMD8<Float>) -> SIMD8<Float> {
        var u = v
        for i in 0..<8 { u[i] = Float(Float16(v[i])) }
        return u
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
