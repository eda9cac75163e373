import Foundation
import Synchronization
import ROMALlama
import ROMAModel
import ROMANumerics

/// How the scheduler batches and queues.
public struct SchedulerConfig: Sendable {
    /// Sequences that run at once (each with its own KV cache and adapters).
    public var maxBatch = 8
    /// Rows per forward pass at most: every decoding sequence's token plus chunks of new prompts.
    public var maxBatchTokens = 512
    /// Tokens of one prompt per step at most (chunked prefill).
    public var prefillChunk = 256
    /// Requests waiting for memory at most; more are refused (429).
    public var maxQueue = 256
    /// Seconds a request may wait for memory before it is refused (429).
    public var queueTimeout = 30.0
    public init() {}
}

/// A submitted completion: its events, and a way to stop it (a client that went away).
public final class CompletionHandle: Sendable {
    public let id: Int
    public let events: AsyncStream<CompletionEvent>
    private let cancelled = Mutex(false)
    init(id: Int, events: AsyncStream<CompletionEvent>) { self.id = id; self.events = events }
    /// Stops the completion at the next step; its KV cache and adapter lease are freed then.
    public func cancel() { cancelled.withLock { $0 = true } }
    public var isCancelled: Bool { cancelled.withLock { $0 } }
}

/// Continuous batching across adapters over one engine: every step, all running sequences advance in
/// one forward pass (`LlamaModel.forward(Batch)`: on the chip one pass of the L-Units over the ROM for
/// every row), each row with its own KV cache and adapter set. Admission happens before any token: a
/// request reserves its KV cache for prompt + max tokens and leases its adapters (evicting idle ones);
/// one that can never fit is refused at once, one that could fit later waits in a bounded queue. An
/// admitted request is never preempted and never runs out of memory.
///
/// Its thread keeps it alive until `shutdown`.
///
/// `@unchecked Sendable`: the queues and state are behind `cond`; the running set is touched only by
/// the scheduler's own thread.
public final class Scheduler: @unchecked Sendable {
    public let engine: Engine
    public let config: SchedulerConfig
    private let model: LlamaModel
    private let cond = NSCondition()
    private struct Waiting { let id: Int; let request: CompletionRequest; let handle: CompletionHandle
                             let continuation: AsyncStream<CompletionEvent>.Continuation; let deadline: Double }
    private var waiting: [Waiting] = []
    private var running: [(RunningCompletion, CompletionHandle)] = []
    private var nextID = 0
    private enum State { case serving, draining(deadline: Double), stopped }
    private var state = State.serving
    private let stopped = DispatchSemaphore(value: 0)
    private let counters = Mutex(SchedulerStats())

    public init(engine: Engine, config: SchedulerConfig = SchedulerConfig()) {
        self.engine = engine; self.config = config; model = engine.model
        let t = Thread { self.loop() }   // holds the scheduler until `shutdown` ends the loop
        t.name = "roma-scheduler"
        t.stackSize = 4 << 20
        t.start()
    }

    /// Monotonic seconds (the scheduler's deadlines; the server's and the load generator's timings).
    public static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    // MARK: submission

    /// Checks and queues a completion; throws `ServeError` for a request that is malformed, names an
    /// unknown adapter, can never fit the memory budget, or meets a full queue or a shutdown.
    public func submit(_ r: CompletionRequest) throws -> CompletionHandle {
        try validate(r)
        try checkFits(r)
        cond.lock(); defer { cond.unlock() }
        guard case .serving = state else { throw ServeError(.shuttingDown, "the server is shutting down", retryAfter: 1) }
        guard waiting.count < config.maxQueue else {
            throw ServeError(.queueFull, "too many requests are waiting for memory (\(waiting.count))", retryAfter: 1)
        }
        let (stream, continuation) = AsyncStream<CompletionEvent>.makeStream()
        nextID += 1
        let handle = CompletionHandle(id: nextID, events: stream)
        waiting.append(Waiting(id: nextID, request: r, handle: handle, continuation: continuation, deadline: Self.now() + config.queueTimeout))
        counters.withLock { $0.submitted += 1 }
        cond.signal()
        return handle
    }

