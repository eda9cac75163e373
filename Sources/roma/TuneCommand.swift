import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATokenizer

/// `roma tune`: a ROM image's group scales and norm gains (optionally its codes' rounding) fitted end to end to the float model.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Tune a ROM image's FP16 group scales and RMSNorm gains (and, with --learn-rounding, its codes) against the float model (KL distillation); writes a new image.",
        discussion: "Zero points are kept; codes too unless --learn-rounding; the parent image is only read. The teacher is the GGUF model the image was compiled from (its sha256 must match the image's source). Do not tune on the text you evaluate on.")

    @Option(help: "ROM image to tune (roma compile).")
    var image: String
    @Option(help: "GGUF model the image was compiled from: the float teacher (default: the SmolLM2 model).")
    var model: String?
    @OptionGroup var calibration: CalibrationTextOptions
    @Option(help: "Calibration tokens from the start of the text, used in chunks of --ctx (default: every whole chunk of the text).")
    var calibrationTokens: Int?
    @OptionGroup var settings: TuneSettings
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Option(help: "Output ROM image path (a new file).")
    var output: String
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        try settings.check()
        if let calibrationTokens, calibrationTokens < settings.ctx { throw ValidationError("--calibration-tokens (\(calibrationTokens)) must be at least --ctx (\(settings.ctx))") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    func run() throws {
        if let threads { Parallel.use(threads: threads) }
        let job = ImageTuningJob(image: image, model: model ?? ModelLocator.defaultModelPath, calibration: try calibration.resolved(),
                                 calibrationTokens: calibrationTokens, tuner: settings.tuner, output: output)
        let (parent, report) = try job.run()
        if printing.json { try printJSON(job.json(parent: parent, report)) } else { job.printSummary(parent: parent, report) }
    }
}

/// The tuning settings `roma tune` takes (and `roma compile --tune` uses at their defaults).
struct TuneSettings: ParsableArguments {
    @Option(help: "Tokens per chunk.")
    var ctx: Int = ScaleTuner().ctx
    @Option(help: "Chunks whose gradients are summed for one optimizer step.")
    var chunksPerStep: Int = ScaleTuner().chunksPerStep
    @Option(help: "Passes over the calibration chunks.")
    var epochs: Int = ScaleTuner().epochs
    @Option(help: "Adam step size for the log-scales and relative norm gains (cosine-decayed to 0).")
    var learningRate: Double = ScaleTuner().learningRate
    @Flag(help: "Keep the RMSNorm gains; tune the group scales (and codes) only.")
    var scalesOnly = false
    @Flag(help: "Also learn each weight's rounding: codes move by up to --code-radius steps (experimental; measured in docs/rom-image.md).")
    var learnRounding = false
    @Option(help: "Adam step size for the codes' latent values, in code steps (cosine-decayed to 0).")
    var codeLearningRate: Double = ScaleTuner().codeLearningRate
    @Option(help: "Largest change of a code, in steps.")
    var codeRadius: Int = Int(ScaleTuner().codeRadius)

    func check() throws {
        if epochs < 1 || epochs > 1000 { throw ValidationError("--epochs must be in 1...1000, got \(epochs)") }
        if !(learningRate > 0 && learningRate < 1) { throw ValidationError("--learning-rate must be in (0, 1), got \(learningRate)") }
        if !(codeLearningRate > 0 && codeLearningRate < 1) { throw ValidationError("--code-learning-rate must be in (0, 1), got \(codeLearningRate)") }
        if codeRadius < 1 || codeRadius > 3 { throw ValidationError("--code-radius must be in 1...3, got \(codeRadius)") }
        if chunksPerStep < 1 { throw ValidationError("--chunks-per-step must be at least 1, got \(chunksPerStep)") }
        if ctx < 16 { throw ValidationError("--ctx must be at least 16, got \(ctx)") }
    }

    /// Every setting at its default.
    static var defaults: TuneSettings { try! TuneSettings.parse([]) }

    var tuner: ScaleTuner {
        var t = ScaleTuner()
        t.epochs = epochs; t.learningRate = learningRate; t.ctx = ctx; t.chunksPerStep = chunksPerStep
        t.tuneNorms = !scalesOnly
        t.tuneCodes = learnRounding; t.codeLearningRate = codeLearningRate; t.codeRadius = Float(codeRadius)
        return t
    }
}

