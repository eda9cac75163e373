import Foundation
import ROMALlama
import ROMANumerics

/// Wraps a backend (normally the FP32 reference) and accumulates, for every linear layer, the
/// Hessian H = Σ x xᵀ of its inputs (`roma compile --calibration-text`, GPTQ). Layers that read the
/// same activations share one `Hessian`: q/k/v (the attention-norm output) and gate/up (the
/// FFN-norm output); the output head's inputs (the final-norm output) give the head's Hessian.
/// The output head itself is not evaluated (its logits are not needed for calibration): when
/// `computeLogits` is false `outputLogits` returns an empty [T, 1] matrix.
///
/// `@unchecked Sendable`: the Hessian store is behind `lock`.
public final class CalibrationBackend: BackendDecorator, @unchecked Sendable {
    public let inner: Backend
    public let computeLogits: Bool
    private let lock = NSLock()
    /// Keyed by "layer.kind" of the first layer reading the input (q, o, gate, down) and "output".
    private var store: [String: Hessian] = [:]

    public init(_ inner: Backend, computeLogits: Bool = false) { self.inner = inner; self.computeLogits = computeLogits }
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
        lock.lock(); defer { lock.unlock() }
        let h = store[key] ?? Hessian(n: x.cols)
        store[key] = h
        h.accumulate(x.data, tokens: x.rows)
    }

    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: [AdapterSpan]) -> [Matrix] {
        for kind in Set(kinds.map(Self.sharedKind)) { accumulate("\(layer).\(kind.rawValue)", x) }
        return inner.linears(x, kinds, layer: layer, adapters: adapters)
    }
    public func outputLogits(_ x: Matrix) -> Matrix {
        accumulate("output", x)
        return computeLogits ? inner.outputLogits(x) : Matrix(rows: x.rows, cols: 1)
    }

    /// The finished Hessians keyed by the GGUF weight names they apply to (the tied embedding table
    /// `token_embd.weight` gets the output head's).
    public func hessians() -> [String: Hessian] {
        lock.lock(); defer { lock.unlock() }
        var out: [String: Hessian] = [:]
        for h in store.values { h.finalize() }
        for l in 0..<config.numLayers {
            for kind in LinearKind.allCases {
                if let h = store["\(l).\(Self.sharedKind(kind).rawValue)"] { out[kind.ggufName(layer: l)] = h }
            }
        }
        if let h = store["output"] { out[config.tiedEmbeddings ? TensorName.embedding : TensorName.output] = h }
        return out
    }

    /// Tokens accumulated (every linear layer sees each of them once).
    public var tokens: Int { lock.lock(); defer { lock.unlock() }; return store["output"]?.samples ?? 0 }
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
