/// The RMSNorm weights of the network.
public enum NormKind: Sendable, Equatable {
    case attention(layer: Int), ffn(layer: Int), output
}

/// The RMSNorm gains of a model, looked up by `NormKind`.
public struct NormWeights: Sendable {
    public var attention: [[Float]], ffn: [[Float]], output: [Float]
    public init(attention: [[Float]], ffn: [[Float]], output: [Float]) {
        self.attention = attention; self.ffn = ffn; self.output = output
    }
    /// Every gain of `model`, read by tensor name (from a GGUF file or a ROM image).
    public init(model: ModelConfig, read: (String) throws -> [Float]) throws {
        let layers = 0..<model.numLayers
        self.init(attention: try layers.map { try read(TensorName.attentionNorm(layer: $0)) },
                  ffn: try layers.map { try read(TensorName.ffnNorm(layer: $0)) },
                  output: try read(TensorName.outputNorm))
    }
    public subscript(_ kind: NormKind) -> [Float] {
        switch kind {
        case .attention(let l): return attention[l]
        case .ffn(let l): return ffn[l]
        case .output: return output
        }
    }
}

/// A device memory with a byte budget that KV caches and resident adapters share (the chip's H-Unit
/// SRAM). Backends on host memory have none.
public protocol DeviceMemory: AnyObject, Sendable {
    /// A short name for messages ("SRAM").
    var name: String { get }
    var capacity: Int { get }
    var used: Int { get }
}

extension DeviceMemory {
    public var free: Int { capacity - used }
}

/// What the Llama graph needs from a compute backend. The graph (`LlamaModel.forward`) is written once;
/// `ReferenceBackend` runs it in FP32, `ChipBackend` (ROMAChip) on the ROMA datapath.
/// Activations are `[rows, features]` matrices whose rows come from the sequences of a `Batch`.
public protocol Backend: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// Short name for reports ("reference", "chip").
    var name: String { get }
    /// The memory that holds KV caches and adapters under one budget (nil: host memory, no budget).
    var memory: DeviceMemory? { get }

    /// A cache for `capacity` tokens (the chip charges its SRAM here and throws `MemoryBudgetError`).
    func makeKVCache(capacity: Int) throws -> KVCache
    /// Converts an adapter to this backend's storage (the chip: FP8 in H-Unit SRAM, charged to `memory`).
    func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter
    /// Bytes of `memory` the adapter takes once resident (0 without a budget), without making it so.
    func residentBytes(_ adapter: LoRAAdapter) -> Int
    /// Bytes of `memory` a KV cache of `capacity` tokens takes (0 without a budget).
    func kvCacheBytes(capacity: Int) -> Int

    /// Token embedding rows.
    func embed(_ tokens: [Int]) -> Matrix
    /// RMSNorm: x / sqrt(mean(x^2) + eps) * g, row by row.
    func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix
    /// y = W x for several layer weights of the same input (Q, K, V; gate, up), in `kinds` order
    /// (x: [rows, in] -> [rows, out]), plus Σ scale·B(A x) of each span's adapters on that span's rows.
    func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: [AdapterSpan]) -> [Matrix]
    /// Rotary position embedding in place, adjacent-pair (GGUF llama / ggml NORM) convention; row r is
    /// at position `positions[r]`.
    func rope(_ x: Matrix, heads: Int, positions: [Int])
    /// Appends each sequence's k, v rows to its cache (layer `layer`), then causal grouped-query
    /// attention of its q rows over every position of that cache. Returns [rows, numHeads*headDim].
    func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch) -> Matrix
    /// silu(gate) * up.
    func swiGLU(gate: Matrix, up: Matrix) -> Matrix
    /// x += y (the residual stream).
    func addResidual(_ x: Matrix, _ y: Matrix)
    /// Logits of the output head (tied to the embedding when the model has no output.weight).
    func outputLogits(_ x: Matrix) -> Matrix
}

extension Backend {
    /// y = W x (+ the spans' LoRA products) for one layer weight.
    public func linear(_ x: Matrix, _ kind: LinearKind, layer: Int, adapters: [AdapterSpan] = []) -> Matrix {
        linears(x, [kind], layer: layer, adapters: adapters)[0]
    }
    /// y = W x + the selection's LoRA products on every row (one sequence).
    public func linear(_ x: Matrix, _ kind: LinearKind, layer: Int, adapters: AdapterSelection) -> Matrix {
        linear(x, kind, layer: layer, adapters: adapters.isEmpty ? [] : [AdapterSpan(rows: 0..<x.rows, selection: adapters)])
    }
    /// The base model's products, no adapter.
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int) -> [Matrix] {
        linears(x, kinds, layer: layer, adapters: [])
    }
}

/// A backend that wraps another and observes (profiling, calibration): every operation it does not
/// implement itself goes to `inner` unchanged.
public protocol BackendDecorator: Backend {
    var inner: Backend { get }
}

extension BackendDecorator {
    public var config: ModelConfig { inner.config }
    public var name: String { inner.name }
    public var memory: DeviceMemory? { inner.memory }
    public func makeKVCache(capacity: Int) throws -> KVCache { try inner.makeKVCache(capacity: capacity) }
    public func makeResident(_ adapter: LoRAAdapter) throws -> ResidentAdapter { try inner.makeResident(adapter) }
    public func residentBytes(_ adapter: LoRAAdapter) -> Int { inner.residentBytes(adapter) }
    public func kvCacheBytes(capacity: Int) -> Int { inner.kvCacheBytes(capacity: capacity) }
    public func embed(_ tokens: [Int]) -> Matrix { inner.embed(tokens) }
    public func rmsNorm(_ x: Matrix, _ norm: NormKind) -> Matrix { inner.rmsNorm(x, norm) }
    public func linears(_ x: Matrix, _ kinds: [LinearKind], layer: Int, adapters: [AdapterSpan]) -> [Matrix] {
        inner.linears(x, kinds, layer: layer, adapters: adapters)
    }
    public func rope(_ x: Matrix, heads: Int, positions: [Int]) { inner.rope(x, heads: heads, positions: positions) }
    public func attention(q: Matrix, k: Matrix, v: Matrix, layer: Int, batch: Batch) -> Matrix {
        inner.attention(q: q, k: k, v: v, layer: layer, batch: batch)
    }
    public func swiGLU(gate: Matrix, up: Matrix) -> Matrix { inner.swiGLU(gate: gate, up: up) }
    public func addResidual(_ x: Matrix, _ y: Matrix) { inner.addResidual(x, y) }
    public func outputLogits(_ x: Matrix) -> Matrix { inner.outputLogits(x) }
}
