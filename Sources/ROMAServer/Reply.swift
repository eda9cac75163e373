import Foundation
import ROMAServe

/// What one choice has produced so far (text, logprobs, the end), and its timing for the metrics.
struct ChoiceAccumulator {
    var text = ""
    var tokens: [(text: String, logprob: TokenLogprob, top: [TokenLogprob])] = []
    var finish: FinishReason?
    var usage: Usage?
    var failure: ServeError?
    let started: Double
    var lastToken: Double?
    let metrics: ServerMetrics

    /// Adds an event that arrived at `now` (monotonic seconds).
    mutating func add(_ e: CompletionEvent, at now: Double) {
        switch e {
        case .token(_, let t, let lp, let top):
            text += t
            if let lp { tokens.append((t, lp, top)) }
            if let last = lastToken { metrics.interToken(now - last) } else { metrics.firstToken(now - started) }
            lastToken = now
        case .finished(let r, let u, let t):
            text += t; finish = r; usage = u
            metrics.finished(r, usage: u)
        case .failed(let f):
            failure = f
        }
    }
}

/// The OpenAI shapes of one response: its id, created time, model, route, and the JSON of whole
/// responses, stream chunks and logprobs.
struct Reply {
    let id: String
    let created: Int
    let model: String
    let route: OpenAIServer.Route
    let choices: Int
    /// Prompt tokens of each prompt (choice i belongs to prompt i / n).
    let promptTokens: [Int]
    let n: Int
    /// When the request was submitted (TTFT counts from here).
    let started: Double
    let metrics: ServerMetrics

    func accumulators() -> [ChoiceAccumulator] {
        (0..<choices).map { _ in ChoiceAccumulator(started: started, metrics: metrics) }
    }

    var object: String { route == .chat ? "chat.completion" : "text_completion" }
    var chunkObject: String { route == .chat ? "chat.completion.chunk" : "text_completion" }

    func usage(_ acc: [ChoiceAccumulator]) -> [String: Any] {
        let prompt = promptTokens.reduce(0, +)
        let completion = acc.reduce(0) { $0 + ($1.usage?.completionTokens ?? 0) }
        return ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion]
    }

    /// The whole (non-streamed) response.
    func object(_ acc: [ChoiceAccumulator]) -> [String: Any] {
        let list: [[String: Any]] = acc.enumerated().map { i, a in
            var c: [String: Any] = ["index": i, "finish_reason": a.finish?.rawValue ?? "length"]
            c["logprobs"] = a.tokens.isEmpty ? NSNull() : logprobsObject(a.tokens)
            if route == .chat { c["message"] = ["role": "assistant", "content": a.text] } else { c["text"] = a.text }
            return c
        }
        return ["id": id, "object": object, "created": created, "model": model, "choices": list, "usage": usage(acc)]
    }

    /// One stream chunk of choice `index`: text, a chat delta, or the finish.
    func chunk(index: Int, text: String? = nil, delta: [String: Any]? = nil, logprobs: Any? = nil, finish: String? = nil,
               includeUsage: Bool) -> [String: Any] {
        var c: [String: Any] = ["index": index, "finish_reason": finish ?? NSNull(), "logprobs": logprobs ?? NSNull()]
        if route == .chat {
            c["delta"] = delta ?? (text.map { ["content": $0] } ?? [:])
        } else {
            c["text"] = text ?? ""
        }
        var o: [String: Any] = ["id": id, "object": chunkObject, "created": created, "model": model, "choices": [c]]
        if includeUsage { o["usage"] = NSNull() }
        return o
    }

    /// The chunk with the totals that `stream_options.include_usage` adds before `[DONE]`.
    func usageChunk(_ acc: [ChoiceAccumulator]) -> [String: Any] {
        ["id": id, "object": chunkObject, "created": created, "model": model, "choices": [], "usage": usage(acc)]
    }

    /// Chat: `{"content": [{token, logprob, bytes, top_logprobs}]}`; completions: `{tokens, token_logprobs, top_logprobs, text_offset}`.
    func logprobsObject(_ toks: [(text: String, logprob: TokenLogprob, top: [TokenLogprob])]) -> [String: Any] {
        func bytes(_ s: String) -> [Int] { s.utf8.map(Int.init) }
        if route == .chat {
            return ["content": toks.map { t -> [String: Any] in
                ["token": t.logprob.text, "logprob": t.logprob.logprob, "bytes": bytes(t.logprob.text),
                 "top_logprobs": t.top.map { ["token": $0.text, "logprob": $0.logprob, "bytes": bytes($0.text)] as [String: Any] }]
            }]
        }
        var offset = 0, offsets: [Int] = []
        for t in toks { offsets.append(offset); offset += t.logprob.text.count }
        return ["tokens": toks.map(\.logprob.text), "token_logprobs": toks.map(\.logprob.logprob),
                "top_logprobs": toks.map { t in Dictionary(t.top.map { ($0.text, $0.logprob) }, uniquingKeysWith: { a, _ in a }) },
                "text_offset": offsets]
    }
}
