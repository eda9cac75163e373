import ArgumentParser
import ROMAChip
import ROMALlama
import Foundation
import ROMARTL
import ROMASim

/// `roma rtl ...` — standard ROM and B-ROM Verilog generation (owned by the RTL work).
struct RTLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtl", abstract: "Generate and verify ROM / B-ROM Verilog.",
        subcommands: [RTLRomCommand.self, RTLLUnitCommand.self, RTLVerifyCommand.self, RTLReportCommand.self])
}

extension ROMStyle: ExpressibleByArgument {}
extension CGenStructure: ExpressibleByArgument {}


struct RTLRomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rom",
        abstract: "Write a ROM tile as structural Verilog (standard ROM or B-ROM, Sec. III-C) with a testbench.",
        discussion: """
        Writes DIR/NAME.v (combinational module NAME(input [log2(D)-1:0] addr, output [W-1:0] data)),
        DIR/NAME_tb.v (self-checking testbench), DIR/NAME.hex and DIR/NAME.json (counts; read by `rtl verify`).
        --data-hex: one word per line, exactly ceil(W/4) hex digits, address 0 first, D lines.
        """)

    @Option(name: .customLong("data-hex"), help: "Hex file: one word per line, address 0 first.")
    var dataHex: String?
    @Option(help: "Compiled ROM image (roma compile); with --unit ROW,COL and --offset WORDS.")
    var image: String?
    @Option(help: "L-Unit of the image as ROW,COL (with --image).")
    var unit: String?
    @Option(help: "First word of the tile within the unit's ROM (with --image).")
    var offset: Int?
    @Option(help: "Words (a power of two; a multiple of 4 for brom).")
    var depth: Int
    @Option(help: "Bits per word (1...1024).")
    var width: Int
    @Option(help: "standard | brom")
    var style: ROMStyle
    @Option(help: "CGen structure for brom: pairwise (NUM_CGEN 22) | flat (28).")
    var cgen: CGenStructure = .pairwise
    @Option(help: "Verilog module name (also the file name).")
    var name: String
    @Option(help: "Output directory (created if needed).")
    var output: String
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let geometry = try ROMGeometry(depth: depth, width: width, style: style)
        try RTLManifest.validate(name: name)
        let source = try makeTileSource(dataHex: dataHex, image: image, unit: unit, offset: offset)
        let tile = try source.tile(geometry: geometry)
        let rom = try GeneratedROM(tile: tile, style: style, name: name, cgen: cgen, source: source.origin)
        let files = try rom.write(to: URL(fileURLWithPath: output))
        switch printing.format {
        case .json: print(String(decoding: try rom.manifest.json(), as: UTF8.self))
        case .text:
            let c = rom.manifest.counts
            print("\(name): \(style.rawValue) \(geometry), transistors \(c.transistors)"
                  + (style == .brom ? " = D/4*(W+NUM_CGEN), NUM_CGEN \(c.numCGen)" : " = D*W")
                  + ", connections \(c.connections), transistors present \(c.transistorsPresent)")
            for f in files { print("  wrote \(f.path)") }
        }
    }
}

