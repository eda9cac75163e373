/// FP32 kernels of the reference engine. Built for x86-64-v3 (Package.swift): the SIMD8 arithmetic
/// below becomes ymm instructions.
public enum F32Kernels {
    public typealias V = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }

    /// dot(a, b) over n elements.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        var i = 0
        while i + 32 <= n {
            s0 += load(a, i) * load(b, i)
            s1 += load(a, i + 8) * load(b, i + 8)
            s2 += load(a, i + 16) * load(b, i + 16)
            s3 += load(a, i + 24) * load(b, i + 24)
            i += 32
        }
        while i + 8 <= n { s0 += load(a, i) * load(b, i); i += 8 }
        var s = ((s0 + s1) + (s2 + s3)).sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// One output of `matmulRows` outside a 2 x 4 tile, with the tile's arithmetic: one 8-lane
    /// accumulator over the 8-wide blocks, its lanes summed, then the tail in order.
    @inline(__always)
    static func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V()
        var i = 0
        while i + 8 <= n { acc += load(a, i) * load(b, i); i += 8 }
        var r = acc.sum()
        while i < n { r += a[i] * b[i]; i += 1 }
        return r
    }

    /// out[t*outStride + o] = x[t] · w[o] for t in 0..<T, o in oRange. Every output is computed the same
    /// way wherever it falls (in a 2-output x 4-token tile or not: `rowDot`'s order), so a token's result
    /// does not depend on how many tokens share the call (batch invariance).
    /// `x` is [T, n] row-major, `w` is [*, n] row-major (one output per row).
    public static func matmulRows(x: UnsafePointer<Float>, T: Int, w: UnsafePointer<Float>, n: Int,
                                  oRange: Range<Int>, out: UnsafeMutablePointer<Float>, outStride: Int) {
        var o = oRange.lowerBound
        // 2 outputs x 4 tokens tiles: each weight vector is loaded once per 4 tokens.
        while o + 2 <= oRange.upperBound {
            let w0 = w + o * n, w1 = w + (o + 1) * n
            var t = 0
            while t + 4 <= T {
                let x0 = x + t * n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n
                var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
                var i = 0
                while i + 8 <= n {
                    let wa = load(w0, i), wb = load(w1, i)
                    let v0 = load(x0, i), v1 = load(x1, i), v2 = load(x2, i), v3 = load(x3, i)
                    a00 += v0 * wa; a01 += v0 * wb
                    a10 += v1 * wa; a11 += v1 * wb
                    a20 += v2 * wa; a21 += v2 * wb
                    a30 += v3 * wa; a31 += v3 * wb
                    i += 8
                }
                var r00 = a00.sum(), r01 = a01.sum(), r10 = a10.sum(), r11 = a11.sum()
                var r20 = a20.sum(), r21 = a21.sum(), r30 = a30.sum(), r31 = a31.sum()
                while i < n {
                    r00 += x0[i] * w0[i]; r01 += x0[i] * w1[i]
                    r10 += x1[i] * w0[i]; r11 += x1[i] * w1[i]
                    r20 += x2[i] * w0[i]; r21 += x2[i] * w1[i]
                    r30 += x3[i] * w0[i]; r31 += x3[i] * w1[i]
                    i += 1
                }
                let ot = out + t * outStride + o
                ot[0] = r00; ot[1] = r01
                ot[outStride] = r10; ot[outStride + 1] = r11
                ot[2 * outStride] = r20; ot[2 * outStride + 1] = r21
                ot[3 * outStride] = r30; ot[3 * outStride + 1] = r31
                t += 4
            }
            while t < T {
                out[t * outStride + o] = rowDot(x + t * n, w0, n)
                out[t * outStride + o + 1] = rowDot(x + t * n, w1, n)
                t += 1
            }
            o += 2
        }
        while o < oRange.upperBound {
            for t in 0..<T { out[t * outStride + o] = rowDot(x + t * n, w + o * n, n) }
            o += 1
        }
    }
}
