import ROMAChip

/// The RMSNorm weights of the network.
public enum NormKind: Sendable, Equatable {
    case attention(layer: Int), ffn(layer: Int), output
}

extension Backend {
    /// y = W x (+ the selected adapters' LoRA products) for one layer weight.
    public func linear(_ x: Matrix, _ kind: LinearKind, layer: Int, adapters: AdapterSelection = .none) -> Matrix {
        linears(x, [kind], layer: layer, adapters: adapters)[0]
    }
    /// The base model's products, no adapter.
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int) -> [Matrix] {
        linears(x, kinds, layer: layer, adapters: .none)
    }
}

/// The RMSNorm gains of a model, looked up by `NormKind`.
public struct NormWeights: Sendable {
    public let attention: [[Float]], ffn: [[Float]], output: [Float]
    public init(attention: [[Float]], ffn: [[Float]], output: [Float]) {
        self.attention = attention; self.ffn = ffn; self.output = output
    }
    public subscript(_ kind: NormKind) -> [Float] {
        switch kind {
        case .attention(let l): return attention[l]
        case .ffn(let l): return ffn[l]
        case .output: return output
        }
    }
}

/// Per-sequence attention state. Each backend stores K and V in its own format (FP32 for the
/// reference engine, FP16 in H-Unit SRAM for the chip); a cache is never shared between requests.
public protocol KVCache: AnyObject {
    /// Tokens stored so far (the position of the next token).
    var count: Int { get }
    /// Tokens it can hold.
    var capacity: Int { get }
    /// Drops every token after the first `n`.
    func truncate(to n: Int)
}

/// What the Llama graph needs from a compute backend. The graph (Llama.swift) is written once;
/// `ReferenceBackend` runs it in FP32, the chip backend on the ROMA datapath.
/// Activations are `[tokens, features]` matrices; positions start at the cache's `count`.
public protocol Backend: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// Short name for reports ("reference", "chip").
    var name: String { get }

    /// A cache for `capacity` tokens (the chip checks its SRAM budget here).
    func makeKVCache(capacity: Int) throws -> KVCache
    /// Token embedding rows.
    func embed(_ tokens: [Int]) -> Matrix
    /// RMSNorm: x / sqrt(mean(x^2) + eps) * g.
    func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix
    /// y = W x + Σ scale·B(A x) over the selected adapters that target the layer, for several layer
    /// weights of the same input (Q, K, V; gate, up), in `kinds` order (x: [T, in] -> [T, out]).
    func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: AdapterSelection) -> [Matrix]
    /// Converts an adapter to this backend's storage (the chip: FP8 in H-Unit SRAM, charged to `sram`).
    func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter
    /// The SRAM that holds KV caches and adapters (nil: host memory, no budget).
    var sram: SRAM? { get }
    /// Rotary position embedding in place, adjacent-pair (GGUF llama / ggml NORM) convention.
    func rope(_ x: Matrix, heads: Int, startPosition: Int)
    /// Stores k, v in the cache at the next positions, then causal grouped-query attention of q
    /// over every cached position. Returns [T, numHeads*headDim].
    func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, cache: KVCache) -> Matrix
    /// silu(gate) * up.
    func swiGLU(gate: Matrix, up: Matrix) -> Matrix
    /// x += y (the residual stream).
    func addResidual(_ x: Matrix, _ y: Matrix)
    /// Logits of the output head (tied to the embedding when the model has no output.weight).
    func outputLogits(_ x: Matrix) -> Matrix
    /// Marks that a forward pass over `tokens` tokens finished (lets the cache advance).
    func commit(tokens: Int, cache: KVCache)
}
