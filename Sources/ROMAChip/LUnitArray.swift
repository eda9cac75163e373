import ROMANumerics

/// The 256 L-Units computing one base-model matrix product straight from ROM (Sec. III-A/B).
/// Each L-Unit holds a contiguous slice of the tensor's output rows (`unitRowStart`); the activations
/// are broadcast, aligned once per 128-group (the alignment unit's output is shared by every compute
/// cell), and every row's group results are summed in FP32 in group order.
public enum LUnitArray {
    /// Aligned activations of T tokens: Int16 values [T, cols], and per (token, group) vsum and the
    /// Eq. 1 power of two 2^(max_exp - Bias) (NaN when the group held inf/NaN).
    public final class AlignedActivations: @unchecked Sendable {
        public let tokens: Int, cols: Int, groupSize: Int
        public let values: UnsafeMutablePointer<Int16>
        public let vsum: UnsafeMutablePointer<Int32>
        public let pow2: UnsafeMutablePointer<Float>
        public let maxExp: UnsafeMutablePointer<Int32>
        public var groups: Int { cols / groupSize }

        public init(x: UnsafePointer<Float>, tokens: Int, cols: Int, groupSize: Int, numerics: DatapathNumerics) {
            self.tokens = tokens; self.cols = cols; self.groupSize = groupSize
            values = .allocate(capacity: tokens * cols)
            let ng = cols / groupSize
            vsum = .allocate(capacity: tokens * ng); pow2 = .allocate(capacity: tokens * ng); maxExp = .allocate(capacity: tokens * ng)
            let (v, vs, p2, me) = (Unchecked(values), Unchecked(vsum), Unchecked(pow2), Unchecked(maxExp))
            let xs = Unchecked(x)
            Parallel.forEach(tokens, minChunk: 8) { t in
                let bits = UnsafeMutablePointer<UInt16>.allocate(capacity: groupSize)
                defer { bits.deallocate() }
                for g in 0..<ng {
                    let base = t * cols + g * groupSize
                    for k in 0..<groupSize { bits[k] = FP16.fromFloat(xs.value[base + k]) }
                    let a = LUnit.align(bits, count: groupSize, values: v.value + base, rounding: numerics.shiftRounding)
                    vs.value[t * ng + g] = a.vsum
                    me.value[t * ng + g] = Int32(a.maxExp)
                    p2.value[t * ng + g] = a.nonFinite ? .nan : LUnit.pow2(a.maxExp - numerics.bias)
                }
            }
        }

        deinit { values.deallocate(); vsum.deallocate(); pow2.deallocate(); maxExp.deallocate() }
    }

    /// out[t * outStride + r] = Σ_g Eq1(group g of row r, token t), optionally rounded to FP16.
    public static func matmul(image: ROMImage, tensor t: ROMImage.Tensor, x: AlignedActivations,
                              out: UnsafeMutablePointer<Float>, outStride: Int, roundToFP16: Bool) {
        precondition(x.cols == t.cols && x.groupSize == t.groupSize, "activation shape does not match tensor '\(t.name)'")
        let T = x.tokens, G = t.groupSize, gpr = t.groupsPerRow, bits = t.bits
        let packedG = G * bits / 8
        let codes = Unchecked(image.codes(t)), scales = Unchecked(image.scales(t)), zeros = Unchecked(image.zeros(t))
        let o = Unchecked(out)
        let rowBytes = t.rowCodeBytes, cols = t.cols
        let blockRows = 8
        let blocks = (t.rows + blockRows - 1) / blockRows
        let table = Unchecked(FP16.table.withUnsafeBufferPointer { $0.baseAddress! })
        Parallel.forEach(blocks) { b in
            let w16 = T >= 4 ? UnsafeMutablePointer<Int16>.allocate(capacity: cols) : nil
            defer { w16?.deallocate() }
            for r in (b * blockRows)..<min(t.rows, (b + 1) * blockRows) {
                let rc = codes.value + r * rowBytes
                let sc = scales.value + r * gpr, zp = zeros.value + r * gpr
                if let w16 { LUnitKernels.unpackRow(rc, bits: bits, group: G, cols: cols, into: w16) }
                for tok in 0..<T {
                    let v = x.values + tok * cols
                    let vs = x.vsum + tok * gpr, p2 = x.pow2 + tok * gpr
                    var acc: Float = 0
                    for g in 0..<gpr {
                        let dot: Int32
                        if let w16 {
                            dot = LUnitKernels.dot16(v + g * G, w16 + g * G, G)
                        } else if bits == 4 {
                            dot = LUnitKernels.dot4(v + g * G, rc + g * packedG, G)
                        } else {
                            dot = LUnitKernels.dot2(v + g * G, rc + g * packedG, G)
                        }
                        let s = table.value[Int(UInt16(littleEndian: sc[g]))]
                        // Eq. 1: (dot - vsum*z) * s * 2^(max_exp - Bias)
                        acc += Float(dot &- vs[g] &* Int32(zp[g])) * s * p2[g]
                    }
                    o.value[tok * outStride + r] = roundToFP16 ? FP16.round(acc) : acc
                }
            }
        }
    }
}
