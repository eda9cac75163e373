import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATestSupport

/// The chip backend: the fast L-Unit array equals the golden L-Unit group by group, the whole chip
/// tracks an FP32 run of the same (ROM-dequantized) weights, LoRA on the H-Unit, SRAM, immutability.
final class ChipBackendTests: XCTestCase {
    nonisolated(unsafe) static var cache: [Int: (gguf: String, rom: String)] = [:]

    func paths(bits: Int) throws -> (gguf: String, rom: String) {
        if let p = ChipBackendTests.cache[bits] { return p }
        let gguf = try TinyModel(seed: 41).write()
        let rom = TempFiles.path("chip-\(bits)-\(UUID().uuidString).rom")
        _ = try ROMCompiler(bits: bits).compile(gguf: GGUFFile(path: gguf), output: rom)
        ChipBackendTests.cache[bits] = (gguf, rom)
        return (gguf, rom)
    }

    /// The kernel paths this CPU can run; the others are named as skipped in the test log.
    static let paths: [KernelPath] = {
        let skipped = KernelPath.allCases.filter { !$0.isSupported() }
        print("kernel paths under test: \(KernelPath.supported.map(\.rawValue).joined(separator: ", "))"
              + (skipped.isEmpty ? "" : "; skipped (this CPU lacks them): \(skipped.map(\.rawValue).joined(separator: ", "))"))
        return KernelPath.supported
    }()

    /// LUnitArray.matmul on every kernel path the CPU runs (AVX-512: sixteen tokens per block, padded
    /// blocks, eight rows and two blocks at a time, four rows at a time, single tokens; AVX2: eight tokens per block, four rows
    /// and two blocks at a time, an odd last block paired with itself, rows padded to fours, single tokens sixteen rows at a time
    /// from the 4-bit group-64 tensors' panels (64 and 128 rows: whole panels; 269: 16 panels, then eight and fewer rows), else row by row; the
    /// portable ones) is bit-identical to summing the golden `LUnit.group` results of every group in
    /// order and rounding to FP16 (or not, into longer output rows).
    func testLUnitArrayEqualsGoldenGroupsBitForBit() throws {
        // rows of 64 and 128 (group 64), 128 and 256 (group 128), 256 and 512 (group 256): every code shape
        // of the AVX2 kernels; the head's 269 rows end in a row block of fewer than eight rows
        let models = [64: try TinyModel(seed: 43, ffn: 128).write(),
                      128: try TinyModel(seed: 44, hidden: 128, ffn: 256, headDim: 32).write(),
                      256: try TinyModel(seed: 45, hidden: 256, ffn: 512, headDim: 64).write()]
        for (bits, group) in [(4, 32), (2, 32), (4, 64), (2, 64), (4, 128), (2, 128), (4, 256), (2, 256)] {
            let path = group == 32 ? try paths(bits: bits).rom : TempFiles.path("g\(group)-\(bits)-\(UUID().uuidString).rom")
            if let gguf = models[group] { _ = try ROMCompiler(bits: bits, groupSize: group).compile(gguf: GGUFFile(path: gguf), output: path) }
            let img = try ROMImage(path: path)
            for name in ["blk.0.ffn_down.weight", "token_embd.weight"] {
                let t = try img.requireTensor(name)
                XCTAssertEqual(t.groupSize, group)
                var rng = SplitMix(UInt64(bits))
                for T in [1, 3, 5, 8, 9, 13, 16, 20, 27, 35] { checkMatmulAgainstGolden(img, t, bits: bits, tokens: T, rng: &rng) }
                // the output head's unrounded sums, into rows longer than the tensor's (blocks, an odd one, a tail)
                for T in [2, 24, 27] { checkMatmulAgainstGolden(img, t, bits: bits, tokens: T, rng: &rng, roundToFP16: false, pad: 5) }
            }
        }
    }

    /// A tensor of fewer than eight rows (K of one KV head of width 4): the AVX-512 decode cells' row-by-row
    /// branch, and the padded row blocks of every path, against the golden L-Unit.
    func testLUnitArrayOnATensorOfFewerThanEightRows() throws {
        let gguf = try TinyModel(seed: 46, hidden: 64, ffn: 128, heads: 16, kvHeads: 1, headDim: 4).write()
        for (bits, group) in [(4, 32), (2, 32), (4, 64), (2, 64)] {
            let path = TempFiles.path("few-rows-\(group)-\(bits)-\(UUID().uuidString).rom")
            _ = try ROMCompiler(bits: bits, groupSize: group).compile(gguf: GGUFFile(path: gguf), output: path)
            let img = try ROMImage(path: path)
            let t = try img.requireTensor("blk.0.attn_k.weight")
            XCTAssertEqual(t.rows, 4)
            var rng = SplitMix(UInt64(bits * 100 + group))
            for T in [1, 2, 3, 5, 17] { checkMatmulAgainstGolden(img, t, bits: bits, tokens: T, rng: &rng) }
        }
    }

