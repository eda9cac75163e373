import XCTest
import Synchronization
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATestSupport

/// Adapters on the chip: one SRAM budget with the KV cache, LRU eviction, pinning, refusal before work,
/// per-request selection, the ROM untouched; recovery adapters and the truncated SVD behind them.
final class AdapterRuntimeTests: XCTestCase {
    nonisolated(unsafe) static var rom: String?
    func romPath(bits: Int = 4) throws -> String {
        if bits == 4, let r = AdapterRuntimeTests.rom { return r }
        let p = TempFiles.path("adapter-\(bits)-\(UUID().uuidString).rom")
        _ = try ROMCompiler(bits: bits).compile(gguf: GGUFFile(path: Fixtures.tinyGGUF()), output: p)
        if bits == 4 { AdapterRuntimeTests.rom = p }
        return p
    }

    /// An adapter of rank `rank` on q (layer 0) with random weights.
    func adapter(_ name: String, rank: Int, seed: UInt64, m: ModelConfig) -> LoRAAdapter {
        var rng = SplitMix(seed)
        let (o, i) = LinearKind.q.shape(in: m)
        return LoRAAdapter(name: name, layers: [LoRATarget(layer: 0, kind: .q): LoRALayer(
            rank: rank, inDim: i, outDim: o, a: (0..<(rank * i)).map { _ in rng.normal() * 0.2 },
            b: (0..<(o * rank)).map { _ in rng.normal() * 0.2 }, scale: 1)], source: "test")
    }

    func testRegistrySharesSRAMWithKVCacheEvictsLRUAndRefusesOverBudget() throws {
        // tiny model: 2 layers x 32 KV dims x 2 x 2 B = 256 B per token; a rank-8 adapter on q: 8 x 128 + 8 = 1032 B
        var chip = ChipConfig.paper
        chip.memory.loraKVSRAMBytes = 5200
        let engine = try Engine.chip(imagePath: romPath(), chip: chip)
        let m = engine.config, sram = (engine.backend as! ChipBackend).hUnitSRAM
        for (i, n) in ["a", "b", "c", "d"].enumerated() { try engine.adapters.register(adapter(n, rank: 8, seed: UInt64(i), m: m)) }
        XCTAssertEqual(SRAMAccounting.loraLayerBytes(rank: 8, inDim: 64, outDim: 64, format: .fp8e4m3), 1032)
        // a and b in use by live requests (with 4-token caches: 1024 B each)
        var sa: Session? = try engine.session(capacity: 4, adapters: [AdapterRequest("a")])
        let sb = try engine.session(capacity: 4, adapters: [AdapterRequest("b")])
        XCTAssertEqual(sram.used, 2 * 1032 + 2 * 1024)
        // c's weights fit, but not its KV cache beside a and b (both in use) -> refused before any work
        XCTAssertThrowsError(try engine.session(capacity: 4, adapters: [AdapterRequest("c")])) { e in
            XCTAssertEqual("\(e)", "SRAM over budget: KV cache for 4 tokens needs 1024 B but only 56 B of 5200 B are free")
        }
        XCTAssertEqual(engine.adapters.status.map(\.resident), [true, true, true, false], "c stayed resident (idle) after the refused request")
        // a finishes; d evicts the least recently used idle adapter (a, used before c), not c
        sa = nil
        XCTAssertNil(sa)
        XCTAssertEqual(engine.adapters.status.first { $0.name == "a" }!.inUse, 0)
        _ = try engine.generate(promptIDs: [5, 6], maxTokens: 3, adapters: [AdapterRequest("d")])   // 5 tokens: 1280 B of KV
        XCTAssertEqual(engine.adapters.evictions, ["a", "c"], "LRU idle adapters make room; b (in use) is never evicted")
        XCTAssertTrue(engine.adapters.status.first { $0.name == "b" }!.resident)
        // pinned adapters are never evicted
        try engine.adapters.pin("d")
        XCTAssertThrowsError(try engine.adapters.evict("d")) { XCTAssertEqual("\($0)", "adapter 'd' is pinned") }
        XCTAssertThrowsError(try engine.adapters.evict("b")) { XCTAssertEqual("\($0)", "adapter 'b' is in use by 1 request(s)") }
        // an adapter too big for what is left (b in use, d pinned) is refused with the residents named
        try engine.adapters.register(adapter("big", rank: 24, seed: 9, m: m))
        XCTAssertThrowsError(try engine.session(capacity: 1, adapters: [AdapterRequest("big")])) { e in
            XCTAssertEqual("\(e)", "SRAM over budget: adapter 'big' needs 3080 B but only 2112 B of 5200 B are free and nothing more can be evicted (resident: b (in use), d (pinned))")
        }
        XCTAssertThrowsError(try engine.session(adapters: [AdapterRequest("zzz")])) { e in
            XCTAssertEqual("\(e)", "no adapter named 'zzz' is registered (registered: a, b, c, d, big)")
        }
        XCTAssertThrowsError(try engine.session(adapters: [AdapterRequest("b"), AdapterRequest("b")])) { XCTAssertEqual("\($0)", "adapter 'b' is requested twice") }
        XCTAssertThrowsError(try engine.adapters.register(adapter("b", rank: 2, seed: 1, m: m))) { XCTAssertEqual("\($0)", "an adapter named 'b' is already registered") }
        // unregistering: refused while in use (b); an idle one (d, even pinned) leaves and frees its SRAM
        XCTAssertThrowsError(try engine.adapters.unregister("b")) {
            XCTAssertEqual(($0 as? ROMAError)?.code, .conflict)
            XCTAssertEqual("\($0)", "adapter 'b' is in use by 1 request(s)")
        }
        let before = sram.used
        try engine.adapters.unregister("d")
        XCTAssertEqual(sram.used, before - 1032, "d's FP8 weights left the SRAM")
        XCTAssertEqual(engine.adapters.names, ["a", "b", "c", "big"])
        XCTAssertThrowsError(try engine.adapters.unregister("d")) { XCTAssertEqual(($0 as? ROMAError)?.code, .notFound) }
        _ = sb
    }

