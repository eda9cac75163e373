import ArgumentParser
import Foundation
import ROMAChip
import ROMANumerics

/// `roma bench lunit`: the compute cells alone on one ROM tensor, every kernel path this CPU runs,
/// as GMAC/s against the peak of the instruction each path multiplies with.
struct BenchLUnitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lunit",
        abstract: "Measure the L-Unit kernels on one ROM tensor: GMAC/s per kernel path against the instruction's peak.")

    @Option(help: "Compiled ROM image (roma compile).")
    var image: String
    @Option(help: "Tensor to multiply with.")
    var tensor = "blk.0.ffn_gate.weight"
    @Option(help: "Tokens per product (512: prefill like pp512; 1: decode).")
    var tokens = 512
    @Option(help: "Kernel paths, comma-separated (default: every path this CPU runs).")
    var paths: String?
    @Option(help: "Worker threads (default: every core).")
    var threads: Int?
    @Option(help: "Products per path; the median is reported.")
    var repetitions = 5
    @Option(help: "Iterations of the instruction-peak loop (12 instructions each).")
    var peakIterations = 20_000_000
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if !(1...65536).contains(tokens) { throw ValidationError("--tokens must be in 1...65536") }
        if !(1...100_000).contains(repetitions) { throw ValidationError("--repetitions must be in 1...100000") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be in 1...256") }
        if !(1...1_000_000_000).contains(peakIterations) { throw ValidationError("--peak-iterations must be in 1...1000000000") }
        _ = try selectedPaths()
    }

    func selectedPaths() throws -> [KernelPath] {
        guard let paths else { return KernelPath.supported }
        return try paths.split(separator: ",").map { name in
            guard let p = KernelPath(rawValue: String(name)) else {
                throw ValidationError("--paths: '\(name)' is not a kernel path (one of: \(KernelPath.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard p.isSupported() else { throw ValidationError("--paths: this CPU cannot run '\(name)'") }
            return p
        }
    }

    func run() throws {
        if let threads { Parallel.use(threads: threads) }
        let img = try ROMImage(path: image)
        guard let t = img.tensor(tensor) else { throw ValidationError("--tensor: " + img.unknownTensorDescription(tensor)) }
        guard t.kind != .norm else { throw ValidationError("'\(tensor)' is a norm, not a matrix the L-Units multiply with") }
        let paths = try selectedPaths()
        let results = paths.map { LUnitBench.run(image: img, tensor: t, tokens: tokens, path: $0, repetitions: repetitions) }
        let peaks = paths.map { LUnitBench.instructionPeak($0, iterations: peakIterations) }
        let base = results[0].gmacsPerSecond
        let n = Double(Parallel.threads)
        if printing.json {
            try printJSON(["tensor": t.name, "rows": t.rows, "cols": t.cols, "bits": t.bits, "group": t.groupSize, "tokens": tokens,
                           "threads": Parallel.threads, "cpu_features": KernelPath.CPUFeatures.host.names,
                           "paths": zip(results, peaks).map { r, p -> [String: Any] in
                               ["path": r.path, "seconds": r.seconds, "gmacs": r.gmacsPerSecond, "gmacs_per_core": r.gmacsPerSecond / n,
                                "instruction": p?.instruction ?? NSNull(), "peak_gmacs_per_core": p.map { $0.macsPerSecond / 1e9 } ?? NSNull(),
                                "fraction_of_peak": p.map { r.gmacsPerSecond / n / ($0.macsPerSecond / 1e9) } ?? NSNull(),
                                "vs_first_path": r.gmacsPerSecond / base]
                           }])
            return
        }
        print("\(t.name): \(t.rows) x \(t.cols), INT\(t.bits) G\(t.groupSize), \(tokens) tokens, \(Parallel.threads) threads (CPU: \(KernelPath.CPUFeatures.host.names.joined(separator: ", ")))")
        func pad(_ t: String, _ n: Int) -> String { t.padding(toLength: max(n, t.count), withPad: " ", startingAt: 0) }
        print(pad("path", 12) + " ms/product   GMAC/s  per core  " + pad("instruction", 21) + "peak/core  of peak  vs \(results[0].path)")
        for (r, p) in zip(results, peaks) {
            let peak = p.map { pad($0.instruction, 21) + String(format: "%9.1f", $0.macsPerSecond / 1e9) } ?? String(repeating: " ", count: 30)
            let frac = p.map { String(format: "%8.0f%%", 100 * r.gmacsPerSecond / n / ($0.macsPerSecond / 1e9)) } ?? String(repeating: " ", count: 9)
            print(pad(r.path, 12) + String(format: " %10.3f %8.1f %9.1f  ", r.seconds * 1e3, r.gmacsPerSecond, r.gmacsPerSecond / n)
                  + peak + frac + String(format: "  %5.2fx", r.gmacsPerSecond / base))
        }
    }
}
