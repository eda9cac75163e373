import ROMANumerics

/// Dequantization of ggml block types to FP32 (layouts: ggml `ggml-common.h`; formulas: `ggml-quants.c`).
public enum Dequantize {
    /// Dequantizes `count` elements (a whole number of blocks) from `src` to `dst`.
    public static func row(type: GGMLType, src: UnsafeRawPointer, dst: UnsafeMutablePointer<Float>, count: Int) {
        let nb = count / type.blockSize
        let bb = type.blockBytes
        switch type {
        case .f32: rowF32(src, dst, count)
        case .f16: rowF16(src, dst, count)
        case .bf16: rowBF16(src, dst, count)
        case .q8_0: rowQ8_0(src, dst, nb, bb)
        case .q4_0: rowQ4_0(src, dst, nb, bb)
        case .q4_1: rowQ4_1(src, dst, nb, bb)
        case .q2_K: rowQ2_K(src, dst, nb, bb)
        case .q4_K: rowQ4_K(src, dst, nb, bb)
        case .q6_K: rowQ6_K(src, dst, nb, bb)
        default:
            preconditionFailure("dequantization of \(type) is not supported; check canDequantize first")
        }
    }

    /// The FP16 value stored at byte offset `off` of `p`.
    @inline(__always)
    private static func half(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        FP16.toFloat(p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
    }

    /// F32: copies `count` little-endian floats.
    private static func rowF32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
    }

