import Foundation

/// `roma rtl verify DIR`: checks every tile `roma rtl rom` wrote into DIR.
///
/// For each manifest `NAME.json` it reads `NAME.hex`, regenerates the *other* style from the same words
/// into `DIR/verify/` (module `NAME_as_<style>`), and then
/// 1. evaluates both Verilog texts word by word in Swift (`VerilogEvaluator`, needs no tools);
/// 2. runs both self-checking testbenches with Icarus Verilog (every address);
/// 3. for tiles up to `equivalenceMaxBits`, proves standard == B-ROM with yosys (miter + SAT);
/// 4. for tiles up to `cellsMaxBits`, reports yosys cell counts of both styles.
/// The whole result is also written to `DIR/verify/report.json`.
public enum RTLVerifier {
    public struct Options: Sendable {
        /// Largest D*W proved equivalent (the SAT proof of a 1024x128 tile takes about 30 s).
        public var equivalenceMaxBits = 1 << 17
        /// Largest D*W synthesized for cell counts.
        public var cellsMaxBits = 1 << 17
        public var flows: [Yosys.Flow] = [.generic, .structural]
        /// Only the Swift evaluator (no iverilog / yosys).
        public var swiftOnly = false
        public var timeout: Double = 600
        public init() {}
    }

    public struct StyleResult: Codable, Equatable, Sendable {
        public let module: String
        public let style: ROMStyle
        public let counts: ROMCounts
        /// Words the Swift evaluator of the Verilog text found correct (of `depth`).
        public let swiftWordsCorrect: Int
        public let simulation: Simulation.Result?
        /// Cell counts per flow ("generic", "structural").
        public let cells: [String: Yosys.Cells]
    }

    public struct TileResult: Codable, Equatable, Sendable {
        public let name: String
        public let depth: Int
        public let width: Int
        public let styles: [StyleResult] // standard first
        public let equivalence: Yosys.Equivalence?
        /// Why a step was skipped (tools missing, tile too large for the proof, ...).
        public let notes: [String]

        /// Every executed check passed (Swift words, simulations, proof).
        public var passed: Bool {
            styles.allSatisfy { $0.swiftWordsCorrect == depth && ($0.simulation?.passed ?? true) }
                && (equivalence?.proved ?? true)
        }
    }

