import ArgumentParser
import Foundation
import ROMAFormats
import ROMAChip
import ROMALlama
import ROMAModel

/// `roma inspect FILE`: metadata and tensor table of a GGUF model or a ROM image; or, with
/// `--model-config`, whether a model fits the chip's ROM (no weights needed).
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a GGUF model or a ROM image; or check that a model fits the ROM.")

    @Argument(help: "A GGUF file or a ROM image (default: the SmolLM2 model).")
    var file: String?

    @Option(help: "Instead of a file: a model configuration (llama3.2-3b, llama3-8b, smollm2-135m, a config.json or a .gguf) to check against the chip's ROM.")
    var modelConfig: String?
    @Option(help: "Bits per base weight for --model-config.")
    var bits: Int = 4
    @Option(help: "Group size for --model-config (default: as `roma compile` picks).")
    var group: Int?
    @OptionGroup var chipOptions: ChipOptions

    @OptionGroup var printing: OutputOptions

    @Flag(help: "Print long arrays (vocabulary, merges) in full.")
    var full = false

    func run() throws {
        let chip = try chipOptions.chip()
        if let modelConfig {
            try ROMCompiler.checkBits(bits, chip: chip)
            let m = try loadModelConfig(path: modelConfig)
            let g = try ROMCompiler.resolveGroupSize(group, model: m, chip: chip)
            let fit = ROMFit(model: m, bits: bits, groupSize: g, chip: chip)
            if printing.json {
                try printJSON(["model": m.name, "bits": bits, "group": g, "rom_bytes": chip.memory.romBytes,
                               "total_bytes": fit.totalBytes, "fits": fit.fits, "margin_bytes": fit.margin,
                               "classes": fit.rows.map { ["class": $0.tensorClass, "weights": $0.weights, "bytes": $0.bytes] }])
            } else { print(fit.report(), terminator: "") }
            return
        }
        let path = file ?? ModelLocator.defaultModelPath
        if let f = FileHandle(forReadingAtPath: path), let head = try? f.read(upToCount: 8), Array(head) == ROMImage.magic {
            try inspectImage(path)
            return
        }
        let g = try GGUFFile(path: path)
        switch printing.format {
        case .json:
            var meta: [String: Any] = [:]
            for k in g.metadataKeys { meta[k] = jsonValue(g.metadata[k]!, full: full) }
            let tensors: [[String: Any]] = g.tensors.map {
                ["name": $0.name, "type": $0.type.description, "shape": $0.shape, "bytes": $0.byteCount, "offset": $0.fileOffset]
            }
            try printJSON(["path": path, "version": Int(g.version), "alignment": g.alignment,
                           "metadata": meta, "tensors": tensors])
        case .text:
            print("GGUF v\(g.version)  \(path)")
            print("alignment \(g.alignment), data at offset \(g.dataOffset), \(g.tensors.count) tensors, \(g.metadata.count) metadata keys")
            print("\nmetadata:")
            for k in g.metadataKeys {
                let v = g.metadata[k]!
                var s = full ? fullDescription(v) : v.description
                if !full, s.count > 160 { s = String(s.prefix(157)) + "..." }
                print("  \(k) [\(v.typeName)] = \(s)")
            }
            print("\ntensors:")
            let w = max(8, g.tensors.map(\.name.count).max() ?? 8)
            print("  " + "name".padding(toLength: w, withPad: " ", startingAt: 0) + "  type   shape                bytes")
            var total = 0
            for t in g.tensors {
                total += t.byteCount
                let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
                print("  " + t.name.padding(toLength: w, withPad: " ", startingAt: 0) + "  "
                      + t.type.description.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                      + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + " " + String(t.byteCount))
            }
            print("  total tensor bytes: \(total)")
        }
    }

    private func inspectImage(_ path: String) throws {
        let img = try ROMImage(path: path)
        let h = img.header
        let summary = ROMImageSummary(img)
        if printing.json {
            var tuning: Any = NSNull()
            if let t = h.tuning {
                tuning = ["method": t.method, "parent_sha256": t.parentSHA256, "calibration_tokens": t.calibrationTokens,
                          "epochs": t.epochs, "steps": t.steps, "chunks_per_step": t.chunksPerStep, "learning_rate": t.learningRate,
                          "kl_first_epoch": t.klFirstEpoch, "kl_last_epoch": t.klLastEpoch]
            }
            try printJSON(["path": path, "sha256": img.checksumHex, "bytes": img.file.count, "model": h.model.name,
                           "bits": h.quantization.bits, "group": h.quantization.groupSize, "method": h.quantization.method, "tuning": tuning,
                           "bits_per_weight": img.bitsPerWeight, "file_bits_per_weight": img.fileBitsPerWeight,
                           "weights": h.tensors.reduce(0) { $0 + $1.rows * $1.cols },
                           "source": ["file": h.source.file, "sha256": h.source.sha256],
                           "units": h.units.count, "unit_bytes": summary.unitBytes(),
                           "tensors": h.tensors.map { ["name": $0.name, "kind": $0.kind.rawValue, "rows": $0.rows, "cols": $0.cols,
                                                       "bits": $0.bits, "group": $0.groupSize, "rom_bytes": img.romBytes($0),
                                                       "unit_row_start": $0.unitRowStart] }])
            return
        }
        print("ROMA ROM image v\(ROMImage.version)  \(path)")
        print("sha256 \(img.checksumHex) (verified), \(img.file.count) bytes, mapped read-only")
        print("model \(h.model.name): \(h.model.numLayers) layers, hidden \(h.model.hiddenSize), ffn \(h.model.intermediateSize), heads \(h.model.numHeads)/\(h.model.numKVHeads), vocab \(h.model.vocabSize)")
        print("base weights INT\(h.quantization.bits), group \(h.quantization.groupSize), FP16 scale + UInt\(h.quantization.bits) zero point; quantizer \(h.quantization.method)"
              + String(format: "; %.4f bits/weight in ROM (%.4f in this file, zero points byte-wide)", img.bitsPerWeight, img.fileBitsPerWeight))
        if let t = h.tuning {
            print(String(format: "tuned %@ from %@... on %d calibration tokens: %d steps, KL(float || image) %.4f -> %.4f per token",
                         t.method, String(t.parentSHA256.prefix(16)), t.calibrationTokens, t.steps, t.klFirstEpoch, t.klLastEpoch))
        }
        print("source \(h.source.file) sha256 \(h.source.sha256.prefix(16))...; tokenizer \(h.tokenizer.model)/\(h.tokenizer.pre), \(h.tokenizer.tokens.count) tokens")
        print("\ntensors:")
        print("  name                       kind       rows x cols      ROM bytes  rows per L-Unit")
        for t in h.tensors {
            let sizes = zip(t.unitRowStart.dropFirst(), t.unitRowStart).map { $0 - $1 }
            let per = t.kind == .norm ? "-" : "\(sizes.min()!)-\(sizes.max()!)"
            print("  " + t.name.padding(toLength: 26, withPad: " ", startingAt: 0) + " " + t.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + " " + "\(t.rows) x \(t.cols)".padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: "%10d  ", img.romBytes(t)) + per)
        }
        print("\n" + summary.unitFillReport())
        var target = ChipConfig.paper   // the image's ROM: its units x their ROM bytes
        target.memory.romBytes = Double(h.units.romBytesPerUnit * h.units.count)
        let fit = ROMFit(model: h.model, bits: h.quantization.bits, groupSize: h.quantization.groupSize, chip: target)
        print(fit.report(), terminator: "")
    }

    private func fullDescription(_ v: GGUFValue) -> String {
        if case .array(_, let a) = v { return "[" + a.map(fullDescription).joined(separator: ", ") + "]" }
        return v.description
    }

    private func jsonValue(_ v: GGUFValue, full: Bool) -> Any {
        switch v {
        case .string(let s): return s
        case .bool(let b): return b
        case .float32(let f): return Double(f)
        case .float64(let d): return d
        case .array(_, let a):
            if !full && a.count > 64 { return ["type": v.typeName, "count": a.count] as [String: Any] }
            return a.map { jsonValue($0, full: full) }
        default: return v.intValue ?? 0
        }
    }
}