    /// The array's alignment on every kernel path (the vectorized alignment unit on the SIMD paths, the
    /// scalar one on the portable path)
    /// gives LUnit.align's integers, vsum and max_exp for every group: normals with wide exponent
    /// spreads, denormals, signed zeros, the largest FP16, inf and NaN, under every shift rounding.
    func testAlignedActivationsEqualAlignmentUnitOnSpecialValues() {
        var rng = SplitMix(77)
        let specials: [Float] = [0, -0.0, 65504, -65504, 6.1e-5, -6.0e-8, 3.0e-7, 1e-3, -1, .infinity, -.infinity, .nan]
        for path in Self.paths {
        for numerics in DatapathNumerics.ShiftRounding.allCases.map({ DatapathNumerics(shiftRounding: $0) }) {
            for G in [16, 32, 64, 128] {
                let T = 11, cols = 2 * G
                var x = [Float](repeating: 0, count: T * cols)
                for t in 0..<T {
                    for k in 0..<cols {
                        switch (t + k / G) % 4 {
                        case 0: x[t * cols + k] = rng.normal() * Float(1 << (rng.next() % 12))          // spreads up to 2^11
                        case 1: x[t * cols + k] = rng.normal() * 1e-5                                     // denormals and small normals
                        case 2: x[t * cols + k] = rng.next() % 3 == 0 ? specials[Int(rng.next() % 9)] : rng.normal()
                        default: x[t * cols + k] = rng.next() % 7 == 0 ? specials[Int(rng.next() % UInt64(specials.count))] : rng.normal() * 300
                        }
                    }
                }
                let act = x.withUnsafeBufferPointer {
                    LUnitArray.AlignedActivations(x: $0.baseAddress!, tokens: T, cols: cols, groupSize: G, numerics: numerics, path: path)
                }
                var ref = [Int16](repeating: 0, count: G)
                for t in 0..<T {
                    for g in 0..<2 {
                        let bits = (0..<G).map { FP16.fromFloat(x[t * cols + g * G + $0]) }
                        let al = bits.withUnsafeBufferPointer { b in
                            ref.withUnsafeMutableBufferPointer { LUnit.align(b.baseAddress!, count: G, values: $0.baseAddress!, rounding: numerics.shiftRounding) }
                        }
                        let what = "\(path) \(numerics.shiftRounding) G \(G) token \(t) group \(g)"
                        XCTAssertEqual(Array(UnsafeBufferPointer(start: act.values + t * cols + g * G, count: G)), ref, what)
                        XCTAssertEqual(act.vsum[t * 2 + g], al.vsum, what)
                        XCTAssertEqual(Int(act.maxExp[t * 2 + g]), al.maxExp, what)
                        let p2 = act.pow2[t * 2 + g]
                        if al.nonFinite { XCTAssertTrue(p2.isNaN, what) } else { XCTAssertEqual(p2, LUnit.pow2(al.maxExp - numerics.bias), what) }
                    }
                }
            }
        }
        }
    }