    func validate(_ r: CompletionRequest) throws {
        let m = engine.config
        func bad(_ s: String) -> ServeError { ServeError(.invalidRequest, s) }
        guard !r.promptIDs.isEmpty else { throw bad("the prompt is empty") }
        if let t = r.promptIDs.first(where: { $0 < 0 || $0 >= m.vocabSize }) { throw bad("token id \(t) is outside the vocabulary (\(m.vocabSize) tokens)") }
        guard r.maxTokens >= 0 else { throw bad("max tokens must be >= 0, got \(r.maxTokens)") }
        guard r.maxTokens <= m.contextLength - r.promptIDs.count else {
            throw bad("the prompt (\(r.promptIDs.count) tokens) plus max tokens (\(r.maxTokens)) \(ServeError.contextOverflowPhrase) (\(m.contextLength))")
        }
        do { try r.sampler.validate() } catch { throw bad("\(error)") }
        guard r.stop.count <= 4 else { throw bad("at most 4 stop sequences, got \(r.stop.count)") }
        if let k = r.topLogprobs, !(0...20).contains(k) { throw bad("top logprobs must be in 0...20, got \(k)") }
        for (n, v) in [("presence", r.presencePenalty), ("frequency", r.frequencyPenalty)] where !(v >= -2 && v <= 2) {
            throw bad("\(n) penalty must be in [-2, 2], got \(v)")
        }
        var seen = Set<String>()
        for a in r.adapters {
            guard engine.adapters.adapter(named: a.name) != nil else {
                throw ServeError(.unknownAdapter, "no adapter named '\(a.name)' is registered")
            }
            guard seen.insert(a.name).inserted else { throw bad("adapter '\(a.name)' is requested twice") }
            guard a.scale.isFinite else { throw bad("adapter '\(a.name)': scale \(a.scale) is not finite") }
        }
    }

    /// Refuses a request whose KV cache and adapters exceed what the memory could ever free for it
    /// (its capacity less the pinned adapters it does not use).
    func checkFits(_ r: CompletionRequest) throws {
        guard let memory = engine.backend.memory else { return }
        let kv = engine.backend.kvCacheBytes(capacity: r.promptIDs.count + r.maxTokens)
        let (adapterBytes, pinned) = try engine.adapters.footprint(r.adapters)
        let needed = kv + adapterBytes, available = memory.capacity - pinned
        guard needed <= available else {
            throw ServeError(.neverFits, "\(memory.name) budget exceeded: the request needs \(needed) bytes (KV cache for \(r.promptIDs.count + r.maxTokens) tokens \(kv) B, adapters \(adapterBytes) B) but at most \(available) of \(memory.capacity) bytes can ever be free for it", neededBytes: needed, availableBytes: available)
        }
    }

    // MARK: the loop

    private func loop() {
        while true {
            guard let work = nextWork() else { break }
            step(work)
        }
        stopped.signal()
    }

    /// Under the lock: expires and admits waiting requests, waits while nothing runs; returns the running
    /// set to step, or nil when the scheduler is done.
    private func nextWork() -> [(RunningCompletion, CompletionHandle)]? {
        cond.lock(); defer { cond.unlock() }
        while true {
            let now = Self.now()
            expireWaiting(now: now)
            admit()
            switch state {
            case .stopped: return nil
            case .draining(let deadline):
                if running.isEmpty { state = .stopped; return nil }
                if now >= deadline {
                    for (c, _) in running { c.finish(.length) }
                    running.removeAll()
                    state = .stopped
                    return nil
                }
            case .serving: break
            }
            if !running.isEmpty { return running }
            let wake = waiting.map(\.deadline).min().map { min($0, now + 1) } ?? now + 1
            _ = cond.wait(until: Date(timeIntervalSinceNow: max(0.001, wake - now)))
        }
    }

