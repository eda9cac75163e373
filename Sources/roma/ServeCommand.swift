import ArgumentParser
import Foundation
import ROMAModel
import ROMAServe
import ROMAServer

/// `roma serve`: the OpenAI-compatible server (ROMAServer over the ROMAServe scheduler).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve",
        abstract: "Serve the model over an OpenAI-compatible HTTP API; every request picks its own adapters.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Directory that POST /v1/adapters may load adapters from (default: none, runtime loading off).")
    var adapterDir: String?
    @Option(help: "Address to listen on.") var host = ServerOptions().host
    @Option(help: "Port (0: any free port).") var port = ServerOptions().port
    @Option(help: "API key clients must send as 'Authorization: Bearer KEY'.") var apiKey: String?
    @Option(help: "The base model's id in /v1/models (default: the image's or model file's name).") var modelId: String?
    @Option(help: "Sequences batched together at most.") var maxBatch = SchedulerConfig().maxBatch
    @Option(help: "Rows per forward pass at most (decode tokens plus prefill chunks).") var maxBatchTokens = SchedulerConfig().maxBatchTokens
    @Option(help: "Seconds a request may wait for SRAM before 429.") var queueTimeout = SchedulerConfig().queueTimeout
    @Option(help: "Seconds in-flight streams get to finish at SIGTERM.") var drain = ServerOptions().drainSeconds

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be in 0...65535, got \(port)") }
        if maxBatch < 1 || maxBatch > 256 { throw ValidationError("--max-batch must be in 1...256, got \(maxBatch)") }
        if maxBatchTokens < 1 { throw ValidationError("--max-batch-tokens must be >= 1") }
        if !(queueTimeout >= 0) { throw ValidationError("--queue-timeout must be >= 0") }
        if let adapterDir {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: adapterDir, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--adapter-dir '\(adapterDir)' is not a directory")
            }
        }
    }

    func run() async throws {
        var options = ServerOptions()
        options.host = host; options.port = port; options.apiKey = apiKey; options.adapterDirectory = adapterDir
        options.drainSeconds = drain
        let source = modelOptions.image ?? modelOptions.modelPath
        options.modelID = modelId ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        var config = SchedulerConfig()
        config.maxBatch = maxBatch; config.maxBatchTokens = maxBatchTokens; config.queueTimeout = queueTimeout
        let server = OpenAIServer(options: options)
        let model = modelOptions, id = options.modelID
        try await server.serve(config: config, load: { try model.loadEngine() }) { url in
            writeStderr("roma serve: listening on \(url) (model '\(id)')\n")
        }
    }
}
