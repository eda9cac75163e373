import Foundation
import ROMALlama
import ROMANumerics

/// Wraps a backend (normally the chip) and records, for one weight tensor, the activations its
/// product receives and the outputs it returns: what `roma rtl lunit --prompt` feeds to a generated
/// L-Unit slice. Inputs are kept as the FP16 bit patterns the L-Units align (Sec. III-B: the chip
/// converts each activation to FP16 before the alignment unit, `FP16.fromFloat`).
///
/// `@unchecked Sendable`: the records are behind `lock`.
public final class ActivationCapture: BackendDecorator, @unchecked Sendable {
    /// Which product of the model a weight tensor is.
    public enum Site: Equatable, Sendable {
        case linear(layer: Int, kind: LinearKind)
        case outputHead

        /// The product that reads GGUF weight `tensor` in a model of `config` (nil: not a product).
        public init?(tensor: String, config: ModelConfig) {
            if tensor == (config.tiedEmbeddings ? TensorName.embedding : TensorName.output) { self = .outputHead; return }
            for l in 0..<config.numLayers {
                for k in LinearKind.allCases where k.ggufName(layer: l) == tensor { self = .linear(layer: l, kind: k); return }
            }
            return nil
        }
    }

    public let inner: Backend
    public let site: Site
    private let lock = NSLock()
    private var inputs: [[UInt16]] = []
    private var outputs: [[Float]] = []

    public init(_ inner: Backend, site: Site) { self.inner = inner; self.site = site }
    public var name: String { inner.name + "+capture" }

    private func record(_ x: Matrix, _ y: Matrix) {
        lock.lock(); defer { lock.unlock() }
        for t in 0..<x.rows {
            inputs.append((0..<x.cols).map { FP16.fromFloat(x.row(t)[$0]) })
            outputs.append(Array(UnsafeBufferPointer(start: y.row(t), count: y.cols)))
        }
    }

    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: [AdapterSpan]) -> [Matrix] {
        let ys = inner.linears(x, kinds, layer: layer, adapters: adapters)
        if case .linear(layer, let kind) = site, let i = kinds.firstIndex(of: kind) { record(x, ys[i]) }
        return ys
    }

    public func outputLogits(_ x: Matrix) -> Matrix {
        let y = inner.outputLogits(x)
        if site == .outputHead { record(x, y) }
        return y
    }

    /// What the product received, [token][input column] as FP16 bits, and returned, [token][row], in
    /// the order the tokens passed.
    public var captured: (inputs: [[UInt16]], outputs: [[Float]]) {
        lock.lock(); defer { lock.unlock() }
        return (inputs, outputs)
    }
}

extension Engine {
    /// Runs `tokens` through the model once (a prefill from an empty cache, every position to the head)
    /// and returns what the product of weight `tensor` received and returned for each token.
    public func capture(tensor: String, tokens: [Int]) throws -> (inputs: [[UInt16]], outputs: [[Float]]) {
        guard !tokens.isEmpty else { throw EngineError.invalid("an activation capture needs at least one token") }
        guard tokens.count <= config.contextLength else {
            throw EngineError.invalid("\(tokens.count) tokens exceed the context length \(config.contextLength)")
        }
        guard let site = ActivationCapture.Site(tensor: tensor, config: config) else {
            throw EngineError.invalid("'\(tensor)' is not a weight the model multiplies activations by")
        }
        let capture = ActivationCapture(backend, site: site)
        let cache = try capture.makeKVCache(capacity: tokens.count)
        _ = LlamaModel(backend: capture).forward(tokens, cache: cache, logitRows: 0..<tokens.count)
        return capture.captured
    }
}