    private func expireWaiting(now: Double) {
        waiting.removeAll { w in
            if w.handle.isCancelled { w.continuation.finish(); return true }
            guard now >= w.deadline else { return false }
            w.continuation.yield(.failed(ServeError(.queueTimeout, "the request waited \(config.queueTimeout) s for memory (SRAM) and was not admitted", retryAfter: max(1, Int(config.queueTimeout / 4)))))
            w.continuation.finish()
            counters.withLock { $0.timedOut += 1 }
            return true
        }
    }

    /// First come, first served: admits the head of the queue while it fits (it is never passed by a
    /// later one, so a large request is not starved).
    private func admit() {
        while running.count < config.maxBatch, let w = waiting.first {
            do {
                let session = try engine.session(capacity: w.request.promptIDs.count + w.request.maxTokens, adapters: w.request.adapters)
                waiting.removeFirst()
                let c = RunningCompletion(id: w.id, request: w.request, session: session, continuation: w.continuation,
                                          tokenizer: engine.tokenizer)
                running.append((c, w.handle))
                counters.withLock { $0.admitted += 1 }
            } catch is MemoryBudgetError {
                return   // waits for memory
            } catch {
                waiting.removeFirst()
                w.continuation.yield(.failed(ServeError(.invalidRequest, "\(error)")))
                w.continuation.finish()
            }
        }
    }

    /// One forward pass over every running sequence's next rows, then sampling and delivery.
    private func step(_ work: [(RunningCompletion, CompletionHandle)]) {
        var live: [RunningCompletion] = []
        for (c, h) in work {
            if h.isCancelled { c.fail(ServeError(.invalidRequest, "cancelled")); counters.withLock { $0.cancelled += 1 } } else { live.append(c) }
        }
        var budget = max(config.maxBatchTokens, live.count)
        var seqs: [BatchSequence] = [], members: [RunningCompletion] = []
        for c in live.sorted(by: { !$0.isPrefilling && $1.isPrefilling }) where budget > 0 {
            let rows = c.nextRows(limit: min(config.prefillChunk, budget))
            budget -= rows.count
            seqs.append(BatchSequence(tokens: rows, cache: c.session.cache, adapters: c.session.lease.selection))
            members.append(c)
        }
        var ended = Set<Int>()
        if !seqs.isEmpty {
            let logits = model.forward(Batch(seqs))
            for (i, c) in members.enumerated() {
                let row = UnsafeBufferPointer(start: logits[i].data, count: logits[i].cols)
                if c.advance(rows: seqs[i].tokens.count, logits: row) { ended.insert(c.id) }
            }
            counters.withLock { s in
                s.steps += 1; s.rows += seqs.reduce(0) { $0 + $1.tokens.count }
                s.lastBatchSequences = seqs.count
            }
        }
        cond.lock()
        running.removeAll { ended.contains($0.0.id) || $0.0.finished }
        let n = running.count
        cond.unlock()
        counters.withLock { $0.completed += ended.count; $0.running = n }
    }

    // MARK: shutdown and statistics

    /// Stops admitting; fails the requests still waiting; lets running ones finish for at most
    /// `drainSeconds`, then ends them (finish reason "length"). Returns when the loop has stopped.
    public func shutdown(drainSeconds: Double) {
        cond.lock()
        if case .serving = state { state = .draining(deadline: Self.now() + drainSeconds) }
        for w in waiting {
            w.continuation.yield(.failed(ServeError(.shuttingDown, "the server is shutting down", retryAfter: 1)))
            w.continuation.finish()
        }
        waiting.removeAll()
        cond.signal()
        cond.unlock()
        stopped.wait()
        stopped.signal()   // later calls return at once
    }

    public var stats: SchedulerStats {
        cond.lock(); let (q, r) = (waiting.count, running.count); cond.unlock()
        var s = counters.withLock { $0 }
        s.queued = q; s.running = r
        return s
    }
}

/// Counters of a scheduler (the server's metrics read them).
public struct SchedulerStats: Sendable, Equatable {
    public var submitted = 0, admitted = 0, completed = 0, cancelled = 0, timedOut = 0
    public var queued = 0, running = 0
    /// Forward passes and rows run; sequences in the last pass.
    public var steps = 0, rows = 0, lastBatchSequences = 0
}
