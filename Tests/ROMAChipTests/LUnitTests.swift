import XCTest
import ROMAChip
import ROMALlama
import ROMANumerics
import ROMATestSupport

/// The alignment unit and Eq. 1 (Sec. III-B).
final class LUnitTests: XCTestCase {
    func h(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    func testVconvNormalsDenormalsAndZero() {
        XCTAssertEqual(LUnit.vconv(h(1.0)).0, 1024); XCTAssertEqual(LUnit.vconv(h(1.0)).1, 15)
        XCTAssertEqual(LUnit.vconv(h(-1.5)).0, -1536); XCTAssertEqual(LUnit.vconv(h(-1.5)).1, 15)
        // smallest denormal 2^-24: {mantissa=1, 1'b0} = 2, exponent field 0
        XCTAssertEqual(LUnit.vconv(0x0001).0, 2); XCTAssertEqual(LUnit.vconv(0x0001).1, 0)
        XCTAssertEqual(LUnit.vconv(0x83FF).0, -2046)
        XCTAssertEqual(LUnit.vconv(0x0000).0, 0); XCTAssertEqual(LUnit.vconv(0x8000).0, 0)
        // largest normal 65504 = 1.1111111111b * 2^15
        XCTAssertEqual(LUnit.vconv(0x7BFF).0, 2047); XCTAssertEqual(LUnit.vconv(0x7BFF).1, 30)
    }

    /// Hand-worked group: [2.0, -0.75, 0.0078125, denormal 3*2^-24, 0]
    ///   2.0      = 1024 * 2^(16-25), e=16 -> shift 0 -> 1024
    ///   -0.75    = -1536 * 2^(14-25), e=14 -> shift 2 -> -384
    ///   2^-7     = 1024 * 2^(8-25),  e=8  -> shift 8 -> 4
    ///   3*2^-24  = 6 * 2^(0-25),     e=0  -> shift 16 -> 0
    ///   0        -> 0
    func testAlignmentHandWorked() {
        let a: [UInt16] = [h(2.0), h(-0.75), h(0.0078125), 0x0003, 0x0000]
        let r = LUnit.group(a: a, w: [3, 1, 2, 5, 7], z: 2, scaleBits: h(0.5))
        XCTAssertEqual(r.maxExp, 16)
        let vsum: Int32 = 644     // 1024 - 384 + 4
        let dot: Int32 = 2696     // 1024*3 - 384*1 + 4*2
        XCTAssertEqual(r.vsum, vsum)
        XCTAssertEqual(r.dot, dot)
        // res = (dot - vsum*z) * s * 2^(16-25) = (2696 - 1288) * 0.5 / 512
        let expected: Float = 1408.0 * 0.5 / 512.0
        XCTAssertEqual(r.res, expected)
        // exact weights (w - z) * s: [0.5, -0.5, 0, 1.5, 2.5] -> 2*0.5 + 0.375 + 0 = 1.375
        XCTAssertEqual(r.res, 1.375)
    }

    /// Exponent spreads above 11 shift every bit out; negative values truncate toward zero.
    func testLargeSpreadsAndNegativeTruncation() {
        // 1024.0 (e=25) beside 0.25 (e=13): shift 12 -> 0
        var r = LUnit.group(a: [h(1024), h(0.25), h(-0.25)], w: [1, 1, 1], z: 0, scaleBits: h(1))
        XCTAssertEqual(r.vsum, 1024)
        // -3 * 2^-10 beside 1.0: vconv(-3*2^-10) = -1536 at e=6, shift 9 -> -(1536 >> 9) = -3
        r = LUnit.group(a: [h(1.0), h(-0.0029296875)], w: [0, 1], z: 0, scaleBits: h(1))
        XCTAssertEqual(r.dot, -3)
        // floor rounds the same value to -3 too (exact), but -1537 >> 9 differs: use -1.0009765625*2^-9
        let v = h(-0.001955032348632812)  // -(1025/1024)*2^-9 -> vconv -1025, e=6
        let t = LUnit.group(a: [h(1.0), v], w: [0, 1], z: 0, scaleBits: h(1), numerics: DatapathNumerics(shiftRounding: .truncate))
        let f = LUnit.group(a: [h(1.0), v], w: [0, 1], z: 0, scaleBits: h(1), numerics: DatapathNumerics(shiftRounding: .floor))
        let n = LUnit.group(a: [h(1.0), v], w: [0, 1], z: 0, scaleBits: h(1), numerics: DatapathNumerics(shiftRounding: .nearestEven))
        XCTAssertEqual(t.dot, -2)   // trunc(-1025/512) = -2
        XCTAssertEqual(f.dot, -3)   // floor(-2.0019) = -3
        XCTAssertEqual(n.dot, -2)   // nearest
    }

    func testNonFiniteInputsGiveNaN() {
        XCTAssertTrue(LUnit.group(a: [0x7C00, h(1)], w: [1, 1], z: 0, scaleBits: h(1)).res.isNaN)
        XCTAssertTrue(LUnit.group(a: [0x7E00, h(1)], w: [1, 1], z: 0, scaleBits: h(1)).res.isNaN)
    }

    /// Eq. 1 against an independent, obviously-correct implementation in exact integer arithmetic
    /// (integer division for the truncating shift, exact rational value, one final rounding).
    func testEq1BitExactOn100kRandomGroups() {
        var rng = SplitMix(2024)
        for trial in 0..<100_000 {
            let bits = trial % 2 == 0 ? 4 : 2
            let n = 128
            // mix of magnitudes: exponents spread over the whole range, some zeros and denormals
            let a: [UInt16] = (0..<n).map { _ in
                let r = rng.next()
                switch r % 8 {
                case 0: return UInt16(truncatingIfNeeded: r >> 8) & 0x83FF            // zero / denormal
                default:                                                              // normal, exp 1...30
                    let e = UInt16(1 + (r >> 20) % 30)
                    return UInt16(truncatingIfNeeded: r >> 8) & 0x83FF | e << 10
                }
            }
            let w: [UInt8] = (0..<n).map { _ in UInt8(rng.next() % UInt64(1 << bits)) }
            let z = Int(rng.next() % UInt64(1 << bits))
            var sBits = UInt16(truncatingIfNeeded: rng.next()) & 0x7BFF
            if sBits == 0 { sBits = 0x3C00 }
            let got = LUnit.group(a: a, w: w, z: z, scaleBits: sBits)
            // independent model
            var maxE = 0
            for x in a { maxE = max(maxE, Int((x >> 10) & 31)) }
            var vsum = 0, dot = 0
            for k in 0..<n {
                let e = Int((a[k] >> 10) & 31), m = Int(a[k] & 1023)
                let mag = e == 0 ? 2 * m : 1024 + m
                let q = mag / (1 << min(maxE - e, 40))   // truncating division of the magnitude
                let value = a[k] & 0x8000 != 0 ? -q : q
                vsum += value; dot += value * Int(w[k])
            }
            XCTAssertEqual(got.maxExp, maxE)
            XCTAssertEqual(Int(got.vsum), vsum)
            XCTAssertEqual(Int(got.dot), dot)
            let s = Double(FP16.decodeSlow(sBits))
            let exact = Double(dot - vsum * z) * s * pow(2.0, Double(maxE - 25))   // exact in binary64
            if Float(exact) != got.res { XCTFail("trial \(trial): \(got.res) != \(Float(exact))"); return }
        }
    }
}

final class FP8Tests: XCTestCase {
    func testDecodeTableKnownValues() {
        XCTAssertEqual(FP8E4M3.toFloat(0x7E), 448)
        XCTAssertEqual(FP8E4M3.toFloat(0xFE), -448)
        XCTAssertTrue(FP8E4M3.toFloat(0x7F).isNaN)
        XCTAssertEqual(FP8E4M3.toFloat(0x38), 1)          // exp 7, mantissa 0
        XCTAssertEqual(FP8E4M3.toFloat(0x08), 1.0 / 64)   // min normal 2^-6
        XCTAssertEqual(FP8E4M3.toFloat(0x01), 1.0 / 512)  // min subnormal 2^-9
    }