    /// One product of T random tokens on every kernel path against the golden L-Unit's sums (rounded
    /// to FP16 unless `roundToFP16` is false, the output head's way), into output rows `pad` floats
    /// longer than the tensor's rows: the padding must stay untouched.
    private func checkMatmulAgainstGolden(_ img: ROMImage, _ t: ROMImage.Tensor, bits: Int, tokens T: Int, rng: inout SplitMix,
                                          roundToFP16: Bool = true, pad: Int = 0) {
        let x = (0..<(T * t.cols)).map { _ in FP16.round(rng.normal() * Float(1 << (rng.next() % 6))) }
        let q = GroupQuantizer(bits: bits, groupSize: t.groupSize)
        var codes = [UInt8](repeating: 0, count: t.groupSize)
        var golden = [UInt32](repeating: 0, count: T * t.rows)
        for tok in 0..<T {
            for r in 0..<t.rows {
                var acc: Float = 0
                for g in 0..<t.groupsPerRow {
                    codes.withUnsafeMutableBufferPointer { q.unpack(img.codes(t, row: r) + g * q.packedGroupBytes, into: $0.baseAddress!) }
                    let a = (0..<t.groupSize).map { FP16.fromFloat(x[tok * t.cols + g * t.groupSize + $0]) }
                    let res = LUnit.group(a: a, w: codes, z: Int(img.zeros(t)[r * t.groupsPerRow + g]),
                                          scaleBits: UInt16(littleEndian: img.scales(t)[r * t.groupsPerRow + g]))
                    acc += res.res
                }
                golden[tok * t.rows + r] = (roundToFP16 ? FP16.round(acc) : acc).bitPattern
            }
        }
        let stride = t.rows + pad, marker = Float(bitPattern: 0x7FC0_1234)   // a NaN no kernel writes
        let out = UnsafeMutablePointer<Float>.allocate(capacity: T * stride)
        defer { out.deallocate() }
        for path in Self.paths {
            out.initialize(repeating: marker, count: T * stride)
            x.withUnsafeBufferPointer { xp in
                let act = LUnitArray.AlignedActivations(x: xp.baseAddress!, tokens: T, cols: t.cols, groupSize: t.groupSize, numerics: .paper, path: path)
                LUnitArray.matmul(image: img, tensor: t, x: act, out: out, outStride: stride, roundToFP16: roundToFP16)
            }
            var bad = 0
            for tok in 0..<T {
                for r in 0..<t.rows where out[tok * stride + r].bitPattern != golden[tok * t.rows + r] {
                    if bad < 3 {
                        XCTFail("\(path): \(t.name) bits \(bits) G \(t.groupSize) T \(T) token \(tok) row \(r): "
                                + "\(out[tok * stride + r]) != golden \(Float(bitPattern: golden[tok * t.rows + r]))")
                    }
                    bad += 1
                }
                for r in t.rows..<stride where out[tok * stride + r].bitPattern != marker.bitPattern {
                    XCTFail("\(path): \(t.name) T \(T): the padding after token \(tok)'s rows was written")
                }
            }
            XCTAssertEqual(bad, 0, "\(path): \(t.name) bits \(bits) G \(t.groupSize) T \(T): mismatching outputs")
        }
    }

    /// The chip run tracks an FP32 reference run of the very weights in ROM (dequantized); the
    /// difference is the FP16 activations and the alignment truncation.
    func testChipTracksFP32RunOfTheROMWeights() throws {
        let p = try paths(bits: 4)
        let chip = try Engine.chip(imagePath: p.rom)
        let img = try ROMImage(path: p.rom)
        // a GGUF holding the ROM's dequantized weights in F32
        let src = try GGUFFile(path: p.gguf)
        var w = GGUFWriter()
        for k in src.metadataKeys { w.set(k, src.metadata[k]!) }
        for t in img.header.tensors {
            if t.kind == .norm { w.addTensor(t.name, shape: [t.cols], values: img.normValues(t)); continue }
            w.addTensor(t.name, shape: [t.cols, t.rows], values: (0..<t.rows).flatMap { img.dequantizeRow(t, $0) })
        }
        let deqPath = TempFiles.path("deq-\(UUID().uuidString).gguf")
        try w.write(to: deqPath)
        let ref = try Engine.reference(path: deqPath)
        let tokens = [5, 70, 120, 3, 250, 33, 260]
        let a = try chip.session().feed(tokens, logitRows: 0..<tokens.count)
        let b = try ref.session().feed(tokens, logitRows: 0..<tokens.count)
        var num = 0.0, den = 0.0
        for i in 0..<(a.rows * a.cols) { num += Double((a.data[i] - b.data[i]) * (a.data[i] - b.data[i])); den += Double(b.data[i] * b.data[i]) }
        let rel = (num / den).squareRoot()
        XCTAssertLessThan(rel, 0.02, "chip vs FP32 on the same weights")
        XCTAssertGreaterThan(rel, 0, "the chip's FP16 datapath is not FP32")
        // greedy choices agree on this tiny model
        for i in 0..<tokens.count {
            XCTAssertEqual(Sampler.argmax(UnsafeBufferPointer(start: a.row(i), count: a.cols)),
                           Sampler.argmax(UnsafeBufferPointer(start: b.row(i), count: b.cols)))
        }
    }

