import ArgumentParser
import Foundation
import ROMAChip
import ROMAFormats
import ROMAModel

/// `roma compile`: GGUF model -> ROMA ROM image.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compile", abstract: "Compile a model into a read-only ROM image.")

    @Option(help: "GGUF model file (default: the SmolLM2 model).")
    var model: String?
    @Option(help: "Base-weight bits: 4 or 2.")
    var bits: Int
    @Option(help: "Weights per quantization group (default: 128 if it divides every row, else the largest power of two that does).")
    var group: Int?
    @Option(help: "Output ROM image path.")
    var output: String
    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if bits != 2 && bits != 4 { throw ValidationError("--bits must be 2 or 4, got \(bits)") }
        if let group, group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
    }

    func run() throws {
        try runReportingErrors {
            let path = model ?? ModelLocator.defaultModelPath
            let g = try GGUFFile(path: path)
            var bar: ProgressBar?
            let report = try ROMCompiler(bits: bits, groupSize: group).compile(gguf: g, output: output) { done, total, name in
                if bar == nil { bar = ProgressBar(label: "compile", total: total) }
                if done % 10 == 0 || done == total { bar!.update(done, name) }
            }
            let image = try ROMImage(path: output)
            let errs = report.tensorErrors.map(\.relativeRMS)
            if format == .json {
                try printJSON(["path": report.path, "sha256": report.checksum, "bytes": report.bytes, "bits": bits,
                               "group": report.groupSize, "seconds": report.seconds,
                               "mean_relative_rms_error": errs.reduce(0, +) / Double(max(1, errs.count)),
                               "tensors": report.tensorErrors.map { ["name": $0.name, "relative_rms_error": $0.relativeRMS] }])
            } else {
                print("wrote \(report.path): \(report.bytes) bytes, INT\(bits) group \(report.groupSize), sha256 \(report.checksum)")
                print(String(format: "quantization error (||W - Wq|| / ||W||): mean %.4f, worst %.4f (%@); %.1f s",
                             errs.reduce(0, +) / Double(max(1, errs.count)), errs.max() ?? 0,
                             report.tensorErrors.max { $0.relativeRMS < $1.relativeRMS }?.name ?? "-", report.seconds))
                print(ROMImageSummary(image).unitFillReport())
            }
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