struct RTLVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Simulate every tile and L-Unit slice in DIR, compare with the golden model, prove standard == B-ROM (yosys SAT) and count cells.",
        discussion: """
        Tiles (`roma rtl rom`): Swift evaluator and Icarus on every address, yosys proof, cell counts.

        L-Unit slices (`roma rtl lunit`): Icarus and Verilator on every vector, each output bit compared with the golden model (recomputed from the slice's words and stimulus); the other two storage styles regenerated and simulated; yosys proof that standard and B-ROM storage are equivalent; --counts adds per-block transistor counts of all three styles. With --format json: one object whose `vectors` array holds what the simulated RTL produced for each stimulus line, in order, in `roma golden lunit`'s output format.

        Needs iverilog and yosys, and verilator for slices (scripts/install-eda.sh). Writes DIR/verify/.
        """)

    @Argument(help: "Directory written by `roma rtl rom` or `roma rtl lunit`.")
    var directory: String
    @Option(name: .customLong("equiv-max-bits"), help: "Largest D*W proved equivalent.")
    var equivMaxBits: Int = 1 << 17
    @Option(name: .customLong("cells-max-bits"), help: "Largest D*W synthesized for cell counts (0: none).")
    var cellsMaxBits: Int = 1 << 17
    @Flag(name: .customLong("swift-only"), help: "Only the built-in Swift evaluator of the Verilog (no tools).")
    var swiftOnly = false
    @Flag(help: "L-Unit slices: also synthesize every block of every storage style with yosys (minutes at G=128).")
    var counts = false
    @Flag(name: .customLong("no-verilator"), help: "L-Unit slices: Icarus only.")
    var noVerilator = false
    @Option(help: "Per-tool timeout in seconds.")
    var timeout: Double = 600
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let dir = URL(fileURLWithPath: directory)
        let slices = try LUnitVerifier.manifests(in: dir)
        let tiles = try RTLVerifier.tileCount(in: dir)
        guard !slices.isEmpty || tiles > 0 else {
            throw RTLError.io("\(dir.path): nothing to verify (expected NAME.json tiles from `roma rtl rom` or NAME.lunit.json slices from `roma rtl lunit`)")
        }
        var failed = false
        var json: [String: Any] = [:]
        if !slices.isEmpty {
            var o = LUnitVerifier.Options()
            o.verilator = !noVerilator; o.counts = counts; o.timeout = timeout
            let quiet = printing.json
            let results = try slices.map { m in
                try LUnitVerifier.verify(directory: dir, manifest: m, options: o) { line in if !quiet { print(line) } }
            }
            failed = results.contains { !$0.passed }
            if printing.json {
                json["slices"] = try results.map(sliceJSON)
                json["vectors"] = results.flatMap { $0.outputs.map(goldenVector) }
            } else {
                for r in results { print(r.summary, terminator: "") }
            }
            if tiles == 0 {
                if printing.json { json["passed"] = !failed; try printJSON(json) }
                if failed { throw ExitCode.failure }
                return
            }
        }
        try verifyTiles(json: json, failed: failed)
    }

    /// One output as `roma golden lunit` prints it: {"max_exp","vsum","dot","res"} (res null for NaN).
    func goldenVector(_ o: LUnitOutput) -> [String: Any] {
        ["max_exp": o.maxExp, "vsum": Int(o.vsum), "dot": Int(o.dot), "res": o.res.isNaN ? NSNull() : Double(o.res) as Any]
    }

    func sliceJSON(_ r: LUnitVerifier.Result) throws -> Any {
        let enc = JSONEncoder()
        var obj = try JSONSerialization.jsonObject(with: try enc.encode(r)) as! [String: Any]
        obj["outputs"] = nil   // given once, in the golden format, as the top-level `vectors`
        obj["passed"] = r.passed
        return obj
    }

    func verifyTiles(json: [String: Any], failed: Bool) throws {
        var o = RTLVerifier.Options()
        o.equivalenceMaxBits = equivMaxBits
        o.cellsMaxBits = cellsMaxBits
        o.swiftOnly = swiftOnly
        o.timeout = timeout
        let quiet = printing.json
        let results = try RTLVerifier.verify(directory: URL(fileURLWithPath: directory), options: o) { line in
            if !quiet { print(line) }
        }
        if printing.json && json.isEmpty {
            try printJSON(encodable: results)   // a directory of tiles only: the array of tile results
        } else if printing.json {
            var json = json
            let data = try JSONEncoder().encode(results)
            json["tiles"] = try JSONSerialization.jsonObject(with: data)
            json["passed"] = !failed && !results.contains { !$0.passed }
            try printJSON(json)
        } else {
            for r in results {
                print("\(r.name) \(r.depth)x\(r.width): \(r.passed ? "OK" : "FAILED")")
                for n in r.notes { print("  note: \(n)") }
                let cells = r.styles.map { s in
                    s.cells.keys.sorted().map { k in
                        let c = s.cells[k]!
                        // The decoder is only separable in the structural flow (generic synthesis merges it).
                        return "\(k) \(c.total)" + (k == "structural" ? c.array.map { " (array \($0))" } ?? "" : "")
                    }.joined(separator: ", ")
                }
                if r.styles.count == 2, !cells[0].isEmpty {
                    print("  yosys cells: standard [\(cells[0])]  brom [\(cells[1])]")
                }
            }
        }
        if failed || results.contains(where: { !$0.passed }) { throw ExitCode.failure }
    }
}

