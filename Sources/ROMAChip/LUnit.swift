import ROMANumerics

/// The ROM-based L-Unit's arithmetic (paper Sec. III-B): a shared-exponent alignment unit turns a
/// group of FP16 activations into integers, low-bit compute cells take integer dot products with the
/// ROM codes, and Eq. 1 dequantizes:
///
///     res = (DotProduct(value, w) - vsum * z) * s * 2^(max_exp - Bias)
public enum LUnit {
    /// What the alignment unit produces for one group of activations.
    public struct Alignment: Equatable, Sendable {
        /// Largest raw exponent field in the group.
        public var maxExp: Int
        /// Sum of the aligned values.
        public var vsum: Int32
        /// True if an input had exponent field 31 (inf or NaN); the group's result is then NaN.
        public var nonFinite: Bool
    }

    /// Step 1: vconv = ±{1'b1, mantissa} for normal numbers, ±{mantissa, 1'b0} for denormals (and zero).
    /// Returns (signed vconv, raw exponent field).
    @inline(__always)
    public static func vconv(_ h: UInt16) -> (Int32, Int) {
        let e = Int((h >> 10) & 0x1F)
        let m = Int32(h & 0x3FF)
        let mag = e == 0 ? m << 1 : (1 << 10) | m
        return (h & 0x8000 != 0 ? -mag : mag, e)
    }

    /// Step 2 for one value: value = vconv >> shift, rounded as configured.
    @inline(__always)
    public static func shift(_ v: Int32, by sh: Int, _ mode: DatapathNumerics.ShiftRounding) -> Int32 {
        if sh == 0 { return v }
        if sh >= 31 { return mode == .floor && v < 0 ? -1 : 0 }
        switch mode {
        case .truncate:
            return v < 0 ? -((-v) >> Int32(sh)) : v >> Int32(sh)
        case .floor:
            return v >> Int32(sh)
        case .nearestEven:
            let mag = v < 0 ? -v : v
            var q = mag >> Int32(sh)
            let rem = mag & ((1 << Int32(sh)) - 1), half: Int32 = 1 << Int32(sh - 1)
            if rem > half || (rem == half && q & 1 == 1) { q += 1 }
            return v < 0 ? -q : q
        }
    }

    /// The alignment unit over `count` FP16 activations: writes the aligned integers to `values`.
    @inline(__always)
    public static func align(_ a: UnsafePointer<UInt16>, count: Int, values: UnsafeMutablePointer<Int16>,
                             rounding: DatapathNumerics.ShiftRounding) -> Alignment {
        var maxExp = 0
        var nonFinite = false
        for k in 0..<count {
            let e = Int((a[k] >> 10) & 0x1F)
            if e > maxExp { maxExp = e }
        }
        if maxExp == 31 { nonFinite = true }
        var vsum: Int32 = 0
        for k in 0..<count {
            let (v, e) = vconv(a[k])
            let val = shift(v, by: maxExp - e, rounding)
            values[k] = Int16(truncatingIfNeeded: val)
            vsum &+= val
        }
        return Alignment(maxExp: maxExp, vsum: vsum, nonFinite: nonFinite)
    }

    /// 2^(maxExp - bias) as an FP32 (exact for the ranges the datapath produces).
    @inline(__always)
    public static func pow2(_ e: Int) -> Float { Float(sign: .plus, exponent: e, significand: 1) }

    /// Eq. 1 for one group: (dot - vsum*z) * s * 2^(maxExp - Bias), in FP32. The integer part is exact
    /// (|dot - vsum*z| < 2^23 for 128 lanes of 4-bit codes); the product with s rounds once (FP32);
    /// the power-of-two scaling is exact.
    @inline(__always)
    public static func eq1(dot: Int32, vsum: Int32, z: Int32, scale s: Float, maxExp: Int, bias: Int) -> Float {
        Float(dot &- vsum &* z) * s * pow2(maxExp - bias)
    }

    /// One whole group as the golden model reports it (`roma golden lunit`).
    public struct GroupResult: Equatable, Sendable {
        public var maxExp: Int
        public var vsum: Int32
        public var dot: Int32
        public var res: Float
    }

    /// Reference evaluation of one group: activations as FP16 bit patterns, weight codes, zero point,
    /// FP16 scale bit pattern.
    public static func group(a: [UInt16], w: [UInt8], z: Int, scaleBits: UInt16,
                             numerics: DatapathNumerics = .paper) -> GroupResult {
        precondition(a.count == w.count)
        var values = [Int16](repeating: 0, count: a.count)
        let al = a.withUnsafeBufferPointer { ap in
            values.withUnsafeMutableBufferPointer { vp in
                align(ap.baseAddress!, count: a.count, values: vp.baseAddress!, rounding: numerics.shiftRounding)
            }
        }
        var dot: Int32 = 0
        for k in 0..<a.count { dot &+= Int32(values[k]) &* Int32(w[k]) }
        let s = FP16.toFloat(scaleBits)
        let res = al.nonFinite ? Float.nan : eq1(dot: dot, vsum: al.vsum, z: Int32(z), scale: s, maxExp: al.maxExp, bias: numerics.bias)
        return GroupResult(maxExp: al.maxExp, vsum: al.vsum, dot: dot, res: res)
    }
}
