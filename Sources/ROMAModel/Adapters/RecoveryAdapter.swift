import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

/// Accuracy-recovery adapters: for every linear layer the rank-R LoRA that best approximates what
/// quantization removed, W_float − W_rom, so spare H-Unit SRAM buys back accuracy (the idea behind
/// Apple's adapters for its 2-bit on-device model, computed here rather than trained).
///
/// - Plain: B·A = the truncated SVD of ΔW (Eckart-Young: the rank-R matrix nearest in Frobenius norm).
/// - Activation-aware (with calibration Hessians H = E[x xᵀ] of each layer's inputs): B·A minimises
///   ‖(ΔW − B·A) X‖, i.e. with H + λI = L Lᵀ, the truncated SVD U Σ Vᵀ of ΔW·L gives B·A = U Σ Vᵀ L⁻¹.
/// The singular values are split evenly, B = U Σ^½ and A = Σ^½ Vᵀ (L⁻¹), which keeps both factors in a
/// similar range for FP8; scale = 1 (alpha = r).
public enum RecoveryAdapter {
    public struct LayerReport: Sendable {
        public let target: LoRATarget
        /// ‖ΔW‖_F / ‖W_float‖_F before and ‖ΔW − B·A‖_F / ‖W_float‖_F after.
        public let before: Double, after: Double
    }

    /// Builds the adapter. `float(kind, layer)` gives W_float [rows, cols] row-major (GGUF row order).
    public static func build(image: ROMImage, rank: Int, name: String = "recovery", hessians: [String: Hessian]? = nil,
                             dampening: Double = 0.01,
                             float: (LinearKind, Int) throws -> [Float],
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> (adapter: LoRAAdapter, report: [LayerReport]) {
        guard rank >= 1 && rank <= 4096 else { throw AdapterError.invalid("recovery rank must be in 1...4096, got \(rank)") }
        let m = image.model
        var layers: [LoRATarget: LoRALayer] = [:]
        var report: [LayerReport] = []
        let targets = (0..<m.numLayers).flatMap { l in LinearKind.allCases.map { LoRATarget(layer: l, kind: $0) } }
        var factors: [ObjectIdentifier: [Double]] = [:]   // Cholesky factors, shared by layers reading one input
        for (i, t) in targets.enumerated() {
            let tensor = try image.requireTensor(t.kind.ggufName(layer: t.layer))
            let (rows, cols) = (tensor.rows, tensor.cols)
            let wf = try float(t.kind, t.layer)
            guard wf.count == rows * cols else {
                throw AdapterError.shapeMismatch("\(t): the float weight has \(wf.count) values, the ROM image's is [\(rows) x \(cols)] (another model?)")
            }
            var delta = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                let q = image.dequantizeRow(tensor, r)
                for c in 0..<cols { delta[r * cols + c] = wf[r * cols + c] - q[c] }
            }
            var lower: [Double]?
            if let h = hessians?[t.kind.ggufName(layer: t.layer)] {
                if let f = factors[ObjectIdentifier(h)] { lower = f } else {
                    let f = try choleskyOfDamped(h, dampening: dampening)
                    factors[ObjectIdentifier(h)] = f
                    lower = f
                }
            }
            let target = lower.map { multiply(delta, rows: rows, cols: cols, lower: $0) } ?? delta
            let svd = TruncatedSVD(target, rows: rows, cols: cols, rank: min(rank, rows, cols), seed: UInt64(i + 1))
            let k = svd.rank
            var a = [Float](repeating: 0, count: k * cols), b = [Float](repeating: 0, count: rows * k)
            for j in 0..<k {
                let root = svd.s[j].squareRoot()
                for r in 0..<rows { b[r * k + j] = svd.u[r * k + j] * root }
                var v = (0..<cols).map { Double(svd.vt[j * cols + $0]) }
                if let lower { v = solveLowerTransposed(lower, v, n: cols) }   // Vᵀ L⁻¹: solve Lᵀ a = v
                for c in 0..<cols { a[j * cols + c] = Float(v[c]) * root }
            }
            let layer = LoRALayer(rank: k, inDim: cols, outDim: rows, a: a, b: b, scale: 1)
            layers[t] = layer
            // relative errors against W_float
            let ba = layer.denseDelta()
            var nf = 0.0, nd = 0.0, nr = 0.0
            for j in 0..<(rows * cols) {
                nf += Double(wf[j]) * Double(wf[j]); nd += Double(delta[j]) * Double(delta[j])
                let res = Double(delta[j]) - ba[j]
                nr += res * res
            }
            report.append(LayerReport(target: t, before: (nd / max(nf, 1e-30)).squareRoot(), after: (nr / max(nf, 1e-30)).squareRoot()))
            progress(i + 1, targets.count)
        }
        let meta = ["method": hessians == nil ? "truncated SVD of W_float - W_rom" : "activation-aware truncated SVD of (W_float - W_rom) L, H = L Lt",
                    "rank": "\(rank)", "rom_checksum": image.checksumHex, "rom_bits": "\(image.bits)"]
        return (LoRAAdapter(name: name, layers: layers, source: "recovery", alpha: Double(rank), metadata: meta), report)
    }

    /// Cholesky factor (lower, row-major FP64) of H + λ·mean(diag H)·I.
    static func choleskyOfDamped(_ h: Hessian, dampening: Double) throws -> [Double] {
        let n = h.n
        var a = (0..<(n * n)).map { Double(h.data[$0]) }
        var mean = 0.0
        for i in 0..<n { mean += a[i * n + i] }
        mean = max(mean / Double(n), 1e-8)
        for i in 0..<n { a[i * n + i] += dampening * mean }
        return try GPTQ.cholesky(a, n: n)
    }

    /// ΔW·L for lower-triangular L [cols, cols].
    static func multiply(_ d: [Float], rows: Int, cols: Int, lower: [Double]) -> [Float] {
        // (ΔW L)[r, c] = Σ_{k >= c} ΔW[r, k] L[k, c]; computed as ΔW · (Lᵀ)ᵀ with Lᵀ rows = L columns
        var lt = [Float](repeating: 0, count: cols * cols)
        for k in 0..<cols { for c in 0...k { lt[c * cols + k] = Float(lower[k * cols + c]) } }
        return TruncatedSVD.product(d, rows, lt, cols, cols)
    }

    /// Solves Lᵀ x = v (L lower-triangular, so Lᵀ is upper): back substitution in FP64.
    static func solveLowerTransposed(_ l: [Double], _ v: [Double], n: Int) -> [Double] {
        var x = v
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = x[i]
            for k in (i + 1)..<max(i + 1, n) { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }
}
