import ArgumentParser
import Foundation
import ROMAFormats
import ROMAModel

/// `roma inspect FILE`: metadata and tensor table of a GGUF file.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show the metadata and tensors of a GGUF model.")

    @Argument(help: "A GGUF file (default: the SmolLM2 model).")
    var file: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Print long arrays (vocabulary, merges) in full.")
    var full = false

    func run() throws {
        try runReportingErrors {
            let path = file ?? ModelLocator.defaultModelPath
            let g = try GGUFFile(path: path)
            switch format {
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