    func testEncodeRoundTripsEveryCodeAndRoundsToNearestEven() {
        for c in 0..<256 where c & 0x7F != 0x7F {
            let v = FP8E4M3.toFloat(UInt8(c))
            let back = FP8E4M3.fromFloat(v)
            XCTAssertEqual(FP8E4M3.toFloat(back), v, "code \(c)")
        }
        // 1.0625 is halfway between 1.0 (mantissa 0, even) and 1.125 -> 1.0
        XCTAssertEqual(FP8E4M3.fromFloat(1.0625), 0x38)
        // 1.1875 halfway between 1.125 (odd) and 1.25 (even) -> 1.25
        XCTAssertEqual(FP8E4M3.toFloat(FP8E4M3.fromFloat(1.1875)), 1.25)
        XCTAssertEqual(FP8E4M3.fromFloat(1e6), 0x7E)      // saturates
        XCTAssertEqual(FP8E4M3.fromFloat(-1e6), 0xFE)
        XCTAssertEqual(FP8E4M3.fromFloat(1e-5), 0x00)
    }
}

/// The compute cells read scales by the hardware FP16 -> FP32 conversion (vcvtph2ps) instead of
/// `FP16.table`: for every FP16 bit pattern the two give the same value, and where it is a NaN the
/// product that the epilogue forms first has the same bits either way.
final class FP16ConversionTests: XCTestCase {
    func testHardwareConversionEqualsTheTableForEveryBitPattern() {
        let factors: [Float] = [3, -7, 0.5, 1e-30]
        var nans = 0
        for h in 0...0xFFFF {
            let t = FP16.table[h]
            let c = SIMD8<Float>(SIMD8<Float16>(repeating: Float16(bitPattern: UInt16(h))))[0]
            if t.isNaN {
                nans += 1
                XCTAssertTrue(c.isNaN, "0x\(String(h, radix: 16))")
                for f in factors { XCTAssertEqual((f * t).bitPattern, (f * c).bitPattern, "0x\(String(h, radix: 16)) times \(f)") }
            } else {
                XCTAssertEqual(t.bitPattern, c.bitPattern, "0x\(String(h, radix: 16))")
            }
        }
        XCTAssertEqual(nans, 2 * 1023)
    }
}
