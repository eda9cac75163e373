import Foundation
import ROMAChip
import ROMAFormats
import ROMALlama
import ROMAModel

/// `roma finetune`'s console: the plan, the progress line per step, the final figures (or one JSON object).
final class FinetuneReport {
    let trainer: LoRATrainer
    let base: FinetuneBase
    let fit: FinetuneOutput.SRAMFit
    let data: TrainingData
    let valid: TrainingData?
    let quiet: Bool
    let fileSHA256Before: String?
    var initialValidLoss: Double?
    var seconds = 0.0

    init(trainer: LoRATrainer, base: FinetuneBase, fit: FinetuneOutput.SRAMFit, data: TrainingData, valid: TrainingData?, quiet: Bool) throws {
        self.trainer = trainer; self.base = base; self.fit = fit; self.data = data; self.valid = valid; self.quiet = quiet
        fileSHA256Before = try base.image.map { try SHA256.hex(ofFile: $0.path) }
    }

    func say(_ s: String) { if !quiet { writeStderr(s + "\n") } }

    /// Prints the plan, measures the base's validation loss, runs the remaining steps.
    func train(output: String) throws {
        let o = trainer.options, t = trainer
        say("base: \(base.image?.path ?? "float model") (\(base.name.prefix(32))...)")
        say("data: \(data.samples.count) samples (\(data.form.rawValue)) from \(data.path), \(data.tokenCount) tokens, \(data.supervisedCount) learned"
            + (valid.map { "; validation \($0.samples.count) samples from \($0.path)" } ?? ""))
        say("LoRA: rank \(o.rank), alpha \(o.resolvedAlpha), \(t.lora.targets.count) layers (\(o.targets.map(\.rawValue).joined(separator: ","))), \(t.lora.parameterCount) parameters, served as \(t.lora.servedFormat?.rawValue ?? "fp32")")
        say("SRAM: adapter \(ByteCount.format(fit.adapterBytes)) + KV cache for \(o.maxSeqLen) tokens \(ByteCount.format(fit.kvCacheBytes)) of \(ByteCount.format(fit.budgetBytes))")
        say("loss: " + (o.distill ? "KL(teacher || adapted base) per learned token, distilled from the float model" : "cross-entropy per learned token"))
        say("steps: \(t.steps) of \(min(o.samplesPerStep, t.train.count)) samples" + (t.step > 0 ? ", resuming after step \(t.step)" : ""))
        if !t.valid.isEmpty && t.step == 0 {
            initialValidLoss = t.loss()
            say(String(format: "validation \(o.distill ? "KL" : "loss") before training: %.4f", initialValidLoss!))
        }
        let t0 = Date(), first = t.step
        var bar: ProgressBar?
        try t.run(outputDir: output, baseName: base.name, baseSHA256: base.sha256) { r in
            guard !quiet else { return }
            if bar == nil { bar = ProgressBar(label: "finetune", total: t.steps) }
            let elapsed = Date().timeIntervalSince(t0)
            let done = t.history.suffix(t.step - first)
            let tokens = done.reduce(0) { $0 + $1.tokens }, sup = done.reduce(0) { $0 + $1.supervisedTokens }
            let eta = elapsed / Double(t.step - first) * Double(t.steps - t.step)
            var line = String(format: "loss %.4f", r.loss)
            if let v = r.validLoss { line += String(format: " val %.4f", v) }
            line += String(format: " lr %.2e | %.0f tok/s (%.0f learned) | pad 0%% | ETA %@ | %@", r.learningRate,
                           Double(tokens) / elapsed, Double(sup) / elapsed, FinetuneReport.duration(eta), ByteCount.format(peakResidentBytes()))
            bar!.update(r.step, line)
        }
        seconds = Date().timeIntervalSince(t0)
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let i = Int(s.rounded())
        return i >= 60 ? "\(i / 60)m\(String(format: "%02d", i % 60))s" : "\(i)s"
    }

