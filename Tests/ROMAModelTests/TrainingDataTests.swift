import XCTest
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATestSupport
import ROMATokenizer

/// Training data forms, what each learns, and the refusal of bad data with file and line.
final class TrainingDataTests: XCTestCase {
    lazy var tokenizer: BPETokenizer = try! BPETokenizer(gguf: GGUFFile(path: TinyModel(seed: 21).write()))

    func file(_ text: String, ext: String = "jsonl") -> String {
        let p = TempFiles.path("data-\(UUID().uuidString).\(ext)")
        try! text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func load(_ text: String, ext: String = "jsonl", maxSeqLen: Int = 128, maskPrompt: Bool = true) throws -> TrainingData {
        try TrainingData.load(path: file(text, ext: ext), tokenizer: tokenizer, maxSeqLen: maxSeqLen, maskPrompt: maskPrompt)
    }

    /// The learned tokens of a sample, decoded.
    func learned(_ s: TrainingSample) -> String {
        tokenizer.decode(zip(s.tokens, s.supervised).filter(\.1).map(\.0), renderSpecial: true)
    }

    func testCompletionFormLearnsTheCompletionAndTheTurnEnd() throws {
        let d = try load(#"{"prompt": "the cat", "completion": "on the mat"}"# + "\n")
        XCTAssertEqual(d.form, .completion)
        let s = d.samples[0]
        XCTAssertEqual(s.tokens, tokenizer.encode(chat: [ChatMessage(role: "user", content: "the cat"), ChatMessage(role: "assistant", content: "on the mat")],
                                                  template: tokenizer.chatTemplate!, addGenerationPrompt: false))
        XCTAssertEqual(learned(s), "on the mat<|im_end|>")
        XCTAssertEqual(s.origin.hasSuffix(":1"), true)
        let all = try load(#"{"prompt": "the cat", "completion": "on the mat"}"#, maskPrompt: false).samples[0]
        XCTAssertEqual(all.supervisedCount, all.tokens.count - 1, "--no-mask-prompt learns every token after the first")
    }

    func testMessagesFormLearnsOnlyAssistantTurns() throws {
        let line = #"{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}, {"role": "assistant", "content": "the end"}]}"#
        let s = try load(line).samples[0]
        XCTAssertEqual(learned(s), "hello<|im_end|>the end<|im_end|>")
        XCTAssertEqual(s.logitRows.upperBound, s.tokens.count - 2, "the last target is the final turn's end (a newline follows it)")
    }

    func testTextFormAndPlainTextChunks() throws {
        let d = try load("{\"text\": \"in the water\"}\r\n\r\n{\"text\": \"on the shore\"}\r\n")   // Windows line ends too
        XCTAssertEqual(d.form, .text)
        XCTAssertEqual(d.samples.count, 2, "blank lines are skipped")
        XCTAssertEqual(d.samples[1].origin.split(separator: ":").last, "3")
        let t = d.samples[0]
        XCTAssertEqual(Array(t.tokens.dropLast()), tokenizer.encode("in the water", parseSpecial: false))
        XCTAssertEqual(t.tokens.last, tokenizer.eosID)
        XCTAssertEqual(t.supervisedCount, t.tokens.count - 1)
        let words = (0..<60).map { ["the", "sea", "wind", "is", "on"][$0 % 5] }.joined(separator: " ")
        let txt = try load(words, ext: "txt", maxSeqLen: 16)
        XCTAssertEqual(txt.form, .plainText)
        XCTAssertEqual(txt.samples.dropLast().map(\.tokens.count), Array(repeating: 16, count: txt.samples.count - 1))
        let all = tokenizer.encode(words, parseSpecial: false)
        XCTAssertEqual(all.count % 16, 1, "this text leaves a one-token tail")
        XCTAssertEqual(txt.samples.flatMap(\.tokens), Array(all.dropLast()), "in order; a one-token tail has nothing to learn and is left out")
    }

    /// Every kind of bad data is refused before training, naming the file and line.
    func testBadDataIsRefusedWithFileAndLine() throws {
        let cases: [(String, String, String)] = [
            ("", "jsonl", "no samples (the file is empty)"),
            ("{\"text\": \"ok\"}\n{\"text\": \"ok\"\n", "jsonl", ":2: not valid JSON"),
            ("[1, 2]\n", "jsonl", ":1: a line must be a JSON object, found a list"),
            ("{\"txt\": \"hello\"}\n", "jsonl", ":1: a record needs \"text\", \"messages\" or \"prompt\" and \"completion\" (found \"txt\")"),
            ("{\"text\": 5}\n", "jsonl", ":1: \"text\" must be a string, found a number"),
            ("{\"text\": \"\"}\n", "jsonl", ":1: \"text\" is empty"),
            ("{\"prompt\": \"a\"}\n", "jsonl", ":1: missing \"completion\""),
            ("{\"text\": \"a\"}\n{\"prompt\": \"a\", \"completion\": \"b\"}\n", "jsonl", ":2: a \"completion\" record, but the file's first record is \"text\""),
            ("{\"messages\": \"hi\"}\n", "jsonl", ":1: \"messages\" must be a list, found a string"),
            ("{\"messages\": []}\n", "jsonl", ":1: \"messages\" is empty"),
            ("{\"messages\": [{\"role\": \"user\"}]}\n", "jsonl", ":1: message 1 needs a string \"role\" and a string \"content\""),
            ("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n", "jsonl", ":1: message 1 has role \"robot\""),
            ("{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n", "jsonl", ":1: nothing to learn: the conversation has no assistant turn"),
            ("{\"text\": \"" + String(repeating: "the sea ", count: 40) + "\"}\n", "jsonl", ":1: the sample has"),
            ("a", "txt", "no samples (the text has 1 tokens)"),
        ]
        for (text, ext, message) in cases {
            XCTAssertThrowsError(try load(text, ext: ext, maxSeqLen: 32), "expected: \(message)") { e in
                XCTAssertTrue("\(e)".contains(message), "got '\(e)', expected '\(message)'")
                XCTAssertTrue("\(e)".contains(".\(ext)"), "names the file: \(e)")
                XCTAssertNotNil(e as? ROMAError)
            }
        }
        XCTAssertThrowsError(try TrainingData.load(path: "/nonexistent/train.jsonl", tokenizer: tokenizer, maxSeqLen: 8)) {
            XCTAssertEqual(($0 as? ROMAError)?.code, .notFound)
        }
        let long = "{\"text\": \"" + String(repeating: "the sea ", count: 40) + "\"}\n"
        XCTAssertThrowsError(try load(long, maxSeqLen: 32)) { XCTAssertEqual(($0 as? ROMAError)?.code, .contextOverflow) }
    }
}
