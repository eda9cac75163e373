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

    /// Appends each sequence's K and V rows to its cache: the position of each sequence's first new row,
    /// and each cache's keys and values of `layer`.
    private static func append(k: Matrix, v: Matrix, layer: Int, batch: Batch)
        -> (starts: [Int], caches: [Unchecked<(UnsafePointer<Float>, UnsafePointer<Float>)>]) {
        let starts = batch.sequences.indices.map { batch.sequences[$0].cache.append(layer: layer, k: k, v: v, rows: batch.rows[$0]) }
        return (starts, batch.sequences.map { Unchecked(($0.cache.keys(layer: layer), $0.cache.values(layer: layer))) })
    }

    /// q: [rows, heads*headDim]; k, v: [rows, kvDim] (already in the cache's storage format).
    public static func run(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch, heads H: Int, headDim hd: Int,
                           head: Head) -> Matrix {
        let (starts, caches) = append(k: k, v: v, layer: layer, batch: batch)
        let kvDim = k.cols, group = H / (kvDim / hd)
        let out = Matrix(rows: q.rows, cols: H * hd)
        let (qp, op) = (Unchecked(q.data), Unchecked(out.data))
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

    /// Queries that share one KV head: up to `tileRows` consecutive rows of one sequence times the
    /// query heads of the group. `q[i]`, `n[i]` (visible positions, causal) and `out[i]` per query.
    public struct Tile {
        public let count: Int
        public let q: UnsafePointer<UnsafePointer<Float>>, n: UnsafePointer<Int>, out: UnsafePointer<UnsafeMutablePointer<Float>>
        /// The largest n.
        public let maxN: Int
        public init(count: Int, q: UnsafePointer<UnsafePointer<Float>>, n: UnsafePointer<Int>, out: UnsafePointer<UnsafeMutablePointer<Float>>,
                    maxN: Int) {
            self.count = count; self.q = q; self.n = n; self.out = out; self.maxN = maxN
        }
    }
    /// One tile: its queries, their KV head's keys and values (row stride `stride`).
    public typealias TileHead = (_ tile: Tile, _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>, _ stride: Int) -> Void

    /// `run` with the jobs made of tiles instead of single heads, so that a backend can read each
    /// key and value once for all of a tile's queries (the same per-query results, in any order).
    public static func runTiled(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch, heads H: Int, headDim hd: Int,
                                tileRows: Int, tile: TileHead) -> Matrix {
        let (starts, caches) = append(k: k, v: v, layer: layer, batch: batch)
        let kvDim = k.cols, kvHeads = kvDim / hd, group = H / kvHeads
        let out = Matrix(overwrittenRows: q.rows, cols: H * hd)   // every tile writes its queries' outputs
        let (qp, op) = (Unchecked(q.data), Unchecked(out.data))
        // jobs: (sequence, first row of the tile, KV head)
        var jobs: [(s: Int, t0: Int, kvh: Int)] = []
        jobs.reserveCapacity(batch.rows.reduce(0) { $0 + ($1.count + tileRows - 1) / tileRows } * kvHeads)
        for (s, rows) in batch.rows.enumerated() {
            for t0 in stride(from: rows.lowerBound, to: rows.upperBound, by: tileRows) {
                for kvh in 0..<kvHeads { jobs.append((s, t0, kvh)) }
            }
        }
        let maxCount = tileRows * group
        // the latest tiles (the most positions) first: the chunks the threads take from each other at
        // the end are the cheapest
        Parallel.forEach(jobs.count) { j in
            let (s, t0, kvh) = jobs[jobs.count - 1 - j]
            let rows = batch.rows[s], t1 = min(rows.upperBound, t0 + tileRows)
            // the tile's query pointers, counts and output pointers on the stack (a decode step makes a few
            // tiles per layer): three arrays of maxCount words
            withUnsafeTemporaryAllocation(byteCount: 3 * maxCount * 8, alignment: 8) { raw in
                let base = raw.baseAddress!
                let qs = base.bindMemory(to: UnsafePointer<Float>.self, capacity: maxCount)
                let ns = (base + maxCount * 8).bindMemory(to: Int.self, capacity: maxCount)
                let outs = (base + 2 * maxCount * 8).bindMemory(to: UnsafeMutablePointer<Float>.self, capacity: maxCount)
                var c = 0
                for t in t0..<t1 {
                    for h in (kvh * group)..<((kvh + 1) * group) {
                        qs[c] = UnsafePointer(qp.value + t * H * hd + h * hd)
                        ns[c] = starts[s] + (t - rows.lowerBound) + 1   // causal: positions 0...its own
                        outs[c] = op.value + t * H * hd + h * hd
                        c += 1
                    }
                }
                let (keys, values) = caches[s].value
                tile(Tile(count: c, q: qs, n: ns, out: outs, maxN: ns[c - 1]), keys + kvh * hd, values + kvh * hd, kvDim)
            }
        }
        return out
    }
}
