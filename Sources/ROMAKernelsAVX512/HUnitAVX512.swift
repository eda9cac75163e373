/// The H-Unit's attention output on AVX-512 (`KernelPath.avx512vnni`), bit for bit `HUnit.attendHead`'s:
/// o_d = Σ_j p_j · v_jd in FP32, each output lane in position order (a multiply, then an add), rounded
/// to FP16; the 64 lanes in four zmm registers instead of eight ymm.
public enum HUnitAVX512 {
    public static func weightedSum64(values: UnsafePointer<Float>, stride: Int, n: Int, p: UnsafePointer<Float>,
                                     out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        @inline(__always) func ld(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        for j in 0..<n {
            let v = values + j &* stride, w = V(repeating: p[j])
            a0 += w * ld(v); a1 += w * ld(v + 16); a2 += w * ld(v + 32); a3 += w * ld(v + 48)
        }
        #if arch(x86_64)
        (a0, a1, a2, a3) = (LUnitAVX512.roundFP16(a0), LUnitAVX512.roundFP16(a1), LUnitAVX512.roundFP16(a2), LUnitAVX512.roundFP16(a3))
        #else
        for i in 0..<16 { a0[i] = Float(Float16(a0[i])); a1[i] = Float(Float16(a1[i])); a2[i] = Float(Float16(a2[i])); a3[i] = Float(Float16(a3[i])) }
        #endif
        let o = UnsafeMutableRawPointer(out)
        o.storeBytes(of: a0, as: V.self); o.storeBytes(of: a1, toByteOffset: 64, as: V.self)
        o.storeBytes(of: a2, toByteOffset: 128, as: V.self); o.storeBytes(of: a3, toByteOffset: 192, as: V.self)
    }
}