    func testIncrementalDecodeEqualsBatchedPrefillOnChip() throws {
        let chip = try Engine.chip(imagePath: paths(bits: 2).rom)
        let tokens = [10, 20, 30, 40, 50]
        let batch = try chip.session().feed(tokens, logitRows: 0..<tokens.count)
        let s = try chip.session()
        for (i, t) in tokens.enumerated() {
            let l = try s.feed([t])
            // the datapath is deterministic and per-token: identical bits
            XCTAssertEqual(l, batch.rowArray(i))
        }
    }

    func adapter(_ name: String, _ layers: [LoRATarget: LoRALayer]) -> LoRAAdapter {
        LoRAAdapter(name: name, layers: layers, source: "test")
    }

    func testZeroBAdapterIsBitIdenticalAndRandomAdapterMatchesDenseWithinFP8() throws {
        let p = try paths(bits: 4)
        let engine = try Engine.chip(imagePath: p.rom)
        let chip = engine.backend as! ChipBackend
        let tokens = [7, 8, 9, 10]
        let base = try engine.session().feed(tokens, logitRows: 0..<4).array
        let (inDim, outDim, rank) = (64, 64, 4)
        var rng = SplitMix(77)
        let A = (0..<(rank * inDim)).map { _ in rng.normal() * 0.1 }
        let zeroB = [Float](repeating: 0, count: outDim * rank)
        try engine.adapters.register(adapter("zero", [LoRATarget(layer: 0, kind: .q): LoRALayer(rank: rank, inDim: inDim, outDim: outDim, a: A, b: zeroB, scale: 2)]))
        XCTAssertEqual(try engine.session(adapters: [AdapterRequest("zero", scale: 3)]).feed(tokens, logitRows: 0..<4).array, base)
        XCTAssertEqual(chip.hUnitSRAM.used, rank * (inDim + outDim) + 8, "FP8 bytes + two FP32 scales stay resident")
        try engine.adapters.evict("zero")
        XCTAssertEqual(chip.hUnitSRAM.used, 0)
        // one linear layer: chip (ROM + FP8 LoRA) vs dense FP32 W_rom x + scale * B A x
        let B32 = (0..<(32 * rank)).map { _ in rng.normal() * 0.1 }
        let scale: Float = 1.5
        let x = Matrix(rows: 1, cols: inDim, values: (0..<inDim).map { _ in FP16.round(rng.normal()) })
        let plain = chip.linear(x, .v, layer: 1)
        let resident = try chip.makeResident(adapter("v", [LoRATarget(layer: 1, kind: .v): LoRALayer(rank: rank, inDim: inDim, outDim: 32, a: A, b: B32, scale: scale)]))
        let withLoRA = chip.linear(x, .v, layer: 1, adapters: AdapterSelection([(resident, 1)]))
        let xs = x.rowArray(0)
        var num = 0.0, den = 0.0
        for o in 0..<32 {
            var ba = 0.0
            for r in 0..<rank {
                var ax = 0.0
                for i in 0..<inDim { ax += Double(A[r * inDim + i]) * Double(xs[i]) }
                ba += Double(B32[o * rank + r]) * ax
            }
            let exact = Double(plain.row(0)[o]) + Double(scale) * ba
            num += pow(Double(withLoRA.row(0)[o]) - exact, 2); den += pow(Double(scale) * ba, 2)
        }
        // FP8 E4M3 keeps 3 mantissa bits (relative error <= 2^-4 per weight); the LoRA term's error stays well under that
        XCTAssertLessThan((num / den).squareRoot(), 0.0625)
        XCTAssertGreaterThan((num / den).squareRoot(), 1e-4, "FP8 storage does round")
        // a LoRA of the wrong shape is refused
        let wrong = adapter("wrong", [LoRATarget(layer: 1, kind: .v): LoRALayer(rank: rank, inDim: inDim, outDim: outDim, a: A, b: zeroB, scale: 1)])
        XCTAssertThrowsError(try chip.makeResident(wrong)) { e in
            XCTAssertEqual("\(e)", "adapter 'wrong': blk.1.attn_v.weight is [64 x 64] but the model's weight is [32 x 64] (an adapter for another model?)")
        }
    }

