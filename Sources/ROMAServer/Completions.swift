import Foundation
import Hummingbird
import ROMAModel
import ROMAServe
import ROMATokenizer
import Synchronization

/// The two generation routes. Both parse into scheduler requests (one per prompt and choice), wait
/// for every choice's first event (admission and the first token happen before any byte is sent, so a
/// refusal is a proper status), then answer as one JSON object or as a server-sent event stream.
extension OpenAIServer {
    enum Route: Sendable { case chat, completion }

    func chatCompletions(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let ready = try require()
        let b = try await body(request)
        var p = try parameters(b, ready, defaultMaxTokens: nil)
        let wantLogprobs = try b.bool("logprobs") ?? false
        let top = try b.int("top_logprobs", 0...20)
        if top != nil && !wantLogprobs { throw APIError.invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs") }
        p.topLogprobs = wantLogprobs ? (top ?? 0) : nil
        guard let template = ready.engine.tokenizer.chatTemplate else {
            throw APIError(.badRequest, "the model has no chat template; use /v1/completions", code: "no_chat_template")
        }
        let messages = try ChatMessages.parse(b)
        let prompt = ready.engine.tokenizer.encode(chat: messages, template: template)
        if b.has("max_completion_tokens") == false && b.has("max_tokens") == false {
            // the rest of the context, or as much as the SRAM could ever hold beside the prompt
            var fit = ready.engine.config.contextLength
            if let m = ready.engine.backend.memory, case let perToken = ready.engine.backend.kvCacheBytes(capacity: 1), perToken > 0 {
                fit = min(fit, m.capacity / perToken)
            }
            p.maxTokens = max(0, fit - prompt.count)
        }
        return try await run(p, prompts: [prompt], route: .chat, ready)
    }

    func completions(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let ready = try require()
        let b = try await body(request)
        var p = try parameters(b, ready, defaultMaxTokens: 16)
        p.topLogprobs = try b.int("logprobs", 0...5)
        if try b.bool("echo") == true { throw APIError.invalid("'echo' is not supported", param: "echo", code: "unsupported_parameter") }
        if b.has("suffix") { throw APIError.invalid("'suffix' is not supported", param: "suffix", code: "unsupported_parameter") }
        let prompts = try CompletionPrompts.parse(b, tokenizer: ready.engine.tokenizer)
        return try await run(p, prompts: prompts, route: .completion, ready)
    }

    func parameters(_ b: JSONBody, _ ready: Ready, defaultMaxTokens: Int?) throws -> GenerationParameters {
        try GenerationParameters(b, defaultMaxTokens: defaultMaxTokens ?? 0, contextLength: ready.engine.config.contextLength,
                                 resolve: { try self.adapters(forModel: $0, ready) }, extraAdapters: { try self.extraAdapters($0, ready) })
    }

    /// `model` = the base id, or an adapter's name (vLLM / LoRAX); anything else is 404 model_not_found.
    func adapters(forModel model: String, _ ready: Ready) throws -> [AdapterRequest] {
        if model == options.modelID { return [] }
        if ready.engine.adapters.adapter(named: model) != nil { return [AdapterRequest(model)] }
        throw APIError(.notFound, "the model '\(model)' does not exist (models: \(([options.modelID] + ready.engine.adapters.names).joined(separator: ", ")))",
                       param: "model", code: "model_not_found")
    }

    /// `adapters: [{"name", "scale"}]` (ours) and llama.cpp's `lora: [{"id", "scale"}]` (id = position in /v1/adapters).
    func extraAdapters(_ b: JSONBody, _ ready: Ready) throws -> [AdapterRequest] {
        var out: [AdapterRequest] = []
        let names = ready.engine.adapters.names
        for key in ["adapters", "lora"] where b.has(key) {
            guard let list = b.object[key] as? [Any] else { throw APIError.invalid("'\(key)' must be an array", param: key, code: "invalid_type") }
            for (i, item) in list.enumerated() {
                guard let o = item as? [String: Any] else { throw APIError.invalid("'\(key)[\(i)]' must be an object", param: "\(key)[\(i)]", code: "invalid_type") }
                let e = JSONBody(object: o)
                let scale = Float(try e.number("scale", -100...100) ?? 1)
                let name: String
                if key == "lora" {
                    guard let id = try e.int("id", 0...Int(Int32.max)) else { throw APIError.invalid("'lora[\(i)].id' is required", param: "lora[\(i)].id", code: "missing_required_parameter") }
                    guard id < names.count else { throw APIError(.notFound, "no adapter with id \(id) (there are \(names.count))", param: "lora[\(i)].id", code: "model_not_found") }
                    name = names[id]
                } else {
                    name = try e.requireString("name")
                    guard ready.engine.adapters.adapter(named: name) != nil else {
                        throw APIError(.notFound, "no adapter named '\(name)' is registered", param: "adapters[\(i)].name", code: "model_not_found")
                    }
                }
                if scale != 0 { out.append(AdapterRequest(name, scale: scale)) }
            }
        }
        return out
    }

    /// Submits every (prompt, choice), waits for each one's first event, then answers. If the handler's
    /// task is cancelled (the client went away) or anything throws, the submitted completions are
    /// cancelled, so no KV cache or adapter lease outlives the request.
    func run(_ p: GenerationParameters, prompts: [[Int]], route: Route, _ ready: Ready) async throws -> Response {
        let choices = prompts.count * p.n
        guard choices <= ready.scheduler.config.maxQueue else {
            throw APIError.invalid("\(prompts.count) prompts x n = \(p.n) make \(choices) completions; at most \(ready.scheduler.config.maxQueue) per request", param: "n")
        }
        let started = Scheduler.now()
        let handles = HandleSet()
        return try await withTaskCancellationHandler {
            do {
                for prompt in prompts {
                    for c in 0..<p.n { handles.add(try ready.scheduler.submit(p.request(prompt: prompt, choice: c))) }
                }
            } catch {
                handles.cancelAll()
                if let e = error as? ServeError { metrics.refused(e); throw APIError(e, param: e.kind == .invalidRequest ? "messages" : nil) }
                throw error
            }
            let events = MergedEvents(handles.all)
            let first = await events.firstOfEach(count: choices)
            if let failure = first.compactMap({ e -> ServeError? in if case .failed(let f) = e.event { return f }; return nil }).first {
                handles.cancelAll()
                metrics.refused(failure)
                throw APIError(failure)
            }
            try Task.checkCancellation()
            let reply = Reply(id: (route == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""),
                              created: Int(Date().timeIntervalSince1970), model: p.model, route: route, choices: choices,
                              promptTokens: prompts.map(\.count), n: p.n, started: started, metrics: metrics)
            if p.stream { return streamResponse(reply, first: first, events: events, handles: handles.all, includeUsage: p.includeUsage) }
            return try await jsonResponse(reply, first: first, events: events, handles: handles)
        } onCancel: {
            handles.cancelAll()
        }
    }

    func jsonResponse(_ reply: Reply, first: [Arrival], events: MergedEvents, handles: HandleSet) async throws -> Response {
        var acc = reply.accumulators()
        for a in first { acc[a.index].add(a.event, at: a.time) }
        while let a = await events.next() { acc[a.index].add(a.event, at: a.time) }
        try Task.checkCancellation()
        if let f = acc.compactMap(\.failure).first { throw APIError(f) }
        return OpenAIServer.json(reply.object(acc))
    }

    func streamResponse(_ reply: Reply, first: [Arrival], events: MergedEvents, handles: [CompletionHandle],
                        includeUsage: Bool) -> Response {
        var h = HTTPFields()
        h[.contentType] = "text/event-stream"
        h[.cacheControl] = "no-cache"
        let body = ResponseBody { writer in
            var acc = reply.accumulators()
            do {
                for i in 0..<reply.choices where reply.route == .chat {
                    try await writer.write(SSE.event(reply.chunk(index: i, delta: ["role": "assistant", "content": ""], includeUsage: includeUsage)))
                }
                for a in first { try await self.send(a, reply, &acc, &writer, includeUsage) }
                while let a = await events.next() { try await self.send(a, reply, &acc, &writer, includeUsage) }
                if includeUsage { try await writer.write(SSE.event(reply.usageChunk(acc))) }
                try await writer.write(SSE.done)
                try await writer.finish(nil)
            } catch {
                // the client went away (or the connection broke): stop the work now, free KV and leases
                handles.forEach { $0.cancel() }
                self.metrics.disconnected()
                throw error
            }
        }
        return Response(status: .ok, headers: h, body: body)
    }

    /// One event of a choice as SSE chunks.
    func send(_ a: Arrival, _ reply: Reply, _ acc: inout [ChoiceAccumulator], _ writer: inout any ResponseBodyWriter,
              _ includeUsage: Bool) async throws {
        let i = a.index
        acc[i].add(a.event, at: a.time)
        switch a.event {
        case .token(_, let text, let lp, let top):
            let logprobs = lp.map { reply.logprobsObject([(text, $0, top)]) }
            try await writer.write(SSE.event(reply.chunk(index: i, text: text, logprobs: logprobs, includeUsage: includeUsage)))
        case .finished(let reason, _, let text):
            if !text.isEmpty { try await writer.write(SSE.event(reply.chunk(index: i, text: text, includeUsage: includeUsage))) }
            try await writer.write(SSE.event(reply.chunk(index: i, finish: reason.rawValue, includeUsage: includeUsage)))
        case .failed(let f):
            try await writer.write(SSE.event(APIError(f).body))
        }
    }
}

/// Server-sent event framing.
enum SSE {
    static func event(_ obj: Any) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var b = ByteBuffer(string: "data: ")
        b.writeBytes(data)
        b.writeString("\n\n")
        return b
    }
    static let done = ByteBuffer(string: "data: [DONE]\n\n")
}

