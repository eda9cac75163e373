#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The alignment unit (Sec. III-B) on AVX2, for every token it aligns (the prefill blocks' and each
/// decode step's, on the AVX-512 path too): one token's activations to FP16
/// bits (vcvtps2ph, round to nearest even: `FP16.fromFloat`'s bits) and through `alignTruncate`; and a
/// block of eight tokens copied into the cells' interleaved layout by 8 x 8 transposes of column pairs
/// instead of one 4-byte store per pair.
extension LUnitAVX2Cells {
    /// Token `x` [cols] (FP16 values held as FP32) through the alignment unit: `values` [cols],
    /// `vsum` and `maxExp` [cols / groupSize]. `bits` is scratch for `groupSize` UInt16.
    /// groupSize must be a multiple of 16.
    public static func alignToken(_ x: UnsafePointer<Float>, cols: Int, groupSize G: Int, bits: UnsafeMutablePointer<UInt16>,
                                  values: UnsafeMutablePointer<Int16>, vsum: UnsafeMutablePointer<Int32>, maxExp: UnsafeMutablePointer<Int32>) {
        #if arch(x86_64)
        var g = 0
        while g &* G < cols {
            let xg = x + g &* G
            // round to nearest even (vectorized by the compiler into vcvtps2ph)
            for i in 0..<G { bits[i] = Float16(xg[i]).bitPattern }
            let (e, s) = LUnitAVX2.alignTruncate(bits, count: G, values: values + g &* G)
            maxExp[g] = Int32(e); vsum[g] = s
            g &+= 1
        }
        #else
        preconditionFailure("no AVX2 alignment unit on this architecture")
        #endif
    }

    /// Eight tokens' aligned values (`values` at the first, rows `cols` apart) into one block of the
    /// prefill layout (`blocked` at the block: [group, G/2 column pairs, 8 tokens, 2] of
    /// `ActivationLayout.blocked`). The AVX2 blocks are whole (the tokens after them are not blocked), so
    /// all eight are read. groupSize must be a multiple of 16 (eight column pairs per transpose).
    public static func layOutBlock(_ values: UnsafePointer<Int16>, cols: Int, groupSize G: Int, blocked: UnsafeMutablePointer<Int16>) {
        #if arch(x86_64)
        precondition(G % 16 == 0, "layOutBlock: groups of a multiple of 16 columns")
        let ng = cols / G, rowBytes = 2 &* cols
        for g in 0..<ng {
            let groupStart: Int = g &* 8 &* G
            let dst = UnsafeMutableRawPointer(blocked + groupStart)
            var kc = 0
            while kc < G / 2 {   // eight column pairs of the eight tokens: an 8 x 8 transpose of UInt32 pairs
                let first: Int = g &* G &+ 2 &* kc
                let src = UnsafeRawPointer(values + first)
                @inline(__always) func row(_ i: Int) -> SIMD8<Float> { src.loadUnaligned(fromByteOffset: i &* rowBytes, as: SIMD8<Float>.self) }
                let c = AVX2Lanes.transpose8(row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
                let d: UnsafeMutableRawPointer = dst + kc &* 32
                @inline(__always) func put(_ v: SIMD8<Float>, _ k: Int) { d.storeBytes(of: v, toByteOffset: k &* 32, as: SIMD8<Float>.self) }
                put(c.0, 0); put(c.1, 1); put(c.2, 2); put(c.3, 3); put(c.4, 4); put(c.5, 5); put(c.6, 6); put(c.7, 7)
                kc &+= 8
            }
        }
        #else
        preconditionFailure("no AVX2 cells on this architecture")
        #endif
    }
}
