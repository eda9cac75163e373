import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMATestSupport

/// The chip on the real model: compile the INT4 image, check it is stable, run it.
/// Release build only (`ROMA_REAL_MODEL_TESTS=1`, scripts/test.sh).
final class RealModelChipTests: XCTestCase {
    nonisolated(unsafe) static var image: (path: String, checksum: String)?

    func int4Image() throws -> (path: String, checksum: String) {
        guard RealModelTests.enabled else { throw XCTSkip("set ROMA_REAL_MODEL_TESTS=1 (release build) to run real-model tests") }
        if let i = RealModelChipTests.image { return i }
        guard let model = RealModel.path else { throw XCTSkip("model missing: run scripts/fetch-model.sh") }
        let out = TempFiles.path("smollm2-int4.rom")
        let r = try ROMCompiler(bits: 4).compile(gguf: GGUFFile(path: model), output: out)
        RealModelChipTests.image = (out, r.checksum)
        return (out, r.checksum)
    }

    /// Two compiles of the same model give the same bytes; loading verifies the checksum.
    func testImageIsReproducibleAndVerified() throws {
        let first = try int4Image()
        let again = TempFiles.path("smollm2-int4-again.rom")
        let r = try ROMCompiler(bits: 4).compile(gguf: GGUFFile(path: RealModel.path!), output: again)
        XCTAssertEqual(r.checksum, first.checksum)
        let img = try ROMImage(path: first.path)
        XCTAssertEqual(img.checksumHex, first.checksum)
        XCTAssertEqual(img.header.quantization.groupSize, 64)
        XCTAssertEqual(img.header.source.sha256, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    }

    /// The chip answers the golden chat prompt and stops at the end-of-turn token; the ROM is unchanged after.
    func testChipChatAndROMImmutability() throws {
        let img = try int4Image()
        let engine = try Engine.chip(imagePath: img.path)
        let prompt = engine.tokenizer.encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
        let r = try engine.generate(promptIDs: prompt, maxTokens: 48)
        XCTAssertTrue(r.text.contains("Paris"), r.text)
        XCTAssertEqual(try ROMImage(path: img.path).checksumHex, img.checksum)
    }

    /// Perplexity of the chip on the first 2 chunks of GPL-3 (ctx 512), next to the FP32 reference.
    func testChipPerplexityOnGPL3() throws {
        let img = try int4Image()
        let engine = try Engine.chip(imagePath: img.path)
        let text = String(decoding: FileManager.default.contents(atPath: "/usr/share/common-licenses/GPL-3")!, as: UTF8.self)
        let r = try engine.perplexity(tokens: engine.tokenizer.encode(text, parseSpecial: false), ctx: 512, maxChunks: 2)
        print("chip INT4 perplexity (2 chunks): \(r.ppl); FP32 reference on the same chunks: 17.69")
        XCTAssertGreaterThan(r.ppl, 17.69)
        XCTAssertLessThan(r.ppl, 30)
    }

    /// `roma tune` on the real INT4 image: four steps on licence text (never GPL) make the chip's
    /// perplexity on GPL-3 fall; codes stay, the parent image is unchanged.
    func testScaleTuningLowersChipPerplexity() throws {
        let img = try int4Image()
        let engine = try Engine.reference(path: RealModel.path!)
        let calib = String(decoding: FileManager.default.contents(atPath: RealModel.repoRoot + "/data/calibration/licenses-en.txt")!, as: UTF8.self)
        var tuner = ScaleTuner()
        tuner.epochs = 2
        tuner.learningRate = 1e-3
        let out = TempFiles.path("smollm2-int4-tuned.rom")
        let report = try tuner.tune(image: ROMImage(path: img.path), teacher: engine.backend,
                                    tokens: engine.tokenizer.encode(calib, parseSpecial: true), count: 1024, output: out)
        XCTAssertEqual(report.steps, 4)
        XCTAssertLessThan(report.klPerEpoch[1], report.klPerEpoch[0], "\(report.klPerEpoch)")
        let text = String(decoding: FileManager.default.contents(atPath: "/usr/share/common-licenses/GPL-3")!, as: UTF8.self)
        func ppl(_ path: String) throws -> Double {
            let e = try Engine.chip(imagePath: path)
            return try e.perplexity(tokens: e.tokenizer.encode(text, parseSpecial: false), ctx: 512, maxChunks: 2).ppl
        }
        let before = try ppl(img.path), after = try ppl(out)
        print("chip INT4 perplexity (2 GPL-3 chunks): \(before) -> \(after) after 4 tuning steps; KL per epoch \(report.klPerEpoch)")
        XCTAssertLessThan(after, before - 0.5)
        XCTAssertEqual(try ROMImage(path: img.path).checksumHex, img.checksum, "the parent is only read")
        let parent = try ROMImage(path: img.path), tuned = try ROMImage(path: out)
        let q = try parent.requireTensor("blk.7.ffn_down.weight")
        XCTAssertTrue(memcmp(parent.codes(q), tuned.codes(q), q.codesBytes) == 0)
    }

    /// A rank-16 recovery adapter on the real INT4 image: it lowers perplexity, its FP8 storage costs
    /// little against FP32, swapping it never changes the ROM, and the PEFT file it is written to
    /// round-trips through the GGUF form to the same logits.
    func testRecoveryAdapterFP8VersusFP32AndSwaps() throws {
        let img = try int4Image()
        let image = try ROMImage(path: img.path)
        let ref = try Engine.reference(path: RealModel.path!).backend as! ReferenceBackend
        let (adapter, _) = try RecoveryAdapter.build(image: image, rank: 16, name: "rec16") { ref.weightArray($0, layer: $1) }
        var fp32 = ChipConfig.paper
        fp32.numerics.loraWeightFormat = .fp32
        let e8 = try Engine.chip(imagePath: img.path), e32 = try Engine.chip(imagePath: img.path, chip: fp32)
        try e8.adapters.register(adapter)
        try e32.adapters.register(adapter)
        let text = String(decoding: FileManager.default.contents(atPath: "/usr/share/common-licenses/GPL-3")!, as: UTF8.self)
        let tokens = e8.tokenizer.encode(text, parseSpecial: false)
        let rows = 0..<256
        let l8 = try e8.session(adapters: [AdapterRequest("rec16")]).feed(Array(tokens[0..<256]), logitRows: rows)
        let l32 = try e32.session(adapters: [AdapterRequest("rec16")]).feed(Array(tokens[0..<256]), logitRows: rows)
        var maxDiff: Float = 0, num = 0.0, den = 0.0, agree = 0
        for r in rows {
            let a = l8.rowArray(r), b = l32.rowArray(r)
            for v in 0..<a.count { maxDiff = max(maxDiff, abs(a[v] - b[v])); num += Double((a[v] - b[v]) * (a[v] - b[v])); den += Double(b[v] * b[v]) }
            if a.indices.max(by: { a[$0] < a[$1] }) == b.indices.max(by: { b[$0] < b[$1] }) { agree += 1 }
        }
        let p0 = try e8.perplexity(tokens: tokens, ctx: 512, maxChunks: 2).ppl
        let p8 = try e8.perplexity(tokens: tokens, ctx: 512, maxChunks: 2, adapters: [AdapterRequest("rec16")]).ppl
        let p32 = try e32.perplexity(tokens: tokens, ctx: 512, maxChunks: 2, adapters: [AdapterRequest("rec16")]).ppl
        print(String(format: "recovery rank 16 on INT4 (2 chunks): ppl %.4f without, %.4f FP8, %.4f FP32; FP8 vs FP32 logits: max |diff| %.4f, relative RMS %.5f, top-1 agreement %d/256",
                     p0, p8, p32, maxDiff, (num / den).squareRoot(), agree))
        XCTAssertLessThan(p8, p0, "the recovery adapter helps")
        XCTAssertLessThan(abs(p8 / p32 - 1), 0.01, "FP8 storage costs under 1% perplexity")
        XCTAssertLessThan((num / den).squareRoot(), 0.02)
        XCTAssertGreaterThan(agree, 240)
        XCTAssertEqual(SHA256.hex(ROMImage.computeChecksum((e8.backend as! ChipBackend).image.file.bytes)), img.checksum)
        XCTAssertEqual(try ROMImage(path: img.path).checksumHex, img.checksum)
    }
}
