import Foundation
import ROMALlama
import ROMANumerics
import ROMAKernelsAVX2
import ROMAKernelsAVX512

/// The SRAM-based H-Unit (Sec. III-A): holds the KV cache (FP16) and LoRA weights (FP8 E4M3) and
/// computes attention and the LoRA products.
public enum HUnit {
    /// Attention for one query head over `n` cached positions of one KV head (K, V hold FP16 values):
    /// score_j = q·k_j (the H-Unit's FP32 dot product: four 8-lane accumulators over 32-element
    /// blocks, then a fixed reduction, `F32Kernels.dot`) times `scale`; softmax on the vector unit;
    /// out_d = fp16(Σ_j p_j v_jd), accumulated in FP32 in position order.
    public static func attendHead(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                  stride: Int, n: Int, headDim: Int, scale: Float,
                                  scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        if headDim == 64 {
            scores64(q: q, keys: keys, stride: stride, n: n, scale: scale, scores: scores)
        } else {
            for j in 0..<n { scores[j] = F32Kernels.dot(q, keys + j &* stride, headDim) * scale }
        }
        VectorUnit.softmax(scores, n)
        for d in 0..<headDim { out[d] = 0 }
        if headDim == 64 {
            // the same sums (each output lane in position order), held in registers
            accumulate64(values: values, stride: stride, count: n, p: scores, acc: out)
            for d in 0..<64 { out[d] = FP16.round(out[d]) }
            return
        }
        for j in 0..<n {
            let v = values + j &* stride, p = scores[j]
            for d in 0..<headDim { out[d] += p * v[d] }
        }
        for d in 0..<headDim { out[d] = FP16.round(out[d]) }
    }

    /// Query rows per attention tile when `group` query heads share a KV head: on AVX-512 as many as
    /// fill the sixteen query lanes of `attendTileQueryLanes` (five rows of three heads), else four.
    public static func tileRows(group: Int) -> Int {
        KernelPath.selected == .avx512vnni && group <= 16 ? 16 / group : 4
    }

