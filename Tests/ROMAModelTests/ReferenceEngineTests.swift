import XCTest
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMATestSupport

/// The FP32 reference engine against an independent Hugging Face-convention implementation.
final class ReferenceEngineTests: XCTestCase {
    func testLogitsMatchNaiveHFConventionModel() throws {
        let tiny = TinyModel(seed: 7)
        let engine = try Engine.reference(path: tiny.write())
        let tokens = [5, 70, 120, 3, 250, 33, 260, 1, 99]
        let naive = NaiveLlama(tiny).logits(tokens)
        // all positions in one batched forward pass
        let s = try engine.session()
        let batch = try s.feed(tokens, logitRows: 0..<tokens.count)
        var maxErr = 0.0, maxAbs = 0.0
        for p in 0..<tokens.count {
            for v in 0..<tiny.vocabSize {
                maxErr = max(maxErr, abs(Double(batch.row(p)[v]) - naive[p][v]))
                maxAbs = max(maxAbs, abs(naive[p][v]))
            }
        }
        XCTAssertGreaterThan(maxAbs, 1.0, "logits should not be trivially small")
        XCTAssertLessThan(maxErr, 2e-4 * maxAbs, "FP32 engine vs FP64 naive model")
    }

    func testIncrementalDecodeEqualsBatchedPrefill() throws {
        let tiny = TinyModel(seed: 3)
        let engine = try Engine.reference(path: tiny.write())
        let tokens = [10, 20, 30, 40, 50, 60, 70]
        let batch = try engine.session().feed(tokens, logitRows: 0..<tokens.count)
        let s = try engine.session()
        for (i, t) in tokens.enumerated() {
            let l = try s.feed([t])
            for v in 0..<tiny.vocabSize { XCTAssertEqual(l[v], batch.row(i)[v], accuracy: 1e-4 * max(1, abs(l[v]))) }
        }
        XCTAssertEqual(s.position, tokens.count)
    }

