import ROMAFormats

extension ModelConfig {
    /// Reads the Llama hyperparameters of a GGUF model (`{arch}.*` keys) and checks the tensor shapes
    /// the graph needs against them.
    public init(gguf g: GGUFFile) throws {
        let arch = try g.requireString("general.architecture")
        guard arch == "llama" else {
            throw FormatError.invalid("unsupported architecture '\(arch)' (supported: llama)")
        }
        let hidden = try g.requireInt("llama.embedding_length")
        let heads = try g.requireInt("llama.attention.head_count")
        let kvHeads = g.value("llama.attention.head_count_kv")?.intValue ?? heads
        guard heads > 0, kvHeads > 0 else { throw FormatError.invalid("llama.attention.head_count must be positive") }
        let headDim = g.value("llama.attention.key_length")?.intValue
            ?? g.value("llama.rope.dimension_count")?.intValue ?? hidden / heads
        let embd = try g.requireTensor("token_embd.weight")
        guard embd.shape.count == 2, embd.shape[0] == hidden else {
            throw FormatError.shapeMismatch(tensor: "token_embd.weight", expected: [hidden, embd.shape.last ?? 0], found: embd.shape)
        }
        let vocab = g.value("llama.vocab_size")?.intValue ?? embd.shape[1]
        self.init(name: g.value("general.name")?.stringValue ?? "llama",
                  hiddenSize: hidden,
                  intermediateSize: try g.requireInt("llama.feed_forward_length"),
                  numLayers: try g.requireInt("llama.block_count"),
                  numHeads: heads, numKVHeads: kvHeads, headDim: headDim, vocabSize: vocab,
                  tiedEmbeddings: g.tensor("output.weight") == nil,
                  ropeTheta: g.value("llama.rope.freq_base")?.doubleValue ?? 10000,
                  rmsNormEps: try g.requireDouble("llama.attention.layer_norm_rms_epsilon"),
                  contextLength: try g.requireInt("llama.context_length"))
        try validate()
        guard embd.shape[1] == vocab else {
            throw FormatError.shapeMismatch(tensor: "token_embd.weight", expected: [hidden, vocab], found: embd.shape)
        }
    }

    /// GGUF tensor names and expected ggml shapes (ne order: input features first) of every weight.
    public func expectedTensors() -> [(name: String, shape: [Int])] {
        var t: [(String, [Int])] = [("token_embd.weight", [hiddenSize, vocabSize]), ("output_norm.weight", [hiddenSize])]
        if !tiedEmbeddings { t.append(("output.weight", [hiddenSize, vocabSize])) }
        for l in 0..<numLayers {
            let p = "blk.\(l)."
            t += [(p + "attn_norm.weight", [hiddenSize]), (p + "ffn_norm.weight", [hiddenSize]),
                  (p + "attn_q.weight", [hiddenSize, qDim]), (p + "attn_k.weight", [hiddenSize, kvDim]),
                  (p + "attn_v.weight", [hiddenSize, kvDim]), (p + "attn_output.weight", [qDim, hiddenSize]),
                  (p + "ffn_gate.weight", [hiddenSize, intermediateSize]), (p + "ffn_up.weight", [hiddenSize, intermediateSize]),
                  (p + "ffn_down.weight", [intermediateSize, hiddenSize])]
        }
        return t
    }
}
