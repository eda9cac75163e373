import ROMAChip
import ROMALlama
import ROMATokenizer

extension BPETokenizer {
    /// The tokenizer carried inside a ROM image.
    public convenience init(romImage image: ROMImage) throws {
        let t = image.header.tokenizer
        guard t.model == "gpt2" else { throw TokenizerError.unsupported("tokenizer model '\(t.model)' is not supported") }
        guard let pre = PreTokenizer(ggufName: t.pre) else { throw TokenizerError.unsupported("pre-tokenizer '\(t.pre)' is not supported") }
        guard t.tokenTypes.count == t.tokens.count else { throw TokenizerError.invalid("token types and tokens differ in count") }
        try self.init(tokens: t.tokens, types: t.tokenTypes.map { TokenType(rawValue: $0) ?? .normal }, merges: t.merges,
                      preTokenizer: pre, bosID: t.bosTokenID, eosID: t.eosTokenID, eotID: t.eotTokenID,
                      addBOS: t.addBOS, chatTemplate: t.chatTemplate)
    }
}
