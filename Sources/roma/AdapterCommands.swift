import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMASim

/// `roma adapter ...` — LoRA adapters: inspect, convert between PEFT and llama.cpp GGUF, and build
/// accuracy-recovery adapters for a ROM image.
struct AdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "adapter", abstract: "Inspect, convert and build LoRA adapters.",
                                                    subcommands: [AdapterInspect.self, AdapterConvert.self, AdapterRecover.self])
}

/// Which model an adapter is read against (its shapes, and the q/k row order of its B).
struct AdapterModelOptions: ParsableArguments {
    @Option(help: "ROM image whose model the adapter is for.") var image: String?
    @Option(help: "GGUF model the adapter is for (default: models/SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String?
    @Option(help: "Model configuration instead: a preset (smollm2-135m, llama3.2-3b, llama3-8b) or a HF config.json.")
    var modelConfig: String?

    func validate() throws {
        if [image, model, modelConfig].compactMap({ $0 }).count > 1 { throw ValidationError("give at most one of --image, --model, --model-config") }
    }

    func load() throws -> ModelConfig {
        if let image { return try ROMImage(path: image).model }
        if let modelConfig { return try loadModelConfig(path: modelConfig) }
        let path = model ?? ModelLocator.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw EngineError.invalid("model file '\(path)' not found (run scripts/fetch-model.sh, or pass --model / --model-config)")
        }
        return try ModelConfig(gguf: GGUFFile(path: path))
    }
}

// MARK: - inspect

struct AdapterInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect",
        abstract: "Rank, alpha, targets, per-layer scales and bytes in H-Unit SRAM (FP8) of a PEFT directory or llama.cpp LoRA GGUF.")
    @Argument(help: "PEFT adapter directory (adapter_config.json + adapter_model.safetensors) or LoRA .gguf file.") var path: String
    @OptionGroup var modelOptions: AdapterModelOptions
    @OptionGroup var chipOptions: ChipOptions
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let m = try modelOptions.load()
        let a = try AdapterLoader.load(path: path, model: m)
        let chip = try chipOptions.chip()
        var plan = SRAMPlan(chip: chip, model: m)
        plan.add(a)
        let bytes = plan.adapters[0].bytes
        var perKind: [[String: Any]] = []
        for k in a.kinds {
            let ls = a.targets.filter { $0.kind == k }.map { a.layers[$0]! }
            perKind.append(["module": k.hfModule, "layers": ls.count, "ranks": Array(Set(ls.map(\.rank))).sorted(),
                            "scales": Array(Set(ls.map { Double($0.scale) })).sorted(), "parameters": ls.reduce(0) { $0 + $1.parameterCount }])
        }
        if printing.json {
            try printJSON(["name": a.name, "source": a.source, "alpha": a.alpha as Any, "ranks": a.ranks,
                           "targets": a.kinds.map(\.hfModule), "layers": a.layers.count, "parameters": a.parameterCount,
                           "sram_bytes": bytes, "lora_format": chip.numerics.loraWeightFormat.rawValue, "model": m.name,
                           "modules": perKind, "metadata": a.metadata])
            return
        }
        print("adapter \(a.name) (\(a.source)) for \(m.name)")
        print("  alpha       \(a.alpha.map { String(format: "%g", $0) } ?? "-")")
        print("  rank        \(a.ranks.map(String.init).joined(separator: ", "))")
        print("  targets     \(a.kinds.map(\.hfModule).joined(separator: ", ")) (\(a.layers.count) layers)")
        print("  parameters  \(a.parameterCount)")
        print(String(format: "  SRAM        %d bytes (%.2f MiB) as %@ on the H-Units; FP32 would be %.2f MiB", bytes, Double(bytes) / 1_048_576,
                     chip.numerics.loraWeightFormat.rawValue, Double(a.parameterCount * 4) / 1_048_576))
        print("  module       layers  rank      scale  parameters")
        for p in perKind {
            let ranks = (p["ranks"] as! [Int]).map(String.init).joined(separator: ",")
            let scales = (p["scales"] as! [Double]).map { String(format: "%g", $0) }.joined(separator: ",")
            print("  " + (p["module"] as! String).padding(toLength: 11, withPad: " ", startingAt: 0)
                  + String(format: "%7d", p["layers"] as! Int) + ranks.leftPadded(6) + scales.leftPadded(11)
                  + String(format: "%12d", p["parameters"] as! Int))
        }
        for (k, v) in a.metadata.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
    }
}

