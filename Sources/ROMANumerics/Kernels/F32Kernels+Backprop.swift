/// FP32 kernels for backpropagation (`TrainableLlama`): a general product in the engine's one
/// layout (both operands row-major with the summed dimension contiguous), transposes to bring the
/// other products into it, and axpy.
extension F32Kernels {
    /// c[M, N] = a[M, K] · b[N, K]ᵀ over all cores (blocks of 16 columns of c), with the engine's
    /// matmul kernel: `gemmNT(x, W)` is the forward product x Wᵀ; `gemmNT(dY, Wᵀ)` is dX = dY W;
    /// `gemmNT(dYᵀ, Xᵀ)` is dW = dYᵀ X.
    public static func gemmNT(a: UnsafePointer<Float>, m: Int, b: UnsafePointer<Float>, n: Int, k: Int,
                              c: UnsafeMutablePointer<Float>) {
        let blocks = (n + 15) / 16
        let (ap, bp, cp) = (Unchecked(a), Unchecked(b), Unchecked(c))
        Parallel.forEach(blocks) { blk in
            let r = (blk * 16)..<min(n, blk * 16 + 16)
            matmulRows(x: ap.value, T: m, w: bp.value, n: k, oRange: r, out: cp.value, outStride: n)
        }
    }

    /// dst[cols, rows] = src[rows, cols]ᵀ, in 32 x 32 tiles over all cores. `dstStride` (default
    /// `rows`) lets the result land in a column block of a wider matrix.
    public static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>,
                                 dstStride: Int? = nil) {
        let ds = dstStride ?? rows
        let tile = 32
        let rowTiles = (rows + tile - 1) / tile
        let (sp, dp) = (Unchecked(src), Unchecked(dst))
        Parallel.forEach(rowTiles) { rt in
            let r0 = rt * tile, r1 = min(rows, r0 + tile)
            var c0 = 0
            while c0 < cols {
                let c1 = min(cols, c0 + tile)
                for r in r0..<r1 {
                    let s = sp.value + r * cols
                    for c in c0..<c1 { dp.value[c * ds + r] = s[c] }
                }
                c0 = c1
            }
        }
    }

    /// y[0..<n] += a · x[0..<n].
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let av = V(repeating: a)
        var i = 0
        while i + 8 <= n {
            let r = load(UnsafePointer(y), i) + av * load(x, i)
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: V.self)
            i += 8
        }
        while i < n { y[i] += a * x[i]; i += 1 }
    }
}
