import XCTest
import Foundation
import ROMAChip
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
}