// MARK: - convert

enum AdapterFormatChoice: String, ExpressibleByArgument, CaseIterable { case peft, gguf }

struct AdapterConvert: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert",
        abstract: "Convert an adapter between PEFT (directory) and llama.cpp LoRA GGUF; q/k lora_B rows are permuted as llama.cpp's converter does.")
    @Argument(help: "Input adapter: PEFT directory or LoRA .gguf.") var input: String
    @Option(help: "Output: a directory (PEFT) or a .gguf file.") var output: String
    @Option(help: "Output format (default: gguf if --output ends in .gguf, else peft).") var to: AdapterFormatChoice?
    @Option(help: "Weight type written: f32 or f16 (bf16 for PEFT too).") var dtype: String = "f32"
    @OptionGroup var modelOptions: AdapterModelOptions

    func validate() throws {
        guard ["f32", "f16", "bf16"].contains(dtype) else { throw ValidationError("--dtype must be f32, f16 or bf16, got '\(dtype)'") }
        if dtype == "bf16" && target == .gguf { throw ValidationError("--dtype bf16 is for PEFT output; GGUF adapters are written as f32 or f16") }
    }

    var target: AdapterFormatChoice { to ?? (output.lowercased().hasSuffix(".gguf") ? .gguf : .peft) }

    func run() throws {
        let m = try modelOptions.load()
        let a = try AdapterLoader.load(path: input, model: m)
        switch target {
        case .gguf: try GGUFAdapter.save(a, model: m, to: output, type: dtype == "f16" ? .f16 : .f32)
        case .peft: try PEFTAdapter.save(a, model: m, to: output, dtype: PEFTAdapter.WeightType(rawValue: dtype)!)
        }
        print("wrote \(output) (\(target.rawValue), \(dtype)): \(a.layers.count) layers, rank \(a.ranks.map(String.init).joined(separator: ",")), \(a.parameterCount) parameters")
    }
}

// MARK: - recover

struct AdapterRecover: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recover",
        abstract: "Build an accuracy-recovery adapter: for every linear layer, the rank-R LoRA nearest to W_float - W_rom (truncated SVD).")
    @Option(help: "The ROM image whose quantization error to recover.") var image: String
    @Option(help: "The GGUF model the image was compiled from (default: models/SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String?
    @Option(help: "LoRA rank.") var rank: Int = 16
    @Option(help: "Output: a PEFT directory, or a .gguf file.") var output: String
    @Option(help: "Make it activation-aware: weight each layer's error by the covariance of its inputs on this calibration text.")
    var calibrationText: String?
    @Option(help: "Calibration tokens taken from the start of --calibration-text.") var calibrationTokens: Int = 4096
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if rank < 1 || rank > 4096 { throw ValidationError("--rank must be in 1...4096, got \(rank)") }
        if calibrationTokens < 16 { throw ValidationError("--calibration-tokens must be at least 16, got \(calibrationTokens)") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
    }

    func run() throws {
        if let threads { Parallel.use(threads: threads) }
        let t0 = Date()
        let img = try ROMImage(path: image)
        let path = model ?? ModelLocator.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw EngineError.invalid("model file '\(path)' not found (run scripts/fetch-model.sh, or pass --model)")
        }
        let engine = try Engine.reference(path: path)
        let ref = engine.backend as! ReferenceBackend
        guard ref.config.sameShape(as: img.model) else {
            throw AdapterError.shapeMismatch("the ROM image holds \(img.model.name) but '\(path)' is a different model shape")
        }
        var hessians: [String: Hessian]?
        if let calibrationText {
            hessians = try calibrationHessians(engine: engine, textFiles: [calibrationText], count: calibrationTokens)
        }
        var bar: ProgressBar?
        let name = PEFTAdapter.defaultName(output)
        let (adapter, report) = try RecoveryAdapter.build(image: img, rank: rank, name: name, hessians: hessians, float: { ref.weightArray($0, layer: $1) }) { done, total in
            if bar == nil { bar = ProgressBar(label: "recover", total: total) }
            if done % 10 == 0 || done == total { bar!.update(done) }
        }
        if output.lowercased().hasSuffix(".gguf") {
            try GGUFAdapter.save(adapter, model: img.model, to: output)
        } else {
            try PEFTAdapter.save(adapter, model: img.model, to: output, baseModel: img.header.source.file)
        }
        var plan = SRAMPlan(chip: .paper, model: img.model)
        plan.add(adapter)
        let before = report.map(\.before).reduce(0, +) / Double(report.count)
        let after = report.map(\.after).reduce(0, +) / Double(report.count)
        let seconds = Date().timeIntervalSince(t0)
        if printing.json {
            try printJSON(["output": output, "rank": rank, "layers": adapter.layers.count, "parameters": adapter.parameterCount,
                           "sram_bytes": plan.adapterBytes, "mean_relative_error_before": before, "mean_relative_error_after": after,
                           "activation_aware": hessians != nil, "seconds": seconds,
                           "layers_report": report.map { ["name": "\($0.target)", "before": $0.before, "after": $0.after] }])
        } else {
            print("wrote \(output): rank \(rank) recovery adapter for \(img.model.name) INT\(img.bits), \(adapter.layers.count) layers, \(adapter.parameterCount) parameters, \(String(format: "%.2f", Double(plan.adapterBytes) / 1_048_576)) MiB in FP8")
            print(String(format: "relative weight error ||W_float - W|| / ||W_float||, mean over layers: %.4f (ROM) -> %.4f (ROM + adapter)%@; %.1f s",
                         before, after, hessians != nil ? " [activation-aware: the weighted error is what it minimises]" : "", seconds))
        }
    }
}

