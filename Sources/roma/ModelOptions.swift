import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMAModel
import ROMANumerics

enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    case reference, chip
}

/// Options shared by every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(help: "GGUF model file (default: models/SmolLM2-135M-Instruct.Q4_1.gguf).")
    var model: String?

    @Option(help: "Compiled ROM image (roma compile); selects the chip backend.")
    var image: String?

    @Option(help: "Compute backend: reference (FP32 on the GGUF weights) or chip (the ROMA datapath on a ROM image). Default: chip with --image, else reference.")
    var backend: BackendChoice?

    @OptionGroup var chipOptions: ChipOptions

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("adapter"), help: ArgumentHelp(
        "LoRA adapter to run with, [NAME=]PATH[:SCALE]: a PEFT directory or a llama.cpp LoRA GGUF (repeatable; all are applied, each at its scale).",
        valueName: "spec"))
    var adapterSpecs: [String] = []

    /// The parsed --adapter options.
    var adapters: [AdapterSpec] { adapterSpecs.compactMap { try? AdapterSpec(parsing: $0) } }
    /// What each request runs with.
    var adapterRequests: [AdapterRequest] { adapters.map { AdapterRequest($0.name, scale: $0.scale) } }

    var modelPath: String { model ?? ModelLocator.defaultModelPath }

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
        if backend == .chip && image == nil { throw ValidationError("the chip backend needs --image X.rom (compile one with `roma compile --bits 4 --output X.rom`)") }
        if backend == .reference && image != nil { throw ValidationError("--image runs on the chip backend; drop --backend reference or --image") }
        var names = Set<String>()
        for s in adapterSpecs {
            let spec: AdapterSpec
            do { spec = try AdapterSpec(parsing: s) } catch { throw ValidationError("--adapter: \(error)") }
            guard names.insert(spec.name).inserted else { throw ValidationError("--adapter: two adapters are named '\(spec.name)' (name them with NAME=PATH)") }
        }
    }

    /// Loads the model on its backend and registers the --adapter adapters.
    func loadEngine() throws -> Engine {
        if let threads { Parallel.use(threads: threads) }
        let engine: Engine
        if let image {
            let chip = try chipOptions.chip()
            engine = try Engine.chip(imagePath: image, chip: chip)
        } else {
            let path = modelPath
            guard FileManager.default.fileExists(atPath: path) else {
                throw EngineError.invalid("model file '\(path)' not found (run scripts/fetch-model.sh, or pass --model)")
            }
            engine = try Engine.reference(path: path)
        }
        for a in adapters { try engine.adapters.register(path: a.path, name: a.name) }
        return engine
    }
}

/// The tokens of a calibration text file (special tokens parsed: a calibration text may hold chat
/// transcripts in the model's template); at least `count` of them (`roma compile`, `roma adapter
/// recover`, `roma tune`).
func readCalibrationTokens(engine: Engine, textFile: String, count: Int) throws -> [Int] {
    guard let data = FileManager.default.contents(atPath: textFile) else {
        throw EngineError.invalid("cannot read calibration text file '\(textFile)'")
    }
    let tokens = engine.tokenizer.encode(String(decoding: data, as: UTF8.self), parseSpecial: true)
    guard tokens.count >= count else {
        throw EngineError.invalid("calibration text '\(textFile)' has \(tokens.count) tokens; --calibration-tokens \(count) needs at least that many")
    }
    return tokens
}

/// The per-weight input Hessians of `engine` (the FP32 reference) over the first `count` tokens of a
/// calibration text file, with a progress bar (`roma compile` and `roma adapter recover`).
func calibrationHessians(engine: Engine, textFile: String, count: Int) throws -> [String: Hessian] {
    let tokens = try readCalibrationTokens(engine: engine, textFile: textFile, count: count)
    var bar: ProgressBar?
    return try engine.calibrationHessians(tokens: tokens, count: count) { done, total in
        if bar == nil { bar = ProgressBar(label: "calibrate", total: total) }
        bar!.update(done, "\(done) tokens")
    }
}

/// Sampling options shared by generate and chat.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Tokens to generate at most.")
    var maxTokens: Int = 128
    @Option(help: "Sampling temperature; 0 = greedy.")
    var temperature: Float = 0
    @Option(help: "Top-k (0 = off).")
    var topK: Int = 40
    @Option(help: "Top-p nucleus (1 = off).")
    var topP: Float = 0.95
    @Option(help: "Min-p (0 = off).")
    var minP: Float = 0.05
    @Option(help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(help: "Tokens the repetition penalty looks back over.")
    var repeatLastN: Int = 64
    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    var config: SamplerConfig {
        SamplerConfig(temperature: temperature, topK: topK, topP: topP, minP: minP,
                      repeatPenalty: repeatPenalty, repeatLastN: repeatLastN, seed: seed)
    }

    func validate() throws {
        if maxTokens < 0 || maxTokens > 1 << 24 { throw ValidationError("--max-tokens must be in 0...\(1 << 24), got \(maxTokens)") }
        do { try config.validate() } catch { throw ValidationError("\(error)") }
    }
}

/// A progress bar on stderr (redrawn in place on a terminal, one line per update otherwise).
struct ProgressBar {
    let label: String
    let total: Int
    let isTTY = isatty(2) != 0

    func update(_ done: Int, _ extra: String = "") {
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\(label) [\(bar)] \(done)/\(total) \(extra)"
        if isTTY { writeStderr("\r" + line + (done == total ? "\n" : "")) } else { writeStderr(line + "\n") }
    }
}
