/// ROMA's base-weight format (paper Sec. III-B): groups of `groupSize` consecutive weights of a row
/// share one FP16 scale s and one unsigned zero point z of the same width as the codes; the real
/// weight is (w - z) * s with w, z in 0 ..< 2^bits.
///
/// Quantizer: for each group, a search over clipping ranges [lo·α, hi·α] (α from 1 down to 0.55 in
/// 16 steps) picks the range with least squared error (scale rounded to FP16 first, as stored), then
/// a least-squares refit of s for the chosen codes is kept if it lowers the error further. Plain
/// min/max rounding is the α = 1 candidate, so the result is never worse than it.
public struct GroupQuantizer: Sendable {
    public let bits: Int
    public let groupSize: Int
    public var clipSteps = 16
    public var minClip: Float = 0.55

    public init(bits: Int, groupSize: Int) {
        precondition(bits == 2 || bits == 4 || bits == 8)
        self.bits = bits; self.groupSize = groupSize
    }

    public var levels: Int { 1 << bits }

    /// Quantizes one group: returns (codes, scale FP16 bits, zero point), squared error. With
    /// `weights` the search minimises Σ weights[i]·(x[i] - x̂[i])² instead (GPTQ passes each column's
    /// 1/[H⁻¹]ᵢᵢ, the output-error cost of its rounding error); the returned error stays unweighted.
    public func quantizeGroup(_ x: UnsafePointer<Float>, _ n: Int, codes: UnsafeMutablePointer<UInt8>,
                              weights: UnsafePointer<Float>? = nil) -> (scale: UInt16, zero: UInt8, error: Float) {
        var lo = x[0], hi = x[0]
        for i in 1..<n { lo = min(lo, x[i]); hi = max(hi, x[i]) }
        lo = min(lo, 0); hi = max(hi, 0)   // keep 0 representable-ish and z in range
        let qmax = Float(levels - 1)
        if hi - lo < 1e-12 {
            for i in 0..<n { codes[i] = 0 }
            return (FP16.fromFloat(0), 0, 0)
        }
        var best: (s: UInt16, z: UInt8, err: Float) = (0, 0, .infinity)
        func evaluate(_ sBits: UInt16, _ z: Float) -> Float {
            let s = FP16.toFloat(sBits)
            guard s > 0, s.isFinite else { return .infinity }
            let inv = 1 / s
            var err: Float = 0
            if let weights {
                for i in 0..<n {
                    let q = min(max((x[i] * inv).rounded() + z, 0), qmax)
                    let d = x[i] - (q - z) * s
                    err += weights[i] * d * d
                }
                return err
            }
            for i in 0..<n {
                let q = min(max((x[i] * inv).rounded() + z, 0), qmax)
                let d = x[i] - (q - z) * s
                err += d * d
            }
            return err
        }
        for step in 0..<clipSteps {
            let alpha = 1 - (1 - minClip) * Float(step) / Float(max(1, clipSteps - 1))
            let l = lo * alpha, h = hi * alpha
            let sBits = FP16.fromFloat((h - l) / qmax)
            let s = FP16.toFloat(sBits)
            guard s > 0 else { continue }
            let z = min(max((-l / s).rounded(), 0), qmax)
            let e = evaluate(sBits, z)
            if e < best.err { best = (sBits, UInt8(z), e) }
        }
        // least-squares refit of s for the chosen codes and zero point
        let s0 = FP16.toFloat(best.s), z0 = Float(best.z)
        var num: Float = 0, den: Float = 0
        for i in 0..<n {
            let q = min(max((x[i] / s0).rounded() + z0, 0), qmax) - z0
            let wi = weights?[i] ?? 1
            num += wi * x[i] * q; den += wi * q * q
        }
        if den > 0 {
            let sBits = FP16.fromFloat(num / den)
            let e = evaluate(sBits, z0)
            if e < best.err { best = (sBits, best.z, e) }
        }
        if best.err == .infinity {
            // no representable scale (a range beyond FP16): the group cannot be stored; give zeros
            for i in 0..<n { codes[i] = 0 }
            return (FP16.fromFloat(0), 0, .infinity)
        }
        let s = FP16.toFloat(best.s), z = Float(best.z)
        for i in 0..<n { codes[i] = UInt8(min(max((x[i] / s).rounded() + z, 0), qmax)) }
        if weights != nil {
            var err: Float = 0
            for i in 0..<n { let d = x[i] - (Float(codes[i]) - z) * s; err += d * d }
            return (best.s, best.z, err)
        }
        return (best.s, best.z, best.err)
    }

    /// Packs one group's codes: 4-bit: byte j = code j | code (j + G/2) << 4; 2-bit: byte j holds codes
    /// j, j + G/4, j + G/2, j + 3G/4 in bits 0-1, 2-3, 4-5, 6-7. (8-bit: one code per byte.)
    public func pack(_ codes: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) {
        let g = groupSize
        switch bits {
        case 4: for j in 0..<(g / 2) { out[j] = codes[j] | codes[j + g / 2] << 4 }
        case 2: for j in 0..<(g / 4) { out[j] = codes[j] | codes[j + g / 4] << 2 | codes[j + g / 2] << 4 | codes[j + 3 * g / 4] << 6 }
        default: for j in 0..<g { out[j] = codes[j] }
        }
    }

    /// Inverse of `pack`.
    public func unpack(_ packed: UnsafePointer<UInt8>, into codes: UnsafeMutablePointer<UInt8>) {
        let g = groupSize
        switch bits {
        case 4: for j in 0..<(g / 2) { codes[j] = packed[j] & 15; codes[j + g / 2] = packed[j] >> 4 }
        case 2:
            for j in 0..<(g / 4) {
                let b = packed[j]
                codes[j] = b & 3; codes[j + g / 4] = (b >> 2) & 3; codes[j + g / 2] = (b >> 4) & 3; codes[j + 3 * g / 4] = b >> 6
            }
        default: for j in 0..<g { codes[j] = packed[j] }
        }
    }

    /// Packed bytes per group.
    public var packedGroupBytes: Int { groupSize * bits / 8 }
}
