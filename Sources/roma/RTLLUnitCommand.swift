import ArgumentParser
import Foundation
import ROMAChip
import ROMAModel
import ROMARTL

extension LUnitStorageStyle: ExpressibleByArgument {}

/// `roma rtl lunit`: one L-Unit slice (storage + alignment unit + compute cells + Eq. 1) as Verilog.
struct RTLLUnitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lunit",
        abstract: "Write one L-Unit slice (storage, alignment unit, compute cells, Eq. 1; Sec. III-B) as Verilog-2005 with a self-checking testbench.",
        discussion: """
        From an image: --image X.rom --unit ROW,COL stores the unit's first --rows rows of --tensor (default: the first quantized tensor on that unit), each row's first --groups groups (default all); the group size and code width are the image's. --prompt runs the text through the chip and applies the activations that product really received; --random adds edge-case vectors (denormals, zeros, spreads, inf/NaN, ties).

        From a file: --stimulus F with lines in the `roma golden lunit` input format; line i is stored at address i and its activations applied to it.

        Writes DIR/NAME.v, NAME_datapath.v, NAME_storage.v, NAME_tb.v, the .hex files, NAME_golden.jsonl and NAME.lunit.json (read by `roma rtl verify DIR`).
        """)

    @Option(help: "Compiled ROM image (roma compile); with --unit ROW,COL.")
    var image: String?
    @Option(help: "L-Unit of the image as ROW,COL (with --image).")
    var unit: String?
    @Option(help: "Weight tensor on that unit (with --image; default: the first quantized one it holds).")
    var tensor: String?
    @Option(help: "Rows of the tensor stored (with --image).")
    var rows: Int = 2
    @Option(help: "Groups of each row stored (with --image; default: all).")
    var groups: Int?
    @Option(help: "Text run through the chip; the activations its product received become vectors (with --image).")
    var prompt: String?
    @Option(help: "Lines in `roma golden lunit`'s input format, one stored group and its activations per line.")
    var stimulus: String?
    @Option(help: "Edge-case vectors added (default 256 with --image, 0 with --stimulus).")
    var random: Int?
    @Option(help: "Seed of the edge-case vectors.")
    var seed: UInt64 = 1
    @Option(help: "Storage: brom | standard | sram.")
    var style: LUnitStorageStyle = .brom
    @Option(help: "Verilog module name (also the file names).")
    var name: String = "lunit"
    @Option(help: "Output directory (created if needed).")
    var output: String
    @OptionGroup var chipOptions: ChipOptions
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let chip = try chipOptions.chip()
        let numerics = chip.numerics.datapath
        let slice: LUnitSlice
        switch (image, stimulus) {
        case let (path?, nil): slice = try imageSlice(path: path, chip: chip, numerics: numerics)
        case let (nil, file?): slice = try stimulusSlice(file: file, numerics: numerics)
        default: throw RTLError.badFlags("give exactly one of --image (with --unit ROW,COL) and --stimulus FILE")
        }
        let generated = try GeneratedLUnit(slice: slice)
        let files = try generated.write(to: URL(fileURLWithPath: output))
        let m = generated.manifest
        if printing.json { try printJSON(encodable: m); return }
        print("\(m.spec.name): \(m.spec.style.rawValue) storage \(m.spec.depth) groups x \(m.spec.wordBits) bits, G=\(m.spec.groupSize), "
              + "\(m.spec.bits)-bit codes, latency \(m.latency) cycles; \(m.vectors) vectors ("
              + m.origins.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        print("  source: \(m.source)")
        for f in files { print("  wrote \(f.path)") }
    }

    func imageSlice(path: String, chip: ChipConfig, numerics: DatapathNumerics) throws -> LUnitSlice {
        guard let unit else { throw RTLError.badFlags("--image needs --unit ROW,COL") }
        let array = RTLArrayConfig(chip: chip)
        let u = try ArrayUnit(parsing: unit)
        try array.validate(u)
        let index = array.lUnitIndex(u)
        let rom: ROMImage
        do { rom = try ROMImage(path: path) } catch { throw RTLError.io("\(path): \(error)") }
        guard let name = tensor ?? LUnitStimulus.defaultTensor(image: rom, unit: index) else {
            throw RTLError.badFlags("unit \(u) (L-Unit \(index)) holds no rows of any quantized tensor of \(path)")
        }
        let (words, taken, gpr) = try LUnitStimulus.words(image: rom, tensor: name, unit: index, rows: rows, groups: groups)
        let t = rom.tensor(name)!
        var vectors: [LUnitVector] = []
        if let prompt {
            let engine = try Engine.chip(imagePath: path, chip: chip)
            let tokens = engine.tokenizer.encode(prompt)
            writeStderr("capturing the input of \(name) on the chip backend (\(path)) for \(tokens.count) prompt tokens\n")
            // the stored rows are rows `taken` of the tensor; their products read the whole input row
            vectors = LUnitStimulus.vectors(activations: try engine.capture(tensor: name, tokens: tokens).inputs,
                                            rows: taken.count, groupsPerRow: gpr, groupSize: t.groupSize)
        }
        let edge = random ?? 256
        guard edge >= 0 else { throw RTLError.badFlags("--random must be >= 0") }
        vectors += LUnitStimulus.edgeCases(count: edge, groupSize: t.groupSize, addresses: words.count, seed: seed)
        let spec = try LUnitSliceSpec(name: self.name, groupSize: t.groupSize, bits: t.bits,
                                      depth: LUnitSliceSpec.depth(forGroups: words.count), style: style, numerics: numerics)
        return try LUnitSlice(spec: spec, words: words, vectors: vectors,
                              source: "\(path) \(name) rows \(taken.lowerBound)..<\(taken.upperBound) (L-Unit \(u), index \(index)), groups 0..<\(gpr)")
    }

    func stimulusSlice(file: String, numerics: DatapathNumerics) throws -> LUnitSlice {
        guard unit == nil, tensor == nil, prompt == nil, groups == nil else {
            throw RTLError.badFlags("--unit, --tensor, --groups and --prompt go with --image, not --stimulus")
        }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw RTLError.io("cannot read \(file): \(error.localizedDescription)") }
        let (words, vectors, bits) = try LUnitStimulus.golden(jsonl: text, file: file)
        let g = words[0].codes.count
        let edge = random ?? 0
        guard edge >= 0 else { throw RTLError.badFlags("--random must be >= 0") }
        let spec = try LUnitSliceSpec(name: name, groupSize: g, bits: bits, depth: LUnitSliceSpec.depth(forGroups: words.count),
                                      style: style, numerics: numerics)
        return try LUnitSlice(spec: spec, words: words,
                              vectors: vectors + LUnitStimulus.edgeCases(count: edge, groupSize: g, addresses: words.count, seed: seed),
                              source: file)
    }
}
