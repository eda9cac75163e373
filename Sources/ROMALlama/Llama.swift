/// The Llama decoder, written once over a `Backend` (reference FP32 or the ROMA chip). This is the only
/// forward pass: the engine, the calibration, the server's scheduler and the trainer all run it.
///
/// Every W· is the base weight plus the row's LoRA adapters: W x + Σ scale·B(A x).
///
///     h   = x + Wo · Attention(RoPE(Wq · norm(x)), RoPE(Wk · norm(x)), Wv · norm(x))
///     out = h + Wdown · (silu(Wgate · norm(h)) ⊙ Wup · norm(h))
///     logits = Wout · norm(out)
public final class LlamaModel: Sendable {
    public let backend: Backend
    public var config: ModelConfig { backend.config }

    public init(backend: Backend) { self.backend = backend }

    /// Runs every sequence of `batch` at the next positions of its own cache, with its own adapters, in
    /// one pass (the rows stacked), and returns each sequence's logits [logitRows, vocab].
    public func forward(_ batch: Batch) -> [Matrix] {
        let b = backend, c = config
        let x = b.embed(batch.tokens)
        for l in 0..<c.numLayers {
            // attention block
            let h = b.rmsNorm(x, .attention(layer: l))
            let qkv = b.linears(h, [.q, .k, .v], layer: l, adapters: batch.adapters)
            let (q, k, v) = (qkv[0], qkv[1], qkv[2])
            b.rope(q, heads: c.numHeads, positions: batch.positions)
            b.rope(k, heads: c.numKVHeads, positions: batch.positions)
            let a = b.attention(q: q, k: k, v: v, layer: l, batch: batch)   // K, V appended to each cache
            b.addResidual(x, b.linear(a, .o, layer: l, adapters: batch.adapters))
            // feed-forward block (SwiGLU)
            let h2 = b.rmsNorm(x, .ffn(layer: l))
            let gateUp = b.linears(h2, [.gate, .up], layer: l, adapters: batch.adapters)
            let g = b.swiGLU(gate: gateUp[0], up: gateUp[1])
            b.addResidual(x, b.linear(g, .down, layer: l, adapters: batch.adapters))
        }
        let logits = b.outputLogits(b.rmsNorm(x.gather(batch.logitRows), .output))
        return logits.split(batch.sequences.map(\.logitRows.count))
    }

    /// One sequence: `tokens` at the next positions of `cache` with `adapters`; the logits of the rows
    /// selected by `logitRows` (default: the last token only).
    public func forward(_ tokens: [Int], cache: KVCache, adapters: AdapterSelection = .none, logitRows: Range<Int>? = nil) -> Matrix {
        forward(Batch([BatchSequence(tokens: tokens, cache: cache, adapters: adapters, logitRows: logitRows)]))[0]
    }
}
