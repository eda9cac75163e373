import ROMANumerics

/// The AVX2 path's entry points (`KernelPath.avx2`): pointers and integers in, so the caller, compiled
/// for any baseline, shares their calling convention.
public enum LUnitAVX2Cells {
    /// Code shapes with AVX2 compute cells; the others run the portable kernels.
    public static func handles(bits: Int, group: Int) -> Bool {
        #if arch(x86_64)
        return (bits == 4 || bits == 2) && (group == 64 || group == 128 || group == 256)
        #else
        return false
        #endif
    }

    /// Tokens per prefill block (one per Int32 lane of a ymm register).
    public static let blockTokens = 8

    /// Rows `p.rowStart..<p.rowEnd` of one product, every token: blocks of eight tokens one per lane,
    /// two blocks and four rows at a time over the slice's codes widened once (`computeBlocks`), then
    /// the remaining tokens (all of them in decode) one at a time: 4-bit group 64 on the 8-bit
    /// multipliers sixteen rows at a time from the tensor's panels (`rows16x64`, `RowPanels`), the
    /// rows no panel holds eight at a time with the rows in the lanes (`rows8x64`; row by row in a
    /// tensor of fewer than eight rows), the other shapes row by row on vpmaddwd.
    public static func computeRows(_ p: LUnitCells) {
        #if !arch(x86_64)
        preconditionFailure("no AVX2 cells on this architecture")
        #else
        switch (p.bits, p.groupSize) {
        case (4, 64): computeRows(p, Int4G64.self)
        case (2, 64): computeRows(p, Int2G64.self)
        case (4, 128): computeRows(p, Int4G128.self)
        case (2, 128): computeRows(p, Int2G128.self)
        case (4, 256): computeRows(p, Int4G256.self)
        case (2, 256): computeRows(p, Int2G256.self)
        default: preconditionFailure("no AVX2 cells for \(p.bits)-bit group \(p.groupSize)")
        }
        #endif
    }