/// One event of choice `index`, with the time it arrived (monotonic seconds).
struct Arrival: Sendable {
    let index: Int
    let event: CompletionEvent
    let time: Double
}

/// The completions a request submitted, to cancel together (handler cancelled, client gone, an error).
final class HandleSet: Sendable {
    private let handles = Mutex<[CompletionHandle]>([])
    func add(_ h: CompletionHandle) { handles.withLock { $0.append(h) } }
    var all: [CompletionHandle] { handles.withLock { $0 } }
    func cancelAll() { for h in all { h.cancel() } }
}

/// The events of several completions as one sequence of arrivals, in arrival order; read by one
/// consumer at a time (the handler, then its response writer).
final class MergedEvents: @unchecked Sendable {
    private var iterator: AsyncStream<Arrival>.Iterator

    init(_ handles: [CompletionHandle]) {
        let (s, c) = AsyncStream<Arrival>.makeStream()
        iterator = s.makeAsyncIterator()
        let remaining = Countdown(handles.count)
        if handles.isEmpty { c.finish() }
        for (i, h) in handles.enumerated() {
            Task {
                for await e in h.events { c.yield(Arrival(index: i, event: e, time: Scheduler.now())) }
                if remaining.tick() { c.finish() }
            }
        }
    }

    func next() async -> Arrival? { await iterator.next() }

    /// Events until every choice has produced one; returns them (in arrival order).
    func firstOfEach(count: Int) async -> [Arrival] {
        var seen = Set<Int>(), out: [Arrival] = []
        while seen.count < count, let a = await next() {
            out.append(a)
            seen.insert(a.index)
        }
        return out
    }
}

/// Counts down from n; `tick` says whether it reached zero.
final class Countdown: Sendable {
    private let left: Mutex<Int>
    init(_ n: Int) { left = Mutex(n) }
    func tick() -> Bool { left.withLock { $0 -= 1; return $0 == 0 } }
}
