import Foundation
import ROMAChip
import ROMANumerics

/// Wraps a backend (normally the FP32 reference) and accumulates, for every linear layer, the
/// Hessian H = Σ x xᵀ of its inputs (`roma compile --calibration-text`, GPTQ). Layers that read the
/// same activations share one `Hessian`: q/k/v (the attention-norm output) and gate/up (the
/// FFN-norm output); the output head's inputs (the final-norm output) give the head's Hessian.
/// The output head itself is not evaluated (its logits are not needed for calibration): when
/// `computeLogits` is false `outputLogits` returns an empty [T, 1] matrix.
public final class CalibrationBackend: Backend, @unchecked Sendable {
    public let inner: Backend
    public var computeLogits = false
    /// Keyed by "layer.kind" of the first layer reading the input (q, o, gate, down) and "output".
    private var store: [String: Hessian] = [:]

    public init(_ inner: Backend) { self.inner = inner }
    public var config: ModelConfig { inner.config }
    public var name: String { inner.name + "+calibration" }

    private static func sharedKind(_ k: LinearKind) -> LinearKind {
        switch k {
        case .q, .k, .v: return .q
        case .gate, .up: return .gate
        case .o: return .o
        case .down: return .down
        }
    }

    private func accumulate(_ key: String, _ x: Matrix) {
        let h = store[key] ?? Hessian(n: x.cols)
        store[key] = h
        h.accumulate(x.data, tokens: x.rows)
    }

    public func makeKVCache(capacity: Int) throws -> KVCache { try inner.makeKVCache(capacity: capacity) }
    public func embed(_ tokens: [Int]) -> Matrix { inner.embed(tokens) }
    public func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix { inner.rmsNorm(x, norm) }
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: AdapterSelection) -> [Matrix] {
        for kind in Set(kinds.map(Self.sharedKind)) { accumulate("\(layer).\(kind.rawValue)", x) }
        return inner.linears(x, kinds, layer: layer, adapters: adapters)
    }
    public func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter { try inner.makeResident(adapter) }
    public var sram: SRAM? { inner.sram }
    public func rope(_ x: Matrix, heads: Int, startPosition: Int) { inner.rope(x, heads: heads, startPosition: startPosition) }
    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, cache: KVCache) -> Matrix {
        inner.attention(q: q, k: k, v: v, layer: layer, cache: cache)
    }
    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix { inner.swiGLU(gate: gate, up: up) }
    public func addResidual(_ x: Matrix, _ y: Matrix) { inner.addResidual(x, y) }
    public func outputLogits(_ x: Matrix) -> Matrix {
        accumulate("output", x)
        return computeLogits ? inner.outputLogits(x) : Matrix(rows: x.rows, cols: 1)
    }
    public func commit(tokens: Int, cache: KVCache) { inner.commit(tokens: tokens, cache: cache) }

    /// The finished Hessians keyed by the GGUF weight names they apply to (the tied embedding table
    /// `token_embd.weight` gets the output head's).
    public func hessians() -> [String: Hessian] {
        var out: [String: Hessian] = [:]
        for h in store.values { h.finalize() }
        for l in 0..<config.numLayers {
            for kind in LinearKind.allCases {
                if let h = store["\(l).\(Self.sharedKind(kind).rawValue)"] { out[kind.ggufName(layer: l)] = h }
            }
        }
        if let h = store["output"] { out[config.tiedEmbeddings ? "token_embd.weight" : "output.weight"] = h }
        return out
    }

    /// Tokens accumulated (every linear layer sees each of them once).
    public var tokens: Int { store["output"]?.samples ?? 0 }
}

extension Engine {
    /// Runs the first `count` of `tokens` through the model in chunks of `ctx` (each from an empty
    /// cache, every position's final hidden state fed to the head) on a `CalibrationBackend` around
    /// this engine's backend, and returns the per-weight input Hessians.
    public func calibrationHessians(tokens: [Int], count: Int, ctx: Int = 512,
                                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [String: Hessian] {
        guard count > 0 else { throw EngineError.invalid("calibration needs at least one token") }
        guard tokens.count >= count else {
            throw EngineError.invalid("the calibration text has \(tokens.count) tokens; \(count) are needed")
        }
        let ctx = min(ctx, config.contextLength)
        let cal = CalibrationBackend(backend)
        let model = LlamaModel(backend: cal)
        let cache = try cal.makeKVCache(capacity: ctx)
        var done = 0
        while done < count {
            let n = min(ctx, count - done)
            cache.truncate(to: 0)
            _ = model.forward(Array(tokens[done..<(done + n)]), cache: cache, logitRows: 0..<n)
            done += n
            progress(done, count)
        }
        return cal.hessians()
    }
}