    #if arch(x86_64)
    static func computeRows<S: CodeShape>(_ p: LUnitCells, _: S.Type) {
        let x = p.x, cols = p.cols, gpr = cols / S.group, rowBytes = cols * S.bits / 8
        let codes = p.codes, scales = p.scales, zeros = p.zeros, table = p.table
        let o = p.out, outStride = p.outStride, roundToFP16 = p.roundToFP16
        if x.blocks > 0 { computeBlocks(p, S.self) }
        for tok in x.blockedTokens..<x.tokens {
            let vs = x.vsum + tok * gpr, p2 = x.pow2 + tok * gpr
            let hi = x.hi8 + (tok - x.blockedTokens) * cols, lo = x.lo8 + (tok - x.blockedTokens) * cols
            var r = p.rowStart
            while r < p.rowEnd {
                // 4-bit group 64 in whole panels of sixteen rows, when the tensor has them
                let n = RowPanels.rows
                if S.bits == 4 && S.group == 64, let pn = p.panels, r % n == 0, r + n <= p.rowEnd, r / n < pn.count {
                    let q = r / n, words = n * S.group / 4   // a panel's 16-bit words per group
                    let (a, b) = LUnitAVX2.rows16x64(panel: pn.codes + q * gpr * words, scales: pn.scales + q * gpr * n, zeros: pn.zeros + q * gpr * n,
                                                     hi: hi, lo: lo, gpr: gpr, vsum: vs, pow2: p2)
                    let o0 = o + tok * outStride + r
                    UnsafeMutableRawPointer(o0).storeBytes(of: roundToFP16 ? LUnitAVX2.roundFP16(a) : a, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(o0 + 8).storeBytes(of: roundToFP16 ? LUnitAVX2.roundFP16(b) : b, as: SIMD8<Float>.self)
                    r += n
                    continue
                }
                // 4-bit group 64: eight rows at a time, rows in the lanes; the last eight of the slice may
                // reach back into rows already done or into the slice before (read, not stored)
                let r0 = p.rowEnd - 8 < r ? p.rowEnd - 8 : r
                if S.bits == 4 && S.group == 64 && r0 >= 0 {
                    let a = LUnitAVX2.rows8x64(codes: codes + r0 * rowBytes, rowBytes: rowBytes, hi: hi, lo: lo, gpr: gpr, vsum: vs, pow2: p2,
                                               scales: scales + r0 * gpr, zeros: zeros + r0 * gpr)
                    let v = roundToFP16 ? LUnitAVX2.roundFP16(a) : a
                    for j in (r - r0)..<8 { o[tok * outStride + r0 + j] = v[j] }
                    r = r0 + 8
                    continue
                }
                let a: Float
                if S.bits == 4 && S.group == 64 {
                    a = LUnitAVX2.row64(codes: codes + r * rowBytes, hi: hi, lo: lo, gpr: gpr, vsum: vs, pow2: p2,
                                        scales: scales + r * gpr, zeros: zeros + r * gpr, table: table)
                } else {
                    a = LUnitAVX2.row1Token(S.self, codes: codes + r * rowBytes, gpr: gpr, v: x.values + tok * cols, vsum: vs, pow2: p2,
                                            scales: scales + r * gpr, zeros: zeros + r * gpr, table: table)
                }
                o[tok * outStride + r] = roundToFP16 ? FP16.round(a) : a
                r += 1
            }
        }
    }

    /// The blocks of eight tokens: the slice's codes minus zero points widened once (padded to a
    /// multiple of four rows by repeating the last), then for each pair of blocks (an odd last block
    /// paired with itself) and each four rows `LUnitAVX2.rows4x16`, whose sums `storeBlocks` stores
    /// for the real rows.
    static func computeBlocks<S: CodeShape>(_ p: LUnitCells, _ s: S.Type) {
        let x = p.x, cols = p.cols, gpr = cols / S.group
        let scales = p.scales
        let n = p.rowEnd - p.rowStart, n4 = (n + 3) / 4 * 4, last = p.rowEnd - 1
        let wide = UnsafeMutableRawPointer.allocate(byteCount: n4 * cols * 2, alignment: 64).bindMemory(to: Int16.self, capacity: n4 * cols)
        let acc = UnsafeMutableRawPointer.allocate(byteCount: n4 * 16 * 4, alignment: 64).bindMemory(to: Float.self, capacity: n4 * 16)
        defer { wide.deallocate(); acc.deallocate() }
        LUnitAVX2.widenRows(s, codes: p.codes, zeros: p.zeros, first: p.rowStart, last: last, n: n4, gpr: gpr, into: wide)
        var b = 0
        while b < x.blocks {
            let b1 = Swift.min(b + 1, x.blocks - 1)
            let blkA = x.blocked + b * 8 * cols, blkB = x.blocked + b1 * 8 * cols
            let p2A = x.pow2B + b * 8 * gpr, p2B = x.pow2B + b1 * 8 * gpr
            // group by group over every four rows: a group's activations (2 KiB) and codes stay in L1
            for g in 0..<gpr {
                var q = 0
                while q < n {
                    @inline(__always) func sc(_ i: Int) -> UnsafePointer<UInt16> { scales + Swift.min(p.rowStart + q + i, last) * gpr }
                    LUnitAVX2.rows4x16(s, w: wide + q * cols, cols: cols, sc: (sc(0), sc(1), sc(2), sc(3)), group: g, blkA: blkA, blkB: blkB,
                                       pow2A: p2A, pow2B: p2B, table: p.table, acc: acc + q * 16)
                    q += 4
                }
            }
            storeBlocks(p, acc: acc, n: n, b, b1)
            b += 2
        }
    }

    /// The sums of a pair of blocks (`acc`, as `rows4x16` leaves them) into the output rows, FP16-rounded
    /// when asked: eight rows at a time by an 8 x 8 transpose, one 32-byte store per token; the rows
    /// after the last eight one token at a time. `b1 == b` (an odd last block): block B is not stored.
    @inline(__always)
    static func storeBlocks(_ p: LUnitCells, acc: UnsafeMutablePointer<Float>, n: Int, _ b: Int, _ b1: Int) {
        let o = p.out, outStride = p.outStride, roundToFP16 = p.roundToFP16
        @inline(__always) func sums(_ v: SIMD8<Float>) -> SIMD8<Float> { roundToFP16 ? LUnitAVX2.roundFP16(v) : v }
        let halves = b1 != b ? 2 : 1
        var q = 0
        while q + 8 <= n {
            let aq = acc + q * 16
            for h in 0..<halves {   // row i of the eight: quad i / 4 (16 floats a row pair apart), block h
                @inline(__always) func row(_ i: Int) -> SIMD8<Float> { sums(LUnitAVX2.loadF32(aq + (i >> 2) * 64 + (4 * h + (i & 3)) * 8)) }
                let t = AVX2Lanes.transpose8(row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
                let d = UnsafeMutableRawPointer(o + ((h == 0 ? b : b1) * 8) * outStride + p.rowStart + q), step = outStride * 4
                d.storeBytes(of: t.0, as: SIMD8<Float>.self); d.storeBytes(of: t.1, toByteOffset: step, as: SIMD8<Float>.self)
                d.storeBytes(of: t.2, toByteOffset: 2 * step, as: SIMD8<Float>.self); d.storeBytes(of: t.3, toByteOffset: 3 * step, as: SIMD8<Float>.self)
                d.storeBytes(of: t.4, toByteOffset: 4 * step, as: SIMD8<Float>.self); d.storeBytes(of: t.5, toByteOffset: 5 * step, as: SIMD8<Float>.self)
                d.storeBytes(of: t.6, toByteOffset: 6 * step, as: SIMD8<Float>.self); d.storeBytes(of: t.7, toByteOffset: 7 * step, as: SIMD8<Float>.self)
            }
            q += 8
        }
        while q < n {
            let r = p.rowStart + q, aq = acc + (q & ~3) * 16, i = q & 3
            for h in 0..<halves {
                let v = sums(LUnitAVX2.loadF32(aq + (4 * h + i) * 8)), blk = h == 0 ? b : b1
                for t in 0..<8 { o[(blk * 8 + t) * outStride + r] = v[t] }
            }
            q += 1
        }
    }
    #endif

    /// The alignment unit with truncating shifts over one group (count a multiple of 16): `LUnit.align`'s
    /// integers into `values`; returns (max_exp, vsum).
    public static func alignTruncate(_ h: UnsafePointer<UInt16>, count: Int, values: UnsafeMutablePointer<Int16>) -> (maxExp: Int, vsum: Int32) {
        #if arch(x86_64)
        return LUnitAVX2.alignTruncate(h, count: count, values: values)
        #else
        preconditionFailure("no AVX2 alignment unit on this architecture")
        #endif
    }

    /// The byte split a = 64·hi + lo of `count` aligned activations (the decode cells' input).
    public static func split(_ v: UnsafePointer<Int16>, count: Int, hi: UnsafeMutablePointer<Int8>, lo: UnsafeMutablePointer<Int8>) {
        #if arch(x86_64)
        LUnitAVX2.split(v, count: count, hi: hi, lo: lo)
        #else
        preconditionFailure("no AVX2 cells on this architecture")
        #endif
    }
}

extension LUnitAVX2Cells {
    /// The instructions' own peak, for `roma bench lunit`: `iterations` x 12 independent
    /// vpmaddwd + vpaddd pairs on registers (each multiplying its own accumulator, so nothing is
    /// loop-invariant), 16 MACs each. Returns the MAC count (and a value that keeps
    /// the work observable).
    public static func peakMACs(iterations: Int) -> (macs: Int, sink: Int32) {
        #if arch(x86_64)
        return LUnitAVX2.peak(iterations)
        #else
        return (0, 0)
        #endif
    }
}

#if arch(x86_64)
import _Builtin_intrinsics.intel
extension LUnitAVX2 {
    @inline(never)
    static func peak(_ n: Int) -> (macs: Int, sink: Int32) {
        let b = _mm256_set1_epi16(5)
        let o = _mm256_set1_epi32(1)
        var d = (o, o, o, o, o, o, o, o, o, o, o, o)
        @inline(__always) func mac(_ x: M) -> M { _mm256_add_epi32(x, _mm256_madd_epi16(x, b)) }
        for _ in 0..<n {
            d.0 = mac(d.0); d.1 = mac(d.1); d.2 = mac(d.2); d.3 = mac(d.3); d.4 = mac(d.4); d.5 = mac(d.5)
            d.6 = mac(d.6); d.7 = mac(d.7); d.8 = mac(d.8); d.9 = mac(d.9); d.10 = mac(d.10); d.11 = mac(d.11)
        }
        let s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(d.0, d.1), _mm256_add_epi32(d.2, d.3)),
                                                  _mm256_add_epi32(_mm256_add_epi32(d.4, d.5), _mm256_add_epi32(d.6, d.7))),
                                 _mm256_add_epi32(_mm256_add_epi32(d.8, d.9), _mm256_add_epi32(d.10, d.11)))
        return (n * 12 * 16, unsafeBitCast(s, to: SIMD8<Int32>.self).wrappedSum())
    }
}
#endif
