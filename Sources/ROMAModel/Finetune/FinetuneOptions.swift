import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

/// The settings of a LoRA training run (`roma finetune`). Names follow mlx-lm and PEFT where they
/// have the same thing. Everything a checkpoint must reproduce is here (it is saved with it).
public struct FinetuneOptions: Sendable, Codable, Equatable {
    public enum Schedule: String, Sendable, Codable, CaseIterable { case cosine, constant }

    /// LoRA rank r and alpha (the update is alpha/r · B·A; PEFT's convention). nil alpha = 2r.
    public var rank = 8
    public var alpha: Double?
    /// The linears that get a LoRA, in every block (default all seven, k and v included).
    public var targets: [LinearKind] = LinearKind.allCases
    /// Only the last N blocks get LoRAs (mlx-lm's --num-layers); nil = all.
    public var numLayers: Int?
    /// Dropout on the LoRA path's input (PEFT's lora_dropout).
    public var dropout = 0.0
    /// Peak learning rate of AdamW, reached after `warmup` steps, then `schedule` (cosine decays to 0).
    public var learningRate = 2e-4
    public var warmup = 0
    public var schedule = Schedule.cosine
    /// Largest global L2 norm of the LoRA gradients (clipped above; 0 = no clipping).
    public var gradClip = 1.0
    public var weightDecay = 0.0
    public var beta1 = 0.9, beta2 = 0.999, eps = 1e-8
    /// Samples per batch and batches per optimizer step (their gradients summed).
    public var batchSize = 4
    public var gradAccumulation = 1
    /// Longest sample in tokens (longer ones are refused); also the KV cache the SRAM check sizes.
    public var maxSeqLen = 512
    /// Optimizer steps (wins over `epochs`); default: one epoch.
    public var iters: Int?
    public var epochs: Int?
    public var seed: UInt64 = 0
    /// Checkpoint and adapter every N steps (0 = at the end only); validation loss every N steps (0 = at the end only).
    public var saveEvery = 0
    public var evalEvery = 0
    /// Learn only completions and assistant turns.
    public var maskPrompt = true
    /// The format the H-Units store the adapter in, which the forward pass rounds to (straight-through);
    /// nil trains plain FP32 LoRA.
    public var servedFormat: NumberFormat? = .fp8e4m3
    /// Learn a teacher model's next-token distributions (loss: KL(p_teacher ‖ p)) instead of the
    /// data's tokens (cross-entropy): a recovery adapter distilled from the float model.
    public var distill: Bool {
        get { distillation ?? false }
        set { distillation = newValue ? true : nil }
    }
    /// Stored as an optional so that checkpoints written before distillation existed still read.
    var distillation: Bool?

    public init() {}

    public var resolvedAlpha: Double { alpha ?? Double(2 * rank) }
    public var samplesPerStep: Int { batchSize * gradAccumulation }

    /// Optimizer steps over `samples` training samples.
    public func steps(samples: Int) -> Int {
        if let iters { return iters }
        return (epochs ?? 1) * FinetuneSchedule.stepsPerEpoch(samples: samples, perStep: samplesPerStep)
    }

    /// The LoRA targets of a model.
    public func loraTargets(_ m: ModelConfig) -> [LoRATarget] {
        let first = m.numLayers - min(numLayers ?? m.numLayers, m.numLayers)
        return (first..<m.numLayers).flatMap { l in targets.map { LoRATarget(layer: l, kind: $0) } }.sorted()
    }

