/// The vector unit's operations on sixteen rows at once, one per lane (the AVX-512 attention tiles hold
/// their queries' scores this way). `@inlinable`, so that each caller compiles them for its own
/// instruction set (zmm in `ROMAKernelsAVX512`, ymm pairs elsewhere); the bits are the same.
public enum VectorLanes {
    /// The vector unit's `exp` (`VectorUnit.exp`) in sixteen lanes: per lane the same IEEE operations in
    /// the same order (the same bits).
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        typealias V = SIMD16<Float>
        typealias I = SIMD16<Int32>
        let lo = V(repeating: -87.3), hi = V(repeating: 88.7)
        let xc = x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
        let t = xc * 1.44269504 + 12582912.0
        let kf = t - 12582912.0
        let k = unsafeBitCast(t, to: I.self) &- 0x4B40_0000
        let r = (xc - kf * 0.693359375) - kf * -2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let k1 = k &>> 1, k2 = k &- k1
        let y = p * unsafeBitCast((k1 &+ 127) &<< 23, to: V.self) * unsafeBitCast((k2 &+ 127) &<< 23, to: V.self)
        let special = V(repeating: 0).replacing(with: .infinity, where: x .> hi)
        return y.replacing(with: special, where: x .< lo .| x .> hi).replacing(with: x, where: x .!= x)
    }

    /// `softmax(rows:)` for up to sixteen rows held in the lanes (row i's score j at s[16·j + i], n[i]
    /// scores; the unused lanes are left alone): per lane the maximum, e^(s − m) with `exp` in the lanes, their sum in
    /// index order and the products by its inverse, the row-wise operations in their order.
    @inlinable @inline(__always)
    public static func softmax(lanes s: UnsafeMutablePointer<Float>, counts n: UnsafePointer<Int>, count: Int) {
        precondition(count <= 16, "sixteen rows at most in the lanes")
        typealias V = SIMD16<Float>
        var counts = SIMD16<Int32>(repeating: 0), N = 0
        for i in 0..<count { counts[i] = Int32(n[i]); N = max(N, n[i]) }
        @inline(__always) func ld(_ j: Int) -> V { UnsafeRawPointer(s + 16 * j).loadUnaligned(as: V.self) }
        @inline(__always) func st(_ j: Int, _ v: V) { UnsafeMutableRawPointer(s + 16 * j).storeBytes(of: v, as: V.self) }
        var m = V(repeating: -.infinity)
        for j in 0..<N {
            let v = ld(j)
            m = m.replacing(with: v, where: (SIMD16<Int32>(repeating: Int32(j)) .< counts) .& (v .> m))
        }
        var sum = V(repeating: 0)
        for j in 0..<N {
            let live = SIMD16<Int32>(repeating: Int32(j)) .< counts
            let e = exp(ld(j) - m)
            st(j, ld(j).replacing(with: e, where: live))
            sum += V(repeating: 0).replacing(with: e, where: live)
        }
        let inv = 1 / sum
        for j in 0..<N {
            let live = SIMD16<Int32>(repeating: Int32(j)) .< counts
            st(j, ld(j).replacing(with: ld(j) * inv, where: live))
        }
    }
}
