import ArgumentParser
import ROMARTL
import ROMAFormats
import Foundation
import ROMAChip
import ROMALlama
import ROMASim

/// `roma sim ...` — performance / area / power model of the ROMA chip (issue 6).
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim", abstract: "Performance, area and power model of the ROMA chip.",
        subcommands: [SimRun.self, SimPaperCommand.self, SimSweepCommand.self, SimCapacityCommand.self,
                      SimAreaCommand.self, SimCompareCommand.self, SimTrainCommand.self])
}

// MARK: - Model and chip loading

/// THE single place where `--model-config` is resolved: a preset name (llama3.2-3b, llama3-8b,
/// smollm2-135m), a Hugging Face config.json, or a .gguf file (its llama.* metadata).
func loadModelConfig(path: String) throws -> ModelConfig {
    if let preset = ModelConfig.preset(named: path) { return preset }
    let url = URL(fileURLWithPath: path)
    let ext = url.pathExtension.lowercased()
    let names = ModelConfig.presets.map(\.name).joined(separator: ", ")
    guard FileManager.default.fileExists(atPath: path) else {
        if ext.isEmpty { throw SimError.badModelConfig("unknown model preset '\(path)' (presets: \(names); or give a config.json / .gguf file)") }
        throw SimError.badModelConfig("model config file '\(path)' does not exist")
    }
    switch ext {
    case "json":
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw SimError.badModelConfig("cannot read '\(path)': \(error.localizedDescription)") }
        do {
            return try ModelConfig.fromHuggingFace(json: data, name: url.deletingPathExtension().lastPathComponent)
        } catch let e as ModelConfigError {
            throw SimError.badModelConfig("'\(path)': \(e.description)")
        } catch {
            throw SimError.badModelConfig("'\(path)' is not a valid Hugging Face config.json: \(error.localizedDescription)")
        }
    case "gguf":
        do { return try ModelConfig(gguf: GGUFFile(path: path)) } catch { throw SimError.badModelConfig("'\(path)': \(error)") }
    default:
        throw SimError.badModelConfig("'\(path)': unsupported model config type '.\(ext)' (expected a preset name, .json or .gguf)")
    }
}

/// Options shared by the subcommands that simulate one workload.
struct WorkloadOptions: ParsableArguments {
    @Option(name: .long, help: "Model: a preset (llama3.2-3b, llama3-8b, smollm2-135m), a HF config.json or a .gguf file.")
    var modelConfig: String = "llama3.2-3b"
    @OptionGroup var chipOptions: ChipOptions
    @Option(name: .long, help: "Base-weight bits (default: 2 for llama3-8b, else 4, as in the paper Sec. IV-A).")
    var bits: Int?
    @Option(name: .long, help: "LoRA rank.")
    var rank: Int = 16
    @Option(name: .long, help: "LoRA target modules, comma-separated (q,k,v,o,gate,up,down), or all, or none.")
    var loraTargets: String = "q,k,v,o"

    func load() throws -> (ChipConfig, SimWorkload) {
        let chip = try chipOptions.chip()
        let model = try loadModelConfig(path: modelConfig)
        guard rank >= 0 else { throw SimError.badArgument("--rank must be >= 0, got \(rank)") }
        let b = bits ?? (model.name == ModelConfig.llama3_8B.name ? 2 : 4)
        let w = SimWorkload(model: model, weightBits: b, loraRank: rank, loraTargets: try LoRAModule.parseList(loraTargets))
        try w.validate(on: chip)
        return (chip, w)
    }
}

func writeFiles(_ files: [(String, String)], to dir: String) throws -> [String] {
    let url = URL(fileURLWithPath: dir)
    do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
        throw SimError.badArgument("cannot create output directory '\(dir)': \(error.localizedDescription)")
    }
    return try files.map { name, body in
        let f = url.appendingPathComponent(name)
        try Data(body.utf8).write(to: f)
        return f.path
    }
}

