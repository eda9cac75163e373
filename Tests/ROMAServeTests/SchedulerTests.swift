import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMAServe
import ROMATestSupport

/// The scheduler without HTTP: batch invariance across adapters, admission against the SRAM budget,
/// the queue timeout, cancellation freeing SRAM, stop sequences, drain on shutdown.
final class SchedulerTests: XCTestCase {
    func files() throws -> (gguf: String, rom: String) { try TinyChip.files(seed: 61) }

    func chipEngine(sram: Int? = nil) throws -> Engine {
        var chip = ChipConfig.paper
        if let sram { chip.memory.loraKVSRAMBytes = Double(sram) }
        return try Engine.chip(imagePath: files().rom, chip: chip)
    }

    /// A LoRA on q, v and down of every block; `zeroB` gives B = 0 (the base model's output).
    func adapter(_ name: String, _ m: ModelConfig, seed: UInt64, rank: Int = 4, zeroB: Bool = false) -> LoRAAdapter {
        var rng = SplitMix(seed)
        var layers: [LoRATarget: LoRALayer] = [:]
        for l in 0..<m.numLayers {
            for k in [LinearKind.q, .v, .down] {
                let (o, i) = k.shape(in: m)
                layers[LoRATarget(layer: l, kind: k)] = LoRALayer(rank: rank, inDim: i, outDim: o,
                    a: (0..<(rank * i)).map { _ in rng.normal() * 0.3 },
                    b: (0..<(o * rank)).map { _ in zeroB ? 0 : rng.normal() * 0.3 }, scale: 1)
            }
        }
        return LoRAAdapter(name: name, layers: layers, source: "test")
    }

    /// Collects a completion's events: token ids, text, finish reason (or the failure).
    func collect(_ h: CompletionHandle) async -> (ids: [Int], text: String, reason: FinishReason?, error: ServeError?) {
        var ids: [Int] = [], text = "", reason: FinishReason?, error: ServeError?
        for await e in h.events {
            switch e {
            case .token(let id, let t, _, _): ids.append(id); text += t
            case .finished(let r, _, let t): reason = r; text += t
            case .failed(let e): error = e
            }
        }
        return (ids, text, reason, error)
    }

    /// 16 concurrent greedy requests over 6 adapters (one zero-B, one absent = the base) on both
    /// backends: each gives, token for token, what it gives alone; the zero-B adapter's equal the base's.
    func testBatchInvarianceAcrossAdaptersOnBothBackends() async throws {
        for engine in [try chipEngine(), try Engine.reference(path: files().gguf)] {
            let m = engine.config
            for (i, n) in ["a", "b", "c", "d"].enumerated() { try engine.adapters.register(adapter(n, m, seed: UInt64(10 + i))) }
            try engine.adapters.register(adapter("zero", m, seed: 99, zeroB: true))
            let choices: [[AdapterRequest]] = [[], [AdapterRequest("a")], [AdapterRequest("b")], [AdapterRequest("c", scale: 0.5)],
                                               [AdapterRequest("d"), AdapterRequest("a", scale: 2)], [AdapterRequest("zero")]]
            let requests = (0..<16).map { i in
                CompletionRequest(promptIDs: (0..<(3 + i % 5)).map { (i * 7 + $0 * 3) % 40 + 3 }, maxTokens: 6 + i % 4,
                                  adapters: choices[i % choices.count])
            }
            let solo = Scheduler(engine: engine)
            var alone: [[Int]] = []
            for r in requests { alone.append(await collect(try solo.submit(r)).ids) }
            solo.shutdown(drainSeconds: 5)
            var config = SchedulerConfig()
            config.maxBatch = 16
            config.maxBatchTokens = 24   // prompts split into chunks that differ from the solo runs'
            config.prefillChunk = 3
            let mixed = Scheduler(engine: engine, config: config)
            let handles = try requests.map { try mixed.submit($0) }
            var together: [[Int]] = []
            for h in handles { together.append(await collect(h).ids) }
            mixed.shutdown(drainSeconds: 5)
            XCTAssertEqual(together, alone, engine.backend.name)
            XCTAssertGreaterThan(mixed.stats.lastBatchSequences, 0)
            XCTAssertGreaterThan(mixed.stats.rows, mixed.stats.steps, "\(engine.backend.name): steps ran several rows")
            for i in requests.indices where i % choices.count == 5 {
                let base = requests.indices.first { $0 % choices.count == 0 && requests[$0].promptIDs == requests[i].promptIDs && requests[$0].maxTokens == requests[i].maxTokens }
                if let base { XCTAssertEqual(together[i], together[base]) }
            }
            // the zero-B adapter equals the base on the same prompt
            let zr = CompletionRequest(promptIDs: requests[0].promptIDs, maxTokens: 8, adapters: [AdapterRequest("zero")])
            let br = CompletionRequest(promptIDs: requests[0].promptIDs, maxTokens: 8)
            let s = Scheduler(engine: engine)
            let (hz, hb) = (try s.submit(zr), try s.submit(br))
            let (z, b) = (await collect(hz).ids, await collect(hb).ids)
            s.shutdown(drainSeconds: 5)
            XCTAssertEqual(z, b)
            XCTAssertFalse(b.isEmpty)
        }
    }

