import Foundation
import ROMANumerics

/// A whole training run into an output directory:
///
///     DIR/adapter_config.json, DIR/adapter_model.safetensors   the adapter (PEFT), at every save
///     DIR/checkpoint/                                          the resumable state of the last save
///     DIR/train_log.jsonl                                      one JSON object per step (with its validation loss when measured)
extension LoRATrainer {
    public static let logName = "train_log.jsonl"
    public static let checkpointName = "checkpoint"

    /// Runs the remaining steps: validation loss every `evalEvery` steps and at the end, adapter and
    /// checkpoint every `saveEvery` steps and at the end, `onStep` after each step (the record carries
    /// the validation loss when one was measured). `stopAfter` ends the run early at that step, saved
    /// as at the end (an interruption that `restore` continues).
    public func run(outputDir dir: String, baseName: String, baseSHA256: String, stopAfter: Int? = nil,
                    onStep: (StepRecord) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let log = try TrainingLog(path: (dir as NSString).appendingPathComponent(LoRATrainer.logName), keepingThrough: step)
        let end = min(steps, stopAfter ?? steps)
        while step < end {
            var record = try runStep()
            let last = step == end
            if !valid.isEmpty && (isFinished || (options.evalEvery > 0 && step % options.evalEvery == 0)) {
                let v = loss()
                guard v.isFinite else { throw FinetuneError.diverged("training diverged: validation loss \(v) after step \(step)") }
                recordValidation(v)
                record = history[history.count - 1]
            }
            try log.append(record)
            if last || (options.saveEvery > 0 && step % options.saveEvery == 0) {
                try FinetuneOutput.writeAdapter(self, to: dir, baseName: baseName)
                try saveCheckpoint(to: (dir as NSString).appendingPathComponent(LoRATrainer.checkpointName), baseSHA256: baseSHA256)
            }
            onStep(record)
        }
    }
}

/// The JSON Lines log beside the console: one `StepRecord` per line.
final class TrainingLog {
    let handle: FileHandle

    /// Opens `path`, keeping the records of steps up to `step` (a resumed run continues its log).
    init(path: String, keepingThrough step: Int) throws {
        var kept = ""
        if step > 0, let old = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in old.split(separator: "\n") {
                if let r = try? JSONDecoder().decode(LoRATrainer.StepRecord.self, from: Data(line.utf8)), r.step <= step { kept += line + "\n" }
            }
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(kept.utf8)), let h = FileHandle(forWritingAtPath: path) else {
            throw FinetuneError.invalid("cannot write the training log '\(path)'")
        }
        h.seekToEndOfFile()
        handle = h
    }
    deinit { try? handle.close() }

    func append(_ r: LoRATrainer.StepRecord) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try handle.write(contentsOf: try enc.encode(r) + Data("\n".utf8))
    }
}

/// The process's peak resident memory (getrusage's ru_maxrss), bytes.
public func peakResidentBytes() -> Int {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    #if os(Linux)
    return Int(u.ru_maxrss) * 1024   // kilobytes on Linux
    #else
    return Int(u.ru_maxrss)
    #endif
}