func stderrPrint(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

// MARK: - sim run

struct SimRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run",
        abstract: "Map and time prefill and decode: TTFT, decode speed vs KV length, end-to-end speed, breakdown, capacity, area, power.")
    @OptionGroup var workload: WorkloadOptions
    @Option(name: .long, help: "Input (prompt) tokens.") var input: Int = 256
    @Option(name: .long, help: "Output (generated) tokens.") var output: Int = 256
    @Option(name: .long, help: "KV-cache lengths at which to report the decode speed, comma-separated.")
    var kvPoints: String = "0,256,512,1024,2048,4096"
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let (chip, w) = try workload.load()
        let kv = try kvPoints.split(separator: ",").map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw SimError.badArgument("--kv-points: '\(s)' is not a non-negative integer") }
            return v
        }
        let report = try SimRunReport(sim: try ChipSimulator(chip: chip, workload: w), input: input, output: output, kvPoints: kv)
        print(printing.json ? try report.json() : report.text(), terminator: "")
    }
}

// MARK: - sim paper

struct SimPaperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "paper",
        abstract: "Reproduce the paper's rows R1-R19 (calibrated to R1 and R7 only) and write SVG plots like Figs. 6-12.")
    @OptionGroup var printing: OutputOptions
    @Option(name: .long, help: "Directory for the SVG plots.") var plots: String = "out/sim-paper"
    @Flag(name: .long, help: "Do not write plots.") var noPlots = false
    @OptionGroup var chipOptions: ChipOptions

    func run() throws {
        let repro = try PaperReproduction(base: try chipOptions.chip())
        if printing.json { print(repro.json(), terminator: "") } else { print(repro.table(), terminator: "") }
        if !noPlots {
            let files = try writeFiles(try repro.plots(), to: plots)
            let msg = "wrote \(files.count) plots to \(plots)/: " + files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")
            if printing.json { stderrPrint(msg) } else { print("\n" + msg) }
        }
    }
}

// MARK: - sim sweep

struct SimSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep",
        abstract: "Design-space sweep over chip and workload parameters -> CSV + SVG.",
        discussion: "Parameters: \(SweepParameter.allCases.map { "\($0.rawValue) (\($0.help))" }.joined(separator: ", ")). "
            + "Values: a,b,c or lo:hi:step or lo:hi/n. Example: roma sim sweep --vary sram=32:512:32 --vary rank=16,64")
    @OptionGroup var workload: WorkloadOptions
    @Option(name: .long, help: "NAME=VALUES; repeat for a Cartesian grid.") var vary: [String] = []
    @Option(name: .long, help: "Input tokens.") var input: Int = 1024
    @Option(name: .long, help: "Output tokens.") var output: Int = 1024
    @Option(name: .long, help: "Output directory for sweep.csv and the plots.") var out: String = "out/sim-sweep"
    @Option(name: .long, help: "For the 'smallest chip' summary: minimum end-to-end tokens/s.") var minTps: Double = 0

    func run() throws {
        guard !vary.isEmpty else { throw SimError.badArgument("give at least one --vary NAME=VALUES (e.g. --vary sram=32:512:32)") }
        guard input >= 1, output >= 1 else { throw SimError.badArgument("--input and --output must be >= 1") }
        let (chip, w) = try workload.load()
        let sweep = SimSweep(base: chip, workload: w, axes: try vary.map(SweepAxis.parse), input: input, output: output)
        let start = Date()
        let pts = sweep.run { done, total in stderrPrint("sweep: \(done)/\(total) points") }
        let secs = Date().timeIntervalSince(start)
        let files = try writeFiles([("sweep.csv", sweep.csv(pts))] + sweep.plots(pts), to: out)
        let names = files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")
        print("evaluated \(pts.count) points in \(String(format: "%.2f", secs)) s; wrote \(names) to \(out)/")
        let bad = pts.filter { $0.error != nil }
        if let e = bad.first?.error { print("\(bad.count) points could not be simulated, e.g.: \(e)") }
        let speed = minTps > 0 ? String(format: " at >= %.0f tokens/s", minTps) : ""
        if let best = sweep.smallestFitting(pts, minTokensPerSecond: minTps) {
            let desc = zip(sweep.axes, best.values).map { "\($0.parameter.rawValue)=\(SVGPlot.fmt($1))" }.joined(separator: " ")
            print(String(format: "smallest chip holding %@ in ROM and %d tokens in SRAM%@: %@ -> %.1f mm^2, %.0f tokens/s end-to-end",
                         w.model.name, input + output, speed, desc, best.areaMm2, best.e2e))
        } else {
            print("no point of the sweep holds \(w.model.name) in ROM and \(input + output) tokens in SRAM\(speed)")
        }
    }
}

