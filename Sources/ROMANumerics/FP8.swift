/// OCP FP8 E4M3 ("e4m3fn"): S.EEEE.MMM, bias 7, no infinities, NaN = S.1111.111, max normal ±448,
/// subnormals m/8 · 2^-6. LoRA weights are stored in H-Unit SRAM in this format.
public enum FP8E4M3 {
    /// `table[code]` is the FP32 value of an FP8 code.
    public static let table: [Float] = (0..<256).map { decodeSlow(UInt8($0)) }

    public static let maxNormal: Float = 448

    @inline(__always) public static func toFloat(_ c: UInt8) -> Float { table.withUnsafeBufferPointer { $0[Int(c)] } }

    public static func decodeSlow(_ c: UInt8) -> Float {
        let sign: Float = c & 0x80 != 0 ? -1 : 1
        let e = Int((c >> 3) & 0xF), m = Int(c & 7)
        if e == 15 && m == 7 { return .nan }
        if e == 0 { return sign * Float(m) / 8 * Float(sign: .plus, exponent: -6, significand: 1) }
        return sign * (1 + Float(m) / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
    }

    /// Round-to-nearest-even with saturation to ±448 (the OCP saturating conversion); NaN -> 0x7F.
    public static func fromFloat(_ x: Float) -> UInt8 {
        if x.isNaN { return 0x7F }
        let sign: UInt8 = x.sign == .minus ? 0x80 : 0
        let a = abs(x)
        if a >= maxNormal { return sign | 0x7E }
        // candidates are the 127 non-negative finite codes; pick the nearest, ties to even code
        var lo = 0, hi = 126
        while lo < hi {   // first code with value >= a
            let mid = (lo + hi) / 2
            if table[mid] < a { lo = mid + 1 } else { hi = mid }
        }
        if lo == 0 { return sign }
        let above = table[lo], below = table[lo - 1]
        let code: Int
        if a - below < above - a { code = lo - 1 } else if a - below > above - a { code = lo } else { code = (lo - 1) & 1 == 0 ? lo - 1 : lo }
        return sign | UInt8(code)
    }
}
