import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

/// What a training run produces and checks around the trainer: the SRAM fit before it starts, the
/// PEFT directory it writes, and losses measured on a serving engine (the chip).
public enum FinetuneOutput {
    /// The SRAM a trained adapter and one request's KV cache at `maxSeqLen` take on `chip` (`roma sram`).
    public struct SRAMFit: Sendable, Codable {
        public var adapterBytes: Int
        public var kvCacheBytes: Int
        public var budgetBytes: Int
        public var fits: Bool { adapterBytes + kvCacheBytes <= budgetBytes }
    }

    public static func sramFit(_ adapter: LoRAAdapter, chip: ChipConfig, model: ModelConfig, maxSeqLen: Int) -> SRAMFit {
        var plan = SRAMPlan(chip: chip, model: model)
        plan.add(adapter)
        return SRAMFit(adapterBytes: plan.adapterBytes, kvCacheBytes: maxSeqLen * plan.kvBytesPerToken, budgetBytes: plan.budget)
    }

    /// Refuses a run whose adapter and KV cache would not fit the chip's SRAM.
    public static func checkSRAM(_ adapter: LoRAAdapter, chip: ChipConfig, model: ModelConfig, maxSeqLen: Int) throws -> SRAMFit {
        let fit = sramFit(adapter, chip: chip, model: model, maxSeqLen: maxSeqLen)
        guard fit.fits else {
            throw FinetuneError.overBudget("the adapter (\(ByteCount.format(fit.adapterBytes))) and a KV cache of \(maxSeqLen) tokens (\(ByteCount.format(fit.kvCacheBytes))) need \(ByteCount.format(fit.adapterBytes + fit.kvCacheBytes)) of SRAM; the chip has \(ByteCount.format(fit.budgetBytes))")
        }
        return fit
    }

    /// Writes the trained masters as a PEFT directory (adapter_config.json + adapter_model.safetensors,
    /// FP32), the base named by its checksum.
    public static func writeAdapter(_ trainer: LoRATrainer, to dir: String, baseName: String) throws {
        let a = trainer.lora.adapter(name: (dir as NSString).lastPathComponent)
        try PEFTAdapter.save(a, model: trainer.model.config, to: dir, dtype: .f32, baseModel: baseName)
    }

    /// Mean cross-entropy of the supervised tokens of `samples` served by `engine` (the chip or the
    /// reference) with the adapters `requests`.
    public static func loss(engine: Engine, adapters requests: [AdapterRequest], samples: [TrainingSample]) throws -> Double {
        var nll = 0.0, count = 0
        let capacity = samples.map(\.tokens.count).max() ?? 1
        let session = try engine.session(capacity: capacity, adapters: requests)
        session.maxTokensPerPass = capacity
        for s in samples {
            session.reset()
            let rows = s.logitRows
            let logits = try session.feed(s.tokens, logitRows: rows)
            nll += TrainingLoss.crossEntropy(logits, sample: s, rows: rows, gradientScale: nil)
            count += s.supervisedCount
        }
        return nll / Double(max(1, count))
    }
}
