import Foundation

public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// The model's chat template. ChatML templates (any containing `<|im_start|>`, as llama.cpp detects
/// them) are rendered natively: `<|im_start|>{role}\n{content}<|im_end|>\n` per message and
/// `<|im_start|>assistant\n` as the generation prompt. A default system prompt that the template
/// inserts when the conversation has none is read from the template text itself.
public struct ChatTemplate: Sendable {
    public let source: String
    public let defaultSystemPrompt: String?

    public init?(source: String) {
        guard source.contains("<|im_start|>"), !source.contains("<|im_sep|>") else { return nil }
        self.source = source
        // e.g. {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}{% endif %}
        if source.contains("!= 'system'") || source.contains("!= \"system\""),
           let start = source.range(of: "<|im_start|>system\n"),
           let end = source.range(of: "<|im_end|>", range: start.upperBound..<source.endIndex) {
            defaultSystemPrompt = String(source[start.upperBound..<end.lowerBound])
        } else {
            defaultSystemPrompt = nil
        }
    }

    /// A piece of a rendered conversation: the template's own text (where its special tokens are
    /// control tokens) or a message's content (text only: a "<|im_end|>" typed by a user stays text).
    public enum Segment: Sendable, Equatable {
        case template(String)
        case content(String)
        public var text: String {
            switch self { case .template(let s), .content(let s): return s }
        }
    }

    public func segments(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> [Segment] {
        var out: [Segment] = []
        if let sys = defaultSystemPrompt, messages.first?.role != "system" {
            out.append(.template("<|im_start|>system\n\(sys)<|im_end|>\n"))
        }
        for m in messages {
            out += [.template("<|im_start|>\(m.role)\n"), .content(m.content), .template("<|im_end|>\n")]
        }
        if addGenerationPrompt { out.append(.template("<|im_start|>assistant\n")) }
        return out
    }

    /// The conversation as one string (for display; `BPETokenizer.encode(chat:)` keeps content as text).
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        segments(messages, addGenerationPrompt: addGenerationPrompt).map(\.text).joined()
    }
}
