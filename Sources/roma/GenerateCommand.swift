import ArgumentParser
import Foundation
import ROMAModel

/// `roma generate`: raw-text completion (special tokens in the prompt are parsed), streamed.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Complete a raw-text prompt.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "The prompt (raw text; special tokens such as <|im_start|> are parsed).")
    var prompt: String
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let engine = try modelOptions.loadEngine()
        let ids = engine.tokenizer.encode(prompt)
        let stream = !printing.json
        let r = try engine.generate(promptIDs: ids, maxTokens: sampling.maxTokens, sampler: sampling.config(defaults: .greedy),
                                       adapters: modelOptions.adapterRequests) { piece in
            if stream { writeStdout(piece) }
        }
        if stream {
            writeStdout("\n")
            writeStderr(timingLine(r.timings, backend: engine.backend.name))
        } else {
            try printJSON(["text": r.text, "ids": r.ids, "prompt_ids": r.promptIDs, "finish_reason": r.finishReason,
                           "backend": engine.backend.name, "timings": timingsJSON(r.timings)])
        }
    }
}

func timingsJSON(_ t: GenerationTimings) -> [String: Any] {
    ["prompt_tokens": t.promptTokens, "generated_tokens": t.generatedTokens,
     "prefill_ms": t.prefillSeconds * 1000, "decode_ms": t.decodeSeconds * 1000,
     "prefill_tps": t.prefillTokensPerSecond, "decode_tps": t.decodeTokensPerSecond]
}

func timingLine(_ t: GenerationTimings, backend: String) -> String {
    String(format: "[%@] prompt %d tokens in %.1f ms (%.1f t/s), generated %d tokens (%.1f t/s)\n",
           backend, t.promptTokens, t.prefillSeconds * 1000, t.prefillTokensPerSecond, t.generatedTokens, t.decodeTokensPerSecond)
}
