import Foundation
import ROMAFormats
import ROMALlama
import ROMANumerics

/// A training run's resumable state in a directory: `state.json` (step, options, what base and data
/// it ran on, the loss history, the data cursor and the next learning rate, for people) and
/// `optimizer.safetensors` (per target: the FP32 masters A, B and AdamW's two moments of each). The
/// data order, learning rate and dropout masks are functions of (seed, step), so these are all a
/// resumed run needs to repeat an uninterrupted one bit for bit.
public struct FinetuneCheckpoint: Codable, Sendable, Equatable {
    public static let stateName = "state.json"
    public static let tensorsName = "optimizer.safetensors"
    public static let version = 1

    public var version = FinetuneCheckpoint.version
    public var step: Int
    public var steps: Int
    /// Where the data cursor stands: the epoch and the step within it of the next step.
    public var epoch: Int
    public var stepInEpoch: Int
    public var nextLearningRate: Double
    public var options: FinetuneOptions
    /// sha256 of the base (the ROM image's checksum, or the GGUF file's).
    public var baseSHA256: String
    /// sha256 of the tokenized training samples (tokens and their supervision).
    public var trainDataSHA256: String
    public var history: [LoRATrainer.StepRecord]

    /// A digest of samples: every token id and supervision flag, in order.
    public static func digest(_ samples: [TrainingSample]) -> String {
        var bytes: [UInt8] = []
        for s in samples {
            withUnsafeBytes(of: UInt32(s.tokens.count).littleEndian) { bytes += $0 }
            for (t, l) in zip(s.tokens, s.supervised) {
                withUnsafeBytes(of: UInt32(t).littleEndian) { bytes += $0 }
                bytes.append(l ? 1 : 0)
            }
        }
        return bytes.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
    }
}

extension LoRATrainer {
    /// Writes the checkpoint of the current step into `dir` (a new directory replaces the old one whole).
    public func saveCheckpoint(to dir: String, baseSHA256: String) throws {
        let fm = FileManager.default
        let tmp = dir + ".partial"
        try? fm.removeItem(atPath: tmp)
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let perEpoch = FinetuneSchedule.stepsPerEpoch(samples: train.count, perStep: options.samplesPerStep)
        let state = FinetuneCheckpoint(step: step, steps: steps, epoch: step / perEpoch, stepInEpoch: step % perEpoch,
                                       nextLearningRate: step < steps ? FinetuneSchedule.learningRate(step: step, steps: steps, options) : 0,
                                       options: options, baseSHA256: baseSHA256, trainDataSHA256: FinetuneCheckpoint.digest(train),
                                       history: history)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(state).write(to: URL(fileURLWithPath: (tmp as NSString).appendingPathComponent(FinetuneCheckpoint.stateName)))
        var w = SafetensorsWriter()
        w.metadata = ["format": "roma-finetune-checkpoint", "step": "\(step)"]
        for t in lora.targets {
            let f = lora.factors[t]!, m = moments[t]!, name = t.description
            w.add(name + ".lora_a", shape: [f.rank, f.inDim], f32: f.a)
            w.add(name + ".lora_b", shape: [f.outDim, f.rank], f32: f.b)
            w.add(name + ".exp_avg_a", shape: [f.rank, f.inDim], f32: m.mA)
            w.add(name + ".exp_avg_sq_a", shape: [f.rank, f.inDim], f32: m.vA)
            w.add(name + ".exp_avg_b", shape: [f.outDim, f.rank], f32: m.mB)
            w.add(name + ".exp_avg_sq_b", shape: [f.outDim, f.rank], f32: m.vB)
        }
        try w.write(to: (tmp as NSString).appendingPathComponent(FinetuneCheckpoint.tensorsName))
        // the old checkpoint stays whole until the new one is in place
        let old = dir + ".old"
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: dir) { try fm.moveItem(atPath: dir, toPath: old) }
        try fm.moveItem(atPath: tmp, toPath: dir)
        try? fm.removeItem(atPath: old)
    }

    /// Reads a checkpoint's state, or says why it is not one.
    public static func readCheckpoint(_ dir: String) throws -> FinetuneCheckpoint {
        let path = (dir as NSString).appendingPathComponent(FinetuneCheckpoint.stateName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FinetuneError.checkpoint("'\(dir)' is not a checkpoint: \(FinetuneCheckpoint.stateName) is missing")
        }
        let state: FinetuneCheckpoint
        do { state = try JSONDecoder().decode(FinetuneCheckpoint.self, from: data) } catch {
            throw FinetuneError.checkpoint("\(path): not a checkpoint state (\(error))")
        }
        guard state.version == FinetuneCheckpoint.version else {
            throw FinetuneError.checkpoint("\(path): checkpoint version \(state.version), this build reads \(FinetuneCheckpoint.version)")
        }
        return state
    }

    /// Continues from the checkpoint in `dir`, written by a run of the same options on the same base
    /// and data (refused otherwise, naming what differs).
    public func restore(from dir: String, baseSHA256: String) throws {
        let state = try LoRATrainer.readCheckpoint(dir)
        guard state.baseSHA256 == baseSHA256 else {
            throw FinetuneError.checkpoint("the checkpoint was trained on base sha256 \(state.baseSHA256.prefix(16))..., not on this one (\(baseSHA256.prefix(16))...)")
        }
        guard state.trainDataSHA256 == FinetuneCheckpoint.digest(train) else {
            throw FinetuneError.checkpoint("the checkpoint was trained on other training data (its samples' digest differs)")
        }
        var mine = options, theirs = state.options
        (mine.saveEvery, mine.evalEvery, theirs.saveEvery, theirs.evalEvery) = (0, 0, 0, 0)
        guard mine == theirs else {
            throw FinetuneError.checkpoint("the checkpoint's options differ from this run's: \(FinetuneCheckpoint.differences(theirs, mine).joined(separator: ", ")) (resume with the same settings)")
        }
        guard state.step <= steps else { throw FinetuneError.checkpoint("the checkpoint is at step \(state.step), past this run's \(steps) steps") }
        let file = try SafetensorsFile(path: (dir as NSString).appendingPathComponent(FinetuneCheckpoint.tensorsName))
        func read(_ name: String, _ count: Int) throws -> [Float] {
            let t = try file.requireTensor(name)
            guard t.elementCount == count else { throw FinetuneError.checkpoint("checkpoint tensor '\(name)' has \(t.elementCount) values, expected \(count)") }
            return try file.floats(t)
        }
        for t in lora.targets {
            let f = lora.factors[t]!, m = moments[t]!, name = t.description
            f.a = try read(name + ".lora_a", f.a.count)
            f.b = try read(name + ".lora_b", f.b.count)
            m.mA = try read(name + ".exp_avg_a", f.a.count); m.vA = try read(name + ".exp_avg_sq_a", f.a.count)
            m.mB = try read(name + ".exp_avg_b", f.b.count); m.vB = try read(name + ".exp_avg_sq_b", f.b.count)
        }
        lora.refreshServed()
        step = state.step
        history = state.history
    }
}

extension FinetuneCheckpoint {
    /// The option names whose values differ, "name a -> b".
    static func differences(_ a: FinetuneOptions, _ b: FinetuneOptions) -> [String] {
        let (ma, mb) = (Mirror(reflecting: a), Mirror(reflecting: b))
        return zip(ma.children, mb.children).compactMap { x, y in
            let (sx, sy) = (String(describing: x.value), String(describing: y.value))
            return sx == sy ? nil : "\(x.label ?? "?") \(sx) -> \(sy)"
        }
    }
}
