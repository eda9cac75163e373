import ArgumentParser
import Foundation
import ROMAModel

/// `roma eval ...`: quality measurements.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate model quality.",
                                                    subcommands: [PerplexityCommand.self, ExactMatchCommand.self])
}

/// `roma eval ppl`: perplexity, the llama-perplexity way.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ppl", abstract: "Perplexity over a text file (llama-perplexity method).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Text file to score.")
    var textFile: String
    @Option(help: "Tokens per chunk.")
    var ctx: Int = 512
    @Option(help: "Score at most this many chunks.")
    var chunks: Int?
    @OptionGroup var printing: OutputOptions
    @Flag(help: "Parse special tokens such as <|im_start|> in the text (to score chat transcripts); off like llama-perplexity.")
    var parseSpecial = false

    func validate() throws {
        if ctx < 16 { throw ValidationError("--ctx must be at least 16, got \(ctx)") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be >= 1") }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: textFile) else {
            throw EngineError.invalid("cannot read text file '\(textFile)'")
        }
        let engine = try modelOptions.loadEngine()
        let tokens = engine.tokenizer.encode(String(decoding: data, as: UTF8.self), parseSpecial: parseSpecial)
        let t0 = Date()
        var bar: ProgressBar?
        let r = try engine.perplexity(tokens: tokens, ctx: ctx, maxChunks: chunks, adapters: modelOptions.adapterRequests) { done, total, ppl in
            if bar == nil { bar = ProgressBar(label: "perplexity", total: total) }
            bar!.update(done, String(format: "ppl %.4f", ppl))
        }
        let secs = Date().timeIntervalSince(t0)
        if printing.json {
            try printJSON(["ppl": r.ppl, "chunks": r.chunks, "tokens_scored": r.tokensScored, "ctx": ctx,
                           "backend": engine.backend.name, "seconds": secs])
        } else {
            print(String(format: "perplexity %.4f over %d chunks of %d tokens (%d tokens scored, %@ backend, %.1f s)",
                         r.ppl, r.chunks, ctx, r.tokensScored, engine.backend.name, secs))
        }
    }
}

/// `roma eval exact-match`: held-out accuracy of greedy answers.
struct ExactMatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exact-match",
        abstract: "Accuracy of greedy answers to {\"prompt\", \"completion\"} (or \"messages\") JSON Lines, asked in the chat template.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Questions: JSON Lines of {\"prompt\", \"completion\"}, or {\"messages\"} whose last turn is the answer.")
    var data: String
    @Option(help: "Longest answer in tokens.")
    var maxTokens = 32
    @Option(help: "Print the first N wrong answers.")
    var showWrong = 5
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be >= 1, got \(maxTokens)") }
        if showWrong < 0 { throw ValidationError("--show-wrong must be >= 0, got \(showWrong)") }
    }

    func run() throws {
        let engine = try modelOptions.loadEngine()
        let items = try ExactMatch.items(path: data, tokenizer: engine.tokenizer)
        var bar: ProgressBar?
        let r = try ExactMatch.evaluate(engine: engine, adapters: modelOptions.adapterRequests, items: items, maxTokens: maxTokens) { done, total, ok in
            guard !printing.json else { return }
            if bar == nil { bar = ProgressBar(label: "exact-match", total: total) }
            bar!.update(done, "\(ok) correct")
        }
        if printing.json {
            try printJSON(encodable: r)
            return
        }
        let adapters = modelOptions.adapterSpecs.isEmpty ? "no adapter" : modelOptions.adapterSpecs.joined(separator: ", ")
        print(String(format: "exact match %d/%d = %.1f%% (%@ backend, %@)", r.correct, r.answers.count, 100 * r.accuracy, engine.backend.name, adapters))
        for a in r.answers.filter({ !$0.correct }).prefix(showWrong) {
            print("  \(a.origin): expected \(a.expected.debugDescription), got \(a.got.debugDescription)")
        }
    }
}