    /// The final figures: validation loss served (FP8) and with the FP32 masters, on the chip with and
    /// without the adapter, and that the image is unchanged.
    func finish(output: String, chipEval: Bool, json: Bool) throws {
        let t = trainer
        let last = t.history.last
        var servedLoss: Double?, masterLoss: Double?, chipBase: Double?, chipTrained: Double?
        if !t.valid.isEmpty {
            servedLoss = last?.validLoss ?? t.loss()
            masterLoss = t.loss(masters: true)
            if chipEval {
                let engine = base.engine
                chipBase = try FinetuneOutput.loss(engine: engine, adapters: [], samples: t.valid)
                let name = "finetuned-\(UUID().uuidString.prefix(8))"
                _ = try engine.adapters.register(path: output, name: name)
                chipTrained = try FinetuneOutput.loss(engine: engine, adapters: [AdapterRequest(name)], samples: t.valid)
            }
        }
        let after = try base.image.map { try SHA256.hex(ofFile: $0.path) }
        let unchanged = after == fileSHA256Before
        let tokens = t.history.reduce(0) { $0 + $1.tokens }, sup = t.history.reduce(0) { $0 + $1.supervisedTokens }
        let trainSeconds = t.history.reduce(0) { $0 + $1.seconds }
        if json {
            var obj: [String: Any] = [
                "output": output, "base": base.name, "steps": t.steps, "train_losses": t.history.map(\.loss),
                "final_train_loss": last?.loss ?? Double.nan, "seconds": seconds, "tokens_per_second": Double(tokens) / max(trainSeconds, 1e-9),
                "supervised_tokens_per_second": Double(sup) / max(trainSeconds, 1e-9), "peak_memory_bytes": peakResidentBytes(),
                "sram": ["adapter_bytes": fit.adapterBytes, "kv_cache_bytes": fit.kvCacheBytes, "budget_bytes": fit.budgetBytes],
                "parameters": t.lora.parameterCount,
            ]
            if let after { obj["image_sha256"] = after; obj["image_unchanged"] = unchanged }
            for (k, v) in [("valid_loss_before", initialValidLoss), ("valid_loss", servedLoss), ("valid_loss_fp32_masters", masterLoss),
                           ("chip_valid_loss_base", chipBase), ("chip_valid_loss_adapter", chipTrained)] {
                if let v { obj[k] = v }
            }
            obj["valid_losses"] = t.history.compactMap { r in r.validLoss.map { ["step": r.step, "loss": $0] as [String: Any] } }
            try printJSON(obj)
            return
        }
        print("wrote \(output): PEFT adapter (\(t.lora.parameterCount) parameters), checkpoint/ and \(LoRATrainer.logName)")
        print(String(format: "%d steps in %.1f s: %.0f tokens/s (%.0f learned), peak memory %@", t.history.count, trainSeconds,
                     Double(tokens) / max(trainSeconds, 1e-9), Double(sup) / max(trainSeconds, 1e-9), ByteCount.format(peakResidentBytes())))
        if let first = t.history.first, let last { print(String(format: "train loss %.4f -> %.4f", first.loss, last.loss)) }
        if let servedLoss, let masterLoss {
            print(String(format: "validation \(t.options.distill ? "KL" : "loss") %@%.4f (served %@), %.4f with the FP32 masters (difference %+.4f)",
                         initialValidLoss.map { String(format: "%.4f -> ", $0) } ?? "", servedLoss, t.lora.servedFormat?.rawValue ?? "fp32",
                         masterLoss, servedLoss - masterLoss))
        }
        if let chipBase, let chipTrained {
            print(String(format: "on the chip: validation cross-entropy %.4f without the adapter, %.4f with it (perplexity %.2f -> %.2f)",
                         chipBase, chipTrained, exp(chipBase), exp(chipTrained)))
        }
        if let after { print("ROM image file sha256 \(after.prefix(16))... " + (unchanged ? "unchanged" : "CHANGED") + " by the run") }
    }
}