    /// Never fits -> refused at once with the bytes; could fit later -> waits, then times out; a
    /// cancelled request frees its KV cache and lease at the next step; SRAM returns to idle.
    func testAdmissionQueueTimeoutAndCancellationFreeSRAM() async throws {
        // tiny model: 256 B of KV per token
        let engine = try chipEngine(sram: 20_000)
        let sram = (engine.backend as! ChipBackend).hUnitSRAM
        var config = SchedulerConfig()
        config.queueTimeout = 0.5
        let sched = Scheduler(engine: engine, config: config)
        XCTAssertThrowsError(try sched.submit(CompletionRequest(promptIDs: [1, 2, 3], maxTokens: 100))) { e in
            let s = e as! ServeError
            XCTAssertEqual(s.kind, .neverFits)
            XCTAssertEqual(s.neededBytes, 103 * 256)
            XCTAssertEqual(s.availableBytes, 20_000)
        }
        // the test holds 60 tokens of KV (15,360 B): a request for 32 tokens (8,192 B) could fit later
        var held: Session? = try engine.session(capacity: 60)
        let blocked = try sched.submit(CompletionRequest(promptIDs: [7, 8], maxTokens: 30))
        let r = await collect(blocked)
        XCTAssertEqual(r.error?.kind, .queueTimeout)
        XCTAssertNotNil(r.error?.retryAfter)
        XCTAssertTrue(r.ids.isEmpty)
        // a waiting request that is cancelled leaves the queue without running
        let gone = try sched.submit(CompletionRequest(promptIDs: [7, 8], maxTokens: 30))
        gone.cancel()
        let g = await collect(gone)
        XCTAssertTrue(g.ids.isEmpty && g.reason == nil)
        XCTAssertEqual(sram.used, 60 * 256)
        held = nil
        XCTAssertNil(held)
        // a running request that is cancelled stops and frees its KV cache and lease
        let long = try sched.submit(CompletionRequest(promptIDs: [4, 5, 6], maxTokens: 70, ignoreEOS: true))
        var it = long.events.makeAsyncIterator()
        _ = await it.next()
        long.cancel()
        var tokens = 1, failure: ServeError?
        while let e = await it.next() {
            if case .token = e { tokens += 1 }
            if case .failed(let f) = e { failure = f }
        }
        XCTAssertNotNil(failure, "it ended by cancellation")
        XCTAssertLessThan(tokens, 70)
        let after = try sched.submit(CompletionRequest(promptIDs: [7, 8], maxTokens: 30, ignoreEOS: true))
        let afterResult = await collect(after)
        XCTAssertEqual(afterResult.reason, .length)
        XCTAssertEqual(afterResult.ids.count, 30)
        sched.shutdown(drainSeconds: 5)
        XCTAssertEqual(sram.used, 0, "no KV cache outlives its request")
        XCTAssertEqual(sched.stats.timedOut, 1)
        XCTAssertEqual(sched.stats.cancelled, 1)
    }

