import ROMANumerics

/// Integer kernels of the L-Unit compute cells: aligned Int16 activations times unsigned ROM codes,
/// summed exactly in Int32 per group. Written as plain fixed-length loops over unsafe pointers so the
/// auto-vectorizer emits vpmovzxbw / vpmaddwd on ymm registers (check with -emit-assembly; every module
/// is built for x86-64-v3, Package.swift). These are the `.portable` path (`KernelPath`). Indices use wrapping arithmetic: an overflow
/// check in the loop body blocks vectorization.
public enum LUnitKernels {
    /// Σ a[k] * b[k], k < 64.
    @inline(__always)
    public static func dot64(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>) -> Int32 {
        var acc: Int32 = 0
        for k in 0..<64 { acc &+= Int32(a[k]) &* Int32(b[k]) }
        return acc
    }

    /// Σ a[k] * b[k], k < 128.
    @inline(__always)
    public static func dot128(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>) -> Int32 {
        var acc: Int32 = 0
        for k in 0..<128 { acc &+= Int32(a[k]) &* Int32(b[k]) }
        return acc
    }

    /// Σ a[k] * b[k], any n.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>, _ n: Int) -> Int32 {
        var acc: Int32 = 0
        for k in 0..<n { acc &+= Int32(a[k]) &* Int32(b[k]) }
        return acc
    }

    /// Unpacks one row of codes to Int16. 4-bit groups: byte j = code j | code (j + G/2) << 4;
    /// 2-bit groups: byte j holds codes j, j+G/4, j+G/2, j+3G/4 in bits 0-1, 2-3, 4-5, 6-7.
    @inline(__always)
    public static func unpackRow(_ packed: UnsafePointer<UInt8>, bits: Int, group g: Int, cols: Int, into w: UnsafeMutablePointer<Int16>) {
        let groups = cols / g
        if bits == 4 && g == 64 {
            for gi in 0..<groups {
                let p = packed + gi &* 32, lo = w + gi &* 64, hi = lo + 32
                for j in 0..<32 { let b = p[j]; lo[j] = Int16(b & 0x0F); hi[j] = Int16(b >> 4) }
            }
        } else if bits == 4 && g == 128 {
            for gi in 0..<groups {
                let p = packed + gi &* 64, lo = w + gi &* 128, hi = lo + 64
                for j in 0..<64 { let b = p[j]; lo[j] = Int16(b & 0x0F); hi[j] = Int16(b >> 4) }
            }
        } else if bits == 4 {
            let h = g / 2
            for gi in 0..<groups {
                let p = packed + gi &* h, lo = w + gi &* g, hi = lo + h
                for j in 0..<h { let b = p[j]; lo[j] = Int16(b & 0x0F); hi[j] = Int16(b >> 4) }
            }
        } else {
            let q = g / 4
            for gi in 0..<groups {
                let p = packed + gi &* q, o0 = w + gi &* g, o1 = o0 + q, o2 = o1 + q, o3 = o2 + q
                for j in 0..<q {
                    let b = p[j]
                    o0[j] = Int16(b & 3); o1[j] = Int16((b >> 2) & 3); o2[j] = Int16((b >> 4) & 3); o3[j] = Int16(b >> 6)
                }
            }
        }
    }

    /// Σ v[k] * code[k] over one 64-group of packed 4-bit codes: unpack to Int16 in `scratch`, then dot64.
    @inline(__always)
    public static func dotPacked4x64(_ v: UnsafePointer<Int16>, _ p: UnsafePointer<UInt8>, _ scratch: UnsafeMutablePointer<Int16>) -> Int32 {
        let hi = scratch + 32
        for j in 0..<32 { let b = p[j]; scratch[j] = Int16(b & 0x0F); hi[j] = Int16(b >> 4) }
        return dot64(v, scratch)
    }

    @inline(__always)
    public static func dotPacked4x128(_ v: UnsafePointer<Int16>, _ p: UnsafePointer<UInt8>, _ scratch: UnsafeMutablePointer<Int16>) -> Int32 {
        let hi = scratch + 64
        for j in 0..<64 { let b = p[j]; scratch[j] = Int16(b & 0x0F); hi[j] = Int16(b >> 4) }
        return dot128(v, scratch)
    }

    /// Four activation vectors against one unpacked 64-group: (Σ a0*b, Σ a1*b, Σ a2*b, Σ a3*b).
    @inline(__always)
    public static func dot64x4(_ a0: UnsafePointer<Int16>, _ a1: UnsafePointer<Int16>, _ a2: UnsafePointer<Int16>,
                               _ a3: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>) -> (Int32, Int32, Int32, Int32) {
        var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
        for k in 0..<64 {
            let w = Int32(b[k])
            s0 &+= Int32(a0[k]) &* w; s1 &+= Int32(a1[k]) &* w
            s2 &+= Int32(a2[k]) &* w; s3 &+= Int32(a3[k]) &* w
        }
        return (s0, s1, s2, s3)
    }
}