    func testSRAMBudgetRefusesOversizedKVCache() throws {
        var cfg = ChipConfig.paper
        cfg.memory.loraKVSRAMBytes = 100_000
        let engine = try Engine.chip(imagePath: paths(bits: 4).rom, chip: cfg)
        // 2 layers * 32 kv dims * 2 (K,V) * 2 bytes = 256 bytes per token -> 390 tokens fit
        XCTAssertEqual(SRAMAccounting.kvBytesPerToken(engine.config, chip: cfg), 256)
        XCTAssertNoThrow(try engine.session(capacity: 128))
        var tiny = cfg
        tiny.memory.loraKVSRAMBytes = 10_000
        let small = try Engine.chip(imagePath: paths(bits: 4).rom, chip: tiny)
        XCTAssertThrowsError(try small.session(capacity: 100)) { e in
            XCTAssertEqual("\(e)", "SRAM over budget: KV cache for 100 tokens needs 25.0 KiB but only 10000 B of 10000 B are free")
        }
    }

    /// The ROM never changes: running, attaching adapters and detaching leave its checksum as compiled.
    func testROMChecksumUnchangedByRunsAndAdapterSwaps() throws {
        let p = try paths(bits: 4)
        let engine = try Engine.chip(imagePath: p.rom)
        let chip = engine.backend as! ChipBackend
        let before = chip.image.checksumHex
        let plain = try engine.generate(promptIDs: [5, 6, 7], maxTokens: 5)
        for (i, kind) in [LinearKind.o, .down].enumerated() {
            let (o, n) = kind.shape(in: engine.config)
            try engine.adapters.register(adapter("a\(i)", [LoRATarget(layer: 0, kind: kind): LoRALayer(
                rank: 2, inDim: n, outDim: o, a: [Float](repeating: 0.1, count: 2 * n), b: [Float](repeating: 0.1, count: o * 2), scale: 1)]))
        }
        let a0 = try engine.generate(promptIDs: [5, 6, 7], maxTokens: 5, adapters: [AdapterRequest("a0")])
        _ = try engine.generate(promptIDs: [5, 6, 7], maxTokens: 5, adapters: [AdapterRequest("a1"), AdapterRequest("a0", scale: 0.5)])
        try engine.adapters.evict("a0")
        XCTAssertEqual(try engine.generate(promptIDs: [5, 6, 7], maxTokens: 5, adapters: [AdapterRequest("a0")]).ids, a0.ids, "swapped back in: same output")
        XCTAssertEqual(try engine.generate(promptIDs: [5, 6, 7], maxTokens: 5).ids, plain.ids, "no adapter: the base model's output")
        XCTAssertEqual(SHA256.hex(ROMImage.computeChecksum(chip.image.file.bytes)), before)
        XCTAssertEqual(try ROMImage(path: p.rom).checksumHex, before)
    }

    /// INT2 linears with an INT4 embedding table / output head (--embedding-bits): per-tensor bits in one
    /// image, loaded and run; the wider head brings the chip closer to the float model.
    func testMixedEmbeddingBits() throws {
        let gguf = try paths(bits: 2).gguf
        let mixed = TempFiles.path("mixed-\(UUID().uuidString).rom")
        var c = ROMCompiler(bits: 2)
        c.embeddingBits = 4
        _ = try c.compile(gguf: GGUFFile(path: gguf), output: mixed)
        let img = try ROMImage(path: mixed)
        XCTAssertEqual(img.bits, 2)
        XCTAssertEqual(try img.requireTensor("token_embd.weight").bits, 4)
        XCTAssertEqual(try img.requireTensor("blk.0.attn_q.weight").bits, 2)
        let tokens = [5, 70, 120, 3, 250, 33]
        let want = try Engine.reference(path: gguf).session().feed(tokens, logitRows: 0..<6).array
        func err(_ rom: String) throws -> Double {
            let got = try Engine.chip(imagePath: rom).session().feed(tokens, logitRows: 0..<6).array
            var e = 0.0, n = 0.0
            for i in want.indices { e += pow(Double(got[i] - want[i]), 2); n += pow(Double(want[i]), 2) }
            return (e / n).squareRoot()
        }
        XCTAssertLessThan(try err(mixed), try err(paths(bits: 2).rom))
        var bad = ROMCompiler(bits: 2)
        bad.embeddingBits = 3
        XCTAssertThrowsError(try bad.compile(gguf: GGUFFile(path: gguf), output: mixed + "x")) { XCTAssertEqual("\($0)", "embedding bits must be one of 2, 4 (chip 'roma-paper' supports 2, 4; ROM images hold 2, 4), got 3") }
    }
}