    /// F16: widens `count` half-precision values.
    private static func rowF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { dst[i] = half(src, 2 * i) }
    }

    /// BF16: widens `count` bfloat16 values.
    private static func rowBF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { dst[i] = BF16.toFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    /// Q8_0: `nb` blocks of an FP16 scale and 32 signed bytes.
    private static func rowQ8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nb: Int, _ bb: Int) {
        for b in 0..<nb {
            let p = src + b * bb
            let d = half(p, 0)
            let q = (p + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { dst[b * 32 + j] = Float(q[j]) * d }
        }
    }

    /// Q4_0: `nb` blocks of an FP16 scale and 32 nibbles offset by 8.
    private static func rowQ4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nb: Int, _ bb: Int) {
        for b in 0..<nb {
            let p = src + b * bb
            let d = half(p, 0)
            let q = (p + 2).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0..<16 {
                y[j] = Float(Int(q[j] & 0x0F) - 8) * d
                y[j + 16] = Float(Int(q[j] >> 4) - 8) * d
            }
        }
    }

    /// Q4_1: `nb` blocks of an FP16 scale, an FP16 min and 32 nibbles.
    private static func rowQ4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nb: Int, _ bb: Int) {
        for b in 0..<nb {
            let p = src + b * bb
            let d = half(p, 0), m = half(p, 2)
            let q = (p + 4).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0..<16 {
                y[j] = Float(q[j] & 0x0F) * d + m
                y[j + 16] = Float(q[j] >> 4) * d + m
            }
        }
    }

    /// Q2_K: `nb` super-blocks of 256 2-bit values with 4-bit sub-block scales and mins.
    private static func rowQ2_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nb: Int, _ bb: Int) {
        for b in 0..<nb {
            let p = src + b * bb
            let scales = p.assumingMemoryBound(to: UInt8.self)
            var q = (p + 16).assumingMemoryBound(to: UInt8.self)
            let d = half(p, 80), dmin = half(p, 82)
            var y = dst + b * 256
            var isc = 0
            for _ in 0..<2 {
                var shift: UInt8 = 0
                for _ in 0..<4 {
                    for half16 in 0..<2 {
                        let sc = scales[isc]; isc += 1
                        let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                        for l in 0..<16 { y[l] = dl * Float((q[l + 16 * half16] >> shift) & 3) - ml }
                        y += 16
                    }
                    shift += 2
                }
                q += 32
            }
        }
    }

    /// Q4_K: `nb` super-blocks of 256 nibbles with 6-bit sub-block scales and mins.
    private static func rowQ4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nb: Int, _ bb: Int) {
        for b in 0..<nb {
            let p = src + b * bb
            let d = half(p, 0), dmin = half(p, 2)
            let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
            var q = (p + 16).assumingMemoryBound(to: UInt8.self)
            var y = dst + b * 256
            var isc = 0
            for _ in 0..<4 {
                let (sc1, m1) = scaleMinK4(isc, scales)
                let (sc2, m2) = scaleMinK4(isc + 1, scales)
                let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
                let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
                for l in 0..<32 { y[l] = d1 * Float(q[l] & 0x0F) - mm1 }
                for l in 0..<32 { y[32 + l] = d2 * Float(q[l] >> 4) - mm2 }
                y += 64; q += 32; isc += 2
            }
        }
    }

    /// Q6_K: `nb` super-blocks of 256 6-bit values (low nibbles + high 2 bits) with 8-bit scales.
    private static func rowQ6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nb: Int, _ bb: Int) {
        for b in 0..<nb {
            let p = src + b * bb
            var ql = p.assumingMemoryBound(to: UInt8.self)
            var qh = (p + 128).assumingMemoryBound(to: UInt8.self)
            var sc = (p + 192).assumingMemoryBound(to: Int8.self)
            let d = half(p, 208)
            var y = dst + b * 256
            for _ in 0..<2 {
                for l in 0..<32 {
                    let isc = l / 16
                    let q1 = Int(ql[l] & 0x0F | ((qh[l] >> 0) & 3) << 4) - 32
                    let q2 = Int(ql[l + 32] & 0x0F | ((qh[l] >> 2) & 3) << 4) - 32
                    let q3 = Int(ql[l] >> 4 | ((qh[l] >> 4) & 3) << 4) - 32
                    let q4 = Int(ql[l + 32] >> 4 | ((qh[l] >> 6) & 3) << 4) - 32
                    y[l] = d * Float(sc[isc]) * Float(q1)
                    y[l + 32] = d * Float(sc[isc + 2]) * Float(q2)
                    y[l + 64] = d * Float(sc[isc + 4]) * Float(q3)
                    y[l + 96] = d * Float(sc[isc + 6]) * Float(q4)
                }
                y += 128; ql += 64; qh += 32; sc += 8
            }
        }
    }

    /// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (ggml `get_scale_min_k4`).
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (UInt8, UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Reference quantizers for the simple ggml block types (ggml `quantize_row_*_ref`), used to write
/// GGUF files (test models, converted weights).
public enum Quantize {
    public static func row(type: GGMLType, _ x: [Float]) -> [UInt8] {
        precondition(x.count % type.blockSize == 0)
        var out: [UInt8] = []
        out.reserveCapacity(x.count / type.blockSize * type.blockBytes)
        switch type {
        case .f32:
            for v in x { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            for v in x { put16(&out, FP16.fromFloat(v)) }
        case .bf16:
            for v in x { put16(&out, BF16.fromFloat(v)) }
        case .q8_0: rowQ8_0(x, &out)
        case .q4_0: rowQ4_0(x, &out)
        case .q4_1: rowQ4_1(x, &out)
        default:
            preconditionFailure("quantization to \(type) is not supported")
        }
        return out
    }

    /// Appends a little-endian 16-bit value.
    private static func put16(_ out: inout [UInt8], _ v: UInt16) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }

    /// Q8_0: per 32 values, an FP16 absmax/127 scale and 32 rounded signed bytes.
    private static func rowQ8_0(_ x: [Float], _ out: inout [UInt8]) {
        for b in stride(from: 0, to: x.count, by: 32) {
            let blk = x[b..<b + 32]
            let amax = blk.map(abs).max()!
            let d = amax / 127, id = d != 0 ? 1 / d : 0
            put16(&out, FP16.fromFloat(d))
            for v in blk { out.append(UInt8(bitPattern: Int8((v * id).rounded()))) }
        }
    }

    /// Q4_0: per 32 values, an FP16 scale (signed max / -8) and 16 bytes of nibbles offset by 8.
    private static func rowQ4_0(_ x: [Float], _ out: inout [UInt8]) {
        for b in stride(from: 0, to: x.count, by: 32) {
            let blk = Array(x[b..<b + 32])
            var amax: Float = 0, mx: Float = 0
            for v in blk where abs(v) > amax { amax = abs(v); mx = v }
            let d = mx / -8, id = d != 0 ? 1 / d : 0
            put16(&out, FP16.fromFloat(d))
            for j in 0..<16 {
                let x0 = UInt8(min(15, Int8(blk[j] * id + 8.5)))
                let x1 = UInt8(min(15, Int8(blk[j + 16] * id + 8.5)))
                out.append(x0 | x1 << 4)
            }
        }
    }

    /// Q4_1: per 32 values, an FP16 scale (range / 15), an FP16 min and 16 bytes of nibbles.
    private static func rowQ4_1(_ x: [Float], _ out: inout [UInt8]) {
        for b in stride(from: 0, to: x.count, by: 32) {
            let blk = Array(x[b..<b + 32])
            let mn = blk.min()!, mx = blk.max()!
            let d = (mx - mn) / 15, id = d != 0 ? 1 / d : 0
            put16(&out, FP16.fromFloat(d)); put16(&out, FP16.fromFloat(mn))
            for j in 0..<16 {
                let x0 = UInt8(min(15, Int8((blk[j] - mn) * id + 0.5)))
                let x1 = UInt8(min(15, Int8((blk[j + 16] - mn) * id + 0.5)))
                out.append(x0 | x1 << 4)
            }
        }
    }
}
