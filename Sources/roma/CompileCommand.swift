import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel

/// `roma compile`: GGUF model -> ROMA ROM image.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compile", abstract: "Compile a model into a read-only ROM image.")

    @Option(help: "GGUF model file (default: the SmolLM2 model).")
    var model: String?
    @Option(help: "Base-weight bits: 4 or 2.")
    var bits: Int = 4
    @Option(help: "Bits of the embedding table / tied output head when they should differ from --bits (e.g. --bits 2 --embedding-bits 4).")
    var embeddingBits: Int?
    @Option(help: "Weights per quantization group (default: 128 if it divides every row, else the largest power of two that does).")
    var group: Int?
    @Option(help: "Output ROM image path.")
    var output: String
    @OptionGroup var printing: OutputOptions
    @OptionGroup var calibration: CalibrationTextOptions
    @Option(help: "Calibration tokens for GPTQ's Hessians, from the start of the calibration text (default: all of it).")
    var calibrationTokens: Int?
    @Flag(help: "Quick experiments: per-group clip search only, no calibration (a worse image, in seconds).")
    var fast = false
    @Flag(help: "Then tune the image end to end against the float model on the same calibration text (`roma tune` at its defaults: group scales and norm gains; about 20 minutes for SmolLM2 on 2 cores).")
    var tune = false
    @Option(help: "GPTQ Hessian dampening, as a fraction of its mean diagonal (default: 0.1; 0.3 for INT4 with --no-act-order; measured best for SmolLM2; GPTQ's paper uses 0.01).")
    var dampening: Double?
    @Flag(inversion: .prefixedNo, help: "GPTQ act-order with static groups: columns quantized in order of decreasing input energy, group scales and zero points fixed first (default). --no-act-order: left to right, each group's parameters chosen on the error-compensated weights.")
    var actOrder = true

    func validate() throws {
        if bits != 2 && bits != 4 { throw ValidationError("--bits must be 2 or 4, got \(bits)") }
        if let e = embeddingBits, e != 2 && e != 4 { throw ValidationError("--embedding-bits must be 2 or 4, got \(e)") }
        if let calibrationTokens, calibrationTokens < 16 { throw ValidationError("--calibration-tokens must be at least 16, got \(calibrationTokens)") }
        if let dampening, !(dampening > 0 && dampening < 10) { throw ValidationError("--dampening must be in (0, 10), got \(dampening)") }
        if let group, group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
        if fast && !calibration.files.isEmpty { throw ValidationError("--fast compiles without calibration; drop --fast or --calibration-text") }
        if fast && tune { throw ValidationError("--fast and --tune do not go together: tuning needs the calibration text --fast skips") }
    }

    func run() throws {
        let path = model ?? ModelLocator.defaultModelPath
        var compiler = ROMCompiler(bits: bits, groupSize: group)
        compiler.embeddingBits = embeddingBits
        compiler.dampening = dampening
        compiler.actOrder = actOrder
        guard FileManager.default.fileExists(atPath: path) else {
            throw EngineError.invalid("model file '\(path)' not found (run scripts/fetch-model.sh, or pass --model)")
        }
        let texts = fast ? [] : try calibration.resolved()
        if !texts.isEmpty {
            let t0 = Date()
            compiler.hessians = try calibrationHessians(engine: Engine.reference(path: path), textFiles: texts, count: calibrationTokens)
            if !printing.json {
                let n = compiler.hessians.values.first?.samples ?? 0
                print(String(format: "calibration: %d tokens of %@ in %.1f s", n, texts.map { ($0 as NSString).lastPathComponent }.joined(separator: " + "), Date().timeIntervalSince(t0)))
            }
        }
        let compiled = tune ? output + ".untuned" : output
        if tune { try? FileManager.default.removeItem(atPath: compiled) }
        let g = try GGUFFile(path: path)
        var bar: ProgressBar?
        let report = try compiler.compile(gguf: g, output: compiled) { done, total, name in
            if bar == nil { bar = ProgressBar(label: "compile", total: total) }
            if !compiler.hessians.isEmpty || done % 10 == 0 || done == total { bar!.update(done, name) }
        }
        let errs = report.tensorErrors.map(\.relativeRMS)
        var result: [String: Any] = ["path": output, "sha256": report.checksum, "bytes": report.bytes, "bits": bits,
                                     "method": compiler.quantizer, "group": report.groupSize, "seconds": report.seconds,
                                     "bits_per_weight": try ROMImage(path: compiled).bitsPerWeight,
                                     "calibration": texts, "mean_relative_rms_error": errs.reduce(0, +) / Double(max(1, errs.count)),
                                     "tensors": report.tensorErrors.map { ["name": $0.name, "relative_rms_error": $0.relativeRMS] }]
        if !printing.json {
            print("wrote \(compiled): \(report.bytes) bytes, INT\(bits) group \(report.groupSize), \(compiler.quantizer), sha256 \(report.checksum)")
            print(String(format: "quantization error (||W - Wq|| / ||W||): mean %.4f, worst %.4f (%@); %.1f s",
                         errs.reduce(0, +) / Double(max(1, errs.count)), errs.max() ?? 0,
                         report.tensorErrors.max { $0.relativeRMS < $1.relativeRMS }?.name ?? "-", report.seconds))
        }
        if tune {
            defer { try? FileManager.default.removeItem(atPath: compiled) }
            let job = ImageTuningJob(image: compiled, model: path, calibration: texts, calibrationTokens: calibrationTokens, tuner: TuneSettings.defaults.tuner, output: output)
            let (parent, tuned) = try job.run()
            if printing.json {
                result["sha256"] = tuned.checksum
                result["tuning"] = job.json(parent: parent, tuned)
            } else { job.printSummary(parent: parent, tuned) }
        }
        let image = try ROMImage(path: output)
        if printing.json { try printJSON(result) } else { print(ROMImageSummary(image).unitFillReport()) }
    }
}

/// Text summaries of a ROM image (used by compile and inspect).
struct ROMImageSummary {
    let image: ROMImage
    init(_ image: ROMImage) { self.image = image }

    /// Bytes each L-Unit holds.
    func unitBytes() -> [Int] {
        var fill = [Int](repeating: 0, count: image.header.units.count)
        for t in image.header.tensors where t.kind != .norm {
            let perRow = image.romBytes(t) / t.rows
            for u in 0..<fill.count { fill[u] += (t.unitRowStart[u + 1] - t.unitRowStart[u]) * perRow }
        }
        return fill
    }

    func unitFillReport() -> String {
        let fill = unitBytes()
        let cap = image.header.units.romBytesPerUnit
        let mean = Double(fill.reduce(0, +)) / Double(fill.count)
        return String(format: "L-Unit fill: %d units, min %.2f MB, mean %.2f MB, max %.2f MB of %.2f MB each (max %.1f%% full); whole image %.1f%% of the chip's ROM",
                      fill.count, Double(fill.min()!) / 1e6, mean / 1e6, Double(fill.max()!) / 1e6, Double(cap) / 1e6,
                      100 * Double(fill.max()!) / Double(cap), 100 * Double(fill.reduce(0, +)) / (Double(cap) * Double(fill.count)))
    }
}
