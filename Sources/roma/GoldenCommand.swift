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

    struct Stimulus { var a: [UInt16]; var w: [UInt8]; var z: Int; var s: UInt16 }

    func parse(_ line: String, line n: Int) throws -> Stimulus {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw GoldenError("line \(n): not a JSON object")
        }
        func ints(_ key: String) throws -> [Int] {
            guard let a = obj[key] as? [NSNumber] else { throw GoldenError("line \(n): '\(key)' must be an array of integers") }
            return a.map(\.intValue)
        }
        func int(_ key: String) throws -> Int {
            guard let v = obj[key] as? NSNumber else { throw GoldenError("line \(n): '\(key)' must be an integer") }
            return v.intValue
        }
        let bits = try int("bits")
        guard bits == 2 || bits == 4 else { throw GoldenError("line \(n): bits must be 2 or 4, got \(bits)") }
        let a = try ints("a"), w = try ints("w"), z = try int("z"), s = try int("s")
        guard !a.isEmpty, a.count == w.count else { throw GoldenError("line \(n): 'a' and 'w' must have the same, non-zero length (got \(a.count) and \(w.count))") }
        guard a.allSatisfy({ (0...0xFFFF).contains($0) }) else { throw GoldenError("line \(n): 'a' entries must be FP16 bit patterns 0...65535") }
        guard w.allSatisfy({ (0..<(1 << bits)).contains($0) }) else { throw GoldenError("line \(n): 'w' codes must be in 0..<\(1 << bits) for \(bits)-bit weights") }
        guard (0..<(1 << bits)).contains(z) else { throw GoldenError("line \(n): zero point \(z) out of range for \(bits) bits") }
        guard (0...0xFFFF).contains(s) else { throw GoldenError("line \(n): 's' must be an FP16 bit pattern 0...65535") }
        return Stimulus(a: a.map { UInt16($0) }, w: w.map { UInt8($0) }, z: z, s: UInt16(s))
    }
}

struct GoldenError: Error, CustomStringConvertible {
    let description: String
    init(_ m: String) { description = "golden: \(m)" }
}