struct RTLReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Transistor and cell counts scaled from one tile to an L-Unit and the chip; B-ROM saving vs the paper.")

    @Option(help: "Tile depth.")
    var depth: Int = 1024
    @Option(help: "Tile width.")
    var width: Int = 128
    @Option(help: "CGen structure: pairwise | flat.")
    var cgen: CGenStructure = .pairwise
    @Flag(help: "Synthesize a random tile of both styles with yosys for cell counts (minutes for 1024x128).")
    var synthesize = false
    @Option(help: "yosys flow for --synthesize: generic | structural.")
    var flow: String = "generic"
    @OptionGroup var chipOptions: ChipOptions
    @Option(help: "Compiled ROM image (roma compile); with --unit ROW,COL and --offset WORDS.")
    var image: String?
    @Option(help: "Directory for the synthesized tiles.")
    var work: String = ".build/rtl-report"
    @Option(help: "L-Unit slices written by `roma rtl lunit`: count every block of the three storage styles and scale them to the chip beside Fig. 12.")
    var lunit: String?
    @OptionGroup var printing: OutputOptions

    func run() throws {
        guard let f = Yosys.Flow(rawValue: flow) else {
            throw RTLError.io("invalid --flow '\(flow)': use generic or structural")
        }
        if let lunit { return try lunitReport(URL(fileURLWithPath: lunit), flow: f) }
        var array = RTLArrayConfig(chip: try chipOptions.chip())
        if let image {
            // scale to what this image stores instead of the chip's full ROM
            let rom: ROMImage
            do { rom = try ROMImage(path: image) } catch { throw RTLError.io("\(error)") }
            array.romBytes = Double(rom.quantizedContentBytes)
        }
        let g = try ROMGeometry(depth: depth, width: width, style: .brom)
        let figures = synthesize
            ? try ROMAreaFigures.measured(tile: g, cgen: cgen, array: array, flow: f, work: URL(fileURLWithPath: work))
            : ROMAreaFigures(tile: g, cgen: cgen, array: array)
        if printing.json { try printJSON(encodable: figures) } else { print(figures.text, terminator: "") }
    }
}

extension RTLReportCommand {
    /// `--lunit DIR`: per-block yosys counts of each slice in DIR, scaled to an L-Unit and the chip, beside
    /// `roma sim area`'s Fig. 12 areas for the same chip.
    func lunitReport(_ dir: URL, flow f: Yosys.Flow) throws {
        let chip = try chipOptions.chip()
        let manifests = try LUnitVerifier.manifests(in: dir)
        guard !manifests.isEmpty else { throw RTLError.io("\(dir.path): no L-Unit slices (NAME.lunit.json, written by `roma rtl lunit`)") }
        let area = SimArea(chip: chip)
        let sim = Dictionary(uniqueKeysWithValues: LUnitAreaFigures.designNames.map { _, name in
            (name, LUnitDesign(rawValue: name).map { area.lUnitMm2($0) } ?? .nan)
        })
        let quiet = printing.json
        let figures = try manifests.map { m in
            let c = try LUnitVerifier.counts(directory: dir, manifest: m, flows: [f], timeout: 3600) { line in if !quiet { writeStderr(line + "\n") } }
            return try LUnitAreaFigures(counts: c, chip: chip, flow: f.rawValue, simAreaMm2: sim)
        }
        if printing.json { try printJSON(encodable: figures) } else {
            for (m, fig) in zip(manifests, figures) { print("\(m.spec.name): " + fig.text) }
        }
    }
}