    /// Verifies every tile in `directory`; `progress` gets one line per step.
    public static func verify(directory: URL, options: Options = Options(),
                              progress: (String) -> Void = { _ in }) throws -> [TileResult] {
        let manifests = try findManifests(directory)
        guard !manifests.isEmpty else {
            throw RTLError.io("\(directory.path): no tiles found (expected NAME.json manifests written by `roma rtl rom`)")
        }
        if !options.swiftOnly {
            try EDATools.require(["iverilog", "vvp", "yosys"])
        }
        let work = directory.appendingPathComponent("verify")
        var results: [TileResult] = []
        for (url, m) in manifests {
            results.append(try verifyTile(m, manifestURL: url, directory: directory, work: work, options: options, progress: progress))
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try enc.encode(results).write(to: work.appendingPathComponent("report.json"))
        return results
    }

    /// Tiles (`NAME.json` manifests of `roma rtl rom`) in `directory`.
    public static func tileCount(in directory: URL) throws -> Int { try findManifests(directory).count }

    static func findManifests(_ directory: URL) throws -> [(URL, RTLManifest)] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw RTLError.io("cannot read directory \(directory.path): \(error.localizedDescription)")
        }
        return try files.filter { $0.hasSuffix(".json") }.sorted().compactMap { f in
            let url = directory.appendingPathComponent(f)
            guard let data = FileManager.default.contents(atPath: url.path),
                  let m = try? JSONDecoder().decode(RTLManifest.self, from: data) else { return nil }
            guard f == "\(m.name).json" else {
                throw RTLError.manifest(path: url.path, reason: "names module \(m.name) but the file is not \(m.name).json")
            }
            return (url, m)
        }
    }

    static func verifyTile(_ m: RTLManifest, manifestURL: URL, directory: URL, work: URL, options: Options,
                           progress: (String) -> Void) throws -> TileResult {
        let g: ROMGeometry
        do { g = try m.geometry } catch { throw RTLError.manifest(path: manifestURL.path, reason: "\(error)") }
        let tile = try HexFileTileSource(url: directory.appendingPathComponent("\(m.name).hex")).tile(geometry: g)
        let other = m.counts.style.other
        let otherName = "\(m.name)_as_\(other.rawValue)"
        let generated = try GeneratedROM(tile: tile, style: other, name: otherName, cgen: m.cgen ?? .pairwise,
                                         source: "\(m.name).hex (counterpart generated by roma rtl verify)")
        try generated.write(to: work)

        // (module, style, directory) for both styles, standard first.
        var designs = [(m.name, m.counts.style, directory), (otherName, other, work)]
        if designs[0].1 != .standard { designs.reverse() }
        var notes: [String] = []
        var styles: [StyleResult] = []
        for (name, style, dir) in designs {
            let vURL = dir.appendingPathComponent("\(name).v")
            let text: String
            do { text = try String(contentsOf: vURL, encoding: .utf8) } catch {
                throw RTLError.io("cannot read \(vURL.path): \(error.localizedDescription)")
            }
            let ev = try VerilogEvaluator(verilog: text, top: name)
            guard ev.addressBits == g.addressBits, ev.dataBits == g.width else {
                throw RTLError.verificationFailed("\(vURL.path): ports are addr[\(ev.addressBits)] data[\(ev.dataBits)], manifest says \(g)")
            }
            let correct = (0..<g.depth).filter { ev.evaluate(address: $0) == tile.word($0) }.count
            progress("\(name) (\(style.rawValue) \(g)): Swift evaluator \(correct)/\(g.depth) words correct")
            let netlist = try ROMNetlist(tile: tile, style: style, cgen: m.cgen ?? .pairwise)
            var sim: Simulation.Result?
            var cells: [String: Yosys.Cells] = [:]
            if !options.swiftOnly {
                sim = try Simulation.run(directory: dir, name: name, work: work, timeout: options.timeout)
                progress("\(name): iverilog \(sim!.passed ? "PASS" : "FAIL") \(sim!.words - sim!.wrong)/\(sim!.words) words")
                if g.bits <= options.cellsMaxBits {
                    for flow in options.flows {
                        let c = try Yosys.cells(verilog: vURL, top: name, flow: flow, work: work, decoder: "\(name)_adec",
                                                timeout: options.timeout)
                        cells[flow.rawValue] = c
                        progress("\(name): yosys \(flow.rawValue) synthesis \(c.total) cells, decoder alone \(c.decoder!)"
                                 + " (\(String(format: "%.1f", c.seconds)) s)")
                    }
                } else {
                    notes.append("cell counts skipped for \(name): \(g.bits) bits > cells limit \(options.cellsMaxBits)")
                }
            }
            styles.append(StyleResult(module: name, style: style, counts: netlist.counts, swiftWordsCorrect: correct,
                                      simulation: sim, cells: cells))
        }
        var eq: Yosys.Equivalence?
        if options.swiftOnly {
            notes.append("simulation, equivalence and cell counts skipped (--swift-only)")
        } else if g.bits <= options.equivalenceMaxBits {
            let std = designs[0], brom = designs[1]
            eq = try Yosys.prove(gold: std.0, in: std.2.appendingPathComponent("\(std.0).v"),
                                 gate: brom.0, in: brom.2.appendingPathComponent("\(brom.0).v"), timeout: options.timeout)
            progress("\(m.name): yosys equivalence standard == brom \(eq!.proved ? "PROVED" : "FAILED") (\(String(format: "%.1f", eq!.seconds)) s)")
        } else {
            notes.append("equivalence proof skipped: \(g.bits) bits > limit \(options.equivalenceMaxBits) (--equiv-max-bits)")
        }
        return TileResult(name: m.name, depth: g.depth, width: g.width, styles: styles, equivalence: eq, notes: notes)
    }
}