/// One tuning run: the image, its source model as the teacher, the calibration tokens, the output.
struct ImageTuningJob {
    let image: String, model: String, calibration: [String]
    let calibrationTokens: Int?
    let tuner: ScaleTuner
    let output: String

    /// Checks the files, tunes, writes `output`; returns the parent image and the report.
    func run() throws -> (ROMImage, ScaleTuner.Report) {
        guard FileManager.default.fileExists(atPath: model) else {
            throw EngineError.invalid("model file '\(model)' not found (run scripts/fetch-model.sh, or pass --model)")
        }
        for (other, what) in [(model, "the model")] + calibration.map({ ($0, "a calibration text") }) where ROMImage.isSameFile(output, other) {
            throw EngineError.invalid("--output '\(output)' is \(what); the tuned image must be a new file")
        }
        let img = try ROMImage(path: image)
        let g = try GGUFFile(path: model)
        let sha = SHA256.hex(SHA256.hash(g.file.bytes))
        guard sha == img.header.source.sha256 else {
            throw EngineError.invalid("'\(image)' was compiled from \(img.header.source.file) (sha256 \(img.header.source.sha256.prefix(16))...), not from '\(model)' (sha256 \(sha.prefix(16))...): tune against the image's own source model")
        }
        let engine = try Engine(tokenizer: BPETokenizer(gguf: g), backend: ReferenceBackend(gguf: g))   // the file hashed above
        let tokens = try readCalibrationTokens(engine: engine, textFiles: calibration, count: calibrationTokens ?? tuner.ctx)
        let count = calibrationTokens ?? tokens.count / tuner.ctx * tuner.ctx
        var bar: ProgressBar?
        let report = try tuner.tune(image: img, teacher: engine.backend, tokens: tokens, count: count, output: output) { step, steps, kl in
            if bar == nil { bar = ProgressBar(label: "tune", total: steps) }
            bar!.update(step, String(format: "KL %.4f", kl))
        }
        return (img, report)
    }

    func json(parent img: ROMImage, _ report: ScaleTuner.Report) -> [String: Any] {
        ["path": output, "parent_sha256": img.checksumHex, "sha256": report.checksum, "bytes": report.bytes, "method": tuner.methodName,
         "steps": report.steps, "kl_per_epoch": report.klPerEpoch, "mean_scale_change": report.meanScaleChange,
         "max_scale_change": report.maxScaleChange, "changed_codes": report.changedCodes, "codes": report.codeCount, "seconds": report.seconds]
    }

    func printSummary(parent img: ROMImage, _ report: ScaleTuner.Report) {
        print("wrote \(output): tuned from \(image) (sha256 \(img.checksumHex.prefix(16))...), \(tuner.methodName), sha256 \(report.checksum)")
        let chunks = report.steps / max(1, tuner.epochs)
        let perStep = tuner.chunksPerStep, chunkTokens = min(tuner.ctx, img.model.contextLength)
        let batch = perStep == 1 || chunks <= 1 ? "\(chunkTokens)" : "\(perStep) x \(chunkTokens)"
        print("KL(float || image) per token by epoch: " + report.klPerEpoch.map { String(format: "%.4f", $0) }.joined(separator: " -> ")
              + "; \(report.steps) steps of \(batch) tokens, " + String(format: "%.1f s", report.seconds))
        let codes = report.codeCount > 0
            ? String(format: "%.2f%% of the codes moved (by at most %d step)", 100 * Double(report.changedCodes) / Double(report.codeCount), Int(tuner.codeRadius))
            : "codes unchanged"
        print(String(format: "group scales changed by %.2f%% on average (largest %.1f%%); %@; zero points unchanged", 100 * report.meanScaleChange, 100 * report.maxScaleChange, codes))
    }
}

extension TuneCommand: HintingCommand {
    func hint(for code: ErrorCode) -> String? {
        switch code {
        case .diverged: return "try a smaller --learning-rate"
        case .overBudget: return "use fewer --calibration-tokens or a smaller --ctx"
        default: return nil
        }
    }
}
