import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama

/// `roma golden ...`: golden models for RTL verification.
struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "golden", abstract: "Golden models for RTL verification.",
                                                    subcommands: [GoldenLUnitCommand.self])
}

/// `roma golden lunit --input stim.jsonl`: one L-Unit group per line, Sec. III-B / Eq. 1.
struct GoldenLUnitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lunit",
        abstract: "Evaluate L-Unit groups: {\"a\",\"w\",\"z\",\"s\",\"bits\"} per line -> {\"max_exp\",\"vsum\",\"dot\",\"res\"}.")

    @Option(help: "JSONL stimulus file ('-' for stdin).")
    var input: String
    @Option(help: "Alignment shift rounding: truncate, floor or nearestEven.")
    var shiftRounding: String = DatapathNumerics.paper.shiftRounding.rawValue
    @Option(help: "Eq. 1 Bias.")
    var bias: Int = DatapathNumerics.paper.bias

    func run() throws {
        guard let mode = DatapathNumerics.ShiftRounding(rawValue: shiftRounding) else {
            throw ValidationError("--shift-rounding must be one of \(DatapathNumerics.ShiftRounding.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let numerics = DatapathNumerics(shiftRounding: mode, bias: bias)
        let data: Data
        if input == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else {
            guard let d = FileManager.default.contents(atPath: input) else { throw GoldenError("cannot read '\(input)'") }
            data = d
        }
        var out = ""
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let stim = try parse(trimmed, line: i + 1)
            let r = LUnit.group(a: stim.a, w: stim.w, z: stim.z, scaleBits: stim.s, numerics: numerics)
            let res = r.res.isNaN ? "null" : "\(Double(r.res))"
            out += "{\"max_exp\":\(r.maxExp),\"vsum\":\(r.vsum),\"dot\":\(r.dot),\"res\":\(res)}\n"
        }
        writeStdout(out)
    }

    func parse(_ line: String, line n: Int) throws -> LUnit.StimulusLine {
        do { return try LUnit.StimulusLine(json: line) } catch { throw GoldenError("line \(n): \(error)") }
    }
}

struct GoldenError: Error, CustomStringConvertible {
    let description: String
    init(_ m: String) { description = "golden: \(m)" }
}
