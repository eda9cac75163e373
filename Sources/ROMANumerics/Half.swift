/// IEEE binary16 (FP16) and bfloat16 conversions.
///
/// On x86-64 without F16C, `Float(Float16)` is a library call; decoding through a 65,536-entry
/// table (256 KiB) is what ggml does and is fast on every target.
public enum FP16 {
    /// `table[bits]` is the FP32 value of the FP16 bit pattern `bits` (exact: every FP16 is an FP32).
    public static let table: [Float] = (0...0xFFFF).map { decodeSlow(UInt16($0)) }

    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float {
        table.withUnsafeBufferPointer { $0[Int(bits)] }
    }

    /// Round-to-nearest-even FP32 -> FP16 (overflow gives ±inf, NaN stays NaN).
    @inline(__always)
    public static func fromFloat(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// Rounds an FP32 value to the nearest FP16 value and returns it as FP32.
    @inline(__always)
    public static func round(_ x: Float) -> Float { Float(Float16(x)) }

    /// Bit-level decoder used to build the table; independent of the platform's Float16 support.
    public static func decodeSlow(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F)
        let man = UInt32(h & 0x3FF)
        if exp == 0 {
            if man == 0 { return Float(bitPattern: sign) }
            // subnormal: man * 2^-24
            let v = Float(man) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -v : v
        }
        if exp == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (man << 13))
        }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (man << 13))
    }
}

public enum BF16 {
    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Round-to-nearest-even FP32 -> BF16.
    public static func fromFloat(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let u = x.bitPattern
        let rounded = u &+ 0x7FFF &+ ((u >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