    /// Four threads generate at once with different adapters on one engine whose SRAM cannot hold every
    /// adapter beside four KV caches (13,000 B: four requests need at most 4 x (1,032 + 2,048) B, the five
    /// adapters and four caches 13,352 B, so idle adapters are evicted as needed): every result equals the
    /// same request run alone, and when all are done only resident adapters hold SRAM (also run under
    /// ThreadSanitizer, scripts/tsan.sh).
    func testConcurrentRequestsShareTheRegistryAndSRAM() throws {
        var chip = ChipConfig.paper
        chip.memory.loraKVSRAMBytes = 13_000
        let engine = try Engine.chip(imagePath: romPath(), chip: chip)
        let m = engine.config, sram = (engine.backend as! ChipBackend).hUnitSRAM
        let names = ["a", "b", "c", "d", "e"]
        for (i, n) in names.enumerated() { try engine.adapters.register(adapter(n, rank: 8, seed: UInt64(20 + i), m: m)) }
        let prompt = [3, 8, 1, 6]
        var solo: [String: [Int]] = [:]
        for n in names + [""] {
            solo[n] = try engine.generate(promptIDs: prompt, maxTokens: 4, adapters: n.isEmpty ? [] : [AdapterRequest(n)]).ids
        }
        let results = Mutex<[(String, Result<[Int], Error>)]>([])
        let done = DispatchSemaphore(value: 0)
        for t in 0..<4 {
            Thread {
                for r in 0..<6 {
                    let n = (names + [""])[(t * 7 + r * 3) % 6]
                    let out = Result { try engine.generate(promptIDs: prompt, maxTokens: 4, adapters: n.isEmpty ? [] : [AdapterRequest(n)]).ids }
                    results.withLock { $0.append((n, out)) }
                }
                done.signal()
            }.start()
        }
        for _ in 0..<4 { XCTAssertEqual(done.wait(timeout: .now() + 120), .success) }
        let all = results.withLock { $0 }
        XCTAssertEqual(all.count, 24)
        for (n, r) in all {
            switch r {
            case .success(let ids): XCTAssertEqual(ids, solo[n], "adapter '\(n)'")
            case .failure(let e): XCTFail("adapter '\(n)': \(e)")
            }
        }
        let resident = engine.adapters.status.filter(\.resident)
        XCTAssertEqual(resident.map(\.inUse), resident.map { _ in 0 })
        XCTAssertEqual(sram.used, resident.reduce(0) { $0 + $1.bytes }, "no KV cache or lease outlived its request")
    }

