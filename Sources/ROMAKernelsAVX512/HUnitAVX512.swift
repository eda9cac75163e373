#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif
import ROMANumerics

/// The H-Unit's attention kernels on AVX-512 (`KernelPath.avx512vnni`), bit for bit `HUnit.attendHead`'s:
/// the output sums o_d = Σ_j p_j · v_jd in FP32, each lane in position order (a multiply, then an add),
/// the 64 lanes in four zmm registers instead of eight ymm; and the scores.
public enum HUnitAVX512 {
    #if arch(x86_64)
    /// acc[d] += p_j · v_jd for `count` positions in order (p_j at p[j · pStride]), acc[0..<64] in four
    /// zmm registers.
    public static func accumulate64(values: UnsafePointer<Float>, stride: Int, count: Int, p: UnsafePointer<Float>, pStride: Int = 1,
                                    acc: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        @inline(__always) func ld(_ q: UnsafePointer<Float>) -> V { _mm512_loadu_ps(q) }
        @inline(__always) func mac(_ a: V, _ w: V, _ v: UnsafePointer<Float>) -> V { _mm512_add_ps(a, _mm512_mul_ps(w, ld(v))) }
        var a0 = ld(acc), a1 = ld(acc + 16), a2 = ld(acc + 32), a3 = ld(acc + 48)
        for j in 0..<count {
            let v = values + j &* stride, w = _mm512_set1_ps(p[j &* pStride])
            a0 = mac(a0, w, v); a1 = mac(a1, w, v + 16); a2 = mac(a2, w, v + 32); a3 = mac(a3, w, v + 48)
        }
        let o = UnsafeMutableRawPointer(acc)
        o.storeBytes(of: a0, as: V.self); o.storeBytes(of: a1, toByteOffset: 64, as: V.self)
        o.storeBytes(of: a2, toByteOffset: 128, as: V.self); o.storeBytes(of: a3, toByteOffset: 192, as: V.self)
    }

    // The scores: `HUnitAVX2.scores64`'s code, compiled here for AVX-512, where 32 vector registers
    // hold q's eight lane vectors and eight positions' without the spills that sixteen force.
    /// scores[j] = (q·k_j) · scale for whole blocks of eight positions, with `HUnit.scores64`'s
    /// arithmetic: per position s_c = (0 + q_c·k_c) + q_(c+4)·k_(c+4) over 8-lane chunks c < 4,
    /// S = (s0 + s1) + (s2 + s3), its lanes added in order; eight positions are transposed so that
    /// their in-order lane sums run in the lanes. Returns the positions done (n rounded down to 8).
    public static func scores64(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                scores: UnsafeMutablePointer<Float>) -> Int {
        // intrinsics, not SIMD8 operators: those were split into 4-lane pieces here, with spills
        typealias V = SIMD8<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { _mm256_loadu_ps(p) }
        @inline(__always) func mul(_ a: V, _ b: V) -> V { _mm256_mul_ps(a, b) }
        @inline(__always) func add(_ a: V, _ b: V) -> V { _mm256_add_ps(a, b) }
        let q0 = ld(q), q1 = ld(q + 8), q2 = ld(q + 16), q3 = ld(q + 24), q4 = ld(q + 32), q5 = ld(q + 40), q6 = ld(q + 48), q7 = ld(q + 56)
        let zero = _mm256_setzero_ps()
        @inline(__always) func lanes(_ k: UnsafePointer<Float>) -> V {
            let s0 = add(add(zero, mul(q0, ld(k))), mul(q4, ld(k + 32))), s1 = add(add(zero, mul(q1, ld(k + 8))), mul(q5, ld(k + 40)))
            let s2 = add(add(zero, mul(q2, ld(k + 16))), mul(q6, ld(k + 48))), s3 = add(add(zero, mul(q3, ld(k + 24))), mul(q7, ld(k + 56)))
            return add(add(s0, s1), add(s2, s3))
        }
        let sv = _mm256_set1_ps(scale)
        var j = 0
        while j &+ 8 <= n {
            let k = keys + j &* stride
            let r0 = lanes(k), r1 = lanes(k + stride), r2 = lanes(k + 2 &* stride), r3 = lanes(k + 3 &* stride)
            let r4 = lanes(k + 4 &* stride), r5 = lanes(k + 5 &* stride), r6 = lanes(k + 6 &* stride), r7 = lanes(k + 7 &* stride)
            let c = transpose8(r0, r1, r2, r3, r4, r5, r6, r7)
            let sum = add(add(add(add(add(add(add(c.0, c.1), c.2), c.3), c.4), c.5), c.6), c.7)
            _mm256_storeu_ps(scores + j, mul(sum, sv))
            j &+= 8
        }
        return j
    }