    /// A prompt longer than one pass is fed in passes of `maxTokensPerPass`: the logits of the last row,
    /// of rows inside one later pass and of rows across passes are those of one pass over the whole
    /// prompt, and generation after such a prompt runs (a prompt over 256 tokens used to trap when the
    /// wanted rows lay wholly in a later pass).
    func testPromptLongerThanOnePassGivesTheSameLogits() throws {
        let tiny = TinyModel(seed: 5)
        let engine = try Engine.reference(path: tiny.write())
        let tokens = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]
        let whole = try engine.session().feed(tokens, logitRows: 0..<tokens.count)
        for rows in [10..<11, 7..<9, 2..<8, 0..<11] {
            let s = try engine.session()
            s.maxTokensPerPass = 3
            let got = try s.feed(tokens, logitRows: rows)
            XCTAssertEqual(s.position, tokens.count)
            for (i, r) in rows.enumerated() {
                for v in 0..<tiny.vocabSize {
                    XCTAssertEqual(got.row(i)[v], whole.row(r)[v], accuracy: 1e-4 * max(1, abs(whole.row(r)[v])), "rows \(rows), row \(r)")
                }
            }
        }
        let s = try engine.session(capacity: tokens.count + 4)
        s.maxTokensPerPass = 3
        let viaPasses = try engine.generate(promptIDs: tokens, maxTokens: 4, session: s)
        let onePass = try engine.generate(promptIDs: tokens, maxTokens: 4)
        XCTAssertEqual(viaPasses.ids, onePass.ids)
    }
    func testSessionsDoNotShareKVCache() throws {
        let tiny = TinyModel(seed: 4)
        let engine = try Engine.reference(path: tiny.write())
        let a = try engine.session(), b = try engine.session()
        _ = try a.feed([5, 6, 7, 8])
        let lb = try b.feed([9])
        let fresh = try engine.session().feed([9])
        XCTAssertEqual(lb, fresh)
    }

    func testQuantizedWeightsLoadAndStayClose() throws {
        for type in [GGMLType.f16, .bf16, .q8_0, .q4_0, .q4_1] {
            var tiny = TinyModel(seed: 9, weightType: type)
            tiny.hidden = 64; tiny.ffn = 96
            let exact = try Engine.reference(path: TinyModel(seed: 9).write())
            let engine = try Engine.reference(path: tiny.write())
            let l0 = try exact.session().feed([5, 6, 7]), l1 = try engine.session().feed([5, 6, 7])
            let num = zip(l0, l1).map { Double(($0 - $1) * ($0 - $1)) }.reduce(0, +)
            let den = l0.map { Double($0 * $0) }.reduce(0, +)
            let rel = (num / den).squareRoot()
            let bound: Double = [.f16: 0.01, .bf16: 0.05, .q8_0: 0.05, .q4_0: 0.5, .q4_1: 0.5][type]!
            XCTAssertLessThan(rel, bound, "\(type) relative logit error")
            XCTAssertGreaterThan(rel, 0, "\(type) must differ from F32")
        }
    }

    func testGreedyGenerationStopsAtEndOfGeneration() throws {
        let tiny = TinyModel(seed: 11)
        let engine = try Engine.reference(path: tiny.write())
        let r = try engine.generate(promptIDs: [40, 41, 42], maxTokens: 20)
        XCTAssertEqual(r.promptIDs, [40, 41, 42])
        XCTAssertLessThanOrEqual(r.ids.count, 20)
        if r.finishReason == "length" { XCTAssertEqual(r.ids.count, 20) }
        XCTAssertFalse(r.ids.contains { engine.tokenizer.endOfGeneration.contains($0) })
        // greedy = argmax of the logits, step by step
        let s = try engine.session()
        var logits = try s.feed([40, 41, 42])
        for id in r.ids {
            XCTAssertEqual(id, logits.withUnsafeBufferPointer(Sampler.argmax))
            logits = try s.feed([id])
        }
        XCTAssertEqual(engine.tokenizer.decode(r.ids), r.text)
    }

    func testContextOverflowAndEmptyPromptAreRefused() throws {
        let tiny = TinyModel(seed: 12)
        let engine = try Engine.reference(path: tiny.write())
        XCTAssertThrowsError(try engine.generate(promptIDs: Array(repeating: 5, count: 100), maxTokens: 100)) { e in
            XCTAssertEqual("\(e)", "prompt plus generated tokens (200) exceed the context length (128)")
        }
        XCTAssertThrowsError(try engine.generate(promptIDs: [], maxTokens: 3)) { e in
            XCTAssertEqual("\(e)", "the prompt is empty (it tokenizes to no tokens)")
        }
    }

    func testPerplexityMatchesIndependentComputation() throws {
        let tiny = TinyModel(seed: 13)
        let engine = try Engine.reference(path: tiny.write())
        let ctx = 16
        let tokens = (0..<40).map { ($0 * 37 + 11) % tiny.vocabSize }
        let r = try engine.perplexity(tokens: tokens, ctx: ctx)
        XCTAssertEqual(r.chunks, 2)
        XCTAssertEqual(r.tokensScored, 2 * (ctx - 1 - ctx / 2))
        var nll = 0.0, n = 0
        let naive = NaiveLlama(tiny)
        for c in 0..<2 {
            let chunk = Array(tokens[(c * ctx)..<((c + 1) * ctx)])
            let lg = naive.logits(chunk)
            for pos in (ctx / 2)..<(ctx - 1) {
                let row = lg[pos], mx = row.max()!
                let lse = log(row.map { exp($0 - mx) }.reduce(0, +)) + mx
                nll += lse - row[chunk[pos + 1]]; n += 1
            }
        }
        XCTAssertEqual(r.ppl, exp(nll / Double(n)), accuracy: 1e-3 * r.ppl)
    }

    func testModelConfigFromGGUF() throws {
        let tiny = TinyModel(seed: 1)
        let g = try GGUFFile(path: tiny.write())
        let c = try ModelConfig(gguf: g)
        XCTAssertEqual([c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKVHeads, c.headDim, c.vocabSize, c.contextLength],
                       [64, 96, 2, 4, 2, 16, 269, 128])
        XCTAssertTrue(c.tiedEmbeddings)
        XCTAssertEqual(c.ropeTheta, 10000)
    }
}