    /// Stop sequences end the text before them (held back across tokens); bad parameters are refused.
    func testStopSequencesAndValidation() async throws {
        let engine = try Engine.reference(path: files().gguf)
        let sched = Scheduler(engine: engine)
        let prompt = [5, 9, 11]
        let full = await collect(try sched.submit(CompletionRequest(promptIDs: prompt, maxTokens: 12)))
        XCTAssertEqual(full.reason, .length)
        XCTAssertGreaterThan(full.text.count, 4)
        let cut = full.text.index(full.text.startIndex, offsetBy: full.text.count / 2)
        let stop = String(full.text[cut...].prefix(3))
        let stopped = await collect(try sched.submit(CompletionRequest(promptIDs: prompt, maxTokens: 12, stop: [stop])))
        XCTAssertEqual(stopped.reason, .stop)
        let expected = String(full.text[..<full.text.range(of: stop)!.lowerBound])
        XCTAssertEqual(stopped.text, expected)
        for (bad, kind) in [(CompletionRequest(promptIDs: [], maxTokens: 1), ServeError.Kind.invalidRequest),
                            (CompletionRequest(promptIDs: [1_000_000], maxTokens: 1), .invalidRequest),
                            (CompletionRequest(promptIDs: [1], maxTokens: 100_000), .invalidRequest),
                            (CompletionRequest(promptIDs: [1], maxTokens: 1, adapters: [AdapterRequest("nope")]), .unknownAdapter),
                            (CompletionRequest(promptIDs: [1], maxTokens: 1, topLogprobs: 21), .invalidRequest)] {
            XCTAssertThrowsError(try sched.submit(bad)) { XCTAssertEqual(($0 as? ServeError)?.kind, kind, "\($0)") }
        }
        sched.shutdown(drainSeconds: 5)
        XCTAssertThrowsError(try sched.submit(CompletionRequest(promptIDs: [1], maxTokens: 1))) {
            XCTAssertEqual(($0 as? ServeError)?.kind, .shuttingDown)
        }
    }

    /// Logprobs: the chosen token's is the best of the top list under greedy sampling, all <= 0, and
    /// they sum (as probabilities over the top list) to at most 1.
    func testLogprobs() async throws {
        let engine = try Engine.reference(path: files().gguf)
        let sched = Scheduler(engine: engine)
        let h = try sched.submit(CompletionRequest(promptIDs: [3, 4], maxTokens: 4, topLogprobs: 5))
        var n = 0
        for await e in h.events {
            guard case .token(let id, _, let lp, let top) = e else { continue }
            n += 1
            XCTAssertEqual(lp?.id, id)
            XCTAssertEqual(top.count, 5)
            XCTAssertEqual(top.first?.id, id, "greedy picks the most likely token")
            XCTAssertEqual(top.first!.logprob, lp!.logprob, accuracy: 1e-12)
            XCTAssertLessThanOrEqual(top.map { exp($0.logprob) }.reduce(0, +), 1 + 1e-9)
            XCTAssertEqual(top.map(\.logprob), top.map(\.logprob).sorted(by: >))
        }
        XCTAssertEqual(n, 4)
        sched.shutdown(drainSeconds: 5)
    }

    /// Shutdown drains: running completions end with a final event within the drain time.
    func testShutdownDrainsRunningCompletions() async throws {
        let engine = try chipEngine()
        let sched = Scheduler(engine: engine)
        let h = try sched.submit(CompletionRequest(promptIDs: [1, 2, 3], maxTokens: 120, ignoreEOS: true))
        var it = h.events.makeAsyncIterator()
        _ = await it.next()
        let t0 = Date()
        sched.shutdown(drainSeconds: 0.05)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        var last: CompletionEvent?
        while let e = await it.next() { last = e }
        guard case .finished(let reason, let usage, _) = last else { return XCTFail("no final event: \(String(describing: last))") }
        XCTAssertTrue(reason == .length)
        XCTAssertLessThanOrEqual(usage.completionTokens, 120)
    }
}