    /// A request whose prompt + max tokens cannot fit is refused before any work.
    func testOverBudgetGenerationIsRefusedBeforeWork() throws {
        var chip = ChipConfig.paper
        chip.memory.loraKVSRAMBytes = 256 * 10
        let engine = try Engine.chip(imagePath: romPath(), chip: chip)
        XCTAssertNoThrow(try engine.generate(promptIDs: [1, 2, 3], maxTokens: 7))
        XCTAssertThrowsError(try engine.generate(promptIDs: [1, 2, 3], maxTokens: 8)) { e in
            XCTAssertEqual("\(e)", "SRAM over budget: KV cache for 11 tokens needs 2816 B but only 2560 B of 2560 B are free")
        }
    }

    /// Requests with different adapters interleave without touching each other's KV cache or the ROM.
    func testPerRequestSelectionAndHotSwapKeepTheROMAndKVCachesApart() throws {
        let path = try romPath()
        let before = try ROMImage(path: path).checksumHex
        let fileHash = SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { SHA256.hash($0) })
        let engine = try Engine.chip(imagePath: path)
        let m = engine.config
        try engine.adapters.register(adapter("x", rank: 4, seed: 1, m: m))
        try engine.adapters.register(adapter("y", rank: 4, seed: 2, m: m))
        let prompt = [10, 20, 30, 40]
        // each request alone
        let soloX = try engine.session(adapters: [AdapterRequest("x")]).feed(prompt, logitRows: 0..<4).array
        let soloY = try engine.session(adapters: [AdapterRequest("y")]).feed(prompt, logitRows: 0..<4).array
        let soloBase = try engine.session().feed(prompt, logitRows: 0..<4).array
        XCTAssertNotEqual(soloX, soloY)
        XCTAssertNotEqual(soloX, soloBase)
        // interleaved token by token, three live sessions
        let sx = try engine.session(adapters: [AdapterRequest("x")]), sy = try engine.session(adapters: [AdapterRequest("y")]), s0 = try engine.session()
        var ix: [Float] = [], iy: [Float] = [], i0: [Float] = []
        for t in prompt {
            ix += try sx.feed([t]); iy += try sy.feed([t]); i0 += try s0.feed([t])
            XCTAssertThrowsError(try engine.adapters.evict("x"), "x is in use by a live session")
        }
        XCTAssertEqual(ix, soloX, "token-by-token decode of x equals its batched prefill")
        XCTAssertEqual(iy, soloY)
        XCTAssertEqual(i0, soloBase)
        // both adapters at once, each at its scale; scale 0 is the base model
        let both = try engine.session(adapters: [AdapterRequest("x", scale: 0.5), AdapterRequest("y", scale: 2)]).feed(prompt, logitRows: 0..<4).array
        XCTAssertNotEqual(both, soloX)
        XCTAssertEqual(try engine.session(adapters: [AdapterRequest("x", scale: 0)]).feed(prompt, logitRows: 0..<4).array, soloBase)
        // the ROM image: same checksum, same bytes on disk, still read-only
        XCTAssertEqual(SHA256.hex(ROMImage.computeChecksum((engine.backend as! ChipBackend).image.file.bytes)), before)
        XCTAssertEqual(SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { SHA256.hash($0) }), fileHash)
    }
}
