import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMASim
import ROMATestSupport

/// The one forward pass over batches of sequences (each with its own cache, positions and adapters), the
/// KV cache that owns its position, and ChipConfig obeyed by the chip run, `roma sram` and the simulator.
final class ArchitectureTests: XCTestCase {
    func files() throws -> (gguf: String, rom: String) { try TinyChip.files(seed: 51) }

    func adapter(_ name: String, _ m: ModelConfig, seed: UInt64) -> LoRAAdapter {
        var rng = SplitMix(seed)
        var layers: [LoRATarget: LoRALayer] = [:]
        for l in 0..<m.numLayers {
            for k in [LinearKind.q, .v, .down] {
                let (o, i) = k.shape(in: m)
                layers[LoRATarget(layer: l, kind: k)] = LoRALayer(rank: 4, inDim: i, outDim: o,
                    a: (0..<(4 * i)).map { _ in rng.normal() * 0.2 }, b: (0..<(o * 4)).map { _ in rng.normal() * 0.2 }, scale: 0.5)
            }
        }
        return LoRAAdapter(name: name, layers: layers, source: "test")
    }

    /// Three sequences at different positions, two with different adapters, one pass: each sequence's
    /// logits and KV cache are what it gets alone, bit for bit, on both backends (batch invariance).
    func testBatchOfSequencesEqualsEachAlone() throws {
        let f = try files()
        let backends: [Backend] = [try ChipBackend.load(imagePath: f.rom), try ReferenceBackend(gguf: GGUFFile(path: f.gguf))]
        for backend in backends {
            let model = LlamaModel(backend: backend)
            let m = backend.config
            let x = try backend.makeResident(adapter("x", m, seed: 3)), y = try backend.makeResident(adapter("y", m, seed: 4))
            let selections = [AdapterSelection([(x, 1)]), AdapterSelection(), AdapterSelection([(y, 2), (x, 0.5)])]
            let histories = [[5, 9, 2], [], [7, 7, 7, 1, 3]]
            let fresh = [[11, 4], [2, 8, 6, 10, 3, 1], [12]]
            func prepared() throws -> [KVCache] {
                try histories.indices.map { i in
                    let c = try backend.makeKVCache(capacity: 16)
                    if !histories[i].isEmpty { _ = model.forward(histories[i], cache: c, adapters: selections[i]) }
                    return c
                }
            }
            let alone = try prepared()
            let expected = fresh.indices.map { model.forward(fresh[$0], cache: alone[$0], adapters: selections[$0], logitRows: 0..<fresh[$0].count) }
            let together = try prepared()
            let batch = Batch(fresh.indices.map { BatchSequence(tokens: fresh[$0], cache: together[$0], adapters: selections[$0], logitRows: 0..<fresh[$0].count) })
            XCTAssertEqual(batch.positions, [3, 4, 0, 1, 2, 3, 4, 5, 5])
            let got = model.forward(batch)
            for i in fresh.indices {
                XCTAssertEqual(together[i].count, histories[i].count + fresh[i].count, "the cache advanced itself")
                XCTAssertEqual(got[i].array, expected[i].array, "\(backend.name) sequence \(i)")
            }
        }
    }

    /// Each layer appends and advances on its own; the cache's position moves once the last layer has.
    func testKVCacheOwnsItsPosition() {
        let c = KVCache(layers: 3, kvDim: 2, capacity: 4)
        let k = Matrix(rows: 2, cols: 2, values: [1, 2, 3, 4]), v = Matrix(rows: 2, cols: 2, values: [5, 6, 7, 8])
        XCTAssertEqual(c.append(layer: 0, k: k, v: v, rows: 0..<2), 0)
        XCTAssertEqual(c.count, 0, "not every layer has the tokens yet")
        c.append(layer: 1, k: k, v: v, rows: 0..<2)
        c.append(layer: 2, k: k, v: v, rows: 1..<2)
        XCTAssertEqual([c.count(layer: 0), c.count(layer: 1), c.count(layer: 2)], [2, 2, 1])
        XCTAssertEqual(c.count, 1)
        XCTAssertEqual(c.keys(layer: 2)[0], 3)
        XCTAssertEqual(c.values(layer: 2)[1], 8)
        c.truncate(to: 1)
        XCTAssertEqual([c.count(layer: 0), c.count(layer: 1), c.count(layer: 2)], [1, 1, 1])
        XCTAssertEqual(c.remaining, 3)
    }

