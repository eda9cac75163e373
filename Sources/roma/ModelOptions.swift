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
        writeStderr(Self.describe(engine, modelPath: modelPath) + "\n")
        return engine
    }

    /// The first stderr line of every command that runs a model: which backend, on which image or model.
    static func describe(_ engine: Engine, modelPath: String) -> String {
        if let chip = engine.backend as? ChipBackend {
            let img = chip.image, q = img.header.quantization
            let tuning = img.header.tuning.map { " + " + $0.method } ?? ""
            return "roma: chip backend (ROMA datapath, chip '\(chip.chip.name)', \(KernelPath.selected) kernels) on ROM image \(img.path): INT\(q.bits) G\(q.groupSize) \(q.method)\(tuning), sha256 \(img.checksumHex.prefix(12))..."
        }
        return "roma: reference backend (FP32, the float path) on model \(modelPath)"
    }
}

/// The tokens of calibration text files, one after the other (special tokens parsed: a calibration
/// text may hold chat transcripts in the model's template); at least `count` of them (`roma compile`,
/// `roma adapter recover`, `roma tune`).
func readCalibrationTokens(engine: Engine, textFiles: [String], count: Int) throws -> [Int] {
    var tokens: [Int] = []
    for file in textFiles {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw EngineError.invalid("cannot read calibration text file '\(file)'")
        }
        tokens += engine.tokenizer.encode(String(decoding: data, as: UTF8.self), parseSpecial: true)
    }
    guard tokens.count >= count else {
        throw EngineError.invalid("calibration text \(textFiles.map { "'\($0)'" }.joined(separator: " + ")) has \(tokens.count) tokens; --calibration-tokens \(count) needs at least that many")
    }
    return tokens
}

/// The per-weight input Hessians of `engine` (the FP32 reference) over the first `count` tokens of
/// calibration text files (all of them when nil), with a progress bar (`roma compile` and `roma adapter recover`).
func calibrationHessians(engine: Engine, textFiles: [String], count: Int?) throws -> [String: Hessian] {
    let tokens = try readCalibrationTokens(engine: engine, textFiles: textFiles, count: count ?? 16)
    let n = min(count ?? tokens.count, tokens.count)
    var bar: ProgressBar?
    return try engine.calibrationHessians(tokens: tokens, count: n) { done, total in
        if bar == nil { bar = ProgressBar(label: "calibrate", total: total) }
        bar!.update(done, "\(done) tokens")
    }
}

/// `--calibration-text` (repeatable) with the repository's shipped text as the default.
struct CalibrationTextOptions: ParsableArguments {
    @Option(name: .customLong("calibration-text"), help: ArgumentHelp(
        "Calibration text file (repeatable; special tokens such as <|im_start|> parsed, so chat transcripts work). Default: the text shipped in data/calibration/ (the model's chat transcripts and five licences, see its README). Never the text you evaluate on.",
        valueName: "file"))
    var files: [String] = []

    /// The files given, or the shipped default.
    func resolved() throws -> [String] {
        if !files.isEmpty { return files }
        guard let paths = CalibrationLocator.defaultPaths else {
            throw EngineError.invalid("the default calibration text (data/calibration/\(CalibrationLocator.defaultFiles.joined(separator: ", "))) was not found from here; pass --calibration-text FILE")
        }
        return paths
    }
}

/// Sampling options shared by generate and chat. Unset options take the command's defaults
/// (`SamplerConfig.chat` for chat, greedy for generate).
struct SamplingOptions: ParsableArguments {
    @Option(help: "Tokens to generate at most.")
    var maxTokens: Int = 128
    @Option(help: "Sampling temperature; 0 = greedy (default: 0.2 for chat, as the model card; 0 for generate).")
    var temperature: Float?
    @Option(help: "Top-k (0 = off; default 40).")
    var topK: Int?
    @Option(help: "Top-p nucleus (1 = off; default: 0.9 for chat, as the model card; 0.95 for generate).")
    var topP: Float?
    @Option(help: "Min-p (0 = off; default 0.05).")
    var minP: Float?
    @Option(help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(help: "Tokens the repetition penalty looks back over.")
    var repeatLastN: Int = 64
    @Option(help: "Random seed (default: 0 for generate; a fresh one per chat, printed with --format json).")
    var seed: UInt64?

    /// The settings with `defaults` where an option was not given; a chat without --seed gets a
    /// random seed.
    func config(defaults: SamplerConfig, randomSeed: Bool = false) -> SamplerConfig {
        SamplerConfig(temperature: temperature ?? defaults.temperature, topK: topK ?? defaults.topK, topP: topP ?? defaults.topP,
                      minP: minP ?? defaults.minP, repeatPenalty: repeatPenalty, repeatLastN: repeatLastN,
                      seed: seed ?? (randomSeed ? UInt64.random(in: 0...UInt64(UInt32.max)) : defaults.seed))
    }

    func validate() throws {
        if maxTokens < 0 || maxTokens > 1 << 24 { throw ValidationError("--max-tokens must be in 0...\(1 << 24), got \(maxTokens)") }
        do { try config(defaults: .greedy).validate() } catch { throw ValidationError("\(error)") }
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
