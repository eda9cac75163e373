import Foundation

public struct PerplexityResult: Sendable {
    public var ppl: Double
    public var chunks: Int
    public var tokensScored: Int
    /// Mean negative log-likelihood (nats per token).
    public var nll: Double
}

extension Engine {
    /// Perplexity as llama-perplexity computes it: the text is cut into non-overlapping chunks of
    /// `ctx` tokens (no BOS); each chunk is run from an empty cache and scored on its second half
    /// (the logits at positions ctx/2 ..< ctx-1 predict the next token).
    public func perplexity(tokens: [Int], ctx: Int, maxChunks: Int? = nil, adapters: [AdapterRequest] = [],
                           progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> PerplexityResult {
        guard ctx >= 16 else { throw EngineError.invalid("ctx must be at least 16, got \(ctx)") }
        guard ctx <= config.contextLength else { throw EngineError.contextOverflow(needed: ctx, limit: config.contextLength) }
        var nChunks = tokens.count / ctx
        if let maxChunks { nChunks = min(nChunks, maxChunks) }
        guard nChunks > 0 else {
            throw EngineError.invalid("the text has \(tokens.count) tokens; at least ctx = \(ctx) are needed for one chunk")
        }
        let first = ctx / 2
        var nll = 0.0
        var count = 0
        let session = try self.session(capacity: ctx, adapters: adapters)
        session.maxTokensPerPass = ctx
        for c in 0..<nChunks {
            session.reset()
            let chunk = Array(tokens[(c * ctx)..<((c + 1) * ctx)])
            let logits = try session.feed(chunk, logitRows: first..<(ctx - 1))
            for (i, pos) in (first..<(ctx - 1)).enumerated() {
                let row = logits.row(i)
                let target = chunk[pos + 1]
                var mx = -Float.infinity
                for v in 0..<logits.cols { mx = max(mx, row[v]) }
                var sum = 0.0
                for v in 0..<logits.cols { sum += exp(Double(row[v] - mx)) }
                nll += -(Double(row[target] - mx) - log(sum))
                count += 1
            }
            progress(c + 1, nChunks, exp(nll / Double(count)))
        }
        return PerplexityResult(ppl: exp(nll / Double(count)), chunks: nChunks, tokensScored: count, nll: nll / Double(count))
    }
}
