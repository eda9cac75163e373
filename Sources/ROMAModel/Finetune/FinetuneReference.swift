import Foundation
import ROMALlama

/// What an independent trainer (tests-python/peft_reference.py: PyTorch + PEFT) needs to repeat a
/// run: the exact samples of every step in order, the validation samples, the initial adapter and
/// the settings.
///
///     DIR/batches.jsonl   {"step": s, "samples": [{"tokens": [...], "mask": [0, 1, ...]}]} per step
///     DIR/valid.jsonl     the same, one line of all validation samples
///     DIR/initial/        PEFT directory of the initial A (B = 0)
///     DIR/settings.json   learning rate, warm-up, schedule, clip, AdamW's betas, eps and decay, steps
public enum FinetuneReference {
    public static func export(_ t: LoRATrainer, to dir: String, baseName: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func line(_ step: Int, _ samples: [TrainingSample]) throws -> String {
            let obj: [String: Any] = ["step": step, "samples": samples.map { ["tokens": $0.tokens, "mask": $0.supervised.map { $0 ? 1 : 0 }] }]
            return String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self)
        }
        var batches = ""
        for s in 0..<t.steps { batches += try line(s, t.samples(ofStep: s)) + "\n" }
        try batches.write(toFile: (dir as NSString).appendingPathComponent("batches.jsonl"), atomically: true, encoding: .utf8)
        if !t.valid.isEmpty {
            try (line(0, t.valid) + "\n").write(toFile: (dir as NSString).appendingPathComponent("valid.jsonl"), atomically: true, encoding: .utf8)
        }
        try PEFTAdapter.save(t.lora.adapter(name: "initial"), model: t.model.config, to: (dir as NSString).appendingPathComponent("initial"),
                             dtype: .f32, baseModel: baseName)
        let o = t.options
        let settings: [String: Any] = [
            "learning_rate": o.learningRate, "warmup": o.warmup, "schedule": o.schedule.rawValue, "grad_clip": o.gradClip,
            "beta1": o.beta1, "beta2": o.beta2, "eps": o.eps, "weight_decay": o.weightDecay, "steps": t.steps,
            "rank": o.rank, "alpha": o.resolvedAlpha, "targets": o.targets.map(\.hfModule), "dropout": o.dropout,
            "served_format": t.lora.servedFormat?.rawValue ?? "fp32",
        ]
        try JSONSerialization.data(withJSONObject: settings, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("settings.json")))
    }
}
