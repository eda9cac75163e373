import ArgumentParser
import Foundation
import ROMAChip

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `--format`: every command prints text for people or one JSON object for scripts.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: text or json (one JSON object on stdout).")
    var format: OutputFormat = .text
    var json: Bool { format == .json }
}

/// `--config`: the chip every chip-facing command describes, runs or simulates.
struct ChipOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "Chip configuration JSON (see `roma chip show --format json`); default: the paper's chip.")
    var path: String?
    /// The chip (validated; the paper's preset without --config).
    func chip() throws -> ChipConfig { try ChipConfig.load(path: path) }
}

/// Prints one JSON object on stdout (sorted keys).
func printJSON(_ obj: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Prints an `Encodable` result as pretty JSON on stdout (sorted keys).
func printJSON<T: Encodable>(encodable value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

func writeStdout(_ s: String) {
    FileHandle.standardOutput.write(Data(s.utf8))
}

func writeStderr(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
}
