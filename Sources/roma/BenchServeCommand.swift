import ArgumentParser
import Foundation
import ROMAServer

extension LoadGenerator.AdapterField: ExpressibleByArgument {}

/// `roma bench serve`: a load generator for OpenAI-compatible servers (ours or llama-server).
struct BenchServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve",
        abstract: "Load-test a server: TTFT, TPOT, ITL, end-to-end latency percentiles, throughput, failures.")

    @Option(help: "Server URL (loopback only), e.g. http://127.0.0.1:8080.") var url: String
    @Option(help: "Requests to send.") var requests = LoadGenerator().requests
    @Option(help: "Clients at once (closed loop).") var concurrency: Int?
    @Option(help: "Requests per second, Poisson arrivals (open loop; instead of --concurrency).") var rate: Double?
    @Option(help: "Comma-separated adapter names; each request picks one at random (or the base).") var adapters: String?
    @Option(help: "How a request names its adapter: model (its name as the model) or lora (llama-server's lora: [{id, scale}]).")
    var adapterField = LoadGenerator.AdapterField.model
    @Option(help: "The base model id.") var model = LoadGenerator().model
    @Option(help: "Prompt tokens per request.") var promptTokens = LoadGenerator().promptTokens
    @Option(help: "Output tokens per request (generation ignores end-of-text).") var maxTokens = LoadGenerator().maxTokens
    @Option(help: "API key to send.") var apiKey: String?
    @Option(help: "Seed of the prompts and adapter choices.") var seed: UInt64 = 1
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if concurrency != nil && rate != nil { throw ValidationError("give --concurrency or --rate, not both") }
        if let concurrency, !(1...1024).contains(concurrency) { throw ValidationError("--concurrency must be in 1...1024") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number") }
        if !(1...1_000_000).contains(requests) { throw ValidationError("--requests must be in 1...1000000") }
        if promptTokens < 1 || maxTokens < 1 { throw ValidationError("--prompt-tokens and --max-tokens must be >= 1") }
        _ = try endpoint()
    }

    /// Host and port of a loopback http:// URL.
    func endpoint() throws -> (String, Int) {
        guard let u = URL(string: url), u.scheme == "http", let host = u.host, let port = u.port else {
            throw ValidationError("--url must look like http://127.0.0.1:PORT")
        }
        guard host == "127.0.0.1" || host == "localhost" else { throw ValidationError("--url must be a loopback address (127.0.0.1 or localhost)") }
        return (host, port)
    }

    func run() throws {
        var g = LoadGenerator()
        (g.host, g.port) = try endpoint()
        g.requests = requests
        g.concurrency = rate == nil ? (concurrency ?? 8) : nil
        g.rate = rate
        g.adapters = adapters.map { $0.split(separator: ",").map(String.init) } ?? []
        g.adapterField = adapterField
        g.model = model; g.promptTokens = promptTokens; g.maxTokens = maxTokens; g.apiKey = apiKey; g.seed = seed
        let report = g.run()
        if printing.json { try printJSON(encodable: report) } else { print(report.text, terminator: "") }
    }
}
