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
        let embd = try g.requireTensor(TensorName.embedding)
        guard embd.shape.count == 2, embd.shape[0] == hidden else {
            throw FormatError.shapeMismatch(tensor: TensorName.embedding, expected: [hidden, embd.shape.last ?? 0], found: embd.shape)
        }
        let vocab = g.value("llama.vocab_size")?.intValue ?? embd.shape[1]
        self.init(name: g.value("general.name")?.stringValue ?? "llama",
                  hiddenSize: hidden,
                  intermediateSize: try g.requireInt("llama.feed_forward_length"),
                  numLayers: try g.requireInt("llama.block_count"),
                  numHeads: heads, numKVHeads: kvHeads, headDim: headDim, vocabSize: vocab,
                  tiedEmbeddings: g.tensor(TensorName.output) == nil,
                  ropeTheta: g.value("llama.rope.freq_base")?.doubleValue ?? 10000,
                  rmsNormEps: try g.requireDouble("llama.attention.layer_norm_rms_epsilon"),
                  contextLength: try g.requireInt("llama.context_length"))
        try validate()
        guard embd.shape[1] == vocab else {
            throw FormatError.shapeMismatch(tensor: TensorName.embedding, expected: [hidden, vocab], found: embd.shape)
        }
    }

    /// GGUF tensor names and expected ggml shapes (ne order: input features first) of every weight.
    public func expectedTensors() -> [(name: String, shape: [Int])] {
        var t: [(String, [Int])] = [(TensorName.embedding, [hiddenSize, vocabSize]), (TensorName.outputNorm, [hiddenSize])]
        if !tiedEmbeddings { t.append((TensorName.output, [hiddenSize, vocabSize])) }
        for l in 0..<numLayers {
            t += [(TensorName.attentionNorm(layer: l), [hiddenSize]), (TensorName.ffnNorm(layer: l), [hiddenSize])]
            // ggml shapes list the input features first
            t += LinearKind.allCases.map { k in (k.ggufName(layer: l), [k.shape(in: self).in, k.shape(in: self).out]) }
        }
        return t
    }
}