    /// Refuses settings no run could use; the message names the setting.
    public func validate() throws {
        func bad(_ m: String) -> FinetuneError { .invalid(m) }
        guard (1...1024).contains(rank) else { throw bad("rank must be in 1...1024, got \(rank)") }
        if let alpha, !(alpha > 0 && alpha.isFinite) { throw bad("alpha must be positive, got \(alpha)") }
        guard !targets.isEmpty, Set(targets).count == targets.count else { throw bad("targets must name each linear once (q, k, v, o, gate, up, down)") }
        if let numLayers, numLayers < 1 { throw bad("the number of layers must be at least 1, got \(numLayers)") }
        guard (0..<1).contains(dropout) else { throw bad("dropout must be in [0, 1), got \(dropout)") }
        guard learningRate > 0 && learningRate < 1 else { throw bad("the learning rate must be in (0, 1), got \(learningRate)") }
        guard warmup >= 0 else { throw bad("warm-up steps must be >= 0, got \(warmup)") }
        guard gradClip >= 0 && gradClip.isFinite else { throw bad("the gradient clip must be >= 0, got \(gradClip)") }
        guard weightDecay >= 0 && weightDecay < 1 else { throw bad("weight decay must be in [0, 1), got \(weightDecay)") }
        guard (0..<1).contains(beta1), (0..<1).contains(beta2), eps > 0 else { throw bad("Adam needs betas in [0, 1) and eps > 0") }
        guard (1...65536).contains(batchSize), (1...65536).contains(gradAccumulation) else {
            throw bad("batch size and gradient accumulation must be in 1...65536, got \(batchSize) and \(gradAccumulation)")
        }
        guard (2...1_048_576).contains(maxSeqLen) else { throw bad("the maximum sequence length must be in 2...1048576, got \(maxSeqLen)") }
        if let iters, !(1...100_000_000).contains(iters) { throw bad("iterations must be in 1...100000000, got \(iters)") }
        if let epochs, !(1...100_000).contains(epochs) { throw bad("epochs must be in 1...100000, got \(epochs)") }
        guard saveEvery >= 0, evalEvery >= 0 else { throw bad("save and eval intervals must be >= 0") }
    }
}

/// The learning rate and the data order: pure functions of the step and the seed, so a resumed run
/// repeats an uninterrupted one exactly.
public enum FinetuneSchedule {
    /// lr(s) = peak·(s+1)/warmup during warm-up, then peak·½(1 + cos πp) (cosine) or peak (constant),
    /// p = (s − warmup)/(steps − warmup). s is 0-based.
    public static func learningRate(step s: Int, steps: Int, _ o: FinetuneOptions) -> Double {
        if s < o.warmup { return o.learningRate * Double(s + 1) / Double(o.warmup) }
        switch o.schedule {
        case .constant: return o.learningRate
        case .cosine:
            let p = Double(s - o.warmup) / Double(max(1, steps - o.warmup))
            return o.learningRate * 0.5 * (1 + cos(Double.pi * p))
        }
    }

    /// Whole steps in one pass over `samples` (one step of all of them when they fill no step).
    public static func stepsPerEpoch(samples: Int, perStep: Int) -> Int { max(1, samples / max(1, min(perStep, samples))) }

    /// Samples of each step of an epoch: shuffled with (seed, epoch); then, in windows of 16 steps,
    /// sorted by length so a step's samples are alike (bucketing), and the window's steps shuffled.
    /// The tail that does not fill a step is left out of this epoch (a new shuffle next epoch).
    public static func epochOrder(lengths: [Int], perStep: Int, seed: UInt64, epoch: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed &+ 0x5EED &+ UInt64(epoch) &* 0x9E37_79B9)
        var order = Array(lengths.indices)
        shuffle(&order, &rng)
        let per = min(perStep, lengths.count)
        let steps = stepsPerEpoch(samples: lengths.count, perStep: perStep)
        var out: [[Int]] = []
        let window = 16 * per
        for w in stride(from: 0, to: steps * per, by: window) {
            let slice = order[w..<min(steps * per, w + window)].sorted { lengths[$0] != lengths[$1] ? lengths[$0] < lengths[$1] : $0 < $1 }
            var group = stride(from: 0, to: slice.count, by: per).map { Array(slice[(slice.startIndex + $0)..<(slice.startIndex + $0 + per)]) }
            shuffle(&group, &rng)
            out += group
        }
        return out
    }

    /// Fisher–Yates with SplitMix64 (the same permutation on every platform).
    static func shuffle<T>(_ a: inout [T], _ rng: inout SplitMix64) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
    }

    /// The dropout seed of sample j of step s.
    public static func dropoutSeed(_ seed: UInt64, step: Int, sample j: Int) -> UInt64 {
        var r = SplitMix64(seed: seed ^ (UInt64(step) &* 0x1000_0000_01B3) ^ (UInt64(j) << 48))
        return r.next()
    }
}

public enum FinetuneError: ROMAError, Equatable {
    case invalid(String)
    case overBudget(String)
    case diverged(String)
    case checkpoint(String)
    public var code: ErrorCode {
        switch self {
        case .invalid: return .invalidArgument
        case .overBudget: return .overBudget
        case .diverged: return .diverged
        case .checkpoint: return .corruptInput
        }
    }
    public var description: String {
        switch self { case .invalid(let m), .overBudget(let m), .diverged(let m), .checkpoint(let m): return m }
    }
}
