import ArgumentParser
import Foundation
import ROMAModel

/// `roma eval ...`: quality measurements.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate model quality.",
                                                    subcommands: [PerplexityCommand.self])
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
