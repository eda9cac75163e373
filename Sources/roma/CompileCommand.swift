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
    var bits: Int
    @Option(help: "Bits of the embedding table / tied output head when they should differ from --bits (e.g. --bits 2 --embedding-bits 4).")
    var embeddingBits: Int?
    @Option(help: "Weights per quantization group (default: 128 if it divides every row, else the largest power of two that does).")
    var group: Int?
    @Option(help: "Output ROM image path.")
    var output: String
    @OptionGroup var printing: OutputOptions
    @Option(help: "Calibration text file: quantize with GPTQ using the input statistics of each layer on this text (run on the FP32 reference; special tokens such as <|im_start|> are parsed, so chat transcripts work, see data/calibration/README.md). Default: none (per-group clip search only). Do not calibrate on the evaluation text.")
    var calibrationText: String?
    @Option(help: "Calibration tokens taken from the start of --calibration-text (the text must have at least this many).")
    var calibrationTokens: Int = 4096
    @Option(help: "GPTQ Hessian dampening, as a fraction of its mean diagonal (default: 0.1; 0.3 for INT4 with --no-act-order; measured best for SmolLM2; GPTQ's paper uses 0.01).")
    var dampening: Double?
    @Flag(inversion: .prefixedNo, help: "GPTQ act-order with static groups: columns quantized in order of decreasing input energy, group scales and zero points fixed first (default). --no-act-order: left to right, each group's parameters chosen on the error-compensated weights.")
    var actOrder = true

    func validate() throws {
        if bits != 2 && bits != 4 { throw ValidationError("--bits must be 2 or 4, got \(bits)") }
        if let e = embeddingBits, e != 2 && e != 4 { throw ValidationError("--embedding-bits must be 2 or 4, got \(e)") }
        if calibrationTokens < 16 { throw ValidationError("--calibration-tokens must be at least 16, got \(calibrationTokens)") }
        if let dampening, !(dampening > 0 && dampening < 10) { throw ValidationError("--dampening must be in (0, 10), got \(dampening)") }
        if let group, group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
    }

    func run() throws {
        let path = model ?? ModelLocator.defaultModelPath
        var compiler = ROMCompiler(bits: bits, groupSize: group)
        compiler.embeddingBits = embeddingBits
        compiler.dampening = dampening
        compiler.actOrder = actOrder
        if let calibrationText {
            let t0 = Date()
            compiler.hessians = try calibrationHessians(engine: Engine.reference(path: path), textFile: calibrationText, count: calibrationTokens)
            if !printing.json {
                print(String(format: "calibration: %d tokens of %@ in %.1f s", calibrationTokens, calibrationText, Date().timeIntervalSince(t0)))
            }
        }
        let g = try GGUFFile(path: path)
        var bar: ProgressBar?
        let report = try compiler.compile(gguf: g, output: output) { done, total, name in
            if bar == nil { bar = ProgressBar(label: "compile", total: total) }
            if !compiler.hessians.isEmpty || done % 10 == 0 || done == total { bar!.update(done, name) }
        }
        let image = try ROMImage(path: output)
        let errs = report.tensorErrors.map(\.relativeRMS)
        if printing.json {
            try printJSON(["path": report.path, "sha256": report.checksum, "bytes": report.bytes, "bits": bits,
                           "method": compiler.quantizer,
                           "group": report.groupSize, "seconds": report.seconds,
                           "mean_relative_rms_error": errs.reduce(0, +) / Double(max(1, errs.count)),
                           "tensors": report.tensorErrors.map { ["name": $0.name, "relative_rms_error": $0.relativeRMS] }])
        } else {
            print("wrote \(report.path): \(report.bytes) bytes, INT\(bits) group \(report.groupSize), \(compiler.quantizer), sha256 \(report.checksum)")
            print(String(format: "quantization error (||W - Wq|| / ||W||): mean %.4f, worst %.4f (%@); %.1f s",
                         errs.reduce(0, +) / Double(max(1, errs.count)), errs.max() ?? 0,
                         report.tensorErrors.max { $0.relativeRMS < $1.relativeRMS }?.name ?? "-", report.seconds))
            print(ROMImageSummary(image).unitFillReport())
        }
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
