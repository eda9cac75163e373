import Foundation

/// `roma rtl verify DIR` on the L-Unit slices `roma rtl lunit` wrote (each `NAME.lunit.json`):
/// 1. reads the slice back (storage words, stimulus, origins) and recomputes every golden result;
/// 2. runs the slice's testbench in Icarus Verilog and Verilator and compares every output bit the
///    *simulated RTL* wrote with the golden model, and the two simulators' outputs with each other;
/// 3. regenerates the slice in the other storage styles (`DIR/verify/NAME_as_<style>`), simulates
///    each whole unit in Icarus against the same golden results;
/// 4. proves with yosys that the standard-ROM and B-ROM storage compute the same words;
/// 5. optionally counts every block of every style (`LUnitCounts`).
/// The result is also written to `DIR/verify/NAME.lunit-report.json`.
public enum LUnitVerifier {
    /// Reads the slice of manifest `m` from `directory`, regenerates its other styles into
    /// `directory/verify` and counts every block (`roma rtl report --lunit`).
    public static func counts(directory: URL, manifest m: LUnitManifest, flows: [Yosys.Flow] = [.generic, .structural],
                              timeout: Double = 1800, progress: (String) -> Void = { _ in }) throws -> LUnitCounts {
        try EDATools.require(["yosys"])
        let slice = try LUnitSlice.read(directory: directory, manifest: m)
        let work = directory.appendingPathComponent("verify")
        _ = try slice.otherStyles(writtenTo: work)
        return try LUnitCounts.measure(slice: slice, directory: directory, work: work, flows: flows, timeout: timeout, progress: progress)
    }

    public struct Options: Sendable {
        /// Run Verilator too (when installed; otherwise a note says it was skipped).
        public var verilator = true
        public var equivalence = true
        public var counts = false
        public var timeout: Double = 1800
        public init() {}
    }

    /// One simulation of one style of the slice.
    public struct Run: Codable, Equatable, Sendable {
        public let simulator: String
        public let style: LUnitStorageStyle
        public let module: String
        /// The testbench's own verdict against `NAME_expected.hex`.
        public let testbenchPassed: Bool
        /// Outputs that differ from the recomputed golden model (NaN equals NaN).
        public let mismatches: Int
        public let seconds: Double
    }

    public struct Result: Codable, Equatable, Sendable {
        public let name: String
        public let spec: LUnitSliceSpec
        public let vectors: Int
        public let origins: [String: Int]
        /// Golden mismatches per origin, summed over every run.
        public let mismatchesByOrigin: [String: Int]
        public let runs: [Run]
        /// Icarus and Verilator wrote identical outputs for the slice (nil: Verilator not run).
        public let simulatorsAgree: Bool?
        /// What the simulated RTL (the slice's own style, Icarus) produced for each vector, in order.
        public let outputs: [LUnitOutput]
        public let equivalence: Yosys.Equivalence?
        public let counts: LUnitCounts?
        public let notes: [String]
        public let seconds: Double

        public var passed: Bool {
            runs.allSatisfy { $0.testbenchPassed && $0.mismatches == 0 } && simulatorsAgree != false
                && (equivalence?.proved ?? true) && outputs.count == vectors
        }

        /// The verdict, mismatches by origin, notes and counts as `roma rtl verify` prints them.
        public var summary: String {
            let wrong = runs.reduce(0) { $0 + $1.mismatches }
            var s = "\(name) (\(spec.style.rawValue), G=\(spec.groupSize), \(spec.bits)-bit): \(passed ? "OK" : "FAILED") — "
                + "\(vectors) vectors x \(runs.count) runs, \(wrong) mismatches"
                + (simulatorsAgree.map { $0 ? ", Icarus and Verilator outputs identical" : ", Icarus and Verilator DIFFER" } ?? "")
                + (equivalence.map { $0.proved ? ", standard == brom storage proved" : ", standard != brom storage" } ?? "")
                + String(format: " (%.1f s)\n", seconds)
            if !mismatchesByOrigin.isEmpty {
                s += "  mismatches by origin: " + mismatchesByOrigin.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            }
            for n in notes { s += "  note: \(n)\n" }
            for flow in counts?.flows ?? [] {
                let c = counts!
                s += "  yosys \(flow) transistors: storage " + c.storage.map { "\($0.style.rawValue) \($0.transistors[flow] ?? 0)" }.joined(separator: ", ")
                    + "; datapath " + LUnitCounts.Block.allCases.compactMap { b in c.datapath[flow]?[b.rawValue].map { "\(b.rawValue) \($0)" } }.joined(separator: ", ") + "\n"
            }
            return s
        }
    }

