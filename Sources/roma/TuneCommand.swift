import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATokenizer

/// `roma tune`: a ROM image's group scales and norm gains fitted end to end to the float model.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Tune a ROM image's FP16 group scales and RMSNorm gains against the float model (KL distillation); writes a new image.",
        discussion: "Codes and zero points are kept; the parent image is only read. The teacher is the GGUF model the image was compiled from (its sha256 must match the image's source). Do not tune on the text you evaluate on.")

    @Option(help: "ROM image to tune (roma compile).")
    var image: String
    @Option(help: "GGUF model the image was compiled from: the float teacher (default: the SmolLM2 model).")
    var model: String?
    @Option(help: "Calibration text file (special tokens parsed; see data/calibration/README.md).")
    var calibrationText: String
    @Option(help: "Calibration tokens from the start of the text, used in chunks of --ctx (default: every whole chunk of the text).")
    var calibrationTokens: Int?
    @Option(help: "Tokens per chunk.")
    var ctx: Int = ScaleTuner().ctx
    @Option(help: "Chunks whose gradients are summed for one optimizer step.")
    var chunksPerStep: Int = ScaleTuner().chunksPerStep
    @Option(help: "Passes over the calibration chunks.")
    var epochs: Int = ScaleTuner().epochs
    @Option(help: "Adam step size for the log-scales and relative norm gains (cosine-decayed to 0).")
    var learningRate: Double = ScaleTuner().learningRate
    @Flag(help: "Keep the RMSNorm gains; tune the group scales only.")
    var scalesOnly = false
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Option(help: "Output ROM image path (a new file).")
    var output: String
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if epochs < 1 || epochs > 1000 { throw ValidationError("--epochs must be in 1...1000, got \(epochs)") }
        if !(learningRate > 0 && learningRate < 1) { throw ValidationError("--learning-rate must be in (0, 1), got \(learningRate)") }
        if chunksPerStep < 1 { throw ValidationError("--chunks-per-step must be at least 1, got \(chunksPerStep)") }
        if ctx < 16 { throw ValidationError("--ctx must be at least 16, got \(ctx)") }
        if let calibrationTokens, calibrationTokens < ctx { throw ValidationError("--calibration-tokens (\(calibrationTokens)) must be at least --ctx (\(ctx))") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    func run() throws {
        if let threads { Parallel.use(threads: threads) }
        let path = model ?? ModelLocator.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw EngineError.invalid("model file '\(path)' not found (run scripts/fetch-model.sh, or pass --model)")
        }
        for (other, what) in [(path, "the model"), (calibrationText, "the calibration text")] where ROMImage.isSameFile(output, other) {
            throw EngineError.invalid("--output '\(output)' is \(what); the tuned image must be a new file")
        }
        let img = try ROMImage(path: image)
        let g = try GGUFFile(path: path)
        let sha = SHA256.hex(SHA256.hash(g.file.bytes))
        guard sha == img.header.source.sha256 else {
            throw EngineError.invalid("'\(image)' was compiled from \(img.header.source.file) (sha256 \(img.header.source.sha256.prefix(16))...), not from '\(path)' (sha256 \(sha.prefix(16))...): tune against the image's own source model")
        }
        let engine = try Engine(tokenizer: BPETokenizer(gguf: g), backend: ReferenceBackend(gguf: g))   // the file hashed above
        let tokens = try readCalibrationTokens(engine: engine, textFile: calibrationText, count: calibrationTokens ?? ctx)
        let count = calibrationTokens ?? tokens.count / ctx * ctx
        var tuner = ScaleTuner()
        tuner.epochs = epochs
        tuner.learningRate = learningRate
        tuner.ctx = ctx
        tuner.chunksPerStep = chunksPerStep
        tuner.tuneNorms = !scalesOnly
        var bar: ProgressBar?
        let report = try tuner.tune(image: img, teacher: engine.backend, tokens: tokens, count: count, output: output) { step, steps, kl in
            if bar == nil { bar = ProgressBar(label: "tune", total: steps) }
            bar!.update(step, String(format: "KL %.4f", kl))
        }
        if printing.json {
            try printJSON(["path": output, "parent_sha256": img.checksumHex, "sha256": report.checksum, "bytes": report.bytes,
                           "steps": report.steps, "kl_per_epoch": report.klPerEpoch, "mean_scale_change": report.meanScaleChange,
                           "max_scale_change": report.maxScaleChange, "seconds": report.seconds])
        } else {
            print("wrote \(output): tuned from \(image) (sha256 \(img.checksumHex.prefix(16))...), sha256 \(report.checksum)")
            let perStep = min(chunksPerStep, count / ctx), chunkTokens = min(ctx, img.model.contextLength)
            let batch = perStep == 1 ? "\(chunkTokens)" : "\(perStep) x \(chunkTokens)"
            print("KL(float || image) per token by epoch: " + report.klPerEpoch.map { String(format: "%.4f", $0) }.joined(separator: " -> ")
                  + "; \(report.steps) steps of \(batch) tokens, " + String(format: "%.1f s", report.seconds))
            print(String(format: "group scales changed by %.2f%% on average (largest %.1f%%); codes and zero points unchanged", 100 * report.meanScaleChange, 100 * report.maxScaleChange))
        }
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
