/// Every GGUF tensor name of a Llama model, spelled once (the model files, ROM images, adapters and the
/// trainer all name weights this way).
public enum TensorName {
    /// The token embedding table [vocab, hidden] (also the output head of a tied model).
    public static let embedding = "token_embd.weight"
    /// The output head of an untied model.
    public static let output = "output.weight"
    /// The final RMSNorm gain.
    public static let outputNorm = "output_norm.weight"
    public static func attentionNorm(layer: Int) -> String { "blk.\(layer).attn_norm.weight" }
    public static func ffnNorm(layer: Int) -> String { "blk.\(layer).ffn_norm.weight" }
    /// The gain of a norm.
    public static func norm(_ kind: NormKind) -> String {
        switch kind {
        case .attention(let l): return attentionNorm(layer: l)
        case .ffn(let l): return ffnNorm(layer: l)
        case .output: return outputNorm
        }
    }
    /// A linear layer's weight ("blk.3.attn_q.weight").
    public static func linear(_ kind: LinearKind, layer: Int) -> String { "blk.\(layer).\(kind.ggufStem).weight" }
}