    /// `attendHead` for every query of a tile that shares one KV head, with each block of
    /// `attendTileBlock` keys and values read once for all of them (from L1) instead of once per query
    /// (from L2): the scores of a block for each query that sees all of it, then each query's remaining
    /// positions and softmax, then the outputs a block at a time. Every query's numbers are `attendHead`'s: the same operations on
    /// the same operands, each output lane still summed in position order.
    public static func attendTile(_ tile: Attention.Tile, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                                  headDim: Int, scale: Float) {
        let c = tile.count, N = tile.maxN
        if headDim == 64 && KernelPath.selected == .avx512vnni && c >= 8 && c <= 16 {
            return attendTileQueryLanes(tile, keys: keys, values: values, stride: stride, scale: scale)
        }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: c * N)
        defer { scores.deallocate() }
        guard headDim == 64, KernelPath.selected != .portable else {
            for i in 0..<c {
                attendHead(q: tile.q[i], keys: keys, values: values, stride: stride, n: tile.n[i], headDim: headDim, scale: scale,
                           scores: scores, out: tile.out[i])
            }
            return
        }
        // blocks of `block` positions: their keys (then values) stay in L1 across the queries,
        // and each call covers enough positions to pay for loading its query or its sums
        let block = attendTileBlock
        var jb = 0
        while jb + block <= N {
            for i in 0..<c where jb + block <= tile.n[i] {
                scores64(q: tile.q[i], keys: keys + jb * stride, stride: stride, n: block, scale: scale, scores: scores + i * N + jb)
            }
            jb += block
        }
        for i in 0..<c {
            let n = tile.n[i], done = n / block * block
            scores64(q: tile.q[i], keys: keys + done * stride, stride: stride, n: n - done, scale: scale, scores: scores + i * N + done)
        }
        VectorUnit.softmax(rows: scores, stride: N, counts: tile.n, count: c)
        for i in 0..<c { tile.out[i].initialize(repeating: 0, count: 64) }   // each query's sums accumulate in its output slot
        jb = 0
        while jb < N {
            for i in 0..<c where jb < tile.n[i] {
                accumulate64(values: values + jb * stride, stride: stride, count: min(block, tile.n[i] - jb), p: scores + i * N + jb,
                             acc: tile.out[i])
            }
            jb += block
        }
        for i in 0..<c {
            for d in 0..<64 { tile.out[i][d] = FP16.round(tile.out[i][d]) }
        }
    }

    /// Positions per block in `attendTile` (a multiple of eight): 32 keys of 64 FP32 values are 8 KB.
    /// Blocks of 8 ran pp512's attention about 12% slower on the Zen 3 VM, 128 as slow as 8 (docs/numerics.md).
    static let attendTileBlock = 32

    /// `attendTile` for eight to sixteen queries on AVX-512, the queries in the lanes: their scores for
    /// every position in one pass over the keys (`HUnitAVX512.scoresQueryLanes`), the softmax in the lanes,
    /// then the outputs from each query's lane of the probabilities, four queries at a time
    /// (`HUnitAVX512.accumulate64x4`).
    /// The same operations on the same operands per query as `attendHead`.
    static func attendTileQueryLanes(_ tile: Attention.Tile, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                                     scale: Float) {
        let c = tile.count, N = tile.maxN
        let qt = UnsafeMutablePointer<Float>.allocate(capacity: 64 * 16), p = UnsafeMutablePointer<Float>.allocate(capacity: N * 16)
        let spare = UnsafeMutablePointer<Float>.allocate(capacity: 64)   // the fourth sums of a group of three (not stored)
        defer { qt.deallocate(); p.deallocate(); spare.deallocate() }
        spare.initialize(repeating: 0, count: 64)
        qt.initialize(repeating: 0, count: 64 * 16)
        for i in 0..<c { for d in 0..<64 { qt[d * 16 + i] = tile.q[i][d] } }
        HUnitAVX512.scoresQueryLanes(qt: qt, keys: keys, stride: stride, n: N, scale: scale, out: p)
        HUnitAVX512.softmax(lanes: p, counts: tile.n, count: c)
        for i in 0..<c { tile.out[i].initialize(repeating: 0, count: 64) }
        // blocks of 32 positions (their values stay in L1 across the tile's queries), four queries at a
        // time where the four see the whole block (the last three of a tile as four, the fourth lane's
        // sums into `spare`), one at a time otherwise
        var jb = 0
        while jb < N {
            let je = min(N, jb + 32)
            var i = 0
            while i < c {
                let width = min(4, c - i)
                if width >= 3 && (i..<(i + width)).allSatisfy({ tile.n[$0] >= je }) {
                    HUnitAVX512.accumulate64x4(values: values + jb * stride, stride: stride, count: je - jb, p: p + jb * 16 + i, pStride: 16,
                                               acc: (tile.out[i], tile.out[i + 1], tile.out[i + 2], width == 4 ? tile.out[i + 3] : spare))
                    i += width
                    continue
                }
                if jb < tile.n[i] {
                    HUnitAVX512.accumulate64(values: values + jb * stride, stride: stride, count: min(je, tile.n[i]) - jb, p: p + jb * 16 + i,
                                             pStride: 16, acc: tile.out[i])
                }
                i += 1
            }
            jb = je
        }
        for i in 0..<c {
            for d in 0..<64 { tile.out[i][d] = FP16.round(tile.out[i][d]) }
        }
    }

    /// acc[d] += p_j · v_jd for `count` positions in order (`attendHead`'s output sums, resumed).
    @inline(__always)
    static func accumulate64(values: UnsafePointer<Float>, stride: Int, count: Int, p: UnsafePointer<Float>, acc: UnsafeMutablePointer<Float>) {
        if KernelPath.selected == .avx512vnni {
            return HUnitAVX512.accumulate64(values: values, stride: stride, count: count, p: p, acc: acc)
        }
        typealias V = SIMD8<Float>
        @inline(__always) func ld(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        var a0 = ld(acc), a1 = ld(acc + 8), a2 = ld(acc + 16), a3 = ld(acc + 24), a4 = ld(acc + 32), a5 = ld(acc + 40), a6 = ld(acc + 48), a7 = ld(acc + 56)
        for j in 0..<count {
            let v = values + j &* stride, w = V(repeating: p[j])
            a0 += w * ld(v); a1 += w * ld(v + 8); a2 += w * ld(v + 16); a3 += w * ld(v + 24)
            a4 += w * ld(v + 32); a5 += w * ld(v + 40); a6 += w * ld(v + 48); a7 += w * ld(v + 56)
        }
        let o = UnsafeMutableRawPointer(acc)
        o.storeBytes(of: a0, as: V.self); o.storeBytes(of: a1, toByteOffset: 32, as: V.self)
        o.storeBytes(of: a2, toByteOffset: 64, as: V.self); o.storeBytes(of: a3, toByteOffset: 96, as: V.self)
        o.storeBytes(of: a4, toByteOffset: 128, as: V.self); o.storeBytes(of: a5, toByteOffset: 160, as: V.self)
        o.storeBytes(of: a6, toByteOffset: 192, as: V.self); o.storeBytes(of: a7, toByteOffset: 224, as: V.self)
    }

    /// scores[j] = F32Kernels.dot(q, k_j, 64) · scale, bit for bit, with q held in registers: per
    /// position s_c = (0 + q_c·k_c) + q_(c+4)·k_(c+4) over 8-lane chunks c < 4, S = (s0 + s1) + (s2 + s3),
    /// score = S's lanes added in order. On the AVX2 path eight positions are transposed so that their
    /// in-order lane sums run in the lanes (`HUnitAVX2.scores64`).
    @inline(__always)
    static func scores64(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, n: Int, scale: Float,
                         scores: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        let q0 = ld(q), q1 = ld(q + 8), q2 = ld(q + 16), q3 = ld(q + 24), q4 = ld(q + 32), q5 = ld(q + 40), q6 = ld(q + 48), q7 = ld(q + 56)
        @inline(__always) func lanes(_ k: UnsafePointer<Float>) -> V {
            let s0 = (V() + q0 * ld(k)) + q4 * ld(k + 32), s1 = (V() + q1 * ld(k + 8)) + q5 * ld(k + 40)
            let s2 = (V() + q2 * ld(k + 16)) + q6 * ld(k + 48), s3 = (V() + q3 * ld(k + 24)) + q7 * ld(k + 56)
            return (s0 + s1) + (s2 + s3)
        }
        // the SIMD paths: eight positions at a time, then the rest here
        var j: Int
        switch KernelPath.selected {
        case .avx512vnni: j = HUnitAVX512.scores64(q: q, keys: keys, stride: stride, n: n, scale: scale, scores: scores)
        case .avx2: j = HUnitAVX2.scores64(q: q, keys: keys, stride: stride, n: n, scale: scale, scores: scores)
        case .portable: j = 0
        }
        while j < n { scores[j] = lanes(keys + j &* stride).sum() * scale; j &+= 1 }
    }


    /// LoRA on the H-Unit for `tokens` rows of x [tokens, inDim]: A [rank, inDim] and Bᵀ [rank, outDim]
    /// hold the stored weight values (FP8 E4M3 values by default) without their per-tensor scales.
    ///     h[t, r] = fp16(aScale · (x[t] · A[r]))          (FP32 dot product, `F32Kernels.rowDot` order)
    ///     y[t, o] += (Σ_r h[t, r] · B[o, r]) · (bScale · scale)   (FP32, r in order)
    /// y is [tokens, outDim] and accumulates in FP32; the caller rounds the sum to FP16.
    public static func loraAccumulate(x: UnsafePointer<Float>, tokens: Int, inDim: Int, a: UnsafePointer<Float>, aScale: Float,
                                      bT: UnsafePointer<Float>, bScale: Float, rank: Int, outDim: Int, scale: Float,
                                      y: UnsafeMutablePointer<Float>) {
        let h = UnsafeMutablePointer<Float>.allocate(capacity: tokens * rank)
        defer { h.deallocate() }
        F32Kernels.matmul(x: x, tokens: tokens, w: a, n: inDim, outputs: rank, out: h)
        for i in 0..<(tokens * rank) { h[i] = FP16.round(h[i] * aScale) }
        F32Kernels.expand(h: h, tokens: tokens, rank: rank, bT: bT, outDim: outDim, scale: bScale * scale, y: y)
    }

    /// How a value is rounded when stored in H-Unit SRAM in `format` (the KV cache): FP16, BF16 and FP8
    /// E4M3 round to nearest even (FP8 saturating at ±448), FP32 keeps it. Other formats are refused.
    public static func storageRounding(_ format: NumberFormat) throws -> @Sendable (Float) -> Float {
        switch format {
        case .fp16: return { FP16.round($0) }
        case .bf16: return { BF16.toFloat(BF16.fromFloat($0)) }
        case .fp8e4m3: return { FP8E4M3.toFloat(FP8E4M3.fromFloat($0)) }
        case .fp32: return { $0 }
        default: throw ChipConfigError.unsupported(ChipConfig.Numerics.unsupportedMessage("kvCacheFormat", format, kvCacheFormats))
        }
    }

    /// KV-cache formats the H-Unit model implements.
    public static let kvCacheFormats: [NumberFormat] = [.fp16, .bf16, .fp8e4m3, .fp32]
}