    /// The manifests `NAME.lunit.json` in `directory`.
    public static func manifests(in directory: URL) throws -> [LUnitManifest] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw RTLError.io("cannot read directory \(directory.path): \(error.localizedDescription)")
        }
        return try files.filter { $0.hasSuffix(".lunit.json") }.sorted().map { f in
            let url = directory.appendingPathComponent(f)
            let m: LUnitManifest
            do { m = try JSONDecoder().decode(LUnitManifest.self, from: try Data(contentsOf: url)) } catch {
                throw RTLError.manifest(path: url.path, reason: "not an L-Unit manifest (\(error))")
            }
            // the decoded spec has not been through the checks of LUnitSliceSpec.init: run them
            do {
                _ = try LUnitSliceSpec(name: m.spec.name, groupSize: m.spec.groupSize, bits: m.spec.bits, depth: m.spec.depth,
                                       style: m.spec.style, numerics: m.spec.numerics)
            } catch { throw RTLError.manifest(path: url.path, reason: "\(error)") }
            guard f == "\(m.spec.name).lunit.json" else {
                throw RTLError.manifest(path: url.path, reason: "names slice \(m.spec.name) but the file is not \(m.spec.name).lunit.json")
            }
            return m
        }
    }

    public static func verify(directory: URL, manifest m: LUnitManifest, options: Options = Options(),
                              progress: (String) -> Void = { _ in }) throws -> Result {
        try EDATools.require(["iverilog", "vvp", "yosys"])
        let start = Date()
        let slice = try LUnitSlice.read(directory: directory, manifest: m)
        let golden = slice.expected.map(LUnitOutput.init)
        let spec = slice.spec, n = spec.name
        let work = directory.appendingPathComponent("verify")
        var runs: [Run] = [], notes: [String] = [], byOrigin: [String: Int] = [:]

        func check(_ r: LUnitSimulation.Result, style: LUnitStorageStyle, module: String) -> Run {
            var wrong = abs(r.outputs.count - golden.count)
            for (i, (o, g)) in zip(r.outputs, golden).enumerated() where !o.matches(g) {
                wrong += 1
                byOrigin[slice.vectors[i].origin, default: 0] += 1
            }
            progress("\(module) (\(style.rawValue)): \(r.simulator) \(r.passed ? "PASS" : "FAIL"), \(golden.count - wrong)/\(golden.count) vectors bit-exact"
                     + " (\(String(format: "%.1f", r.seconds)) s)")
            return Run(simulator: r.simulator, style: style, module: module, testbenchPassed: r.passed, mismatches: wrong, seconds: r.seconds)
        }

        let icarus = try LUnitSimulation.icarus(directory: directory, name: n, timeout: options.timeout)
        runs.append(check(icarus, style: spec.style, module: n))
        var agree: Bool?
        if !options.verilator {
            notes.append("Verilator not run (--no-verilator)")
        } else if EDATools.locate("verilator") == nil {
            notes.append("Verilator not installed (scripts/install-eda.sh): Icarus only")
        } else {
            let v = try LUnitSimulation.verilator(directory: directory, name: n, timeout: options.timeout)
            runs.append(check(v, style: spec.style, module: n))
            agree = v.outputs == icarus.outputs
        }

        for copy in try slice.otherStyles(writtenTo: work) {
            runs.append(check(try LUnitSimulation.icarus(directory: work, name: copy.spec.name, timeout: options.timeout),
                              style: copy.spec.style, module: copy.spec.name))
        }

        var eq: Yosys.Equivalence?
        if options.equivalence {
            func storage(_ style: LUnitStorageStyle) -> (String, URL) {
                let module = style == spec.style ? n : "\(n)_as_\(style.rawValue)"
                return ("\(module)_storage", (style == spec.style ? directory : work).appendingPathComponent("\(module)_storage.v"))
            }
            let (std, brom) = (storage(.standard), storage(.brom))
            eq = try Yosys.prove(gold: std.0, in: std.1, gate: brom.0, in: brom.1, timeout: options.timeout)
            progress("\(n): yosys equivalence standard == brom storage \(eq!.proved ? "PROVED" : "FAILED") (\(String(format: "%.1f", eq!.seconds)) s)")
        } else {
            notes.append("storage equivalence not proved (--no-equivalence)")
        }
        let counts = options.counts
            ? try LUnitCounts.measure(slice: slice, directory: directory, work: work, timeout: options.timeout, progress: progress)
            : nil
        let result = Result(name: n, spec: spec, vectors: slice.vectors.count, origins: m.origins, mismatchesByOrigin: byOrigin,
                            runs: runs, simulatorsAgree: agree, outputs: icarus.outputs, equivalence: eq, counts: counts,
                            notes: notes, seconds: Date().timeIntervalSince(start))
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try enc.encode(result).write(to: work.appendingPathComponent("\(n).lunit-report.json"))
        return result
    }
}

extension LUnitSlice {
    /// The same words and vectors in each other storage style, module `NAME_as_<style>`, written to `work`.
    func otherStyles(writtenTo work: URL) throws -> [LUnitSlice] {
        try LUnitStorageStyle.allCases.filter { $0 != spec.style }.map { style in
            var other = spec
            other.name = "\(spec.name)_as_\(style.rawValue)"
            other.style = style
            let copy = try LUnitSlice(spec: other, words: words, vectors: vectors, source: "\(spec.name) (as \(style.rawValue), roma rtl verify)")
            try GeneratedLUnit(slice: copy).write(to: work)
            return copy
        }
    }
}
