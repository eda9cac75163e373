import ArgumentParser
import Foundation
import ROMAChip
import ROMAFormats
import ROMALlama
import ROMAModel
import ROMANumerics

extension FinetuneOptions.Schedule: ExpressibleByArgument {}

/// `roma finetune`: a LoRA adapter trained against the ROM image's weights, written as PEFT.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Train a LoRA adapter against a ROM image (the frozen base the chip holds); writes a PEFT directory the chip serves.",
        discussion: """
        Data: JSON Lines of {"text"}, {"messages": [{"role", "content"}...]} or {"prompt", "completion"} (only \
        assistant turns and completions are learned unless --no-mask-prompt), or a .txt file cut into --max-seq-len \
        chunks. --data DIR reads DIR/train.jsonl and, if present, DIR/valid.jsonl (mlx-lm's layout). The output \
        directory gets the adapter, checkpoint/ (for --resume) and train_log.jsonl. See docs/finetune.md.
        """)

    @Option(help: "ROM image to train against (roma compile): the base is its dequantized codes.")
    var image: String?
    @Option(help: "Train against a GGUF model's float weights instead of a ROM image (for comparisons).")
    var model: String?
    @Option(help: "Training data: a .jsonl or .txt file, or a directory with train.jsonl (and valid.jsonl).")
    var data: String
    @Option(help: "Validation data (.jsonl or .txt).")
    var valid: String?
    @Option(name: [.customLong("output"), .customLong("adapter-path")], help: "Output directory (the PEFT adapter, checkpoint/, train_log.jsonl).")
    var output: String
    @Option(help: "LoRA rank.")
    var rank = 8
    @Option(help: "LoRA alpha (the update is alpha/rank x B·A; default 2 x rank).")
    var alpha: Double?
    @Option(help: "Linears that get a LoRA, comma-separated: q,k,v,o,gate,up,down or q_proj,... (default all seven).")
    var targets: String = LinearKind.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Only the last N blocks get LoRAs (default: all).")
    var numLayers: Int?
    @Option(help: "Dropout on the LoRA input (PEFT's lora_dropout).")
    var dropout = 0.0
    @Option(help: "Peak AdamW learning rate.")
    var learningRate = 2e-4
    @Option(help: "Linear warm-up steps.")
    var warmup = 0
    @Option(help: "Learning-rate schedule after warm-up: cosine (to 0) or constant.")
    var schedule = FinetuneOptions.Schedule.cosine
    @Option(help: "Clip the global gradient L2 norm to this (0: no clipping).")
    var gradClip = 1.0
    @Option(help: "AdamW weight decay.")
    var weightDecay = 0.0
    @Option(help: "Samples per batch.")
    var batchSize = 4
    @Option(name: [.customLong("grad-accumulation"), .customLong("grad-accumulation-steps")], help: "Batches whose gradients are summed per optimizer step.")
    var gradAccumulation = 1
    @Option(name: [.customLong("max-seq-len"), .customLong("max-seq-length")], help: "Longest sample in tokens (longer ones are refused); the KV cache the SRAM check sizes.")
    var maxSeqLen = 512
    @Option(help: "Optimizer steps (default: one epoch, or --epochs).")
    var iters: Int?
    @Option(help: "Passes over the training data (when --iters is not given).")
    var epochs: Int?
    @Option(help: "Seed of the initial A, the data order and the dropout masks.")
    var seed: UInt64 = 0
    @Option(help: "Write the adapter and a checkpoint every N steps (0: at the end only).")
    var saveEvery = 0
    @Option(name: [.customLong("eval-every"), .customLong("steps-per-eval")], help: "Validation loss every N steps (0: at the end only).")
    var evalEvery = 0
    @Option(help: "Continue from a checkpoint directory (OUTPUT/checkpoint) with the same settings.")
    var resume: String?
    @Flag(help: "Learn every token, prompts included.")
    var noMaskPrompt = false
    @Flag(help: "Train plain FP32 LoRA, without the H-Units' FP8 straight-through rounding.")
    var fp32Lora = false
    @Flag(help: "Skip the validation loss on the chip backend at the end.")
    var noChipEval = false
    @Option(help: "Also write the run's exact step order, initial adapter and settings here (for an independent trainer).")
    var exportReference: String?
    @Flag(help: "Learn the teacher's next-token distributions on --data (loss KL(p_teacher || p)) instead of its tokens: with --init-adapter from `roma adapter recover`, a recovery adapter trained against the whole network's output.")
    var distill = false
    @Option(help: "The teacher for --distill: the GGUF the image was compiled from (default: models/SmolLM2-135M-Instruct.Q4_1.gguf).")
    var teacher: String?
    @Option(help: "Start from this adapter (PEFT directory or .gguf) instead of B = 0; its rank, alpha and targets are the run's.")
    var initAdapter: String?
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @OptionGroup var chipOptions: ChipOptions
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if (image == nil) == (model == nil) { throw ValidationError("give the base: --image X.rom (the chip's ROM) or --model X.gguf (float weights)") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
        _ = try parsedTargets()
        if resume != nil && exportReference != nil {
            throw ValidationError("--export-reference writes the run's initial adapter: use it on a fresh run, not with --resume")
        }
        if teacher != nil && !distill { throw ValidationError("--teacher is the model --distill learns from: add --distill") }
        if distill && exportReference != nil { throw ValidationError("--export-reference is for the cross-entropy loss; the independent trainer has no teacher") }
        do { try options(targets: parsedTargets()).validate() } catch { throw ValidationError("\(error)") }
    }

    func parsedTargets() throws -> [LinearKind] {
        try targets.split(separator: ",").map { raw in
            let s = raw.trimmingCharacters(in: .whitespaces).lowercased()
            let name = s.hasSuffix("_proj") ? String(s.dropLast(5)) : s
            guard let k = LinearKind(rawValue: name) else {
                throw ValidationError("--targets: unknown linear '\(raw)' (use q, k, v, o, gate, up, down)")
            }
            return k
        }
    }

    func options(targets: [LinearKind]) -> FinetuneOptions {
        var o = FinetuneOptions()
        o.rank = rank; o.alpha = alpha; o.targets = targets; o.numLayers = numLayers; o.dropout = dropout
        o.learningRate = learningRate; o.warmup = warmup; o.schedule = schedule; o.gradClip = gradClip
        o.weightDecay = weightDecay; o.batchSize = batchSize; o.gradAccumulation = gradAccumulation
        o.maxSeqLen = maxSeqLen; o.iters = iters; o.epochs = epochs; o.seed = seed
        o.saveEvery = saveEvery; o.evalEvery = evalEvery; o.maskPrompt = !noMaskPrompt; o.distill = distill
        return o
    }

    /// The options with the chip's LoRA storage format (none with --fp32-lora).
    func options(targets: [LinearKind], chip: ChipConfig) -> FinetuneOptions {
        var o = options(targets: targets)
        o.servedFormat = fp32Lora ? nil : chip.numerics.loraWeightFormat
        return o
    }

    func run() throws {
        if let threads { Parallel.use(threads: threads) }
        let chip = try chipOptions.chip()
        var opts = options(targets: try parsedTargets(), chip: chip)
        let base = try FinetuneBase(image: image, model: model, chip: chip)
        let (train, validSet) = try readData(base.engine, opts)
        let model = try base.trainable()
        let lora = try initialLoRA(base.config, &opts)
        let fit = try FinetuneOutput.checkSRAM(lora.adapter(name: "trained"), chip: chip, model: base.config,
                                               maxSeqLen: min(opts.maxSeqLen, base.config.contextLength))
        let teacherModel = distill ? try DistillationTeacher(backend: teacherBackend(base), maxSeqLen: opts.maxSeqLen,
                                                             budgetBytes: DistillationTeacher.defaultBudget) : nil
        let trainer = try LoRATrainer(model: model, lora: lora, options: opts, train: train.samples, valid: validSet?.samples ?? [],
                                      teacher: teacherModel)
        if let resume { try trainer.restore(from: resume, baseSHA256: base.sha256) }
        if let exportReference { try FinetuneReference.export(trainer, to: exportReference, baseName: base.name) }
        let summary = try FinetuneReport(trainer: trainer, base: base, fit: fit, data: train, valid: validSet, quiet: printing.json)
        try summary.train(output: output)
        try summary.finish(output: output, chipEval: !noChipEval && image != nil, json: printing.json)
    }

    /// The LoRA to train: A random and B = 0, or `--init-adapter`'s factors (whose rank, alpha and
    /// targets then become the run's options).
    func initialLoRA(_ m: ModelConfig, _ opts: inout FinetuneOptions) throws -> TrainableLoRA {
        guard let initAdapter else {
            return TrainableLoRA(model: m, targets: opts.loraTargets(m), rank: opts.rank, alpha: opts.resolvedAlpha,
                                 servedFormat: opts.servedFormat, seed: opts.seed)
        }
        let a = try AdapterLoader.load(path: initAdapter, model: m)
        try a.validate(for: m)
        guard let r = a.ranks.first, a.ranks.count == 1 else {
            throw FinetuneError.invalid("--init-adapter '\(initAdapter)' mixes ranks \(a.ranks); training needs one rank")
        }
        let scales = Set(a.layers.values.map(\.scale))
        guard let scale = scales.first, scales.count == 1 else {
            throw FinetuneError.invalid("--init-adapter '\(initAdapter)' has \(scales.count) different scales; training needs one alpha")
        }
        opts.rank = r
        opts.alpha = Double(scale) * Double(r)
        opts.targets = a.kinds
        guard opts.loraTargets(m) == a.targets else {
            throw FinetuneError.invalid("--init-adapter '\(initAdapter)' covers \(a.targets.count) linears, not every \(a.kinds.map(\.rawValue).joined(separator: ",")) of \(opts.numLayers.map { "the last \($0)" } ?? "all") blocks (give --num-layers to match)")
        }
        try opts.validate()
        return try TrainableLoRA(adapter: a, alpha: opts.resolvedAlpha, servedFormat: opts.servedFormat)
    }

    /// The float model `--distill` learns from; for a ROM image it must be the file the image was compiled from.
    func teacherBackend(_ base: FinetuneBase) throws -> Backend {
        let path = teacher ?? ModelLocator.defaultModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw EngineError.invalid("teacher model '\(path)' not found (run scripts/fetch-model.sh, or pass --teacher)")
        }
        let g = try GGUFFile(path: path)
        if let img = base.image {
            let sha = SHA256.hex(SHA256.hash(g.file.bytes))
            guard sha == img.header.source.sha256 else {
                throw EngineError.invalid("'\(img.path)' was compiled from \(img.header.source.file) (sha256 \(img.header.source.sha256.prefix(16))...), not from '\(path)' (sha256 \(sha.prefix(16))...): distill from the image's own source model")
            }
        }
        return try ReferenceBackend(gguf: g)
    }

    /// The training and validation sets (DIR/train.jsonl and DIR/valid.jsonl for a directory).
    func readData(_ engine: Engine, _ o: FinetuneOptions) throws -> (TrainingData, TrainingData?) {
        var trainPath = data, validPath = valid
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: data, isDirectory: &isDir), isDir.boolValue {
            trainPath = (data as NSString).appendingPathComponent("train.jsonl")
            guard FileManager.default.fileExists(atPath: trainPath) else {
                throw TrainingDataError(.notFound, "'\(data)' is a directory without train.jsonl (expected mlx-lm's layout: train.jsonl and, optionally, valid.jsonl)")
            }
            let v = (data as NSString).appendingPathComponent("valid.jsonl")
            if validPath == nil && FileManager.default.fileExists(atPath: v) { validPath = v }
        }
        let maxLen = min(o.maxSeqLen, engine.config.contextLength)
        let t = try TrainingData.load(path: trainPath, tokenizer: engine.tokenizer, maxSeqLen: maxLen, maskPrompt: o.maskPrompt)
        let v = try validPath.map { try TrainingData.load(path: $0, tokenizer: engine.tokenizer, maxSeqLen: maxLen, maskPrompt: o.maskPrompt) }
        return (t, v)
    }
}

extension FinetuneCommand: HintingCommand {
    func hint(for code: ErrorCode) -> String? {
        switch code {
        case .overBudget: return "use a smaller --rank, fewer --targets or a shorter --max-seq-len (see `roma sram`)"
        case .diverged: return "try a smaller --learning-rate or --grad-clip"
        case .contextOverflow: return "raise --max-seq-len (up to the model's context length) or shorten the sample"
        default: return nil
        }
    }
}
