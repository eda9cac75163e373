import ROMANumerics

/// Integer kernels of the L-Unit compute cells: aligned Int16 activations times unsigned ROM codes,
/// summed exactly in Int32 per group. Written as plain loops over unsafe pointers so the
/// auto-vectorizer emits vpmaddwd (check with -emit-assembly); built for the host CPU by the scripts.
public enum LUnitKernels {
    /// Σ v[k] * code[k] over one group of 4-bit codes packed as byte j = code j | code (j + G/2) << 4.
    @inline(__always)
    public static func dot4(_ v: UnsafePointer<Int16>, _ packed: UnsafePointer<UInt8>, _ g: Int) -> Int32 {
        let h = g / 2
        var acc: Int32 = 0
        for j in 0..<h {
            let b = packed[j]
            acc &+= Int32(v[j]) &* Int32(b & 0x0F) &+ Int32(v[j + h]) &* Int32(b >> 4)
        }
        return acc
    }

    /// Σ v[k] * code[k] over one group of 2-bit codes (byte j holds codes j, j+G/4, j+G/2, j+3G/4).
    @inline(__always)
    public static func dot2(_ v: UnsafePointer<Int16>, _ packed: UnsafePointer<UInt8>, _ g: Int) -> Int32 {
        let q = g / 4
        var acc: Int32 = 0
        for j in 0..<q {
            let b = packed[j]
            acc &+= Int32(v[j]) &* Int32(b & 3) &+ Int32(v[j + q]) &* Int32((b >> 2) & 3)
                &+ Int32(v[j + 2 * q]) &* Int32((b >> 4) & 3) &+ Int32(v[j + 3 * q]) &* Int32(b >> 6)
        }
        return acc
    }

    /// Σ a[k] * b[k] of Int16 vectors (codes unpacked once and reused across tokens).
    @inline(__always)
    public static func dot16(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>, _ n: Int) -> Int32 {
        var acc: Int32 = 0
        for k in 0..<n { acc &+= Int32(a[k]) &* Int32(b[k]) }
        return acc
    }

    /// Unpacks a whole row of codes into Int16.
    @inline(__always)
    public static func unpackRow(_ packed: UnsafePointer<UInt8>, bits: Int, group g: Int, cols: Int, into w: UnsafeMutablePointer<Int16>) {
        let groups = cols / g
        if bits == 4 {
            let h = g / 2
            for gi in 0..<groups {
                let p = packed + gi * h, o = w + gi * g
                for j in 0..<h { o[j] = Int16(p[j] & 0x0F); o[j + h] = Int16(p[j] >> 4) }
            }
        } else {
            let q = g / 4
            for gi in 0..<groups {
                let p = packed + gi * q, o = w + gi * g
                for j in 0..<q {
                    let b = p[j]
                    o[j] = Int16(b & 3); o[j + q] = Int16((b >> 2) & 3); o[j + 2 * q] = Int16((b >> 4) & 3); o[j + 3 * q] = Int16(b >> 6)
                }
            }
        }
    }
}
