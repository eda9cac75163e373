import ROMAChip

/// The Llama decoder, written once over a `Backend` (reference FP32 or the ROMA chip).
///
/// Every W· is the base weight plus the request's LoRA adapters: W x + Σ scale·B(A x).
///
///     h   = x + Wo · Attention(RoPE(Wq · norm(x)), RoPE(Wk · norm(x)), Wv · norm(x))
///     out = h + Wdown · (silu(Wgate · norm(h)) ⊙ Wup · norm(h))
///     logits = Wout · norm(out)
public final class LlamaModel: @unchecked Sendable {
    public let backend: Backend
    public var config: ModelConfig { backend.config }

    public init(backend: Backend) { self.backend = backend }

    /// Runs `tokens` at the next positions of `cache` with `adapters` and returns the logits of the rows
    /// selected by `logitRows` (default: the last token only).
    public func forward(_ tokens: [Int], cache: KVCache, adapters: AdapterSelection = .none, logitRows: Range<Int>? = nil) -> Matrix {
        precondition(!tokens.isEmpty && cache.count + tokens.count <= cache.capacity)
        let b = backend
        let start = cache.count
        let x = b.embed(tokens)
        for l in 0..<config.numLayers {
            // attention block
            let h = b.rmsNorm(x, .attention(layer: l))
            let qkv = b.linears(h, [.q, .k, .v], layer: l, adapters: adapters)
            let (q, k, v) = (qkv[0], qkv[1], qkv[2])
            b.rope(q, heads: config.numHeads, startPosition: start)
            b.rope(k, heads: config.numKVHeads, startPosition: start)
            let a = b.attention(q: q, k: k, v: v, layer: l, cache: cache)
            b.addResidual(x, b.linear(a, .o, layer: l, adapters: adapters))
            // feed-forward block (SwiGLU)
            let h2 = b.rmsNorm(x, .ffn(layer: l))
            let gateUp = b.linears(h2, [.gate, .up], layer: l, adapters: adapters)
            let g = b.swiGLU(gate: gateUp[0], up: gateUp[1])
            b.addResidual(x, b.linear(g, .down, layer: l, adapters: adapters))
        }
        b.commit(tokens: tokens.count, cache: cache)
        let rows = logitRows ?? (tokens.count - 1)..<tokens.count
        let sel = Matrix(rows: rows.count, cols: config.hiddenSize)
        for (i, r) in rows.enumerated() { sel.row(i).update(from: x.row(r), count: config.hiddenSize) }
        return b.outputLogits(b.rmsNorm(sel, .output))
    }
}
