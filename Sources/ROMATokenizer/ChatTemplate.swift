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

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if let sys = defaultSystemPrompt, messages.first?.role != "system" {
            out += "<|im_start|>system\n\(sys)<|im_end|>\n"
        }
        for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }
}