// MARK: - sim capacity

struct SimCapacityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "capacity",
        abstract: "ROM fill, SRAM use and max tokens vs SRAM size and LoRA rank (Fig. 10), under both accountings.")
    @OptionGroup var workload: WorkloadOptions
    @Option(name: .long, help: "SRAM sizes (MiB), comma-separated.") var sram: String = "32,64,128,192,256,288,320"
    @Option(name: .long, help: "LoRA ranks, comma-separated.") var ranks: String = "8,16,32,64"

    func run() throws {
        let (chip, w) = try workload.load()
        func ints(_ s: String, _ flag: String) throws -> [Int] {
            try s.split(separator: ",").map { x in
                guard let v = Int(x.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw SimError.badArgument("\(flag): '\(x)' is not a non-negative integer") }
                return v
            }
        }
        let sizes = try ints(sram, "--sram"), rs = try ints(ranks, "--ranks")
        let cap = SimCapacity(chip: chip, workload: w)
        print(String(format: "ROM: %@ INT%d needs %.3f GB of %.3f GB (%.1f%%)%@", w.model.name, w.weightBits, cap.romBytesNeeded / 1e9,
                     chip.memory.romBytes / 1e9, cap.romFill * 100, cap.romFill > 1 ? " -- does NOT fit" : ""))
        print(String(format: "intermediate SRAM: %.2f MiB used by a prefill chunk of %d tokens, of %.2f MiB",
                     cap.intermediateBytesUsed / 1_048_576, SimMapper(chip: chip, workload: w).prefillChunkTokens,
                     chip.memory.intermediateSRAMBytes / 1_048_576))
        for acc in [CapacityAccounting.plain, .paperFig10] {
            print("\nmax tokens, \(acc.name):")
            print("  KV per token: \(Int(cap.kvBytesPerToken(acc))) B")
            print("  SRAM MiB " + rs.map { "rank \($0)".leftPadded(12) }.joined())
            print("  LoRA MiB " + rs.map { r -> String in
                var wr = w; wr.loraRank = r
                return String(format: "%12.2f", SimCapacity(chip: chip, workload: wr).loraBytes(acc) / 1_048_576)
            }.joined())
            for s in sizes {
                var line = String(format: "  %8d", s)
                for r in rs {
                    var wr = w; wr.loraRank = r
                    line += String(format: "%12d", SimCapacity(chip: chip, workload: wr).maxTokens(sramBytes: Double(s) * 1_048_576, acc))
                }
                print(line)
            }
        }
    }
}

// MARK: - sim area

