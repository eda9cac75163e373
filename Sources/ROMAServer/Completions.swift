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
    enum Route: Sendable {
        case chat, completion
        /// The request field that holds the prompt (named in a refusal of the prompt).
        var promptParameter: String { self == .chat ? "messages" : "prompt" }
    }

    func chatCompletions(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let ready = try require()
        var d = try decoder(ready).chat(try await body(request))
        if !d.maxTokensGiven {
            // the rest of the context, or as much as the SRAM could ever hold beside the prompt
            var fit = ready.engine.config.contextLength
            if let m = ready.engine.backend.memory, case let perToken = ready.engine.backend.kvCacheBytes(capacity: 1), perToken > 0 {
                fit = min(fit, m.capacity / perToken)
            }
            d.parameters.maxTokens = max(0, fit - d.prompts[0].count)
        }
        return try await run(d.parameters, prompts: d.prompts, route: .chat, ready)
    }

    func completions(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let ready = try require()
        let d = try decoder(ready).completion(try await body(request))
        return try await run(d.parameters, prompts: d.prompts, route: .completion, ready)
    }

    func decoder(_ ready: Ready) -> RequestDecoder {
        RequestDecoder(modelID: options.modelID, adapterNames: ready.engine.adapters.names, tokenizer: ready.engine.tokenizer,
                       contextLength: ready.engine.config.contextLength)
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
                if let e = error as? ServeError { metrics.refused(e); throw APIError(e, param: e.kind == .invalidRequest ? route.promptParameter : nil) }
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
