import ROMANumerics

/// The AVX-512 VNNI path's entry points (`KernelPath.avx512vnni`): pointers and integers in, so the
/// caller, compiled for any baseline, shares their calling convention.
public enum LUnitAVX512Cells {
    /// Tokens per prefill block (one per Int32 lane of a zmm register).
    public static let blockTokens = 16
    /// From this many tokens on, a product runs on blocks of sixteen (the last one padded with zero
    /// tokens); below it each token streams the rows alone.
    public static let minBlockedTokens = 4

    /// Code shapes with AVX-512 compute cells; the others run the portable kernels.
    public static func handles(bits: Int, group: Int) -> Bool {
        #if arch(x86_64)
        return (bits == 4 || bits == 2) && (group == 32 || group == 64 || group == 128 || group == 256)
        #else
        return false
        #endif
    }

    /// Rows `p.rowStart..<p.rowEnd` of one product, every token: the blocks of sixteen tokens two blocks and
    /// eight rows at a time over codes widened once per slice (`rows8x32`), the rows left over two blocks
    /// and four rows at a time (the blocks' activations stay in L1/L2 across the rows), then the single tokens (all of
    /// them in decode, when there are fewer than `minBlockedTokens`) eight rows at a time on the byte
    /// split (`rows8Split`).
    public static func computeRows(_ p: LUnitCells) {
        #if arch(x86_64)
        switch (p.bits, p.groupSize) {
        case (4, 32): computeRows(p, Int4G32.self)
        case (2, 32): computeRows(p, Int2G32.self)
        case (4, 64): computeRows(p, Int4G64.self)
        case (2, 64): computeRows(p, Int2G64.self)
        case (4, 128): computeRows(p, Int4G128.self)
        case (2, 128): computeRows(p, Int2G128.self)
        case (4, 256): computeRows(p, Int4G256.self)
        case (2, 256): computeRows(p, Int2G256.self)
        default: preconditionFailure("no AVX-512 cells for \(p.bits)-bit group \(p.groupSize)")
        }
        #else
        preconditionFailure("no AVX-512 cells on this architecture")
        #endif
    }

    #if arch(x86_64)
    static func computeRows<S: CodeShape>(_ p: LUnitCells, _ s: S.Type) {
        let x = p.x, cols = p.cols, gpr = cols / S.group, rowBytes = cols * S.bits / 8
        let codes = p.codes, scales = p.scales, zeros = p.zeros, table = p.table
        let o = p.out, outStride = p.outStride, roundToFP16 = p.roundToFP16
        if x.blocks > 0 {
            let w = UnsafeMutablePointer<Int16>.allocate(capacity: 4 * S.group)
            // the slice's codes minus zero points, widened once for every block (`rows8x32`)
            // (only with a pair of blocks: `rows8x32` runs on pairs)
            let n8 = x.blocks > 1 ? (p.rowEnd - p.rowStart) / 8 * 8 : 0
            let wide = UnsafeMutablePointer<Int16>.allocate(capacity: max(1, n8 * cols))
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: 16 * 16)
            defer { w.deallocate(); wide.deallocate(); acc.deallocate() }
            if n8 > 0 {
                LUnitAVX512.widenRows(s, codes: codes + p.rowStart * rowBytes, zeros: zeros + p.rowStart * gpr, rows: n8, gpr: gpr, into: wide)
            }
            var b = 0
            while b < x.blocks {
                let blk = x.blocked + b * 16 * cols, p2 = x.pow2B + b * 16 * gpr
                let pairOfBlocks = b + 1 < x.blocks
                var r = p.rowStart
                while r < p.rowEnd {
                    // four rows; past the slice's end the last row is repeated and its copies not stored
                    let rs = (r, min(r + 1, p.rowEnd - 1), min(r + 2, p.rowEnd - 1), min(r + 3, p.rowEnd - 1))
                    let rc = (codes + rs.0 * rowBytes, codes + rs.1 * rowBytes, codes + rs.2 * rowBytes, codes + rs.3 * rowBytes)
                    let sc = (scales + rs.0 * gpr, scales + rs.1 * gpr, scales + rs.2 * gpr, scales + rs.3 * gpr)
                    let zp = (zeros + rs.0 * gpr, zeros + rs.1 * gpr, zeros + rs.2 * gpr, zeros + rs.3 * gpr)
                    @inline(__always) func round(_ v: SIMD16<Float>) -> SIMD16<Float> { roundToFP16 ? LUnitAVX512.roundFP16(v) : v }
                    @inline(__always) func store(_ v: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), block: Int, row r: Int) {
                        let u = (round(v.0), round(v.1), round(v.2), round(v.3))
                        let live = min(16, x.tokens - block * 16)
                        if live == 16 && r + 4 <= p.rowEnd {
                            return LUnitAVX512.store4x16(u, o + block * 16 * outStride + r, stride: outStride)
                        }
                        for j in 0..<min(4, p.rowEnd - r) {
                            let row = j == 0 ? u.0 : j == 1 ? u.1 : j == 2 ? u.2 : u.3
                            for i in 0..<live { o[(block * 16 + i) * outStride + r + j] = row[i] }
                        }
                    }
                    if pairOfBlocks && r + 8 <= p.rowStart + n8 {
                        LUnitAVX512.rows8x32(s, w: wide + (r - p.rowStart) * cols, sc: scales + r * gpr, gpr: gpr, cols: cols, blk: blk, pow2: p2,
                                             table: table, acc: acc)
                        @inline(__always) func a(_ i: Int) -> SIMD16<Float> { UnsafeRawPointer(acc + i * 16).load(as: SIMD16<Float>.self) }
                        store((a(0), a(1), a(2), a(3)), block: b, row: r); store((a(4), a(5), a(6), a(7)), block: b, row: r + 4)
                        store((a(8), a(9), a(10), a(11)), block: b + 1, row: r); store((a(12), a(13), a(14), a(15)), block: b + 1, row: r + 4)
                        r += 8
                        continue
                    }
                    if pairOfBlocks {
                        let res = LUnitAVX512.rows4x32(s, rc: rc, sc: sc, zp: zp, gpr: gpr, cols: cols, blk: blk, pow2: p2, table: table, w: w)
                        store((res.0, res.1, res.2, res.3), block: b, row: r); store((res.4, res.5, res.6, res.7), block: b + 1, row: r)
                    } else {
                        let res = LUnitAVX512.rows4x16(s, rc: rc, sc: sc, zp: zp, gpr: gpr, blk: blk, pow2: p2, table: table, w: w)
                        store(res, block: b, row: r)
                    }
                    r += 4
                }
                b += pairOfBlocks ? 2 : 1
            }
        }
        for tok in x.blockedTokens..<x.tokens {
            let i = tok - x.blockedTokens
            let hi = x.hi8 + i * cols, lo = x.lo8 + i * cols, vs = x.vsum + tok * gpr, p2 = x.pow2 + tok * gpr
            var r = p.rowStart
            while r < p.rowEnd {
                // eight rows; the last eight of the slice may reach back into rows already done, or into the
                // slice before (read, not stored); a tensor of fewer than eight rows goes row by row
                let r0 = min(r, p.rowEnd - 8)
                guard r0 >= 0 else {
                    for q in r..<p.rowEnd {
                        let a = LUnitAVX512.row1Split(s, codes: codes + q * rowBytes, gpr: gpr, hi: hi, lo: lo, vsum: vs, pow2: p2,
                                                      scales: scales + q * gpr, zeros: zeros + q * gpr, table: table)
                        o[tok * outStride + q] = roundToFP16 ? FP16.round(a) : a
                    }
                    break
                }
                let a = LUnitAVX512.rows8Split(s, codes: codes + r0 * rowBytes, rowBytes: rowBytes, gpr: gpr, hi: hi, lo: lo, vsum: vs, pow2: p2,
                                               scales: scales + r0 * gpr, zeros: zeros + r0 * gpr)
                for j in (r - r0)..<8 { o[tok * outStride + r0 + j] = roundToFP16 ? FP16.round(a[j]) : a[j] }
                r = r0 + 8
            }
        }
    }
    #endif
}