struct SimAreaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "area",
        abstract: "Area and power per component (Table I, Fig. 11) and the four L-Unit designs (Fig. 12).")
    @OptionGroup var chipOptions: ChipOptions
    @Option(name: .long, help: "Take the B-ROM/standard ROM area ratio and NUM_CGEN from `roma rtl report --synthesize --format json` output instead of the paper's ~40% claim.")
    var rtlReport: String?
    @Option(name: .customLong("lunit-report"), help: "Take the L-Unit datapath transistors per 4-bit lane from `roma rtl report --lunit DIR --format json` output instead of the assumed figure.")
    var lunitReport: String?

    /// A report written by `command` at `path`, decoded; a one-line error naming the file otherwise.
    func report<T: Decodable>(_ type: T.Type, _ path: String, kind: String, command: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else { throw SimError.badModelConfig("cannot read \(kind) '\(path)'") }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw SimError.badModelConfig("'\(path)' is not `\(command)` output: \(error)")
        }
    }

    func run() throws {
        var chip = try chipOptions.chip()
        if let lunitReport {
            let figs = try report([LUnitAreaFigures].self, lunitReport, kind: "L-Unit report", command: "roma rtl report --lunit DIR --format json")
            guard let fig = figs.first else { throw SimError.badModelConfig("'\(lunitReport)' holds no L-Unit slice") }
            chip.technology.lUnitLaneTransistors = fig.datapathPerLane
            print(String(format: "L-Unit datapath %.0f transistors per 4-bit lane from %@ (yosys %@, G=%d slice; assumed %.0f)\n",
                         fig.datapathPerLane, lunitReport, fig.flow, fig.counts.groupSize, fig.assumedPerLane))
        }
        if let rtlReport {
            let fig = try report(ROMAreaFigures.self, rtlReport, kind: "RTL report", command: "roma rtl report --format json")
            guard let ratio = fig.arrayCellRatio ?? fig.cellRatio else {
                throw SimError.badModelConfig("'\(rtlReport)' has no measured cell counts; run `roma rtl report --synthesize --format json`")
            }
            chip.technology.bromAreaToROMRatio = ratio
            chip.lUnit.bromCGenTransistors = fig.numCGen
            chip.lUnit.bromWordBits = fig.tile.width
            print(String(format: "B-ROM / standard ROM area ratio %.3f and NUM_CGEN %d from %@ (%@ yosys cells, %dx%d tile)\n",
                         ratio, fig.numCGen, rtlReport, fig.cellFlow ?? "?", fig.tile.depth, fig.tile.width))
        }
        let sim = try ChipSimulator(chip: chip, workload: .paper3B)
        let area = SimArea(chip: chip)
        let a = area.breakdown(), p = PaperReproduction.peakPower(sim)
        let at = a.reduce(0) { $0 + $1.1 }, pt = p.reduce(0) { $0 + $1.1 }
        print("component       area mm^2   share    power W   share   (power: Llama3.2-3B INT4, \(PaperReproduction.powerOperatingPointTokens)-token prefill)")
        for ((k, x), (_, y)) in zip(a, p) {
            print(k.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: "%11.1f %7.1f%% %10.2f %7.1f%%", x, x / at * 100, y, y / pt * 100))
        }
        print(String(format: "total         %11.1f          %10.2f          model", at, pt))
        print(String(format: "Table I       %11.1f          %10.2f          paper (error: area %+.1f%%, power %+.1f%%)", 503.7, 33.1,
                     (at / 503.7 - 1) * 100, (pt / 33.1 - 1) * 100))
        print(String(format: "\ndetail: B-ROM %.1f, L-Unit compute %.1f, H-Unit SRAM %.1f, H-Unit compute %.1f, vector SRAM %.1f, vector compute %.1f, routers %.1f mm^2",
                     area.lUnitStorageMm2(.fusedCell), area.lUnitComputeMm2, area.hUnitSRAMMm2, area.hUnitComputeMm2,
                     area.vectorSRAMMm2, area.vectorComputeMm2, area.routerMm2))
        print(String(format: "Fused-cell saving over B-ROM + compute side by side: %.1f mm^2; B-ROM saving over standard ROM: %.1f mm^2",
                     area.lUnitMm2(.bromCompute) - area.lUnitMm2(.fusedCell), area.lUnitMm2(.romCompute) - area.lUnitMm2(.bromCompute)))
        print(String(format: "B-ROM transistors vs standard ROM (Sec. III-C formula, W=%d, NUM_CGEN=%d): %.3f",
                     chip.lUnit.bromWordBits, chip.lUnit.bromCGenTransistors, area.bromTransistorRatio))
        let l = LUnitComparison(chip: chip, simulator: sim)
        print("\nFig. 12, all L-Units:      area mm^2    power W")
        for r in l.rows { print(r.design.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%12.1f %10.2f", r.areaMm2, r.powerW)) }
        print("ordering SRAM+compute > ROM+compute > B-ROM+compute > Fused cell (area and power): \(l.orderingHolds ? "holds" : "FAILS")")
    }
}

// MARK: - sim compare

