import Foundation
import ROMATokenizer

/// Held-out exact-match accuracy of greedy answers (`roma eval exact-match`): each record of a JSON
/// Lines file in the completion form ({"prompt", "completion"}) or the messages form (the last
/// assistant turn is the answer) is asked in the model's chat template, answered greedily, and
/// counted correct when the answer equals the expected one with surrounding whitespace trimmed.
public enum ExactMatch {
    public struct Item: Sendable {
        public var conversation: [ChatMessage]
        public var expected: String
        public var origin: String
    }

    public struct Answer: Sendable, Codable {
        public var origin: String
        public var expected: String
        public var got: String
        public var correct: Bool
    }

    public struct Result: Sendable, Codable {
        public var answers: [Answer]
        public var correct: Int { answers.filter(\.correct).count }
        public var accuracy: Double { answers.isEmpty ? 0 : Double(correct) / Double(answers.count) }

        enum CodingKeys: String, CodingKey { case answers, correct, total, accuracy }
        public init(answers: [Answer]) { self.answers = answers }
        public init(from d: Decoder) throws { answers = try d.container(keyedBy: CodingKeys.self).decode([Answer].self, forKey: .answers) }
        public func encode(to e: Encoder) throws {
            var c = e.container(keyedBy: CodingKeys.self)
            try c.encode(answers, forKey: .answers)
            try c.encode(correct, forKey: .correct)
            try c.encode(answers.count, forKey: .total)
            try c.encode(accuracy, forKey: .accuracy)
        }
    }

    /// The questions of `path`, refused with file and line like training data.
    public static func items(path: String, tokenizer: BPETokenizer) throws -> [Item] {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TrainingDataError(.notFound, "\(path): cannot read the file")
        }
        let reader = TrainingData.Reader(name: name, tokenizer: tokenizer, maxSeqLen: Int.max, maskPrompt: true)
        var items: [Item] = []
        for (at, r) in try reader.records(text) {
            switch try reader.form(of: r, at: at) {
            case .completion:
                items.append(Item(conversation: [ChatMessage(role: "user", content: try reader.string(r, "prompt", at: at))],
                                  expected: try reader.string(r, "completion", at: at), origin: at))
            case .messages:
                var m = try reader.messages(r, at: at)
                guard let last = m.last, last.role == "assistant" else {
                    throw TrainingDataError(.corruptInput, "\(at): the last message must be the assistant's answer")
                }
                m.removeLast()
                items.append(Item(conversation: m, expected: last.content, origin: at))
            default:
                throw TrainingDataError(.corruptInput, "\(at): exact match needs \"prompt\" and \"completion\" or \"messages\" records")
            }
        }
        guard !items.isEmpty else { throw TrainingDataError(.corruptInput, "\(name): no questions (the file is empty)") }
        return items
    }

    /// Greedy answers of `engine` with `adapters` to every item.
    public static func evaluate(engine: Engine, adapters: [AdapterRequest], items: [Item], maxTokens: Int = 32,
                                progress: (Int, Int, Int) -> Void = { _, _, _ in }) throws -> Result {
        guard let template = engine.tokenizer.chatTemplate else {
            throw EngineError.invalid("the model has no chat template to ask questions in")
        }
        var answers: [Answer] = []
        for item in items {
            let ids = engine.tokenizer.encode(chat: item.conversation, template: template, addGenerationPrompt: true)
            let got = try engine.generate(promptIDs: ids, maxTokens: maxTokens, adapters: adapters).text
            let ok = got.trimmingCharacters(in: .whitespacesAndNewlines) == item.expected.trimmingCharacters(in: .whitespacesAndNewlines)
            answers.append(Answer(origin: item.origin, expected: item.expected, got: got, correct: ok))
            progress(answers.count, items.count, answers.filter(\.correct).count)
        }
        return Result(answers: answers)
    }
}