    /// A chip.json with an FP8 KV cache changes the chip run (the cache is stored in FP8, the SRAM
    /// charge halves), `roma sram`'s accounting and the simulator's by the same bytes.
    func testFP8KVCacheChangesChipRunSRAMPlanAndSimulatorAlike() throws {
        let f = try files()
        var fp8 = ChipConfig.paper
        fp8.numerics.kvCacheFormat = .fp8e4m3
        let chip16 = try ChipBackend.load(imagePath: f.rom), chip8 = try ChipBackend.load(imagePath: f.rom, chip: fp8)
        let m = chip16.config
        XCTAssertEqual(SRAMAccounting.kvBytesPerToken(m, chip: fp8) * 2, SRAMAccounting.kvBytesPerToken(m, chip: .paper))
        XCTAssertEqual(SRAMPlan(chip: fp8, model: m).kvBytesPerToken, SRAMAccounting.kvBytesPerToken(m, chip: fp8))
        let sim = SimCapacity(chip: fp8, workload: SimWorkload(model: m, weightBits: 4))
        XCTAssertEqual(sim.kvBytesPerToken(.plain), Double(SRAMAccounting.kvBytesPerToken(m, chip: fp8)))
        let c8 = try chip8.makeKVCache(capacity: 10)
        XCTAssertEqual(chip8.hUnitSRAM.used, 10 * SRAMAccounting.kvBytesPerToken(m, chip: fp8))
        let tokens = [3, 1, 4, 1, 5, 9, 2, 6]
        let l8 = LlamaModel(backend: chip8).forward(tokens, cache: c8, logitRows: 0..<8)
        let l16 = LlamaModel(backend: chip16).forward(tokens, cache: try chip16.makeKVCache(capacity: 10), logitRows: 0..<8)
        XCTAssertNotEqual(l8.array, l16.array, "FP8 storage rounds the cache")
        XCTAssertEqual(l8.row(0)[0], l16.row(0)[0], accuracy: 0.25 * max(1, abs(l16.row(0)[0])))
        // every stored value is an FP8 E4M3 value
        for i in 0..<(8 * m.kvDim) {
            let k = c8.keys(layer: 1)[i]
            XCTAssertEqual(FP8E4M3.toFloat(FP8E4M3.fromFloat(k)), k)
        }
    }

    /// Numerics the functional model lacks are refused with one message by every reader of the config:
    /// the chip backend, `roma sram`'s plan and the simulator all decode it through `ChipConfig`.
    func testUnimplementedNumericsAreRefusedWithOneMessage() throws {
        for (key, value, message) in [
            ("kvCacheFormat", "int8", "chip config: numerics.kvCacheFormat int8 is not implemented by the functional model (supported: fp16, bf16, fp8e4m3, fp32)"),
            ("activationFormat", "bf16", "chip config: numerics.activationFormat bf16 is not implemented by the functional model (supported: fp16)"),
        ] {
            var json = try JSONSerialization.jsonObject(with: try ChipConfig.paper.jsonData()) as! [String: Any]
            var numerics = json["numerics"] as! [String: Any]
            numerics[key] = value
            json["numerics"] = numerics
            let data = try JSONSerialization.data(withJSONObject: json)
            XCTAssertThrowsError(try ChipConfig.decode(json: data)) { XCTAssertEqual("\($0)", message) }
            var direct = ChipConfig.paper
            if key == "kvCacheFormat" { direct.numerics.kvCacheFormat = .int8 } else { direct.numerics.activationFormat = .bf16 }
            XCTAssertThrowsError(try ChipBackend.load(imagePath: try files().rom, chip: direct)) { XCTAssertEqual("\($0)", message) }
        }
    }

    /// An image whose bit width the chip's L-Units do not take, or larger than its ROM, is refused at load.
    func testChipRefusesImagesItCannotHold() throws {
        var only2 = ChipConfig.paper
        only2.numerics.baseWeightBitsSupported = [2]
        XCTAssertThrowsError(try ChipBackend.load(imagePath: try files().rom, chip: only2)) {
            XCTAssertTrue("\($0)".contains("4-bit weights; chip 'roma-paper' supports 2-bit (numerics.baseWeightBitsSupported)"), "\($0)")
        }
        var tiny = ChipConfig.paper
        tiny.memory.romBytes = 1000
        XCTAssertThrowsError(try ChipBackend.load(imagePath: try files().rom, chip: tiny)) {
            XCTAssertTrue("\($0)".contains("more than chip 'roma-paper''s ROM"), "\($0)")
        }
        // the compiler takes its bit widths and default group from the chip
        XCTAssertThrowsError(try ROMCompiler(bits: 4, chip: only2).compile(gguf: GGUFFile(path: try files().gguf), output: TempFiles.path("x.rom"))) {
            XCTAssertTrue("\($0)".hasPrefix("bits must be one of 2 (chip 'roma-paper' supports 2;"), "\($0)")
        }
        var g32 = ChipConfig.paper
        g32.numerics.quantGroupSize = 32
        XCTAssertEqual(try ROMCompiler.resolveGroupSize(nil, model: .smollm2_135M, chip: g32), 32)
        XCTAssertEqual(try ROMCompiler.resolveGroupSize(nil, model: .smollm2_135M), 64)
    }

    /// Library errors carry stable codes (the CLI's hints and a server's statuses key on them).
    func testErrorsCarryCodes() throws {
        XCTAssertEqual(MemoryBudgetError(memory: "SRAM", label: "x", requested: 2, free: 1, capacity: 1).code, .overBudget)
        XCTAssertEqual(EngineError.contextOverflow(needed: 9, limit: 8).code, .contextOverflow)
        XCTAssertEqual(AdapterError.unknownAdapter("a", known: []).code, .notFound)
        XCTAssertEqual(AdapterError.conflict("in use").code, .conflict)
        XCTAssertThrowsError(try ROMImage(path: "/nonexistent.rom")) { XCTAssertNotNil($0 as? ROMAError) }
    }
}