struct SimCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare",
        abstract: "ROMA beside a GPU, a CPU with llama.cpp, Taalas HC1, TOM, HNLPU and T-MAC (published numbers).")
    @OptionGroup var chipOptions: ChipOptions

    func run() throws {
        let chip = try chipOptions.chip()
        let rows = [try SimComparison.modelRow(chip: chip, workload: .paper3B)] + SimComparison.published
        print(SimComparison.table(rows), terminator: "")
        print("Different models, workloads and process nodes: read rows as orders of magnitude, not like-for-like.")
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

// MARK: - sim train

/// `roma sim train`: one LoRA training step on the chip (forward, dX through the ROM, LoRA gradients, AdamW).
struct SimTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "What on-chip LoRA training would take: one step's cycles, energy, ROM reads and the SRAM its optimizer state needs.")
    @OptionGroup var workload: WorkloadOptions
    @Option(help: "Tokens per sample.") var tokens = 512
    @Option(help: "Samples per step.") var samples = 4
    @Option(help: "Supervised (learned) tokens per sample (default: all but the first).") var supervised: Int?
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let (chip, w) = try workload.load()
        let s = try ChipSimulator(chip: chip, workload: w).trainingStep(tokens: tokens, samples: samples, supervised: supervised ?? tokens - 1)
        if printing.json {
            var obj: [String: Any] = [
                "model": w.model.name, "bits": w.weightBits, "rank": w.loraRank, "targets": w.loraTargets.map(\.rawValue),
                "tokens": tokens, "samples": samples, "supervised": s.supervised, "cycles": s.cycles, "seconds": s.seconds,
                "tokens_per_second": s.tokensPerSecond, "energy_joules": s.energyJoules, "parameters": s.parameters,
                "recompute": s.recompute, "tape_bytes_per_sample": s.tapeBytes, "rom_bits_forward": s.romBitsForward,
                "rom_bits_backward": s.romBitsBackward, "optimizer_state_bytes": s.optimizerStateBytes,
                "sram_needed_bytes": s.sramNeededBytes, "sram_budget_bytes": s.sramBudgetBytes, "sram_fits": s.sramFits,
            ]
            obj["parts"] = s.parts.map { ["name": $0.name, "cycles": $0.cycles, "seconds": $0.cycles / chip.clockHz] as [String: Any] }
            try printJSON(obj)
            return
        }
        print("one training step on \(chip.name): \(w.model.name) INT\(w.weightBits), LoRA rank \(w.loraRank) on \(w.loraTargets.map(\.rawValue).joined(separator: ",")) (\(Int(s.parameters)) parameters), \(samples) x \(tokens) tokens")
        for p in s.parts where p.cycles > 0 {
            let name = p.name.padding(toLength: 15, withPad: " ", startingAt: 0)
            print("  " + name + String(format: " %12.0f cycles  %8.3f ms  %5.1f%%", p.cycles, 1e3 * p.cycles / chip.clockHz, 100 * p.cycles / s.cycles))
        }
        print(String(format: "  total           %12.0f cycles  %8.3f ms: %.0f training tokens/s, %.2f mJ per step (%.1f uJ/token)",
                     s.cycles, 1e3 * s.seconds, s.tokensPerSecond, 1e3 * s.energyJoules, 1e6 * s.energyJoules / Double(samples * tokens)))
        print(String(format: "ROM reads: forward %.2f Gbit, backward dX %.2f Gbit (the same rows, accumulated into input-wide vectors)%@",
                     s.romBitsForward / 1e9, s.romBitsBackward / 1e9, s.recompute ? "; forward includes the recompute" : ""))
        print(String(format: "activations for the backward pass: %@ per sample %@ the %@ intermediate SRAM%@",
                     ByteCount.format(Int(s.tapeBytes)), s.recompute ? "exceed" : "fit in", ByteCount.format(Int(chip.memory.intermediateSRAMBytes)),
                     s.recompute ? " (each block's forward is recomputed)" : ""))
        print("H-Unit SRAM: \(ByteCount.format(Int(s.sramNeededBytes))) needed (FP8 adapter, KV cache, optimizer state \(ByteCount.format(Int(s.optimizerStateBytes))): FP32 master, gradient, 2 moments) of \(ByteCount.format(Int(s.sramBudgetBytes)))" + (s.sramFits ? "" : ": does NOT fit"))
    }
}