// MARK: - sram

struct SRAMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sram",
        abstract: "How adapters and the KV cache share the H-Units' SRAM: bytes per adapter, KV bytes per token, and the most tokens that fit (Fig. 10).")
    @OptionGroup var chipOptions: ChipOptions
    @Option(help: "ROM image whose model to plan for.") var image: String?
    @Option(help: "Model configuration: a preset (smollm2-135m, llama3.2-3b, llama3-8b), a HF config.json or a .gguf (default: smollm2-135m, or the image's).")
    var modelConfig: String?
    @Option(name: .customLong("adapter"), help: "A real adapter to count, [NAME=]PATH[:SCALE] (repeatable).") var adapterSpecs: [String] = []
    @Option(help: "SRAM budget in MiB (default: the chip's).") var sramMb: Double?
    @Option(help: "A hypothetical adapter of this rank (on --lora-targets in every block).") var rank: Int?
    @Option(help: "Modules of the hypothetical adapter: comma-separated q,k,v,o,gate,up,down, or all.") var loraTargets: String = "q,k,v,o"
    @Flag(help: "Print the paper's Fig. 10 points (Llama3.2-3B: 64 MiB / rank 16, 256 MiB / rank 16, 64 MiB / rank 64) under both accountings.")
    var fig10 = false
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if image != nil && modelConfig != nil { throw ValidationError("give --image or --model-config, not both") }
        if let sramMb, !(sramMb > 0 && sramMb <= 1_048_576) { throw ValidationError("--sram-mb must be in (0, 1048576], got \(sramMb)") }
        if let rank, rank < 1 || rank > 65536 { throw ValidationError("--rank must be in 1...65536, got \(rank)") }
        for s in adapterSpecs { do { _ = try AdapterSpec(parsing: s) } catch { throw ValidationError("--adapter: \(error)") } }
        do { _ = try kinds() } catch { throw ValidationError("--lora-targets: \(error)") }
    }

    func kinds() throws -> [LinearKind] {
        try LoRAModule.parseList(loraTargets)
    }

    func run() throws {
        let chip = try chipOptions.chip()
        if fig10 { try printFig10(chip); return }
        let m: ModelConfig = try image.map { try ROMImage(path: $0).model } ?? loadModelConfig(path: modelConfig ?? "smollm2-135m")
        var plan = SRAMPlan(chip: chip, model: m, budgetBytes: sramMb.map { Int($0 * 1_048_576) })
        for s in adapterSpecs {
            let spec = try AdapterSpec(parsing: s)
            plan.add(try AdapterLoader.load(path: spec.path, model: m, name: spec.name))
        }
        if let rank { plan.add(name: "rank \(rank) on \(try kinds().map(\.rawValue).joined(separator: ","))", rank: rank, kinds: try kinds()) }
        if printing.json {
            try printJSON(["model": m.name, "chip": chip.name, "budget_bytes": plan.budget, "kv_bytes_per_token": plan.kvBytesPerToken,
                           "adapter_bytes": plan.adapterBytes, "max_tokens": plan.maxTokens, "lora_format": chip.numerics.loraWeightFormat.rawValue,
                           "adapters": plan.adapters.map { ["name": $0.name, "ranks": $0.ranks, "targets": $0.kinds.map(\.rawValue),
                                                           "layers": $0.layers, "parameters": $0.parameters, "bytes": $0.bytes] }])
            return
        }
        print(String(format: "H-Unit SRAM: %.2f MiB (chip '%@'), model %@", Double(plan.budget) / 1_048_576, chip.name, m.name))
        print("KV cache: \(plan.kvBytesPerToken) B per token (K and V, \(m.numLayers) layers x \(m.kvDim), \(chip.numerics.kvCacheFormat.rawValue))")
        if plan.adapters.isEmpty { print("adapters: none") } else {
            print("adapters (\(chip.numerics.loraWeightFormat.rawValue) + two FP32 scales per layer):")
            for a in plan.adapters {
                print(String(format: "  %@: rank %@, %@, %d layers, %d parameters, %d B (%.2f MiB)", a.name,
                             a.ranks.map(String.init).joined(separator: ","), a.kinds.map(\.rawValue).joined(separator: ","),
                             a.layers, a.parameters, a.bytes, Double(a.bytes) / 1_048_576))
            }
        }
        if plan.adapterBytes > plan.budget {
            print(String(format: "the adapters alone need %.2f MiB, more than the %.2f MiB budget: 0 tokens fit", Double(plan.adapterBytes) / 1_048_576, Double(plan.budget) / 1_048_576))
        } else {
            print(String(format: "free for the KV cache: %.2f MiB -> max %d tokens (prompt + generated) per request", Double(plan.freeForKV) / 1_048_576, plan.maxTokens))
        }
    }

    /// Fig. 10 for Llama3.2-3B: the paper's accounting (which gives its 736 / 3,808 / 0) beside the chip's own.
    func printFig10(_ chip: ChipConfig) throws {
        let points: [(mib: Int, rank: Int, paper: Int)] = [(64, 16, 736), (256, 16, 3808), (64, 64, 0)]
        var rows: [[String: Any]] = []
        for p in points {
            let w = SimWorkload(model: .llama32_3B, weightBits: 4, loraRank: p.rank, loraTargets: [.q, .k, .v, .o])
            let cap = SimCapacity(chip: chip, workload: w)
            var plan = SRAMPlan(chip: chip, model: .llama32_3B, budgetBytes: p.mib * 1_048_576)
            plan.add(name: "rank \(p.rank)", rank: p.rank, kinds: [.q, .k, .v, .o])
            rows.append(["sram_mib": p.mib, "rank": p.rank, "paper": p.paper,
                         "paper_accounting": cap.maxTokens(sramBytes: Double(p.mib) * 1_048_576, .paperFig10),
                         "chip_accounting": plan.maxTokens,
                         "lora_mib_paper_accounting": cap.loraBytes(.paperFig10) / 1_048_576, "lora_mib_chip": Double(plan.adapterBytes) / 1_048_576])
        }
        if printing.json { try printJSON(["model": "llama3.2-3b", "points": rows]); return }
        print("Fig. 10, Llama3.2-3B, LoRA on q,k,v,o — max tokens in the H-Unit SRAM")
        print("  SRAM MiB  rank   paper   paper accounting   chip accounting")
        for r in rows {
            print(String(format: "  %8d  %4d  %6d  %17d  %16d", r["sram_mib"] as! Int, r["rank"] as! Int, r["paper"] as! Int,
                         r["paper_accounting"] as! Int, r["chip_accounting"] as! Int))
        }
        print("paper accounting: \(CapacityAccounting.paperFig10.name)")
        print("  (LoRA counted at 2 B/param: 17.5 MiB at rank 16; KV at 64 KiB/token; whole 32-token blocks)")
        let m = ModelConfig.llama32_3B, kv = SRAMAccounting.kvBytesPerToken(m, chip: chip)
        print("chip accounting: LoRA in \(chip.numerics.loraWeightFormat.rawValue) (+ two FP32 scales per layer), KV in \(chip.numerics.kvCacheFormat.rawValue) for all \(m.numLayers) layers (\(kv / 1024) KiB/token), token granularity 1")
    }
}