    /// `VectorLanes.softmax` compiled for AVX-512 (zmm lanes).
    public static func softmax(lanes s: UnsafeMutablePointer<Float>, counts n: UnsafePointer<Int>, count: Int) {
        VectorLanes.softmax(lanes: s, counts: n, count: count)
    }

    /// `accumulate64` for four queries at once over the same `count` positions (query q's p_j at
    /// p[j · pStride + q], its sums at acc.q): each value row is loaded once for the four, and the sixteen
    /// accumulators are sixteen independent chains; every lane still a multiply then an add, in position order.
    public static func accumulate64x4(values: UnsafePointer<Float>, stride: Int, count: Int, p: UnsafePointer<Float>, pStride: Int,
                                      acc: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)) {
        typealias V = SIMD16<Float>
        @inline(__always) func ld(_ q: UnsafePointer<Float>) -> V { _mm512_loadu_ps(q) }
        @inline(__always) func mac(_ a: inout (V, V, V, V), _ w: V, _ v: (V, V, V, V)) {
            a.0 = _mm512_add_ps(a.0, _mm512_mul_ps(w, v.0)); a.1 = _mm512_add_ps(a.1, _mm512_mul_ps(w, v.1))
            a.2 = _mm512_add_ps(a.2, _mm512_mul_ps(w, v.2)); a.3 = _mm512_add_ps(a.3, _mm512_mul_ps(w, v.3))
        }
        @inline(__always) func load(_ o: UnsafeMutablePointer<Float>) -> (V, V, V, V) { (ld(o), ld(o + 16), ld(o + 32), ld(o + 48)) }
        @inline(__always) func store(_ a: (V, V, V, V), _ o: UnsafeMutablePointer<Float>) {
            _mm512_storeu_ps(o, a.0); _mm512_storeu_ps(o + 16, a.1); _mm512_storeu_ps(o + 32, a.2); _mm512_storeu_ps(o + 48, a.3)
        }
        var a0 = load(acc.0), a1 = load(acc.1), a2 = load(acc.2), a3 = load(acc.3)
        for j in 0..<count {
            let v = values + j &* stride, pj = p + j &* pStride
            let vv = (ld(v), ld(v + 16), ld(v + 32), ld(v + 48))
            mac(&a0, _mm512_set1_ps(pj[0]), vv); mac(&a1, _mm512_set1_ps(pj[1]), vv)
            mac(&a2, _mm512_set1_ps(pj[2]), vv); mac(&a3, _mm512_set1_ps(pj[3]), vv)
        }
        store(a0, acc.0); store(a1, acc.1); store(a2, acc.2); store(a3, acc.3)
    }

    /// The scores of up to sixteen queries that share one KV head, with the queries in the lanes:
    /// `qt` [64, 16] holds query i's element d at qt[16·d + i] (zero for absent queries), and
    /// out[16·j + i] = (q_i·k_j) · scale for every position j < n. Per (query, position) the arithmetic of
    /// `scores64`: s_c = q_c·k_c + q_(c+4)·k_(c+4) over 8-element chunks c < 4 (lane l of chunk c
    /// is element 8c + l), S_l = (s0 + s1) + (s2 + s3), then S_0 + S_1 + ... + S_7 in order; here each
    /// product is one key element broadcast against sixteen queries' elements, so no transposes.
    /// `scores64` starts each s_c from the zeroed accumulator, (0 + q_c·k_c); that add is left out here:
    /// it changes only the sign of a zero score, and softmax gives ±0 the same probability
    /// (e^(±0 − m) has the same bits), so the probabilities and outputs are `attendHead`'s, bit for bit.
    public static func scoresQueryLanes(qt: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                        out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { _mm512_loadu_ps(p) }
        @inline(__always) func add(_ a: V, _ b: V) -> V { _mm512_add_ps(a, b) }
        @inline(__always) func mul(_ a: V, _ k: UnsafePointer<Float>, _ e: Int) -> V { _mm512_mul_ps(a, _mm512_set1_ps(k[e])) }
        let sv = _mm512_set1_ps(scale)
        var j = 0
        // four positions at a time (past n the last one is repeated, not stored): each query vector is
        // loaded once for the four
        while j < n {
            let k0 = keys + j &* stride
            let k1 = j &+ 1 < n ? k0 + stride : k0, k2 = j &+ 2 < n ? k0 + 2 &* stride : k0, k3 = j &+ 3 < n ? k0 + 3 &* stride : k0
            var sum = (V(), V(), V(), V())
            for l in 0..<8 {
                let qa0 = ld(qt + l &* 16), qb0 = ld(qt + (32 &+ l) &* 16), qa1 = ld(qt + (8 &+ l) &* 16), qb1 = ld(qt + (40 &+ l) &* 16)
                let qa2 = ld(qt + (16 &+ l) &* 16), qb2 = ld(qt + (48 &+ l) &* 16), qa3 = ld(qt + (24 &+ l) &* 16), qb3 = ld(qt + (56 &+ l) &* 16)
                @inline(__always) func lane(_ k: UnsafePointer<Float>) -> V {   // S_l of one position
                    let s0 = add(mul(qa0, k, l), mul(qb0, k, 32 &+ l)), s1 = add(mul(qa1, k, 8 &+ l), mul(qb1, k, 40 &+ l))
                    let s2 = add(mul(qa2, k, 16 &+ l), mul(qb2, k, 48 &+ l)), s3 = add(mul(qa3, k, 24 &+ l), mul(qb3, k, 56 &+ l))
                    return add(add(s0, s1), add(s2, s3))
                }
                let S = (lane(k0), lane(k1), lane(k2), lane(k3))
                if l == 0 { sum = S } else { sum = (add(sum.0, S.0), add(sum.1, S.1), add(sum.2, S.2), add(sum.3, S.3)) }
            }
            _mm512_storeu_ps(out + j &* 16, _mm512_mul_ps(sum.0, sv))
            if j &+ 1 < n { _mm512_storeu_ps(out + (j &+ 1) &* 16, _mm512_mul_ps(sum.1, sv)) }
            if j &+ 2 < n { _mm512_storeu_ps(out + (j &+ 2) &* 16, _mm512_mul_ps(sum.2, sv)) }
            if j &+ 3 < n { _mm512_storeu_ps(out + (j &+ 3) &* 16, _mm512_mul_ps(sum.3, sv)) }
            j &+= 4
        }
    }

    /// Columns of the 8x8 matrix with rows r0..r7: result.k = (r0[k], ..., r7[k]).
    @inline(__always)
    static func transpose8(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>,
                           _ r4: SIMD8<Float>, _ r5: SIMD8<Float>, _ r6: SIMD8<Float>, _ r7: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func pd(_ x: V) -> SIMD4<Double> { unsafeBitCast(x, to: SIMD4<Double>.self) }
        @inline(__always) func ps(_ x: SIMD4<Double>) -> V { unsafeBitCast(x, to: V.self) }
        // within 128-bit halves: u_k = (r0[k], r1[k], r2[k], r3[k] | r0[k+4], ..., r3[k+4]) for k < 4
        let t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3)
        let t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5), t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7)
        let u0 = ps(_mm256_unpacklo_pd(pd(t0), pd(t2))), u1 = ps(_mm256_unpackhi_pd(pd(t0), pd(t2)))
        let u2 = ps(_mm256_unpacklo_pd(pd(t1), pd(t3))), u3 = ps(_mm256_unpackhi_pd(pd(t1), pd(t3)))
        let w0 = ps(_mm256_unpacklo_pd(pd(t4), pd(t6))), w1 = ps(_mm256_unpackhi_pd(pd(t4), pd(t6)))
        let w2 = ps(_mm256_unpacklo_pd(pd(t5), pd(t7))), w3 = ps(_mm256_unpackhi_pd(pd(t5), pd(t7)))
        // (u.low | w.low) and (u.high | w.high) by vpermt2ps: lowHalf/highHalf would be element copies
        let lo = unsafeBitCast(SIMD8<Int32>(0, 1, 2, 3, 8, 9, 10, 11), to: SIMD4<Int64>.self)
        let hi = unsafeBitCast(SIMD8<Int32>(4, 5, 6, 7, 12, 13, 14, 15), to: SIMD4<Int64>.self)
        @inline(__always) func l(_ u: V, _ w: V) -> V { _mm256_permutex2var_ps(u, lo, w) }
        @inline(__always) func h(_ u: V, _ w: V) -> V { _mm256_permutex2var_ps(u, hi, w) }
        return (l(u0, w0), l(u1, w1), l(u2, w2), l(u3, w3), h(u0, w0), h(u1, w1), h(u2, w2), h(u3, w3))
    }

    #else
    // other architectures: never selected (`KernelPath.supported` is [.portable])
    public static func scores64(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                scores: UnsafeMutablePointer<Float>) -> Int { 0 }
    public static func accumulate64(values: UnsafePointer<Float>, stride: Int, count: Int, p: UnsafePointer<Float>, pStride: Int = 1,
                                    acc: UnsafeMutablePointer<Float>) { preconditionFailure("no AVX-512 H-Unit on this architecture") }
    public static func scoresQueryLanes(qt: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                                        out: UnsafeMutablePointer<Float>) { preconditionFailure("no AVX-512 H-Unit on this architecture") }
    public static func accumulate64x4(values: UnsafePointer<Float>, stride: Int, count: Int, p: UnsafePointer<Float>, pStride: Int,
                                      acc: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)) {
        preconditionFailure("no AVX-512 H-Unit on this architecture")
    }
    #endif
}