extension LUnitAVX512Cells {
    /// The instruction's own peak, for `roma bench lunit`: `iterations` x 12 independent vpdpwssd on
    /// registers (12 chains hide the latency; each multiplies its own accumulator, so nothing is
    /// loop-invariant), 32 MACs each. Returns the MAC count (and a value that
    /// keeps the work observable).
    public static func peakMACs(iterations: Int) -> (macs: Int, sink: Int32) {
        #if arch(x86_64)
        return LUnitAVX512.peak(iterations)
        #else
        return (0, 0)
        #endif
    }
}

#if arch(x86_64)
import _Builtin_intrinsics.intel
extension LUnitAVX512 {
    @inline(never)
    static func peak(_ n: Int) -> (macs: Int, sink: Int32) {
        let a = _mm512_set1_epi16(3), b = _mm512_set1_epi16(5)
        var d = (a, a, a, a, a, a, a, a, a, a, a, a)
        for _ in 0..<n {
            d.0 = _mm512_dpwssd_epi32(d.0, d.0, b); d.1 = _mm512_dpwssd_epi32(d.1, d.1, b); d.2 = _mm512_dpwssd_epi32(d.2, d.2, b)
            d.3 = _mm512_dpwssd_epi32(d.3, d.3, b); d.4 = _mm512_dpwssd_epi32(d.4, d.4, b); d.5 = _mm512_dpwssd_epi32(d.5, d.5, b)
            d.6 = _mm512_dpwssd_epi32(d.6, d.6, b); d.7 = _mm512_dpwssd_epi32(d.7, d.7, b); d.8 = _mm512_dpwssd_epi32(d.8, d.8, b)
            d.9 = _mm512_dpwssd_epi32(d.9, d.9, b); d.10 = _mm512_dpwssd_epi32(d.10, d.10, b); d.11 = _mm512_dpwssd_epi32(d.11, d.11, b)
        }
        // no arrays or generic library code in this module: their specializations would be weak symbols that
        // the linker may share with modules built for the baseline CPU (scripts/check-kernel-symbols.sh)
        let a01 = _mm512_add_epi32(d.0, d.1), a23 = _mm512_add_epi32(d.2, d.3), a45 = _mm512_add_epi32(d.4, d.5)
        let a67 = _mm512_add_epi32(d.6, d.7), a89 = _mm512_add_epi32(d.8, d.9), aAB = _mm512_add_epi32(d.10, d.11)
        let s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a01, a23), _mm512_add_epi32(a45, a67)), _mm512_add_epi32(a89, aAB))
        return (n * 12 * 32, _mm512_reduce_add_epi32(s))
    }
}
#endif
