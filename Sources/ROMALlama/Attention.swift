import ROMANumerics

/// Causal grouped-query attention over a batch, shared by the backends: each sequence's K and V rows
/// are appended to its own cache, then every (row, query head) is one job over the cores, computing
/// that head from its query, its KV head's keys and values in the row's cache, and the number of
/// positions the row sees (its position + 1). The backend supplies the per-head arithmetic.
public enum Attention {
    /// One head: its batch row and query head, the query, keys and values (row stride `stride`), visible
    /// positions `n`, a scratch buffer for n scores, the output slot [headDim].
    public typealias Head = (_ row: Int, _ head: Int, _ q: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
                             _ stride: Int, _ n: Int, _ scores: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>) -> Void

    /// q: [rows, heads*headDim]; k, v: [rows, kvDim] (already in the cache's storage format).
    public static func run(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch, heads H: Int, headDim hd: Int,
                           head: Head) -> Matrix {
        let starts = batch.sequences.indices.map { batch.sequences[$0].cache.append(layer: layer, k: k, v: v, rows: batch.rows[$0]) }
        let kvDim = k.cols, group = H / (kvDim / hd)
        let out = Matrix(rows: q.rows, cols: H * hd)
        let (qp, op) = (Unchecked(q.data), Unchecked(out.data))
        let caches = batch.sequences.map { Unchecked(($0.cache.keys(layer: layer), $0.cache.values(layer: layer))) }
        Parallel.forEach(q.rows * H) { job in
            let t = job / H, h = job % H
            let s = batch.sequenceOfRow[t]
            let n = starts[s] + (t - batch.rows[s].lowerBound) + 1   // causal: positions 0...its own
            let kvh = h / group
            let (keys, values) = caches[s].value
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { scores.deallocate() }
            head(t, h, qp.value + t * H * hd + h * hd, keys + kvh * hd, values + kvh * hd, kvDim, n, scores,
                 op.value + t * H * hd + h * hd)
        }
        return out
    }
}
