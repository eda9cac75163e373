import Foundation
import ROMALlama
import ROMAModel
import ROMATokenizer

/// What one admitted completion keeps between scheduler steps: its session (KV cache in SRAM and
/// adapter lease, both held until it ends), the prompt still to prefill, its sampler, detokenizer and
/// the text held back while it could be the start of a stop sequence.
final class RunningCompletion {
    let id: Int
    let request: CompletionRequest
    let session: Session
    let continuation: AsyncStream<CompletionEvent>.Continuation
    let tokenizer: BPETokenizer
    private(set) var remainingPrompt: ArraySlice<Int>
    private(set) var lastToken: Int?
    private(set) var generated = 0
    private var history: [Int]
    private var counts: [Int: Int] = [:]
    private var sampler: Sampler
    private var detok: StreamingDetokenizer
    private var held = ""
    private(set) var finished = false

    init(id: Int, request: CompletionRequest, session: Session, continuation: AsyncStream<CompletionEvent>.Continuation,
         tokenizer: BPETokenizer) {
        self.id = id; self.request = request; self.session = session; self.continuation = continuation
        self.tokenizer = tokenizer
        remainingPrompt = request.promptIDs[...]
        history = request.promptIDs
        sampler = Sampler(request.sampler)
        detok = StreamingDetokenizer(tokenizer: tokenizer)
    }

    var isPrefilling: Bool { !remainingPrompt.isEmpty }

    /// This step's rows: the next chunk of the prompt (at most `limit` tokens), or the last token.
    func nextRows(limit: Int) -> [Int] {
        if isPrefilling { return Array(remainingPrompt.prefix(max(1, limit))) }
        return [lastToken!]
    }

    /// After the step ran `rows` of this sequence: the logits of its last row decide the next token
    /// once the prompt is done. Returns whether the completion ended.
    func advance(rows: Int, logits: UnsafeBufferPointer<Float>) -> Bool {
        if isPrefilling {
            remainingPrompt = remainingPrompt.dropFirst(rows)
            if isPrefilling { return false }
            if request.maxTokens == 0 { return finish(.length) }
        }
        var l = Array(logits)
        applyPenalties(&l)
        let next = sampler.sample(l, history: history)
        if !request.ignoreEOS && tokenizer.endOfGeneration.contains(next) { return finish(.stop) }
        generated += 1
        history.append(next)
        counts[next, default: 0] += 1
        lastToken = next
        let (text, stopped) = deliver(detok.append(next))
        let (chosen, top) = request.topLogprobs.map { logprobs(logits, chosen: next, top: $0) } ?? (nil, [])
        continuation.yield(.token(id: next, text: text, logprob: chosen, top: top))
        if stopped { return finish(.stop, flushing: false) }
        return generated >= request.maxTokens ? finish(.length) : false
    }

    /// Ends the completion with its last event (the remaining text unless a stop sequence cut it).
    @discardableResult
    func finish(_ reason: FinishReason, flushing: Bool = true) -> Bool {
        guard !finished else { return true }
        finished = true
        let rest = flushing ? held + detok.flush() : ""
        held = ""
        continuation.yield(.finished(reason: reason, usage: Usage(promptTokens: request.promptIDs.count, completionTokens: generated), text: rest))
        continuation.finish()
        return true
    }

    func fail(_ e: ServeError) {
        guard !finished else { return }
        finished = true
        continuation.yield(.failed(e))
        continuation.finish()
    }

    /// OpenAI's presence and frequency penalties over the generated tokens.
    private func applyPenalties(_ l: inout [Float]) {
        let (p, f) = (request.presencePenalty, request.frequencyPenalty)
        guard p != 0 || f != 0 else { return }
        for (t, c) in counts { l[t] -= p + f * Float(c) }
    }

    /// Adds a piece of text; returns what can be delivered now and whether a stop sequence was reached
    /// (the text before it is delivered, the stop itself and everything after are not). Text that could
    /// be the start of a stop sequence is held back until it is decided. Matching is on Unicode scalars,
    /// so a stop such as "\r\n" is found when its scalars arrive in different tokens.
    private func deliver(_ piece: String) -> (String, Bool) {
        held += piece
        let stops = request.stop.filter { !$0.isEmpty }.map { Array($0.unicodeScalars) }
        guard !stops.isEmpty else { defer { held = "" }; return (held, false) }
        let h = Array(held.unicodeScalars)
        func string(_ s: ArraySlice<Unicode.Scalar>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: s); return String(v) }
        // the earliest start of a whole stop
        var cut: Int?
        for s in stops where s.count <= h.count {
            for start in 0...(h.count - s.count) where cut.map({ start < $0 }) ?? true {
                if h[start..<(start + s.count)].elementsEqual(s) { cut = start; break }
            }
        }
        if let cut {
            held = ""
            return (string(h[..<cut]), true)
        }
        // the longest suffix that is a proper prefix of some stop stays held
        var keep = 0
        for s in stops {
            for k in stride(from: min(s.count - 1, h.count), to: keep, by: -1) where h[(h.count - k)...].elementsEqual(s[..<k]) {
                keep = k
                break
            }
        }
        held = string(h[(h.count - keep)...])
        return (string(h[..<(h.count - keep)]), false)
    }

    /// log p of `chosen` and of the `top` most likely tokens under the model's distribution (FP64).
    private func logprobs(_ logits: UnsafeBufferPointer<Float>, chosen: Int, top: Int) -> (TokenLogprob, [TokenLogprob]) {
        var mx = -Float.infinity
        for v in logits { mx = max(mx, v) }
        var sum = 0.0
        for v in logits { sum += exp(Double(v - mx)) }
        let logZ = Double(mx) + log(sum)
        func lp(_ id: Int) -> TokenLogprob {
            let v = Double(logits[id]) - logZ   // JSON has no NaN or infinity: the lowest finite stand-in
            return TokenLogprob(id: id, text: tokenizer.decode([id], renderSpecial: true), logprob: v.isFinite ? v : -Double.greatestFiniteMagnitude)
        }
        guard top > 0 else { return (lp(chosen), []) }
        let best = Sampler.topK(Array(logits), top).map(\.id)
        return (lp(chosen), best.map(lp))
    }
}
