import ArgumentParser
import Foundation
import ROMAModel
import ROMATokenizer

/// `roma chat`: the model's chat template; one answer for PROMPT, or an interactive loop on stdin.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Chat with the model (interactive without a prompt).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "System prompt (default: the template's own default).")
    var system: String?
    @Argument(help: "The user message; without it, read messages from stdin line by line.")
    var prompt: String?
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let engine = try modelOptions.loadEngine()
        guard let template = engine.tokenizer.chatTemplate else {
            throw EngineError.invalid("the model has no supported chat template (ChatML expected)")
        }
        let sampler = sampling.config(defaults: .chat, randomSeed: true)
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        func answer(_ user: String) throws -> GenerationResult {
            messages.append(ChatMessage(role: "user", content: user))
            let ids = engine.tokenizer.encode(chat: messages, template: template)
            let stream = !printing.json
            let r = try engine.generate(promptIDs: ids, maxTokens: sampling.maxTokens, sampler: sampler,
                                       adapters: modelOptions.adapterRequests) { p in
                if stream { writeStdout(p) }
            }
            messages.append(ChatMessage(role: "assistant", content: r.text))
            if stream { writeStdout("\n") }
            return r
        }
        if let prompt {
            let r = try answer(prompt)
            if printing.json {
                try printJSON(["text": r.text, "ids": r.ids, "prompt_ids": r.promptIDs, "finish_reason": r.finishReason,
                               "timings": timingsJSON(r.timings), "sampler": samplerJSON(sampler)])
            } else { writeStderr(timingLine(r.timings, backend: engine.backend.name)) }
            return
        }
        let interactive = isatty(0) != 0
        if interactive { writeStderr("chat with \(engine.config.name); empty line or Ctrl-D ends\n") }
        while true {
            if interactive { writeStderr("> ") }
            guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
            let r = try answer(line)
            if printing.json {
                try printJSON(["text": r.text, "ids": r.ids, "finish_reason": r.finishReason])
            }
        }
    }
}

/// The sampling settings a reply was drawn with.
func samplerJSON(_ s: SamplerConfig) -> [String: Any] {
    ["temperature": Double(s.temperature), "top_k": s.topK, "top_p": Double(s.topP), "min_p": Double(s.minP),
     "repeat_penalty": Double(s.repeatPenalty), "seed": s.seed]
}
