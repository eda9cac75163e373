import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMANumerics
import ROMARTL
import ROMATestSupport

/// Compile -> image -> read back; corrupt images; the partition map; RTL tiles cut from an image.
final class ROMImageTests: XCTestCase {
    nonisolated(unsafe) static var ggufPath: String?
    func gguf() throws -> GGUFFile {
        if ROMImageTests.ggufPath == nil { ROMImageTests.ggufPath = try TinyModel(seed: 31).write() }
        return try GGUFFile(path: ROMImageTests.ggufPath!)
    }

    func compile(bits: Int, group: Int? = nil) throws -> (ROMImage, ROMCompiler.Report) {
        let out = TempFiles.path("img-\(UUID().uuidString).rom")
        let r = try ROMCompiler(bits: bits, groupSize: group).compile(gguf: gguf(), output: out)
        return (try ROMImage(path: out), r)
    }

    /// Every code, scale and zero point read back equals a re-quantization of the source rows.
    func testRoundTripEveryCodeScaleAndZeroPoint() throws {
        let g = try gguf()
        for bits in [4, 2] {
            let (img, rep) = try compile(bits: bits)
            XCTAssertEqual(rep.groupSize, 32)
            XCTAssertEqual(img.bits, bits)
            XCTAssertEqual(img.header.model, try ModelConfig(gguf: g))
            let q = GroupQuantizer(bits: bits, groupSize: 32)
            var checked = 0
            for t in img.header.tensors where t.kind != .norm {
                let src = try g.dequantize(g.requireTensor(t.name))
                var unpacked = [UInt8](repeating: 0, count: 32), expect = [UInt8](repeating: 0, count: 32)
                for r in 0..<t.rows {
                    for gi in 0..<t.groupsPerRow {
                        let (s, z, _) = src.withUnsafeBufferPointer { sp in
                            expect.withUnsafeMutableBufferPointer { q.quantizeGroup(sp.baseAddress! + r * t.cols + gi * 32, 32, codes: $0.baseAddress!) }
                        }
                        unpacked.withUnsafeMutableBufferPointer { q.unpack(img.codes(t, row: r) + gi * q.packedGroupBytes, into: $0.baseAddress!) }
                        XCTAssertEqual(unpacked, expect, "\(t.name) row \(r) group \(gi) codes")
                        XCTAssertEqual(UInt16(littleEndian: img.scales(t)[r * t.groupsPerRow + gi]), s)
                        XCTAssertEqual(img.zeros(t)[r * t.groupsPerRow + gi], z)
                        XCTAssertTrue(expect.allSatisfy { Int($0) < 1 << bits } && Int(z) < 1 << bits)
                        checked += 1
                    }
                    let deq = img.dequantizeRow(t, r)
                    let srcRow = Array(src[(r * t.cols)..<((r + 1) * t.cols)])
                    var err = 0.0, norm = 0.0
                    for k in 0..<t.cols { err += Double((deq[k] - srcRow[k]) * (deq[k] - srcRow[k])); norm += Double(srcRow[k] * srcRow[k]) }
                    XCTAssertLessThan((err / norm).squareRoot(), bits == 4 ? 0.15 : 0.6, "\(t.name) row \(r)")
                }
            }
            XCTAssertGreaterThan(checked, 1000)
            let n = try img.requireTensor("blk.1.ffn_norm.weight")
            XCTAssertEqual(img.normValues(n), try g.dequantize(g.requireTensor(n.name)).map { FP16.round($0) })
        }
    }

    func testGroupSizeResolution() throws {
        let m = try ModelConfig(gguf: gguf())   // hidden 64, ffn 96
        XCTAssertEqual(try ROMCompiler.resolveGroupSize(nil, model: m), 32)
        XCTAssertEqual(try ROMCompiler.resolveGroupSize(32, model: m), 32)
        XCTAssertThrowsError(try ROMCompiler.resolveGroupSize(64, model: m)) { e in
            XCTAssertEqual("\(e)", "group size 64 does not divide the row length 96 of 'blk.0.ffn_down.weight'")
        }
        XCTAssertEqual(try ROMCompiler.resolveGroupSize(nil, model: .smollm2_135M), 64)
        XCTAssertThrowsError(try ROMCompiler.resolveGroupSize(128, model: .smollm2_135M)) { e in
            XCTAssertEqual("\(e)", "group size 128 does not divide the row length 576 of 'token_embd.weight'")
        }
        XCTAssertEqual(try ROMCompiler.resolveGroupSize(nil, model: .llama32_3B), 128)
    }

    func testChecksumIsStableAcrossCompilesAndFileIsReadOnly() throws {
        let (a, ra) = try compile(bits: 4)
        let (b, rb) = try compile(bits: 4)
        XCTAssertEqual(ra.checksum, rb.checksum)
        XCTAssertEqual(a.checksumHex, b.checksumHex)
        XCTAssertEqual(a.checksumHex, SHA256.hex(ROMImage.computeChecksum(a.file.bytes)))
        let perms = try FileManager.default.attributesOfItem(atPath: a.path)[.posixPermissions] as? Int
        XCTAssertEqual(perms, 0o444)
        let (c, _) = try compile(bits: 2)
        XCTAssertNotEqual(a.checksumHex, c.checksumHex)
    }

    func testPartitionMapCoversEveryRowOnce() throws {
        let (img, _) = try compile(bits: 4)
        XCTAssertEqual(img.header.units.count, 256)
        for t in img.header.tensors where t.kind != .norm {
            XCTAssertEqual(t.unitRowStart.count, 257)
            XCTAssertEqual(t.unitRowStart.first, 0); XCTAssertEqual(t.unitRowStart.last, t.rows)
            let sizes = zip(t.unitRowStart.dropFirst(), t.unitRowStart).map { $0 - $1 }
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "balanced split of \(t.name)")
        }
        var total = 0
        for u in 0..<256 { total += try img.unitContents(unit: u).count }
        let expected = img.header.tensors.filter { $0.kind != .norm }.reduce(0) { $0 + $1.codesBytes + $1.rows * $1.groupsPerRow * 3 }
        XCTAssertEqual(total, expected)
        XCTAssertEqual(img.quantizedContentBytes, total)
    }

    func testRTLTileFromImageHoldsTheUnitsBits() throws {
        let (img, _) = try compile(bits: 4)
        let unit = ArrayUnit(row: 9, column: 3)      // below the vector row: matrix row 8 -> L-Unit 8*16+3
        XCTAssertEqual(RTLArrayConfig.paper.lUnitIndex(unit), 131)
        let bytes = try img.unitContents(unit: 131)
        let geo = try ROMGeometry(depth: 8, width: 16, style: .brom)
        let tile = try ROMImageTileSource(url: URL(fileURLWithPath: img.path), unit: unit, offset: 2).tile(geometry: geo)
        for i in 0..<8 {
            let expected = UInt64(bytes[(2 + i) * 2]) | UInt64(bytes[(2 + i) * 2 + 1]) << 8
            XCTAssertEqual(tile.word(i), [expected], "word \(i)")
        }
        XCTAssertThrowsError(try ROMImageTileSource(url: URL(fileURLWithPath: img.path), unit: unit, offset: 1_000_000).tile(geometry: geo)) { e in
            XCTAssertTrue("\(e)".contains("past its end"), "\(e)")
        }
    }

    // MARK: bad images

    func mutated(_ img: ROMImage, _ f: (inout [UInt8]) -> Void) throws -> String {
        var b = Array(img.file.bytes)
        f(&b)
        let p = TempFiles.path("bad-\(UUID().uuidString).rom")
        try Data(b).write(to: URL(fileURLWithPath: p))
        return p
    }

    func testCorruptTruncatedAndWrongVersionImagesAreRejected() throws {
        let (img, _) = try compile(bits: 4)
        let flipped = try mutated(img) { $0[$0.count - 100] ^= 0x10 }
        XCTAssertThrowsError(try ROMImage(path: flipped)) { e in
            XCTAssertTrue("\(e)".hasPrefix("ROM image checksum mismatch: stored"), "\(e)")
        }
        let truncated = try mutated(img) { $0.removeLast(5000) }
        XCTAssertThrowsError(try ROMImage(path: truncated)) { e in
            XCTAssertTrue("\(e)".contains("checksum mismatch") || "\(e)".contains("truncated"), "\(e)")
        }
        let header = try mutated(img) { $0.removeLast($0.count - 40) }
        XCTAssertThrowsError(try ROMImage(path: header)) { e in
            XCTAssertEqual("\(e)", "corrupt ROM image: file is truncated: 40 bytes, a ROM image header needs 64")
        }
        let version = try mutated(img) { $0[8] = 9 }
        XCTAssertThrowsError(try ROMImage(path: version)) { e in
            XCTAssertEqual("\(e)", "unsupported ROM image version 9 (this build reads version 1)")
        }
        let magic = try mutated(img) { $0[0] = 0x47 }
        XCTAssertThrowsError(try ROMImage(path: magic)) { e in XCTAssertEqual("\(e)", "corrupt ROM image: not a ROMA ROM image (bad magic)") }
        XCTAssertThrowsError(try ROMImage(path: "/nonexistent.rom")) { e in XCTAssertEqual("\(e)", "ROM image '/nonexistent.rom' not found") }
        // a header that lies (bits = 3) under a valid checksum
        let lying = try mutated(img) { b in
            let jsonLen = Int(b[16]) | Int(b[17]) << 8 | Int(b[18]) << 16
            var json = String(decoding: b[64..<(64 + jsonLen)], as: UTF8.self)
            json = json.replacingOccurrences(of: "{\"bits\":4,\"groupSize\":32,", with: "{\"bits\":3,\"groupSize\":32,")
            b.replaceSubrange(64..<(64 + jsonLen), with: Array(json.utf8))
            let sum = b.withUnsafeBytes { ROMImage.computeChecksum($0) }
            b.replaceSubrange(32..<64, with: sum)
        }
        XCTAssertThrowsError(try ROMImage(path: lying)) { e in XCTAssertEqual("\(e)", "corrupt ROM image: quantization bits 3 is not 2 or 4") }
    }

    func testCompilerRejectsBadBitsAndGroups() throws {
        let out = TempFiles.path("never.rom")
        XCTAssertThrowsError(try ROMCompiler(bits: 3).compile(gguf: gguf(), output: out)) { e in
            XCTAssertEqual("\(e)", "bits must be one of 2, 4 (chip 'roma-paper' supports 2, 4; ROM images hold 2, 4), got 3")
        }
        XCTAssertThrowsError(try ROMCompiler(bits: 4, groupSize: 64).compile(gguf: gguf(), output: out)) { e in
            XCTAssertEqual("\(e)", "group size 64 does not divide the row length 96 of 'blk.0.ffn_down.weight'")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testFitReportAnswersThePapersCapacityClaim() {
        let f3 = ROMFit(model: .llama32_3B, bits: 4, groupSize: 128)
        XCTAssertTrue(f3.fits)
        // 128256*3072 + 28*(2*3072*3072 + 2*3072*1024) + 28*3*3072*8192
        XCTAssertEqual(f3.rows.dropLast().reduce(0) { $0 + $1.weights }, 394_002_432 + 704_643_072 + 2_113_929_216)
        XCTAssertEqual(f3.totalBytes / 1e9, 1.669, accuracy: 0.001)
        let f8 = ROMFit(model: .llama3_8B, bits: 2, groupSize: 128)
        XCTAssertFalse(f8.fits)
        XCTAssertEqual(f8.totalBytes / 1e9, 2.149, accuracy: 0.001)
    }
}

/// Images and models that lie about themselves (found in review): each is refused with a message.
final class ROMImageValidationTests: XCTestCase {
    func compiled() throws -> ROMImage {
        let out = TempFiles.path("v-\(UUID().uuidString).rom")
        _ = try ROMCompiler(bits: 4).compile(gguf: GGUFFile(path: TinyModel(seed: 5).write()), output: out)
        return try ROMImage(path: out)
    }

    /// Rewrites the header JSON with `edit` and re-seals the checksum.
    func resealed(_ img: ROMImage, data: ((inout [UInt8], Int) -> Void)? = nil, _ edit: (inout [String: Any]) -> Void) throws -> String {
        var b = Array(img.file.bytes)
        let jsonLen = Int(b[16]) | Int(b[17]) << 8 | Int(b[18]) << 16
        var obj = try JSONSerialization.jsonObject(with: Data(b[64..<(64 + jsonLen)])) as! [String: Any]
        edit(&obj)
        var json = Array(try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]))
        XCTAssertLessThanOrEqual(json.count, img.dataOffset - 64)
        let newLen = json.count
        json += [UInt8](repeating: 0, count: img.dataOffset - 64 - json.count)
        b.replaceSubrange(64..<img.dataOffset, with: json)
        withUnsafeBytes(of: UInt64(newLen).littleEndian) { for i in 0..<8 { b[16 + i] = $0[i] } }
        data?(&b, img.dataOffset)
        let sum = b.withUnsafeBytes { ROMImage.computeChecksum($0) }
        b.replaceSubrange(32..<64, with: sum)
        let p = TempFiles.path("lie-\(UUID().uuidString).rom")
        try Data(b).write(to: URL(fileURLWithPath: p))
        return p
    }

    func tensors(_ o: inout [String: Any], _ f: (inout [String: Any]) -> Void) {
        var ts = o["tensors"] as! [[String: Any]]
        for i in ts.indices { f(&ts[i]) }
        o["tensors"] = ts
    }

    func testLyingShapesZeroPointsAndLengths() throws {
        let img = try compiled()
        let normShape = try resealed(img) { o in tensors(&o) { t in if t["name"] as? String == "blk.0.attn_norm.weight" { t["cols"] = 1; t["codesBytes"] = 2 } } }
        XCTAssertThrowsError(try ROMImage(path: normShape)) { e in
            XCTAssertEqual("\(e)", "corrupt ROM image: tensor 'blk.0.attn_norm.weight' has shape [1], the model needs [64]")
        }
        let huge = try resealed(img) { o in tensors(&o) { t in if t["name"] as? String == "blk.0.attn_q.weight" { t["codesOffset"] = Int.max - 63 } } }
        XCTAssertThrowsError(try ROMImage(path: huge)) { e in XCTAssertTrue("\(e)".hasPrefix("corrupt ROM image: tensor 'blk.0.attn_q.weight'"), "\(e)") }
        let q = try img.requireTensor("blk.0.attn_q.weight")
        let zero = try resealed(img, data: { b, d in b[d + q.zerosOffset + 3] = 16 }) { _ in }
        XCTAssertThrowsError(try ROMImage(path: zero)) { e in
            XCTAssertEqual("\(e)", "corrupt ROM image: tensor 'blk.0.attn_q.weight': zero point 16 of group 3 does not fit 4 bits")
        }
        var b = Array(img.file.bytes)
        b[23] |= 0x80   // the top bit of the JSON length
        let p = TempFiles.path("len-\(UUID().uuidString).rom")
        try Data(b).write(to: URL(fileURLWithPath: p))
        XCTAssertThrowsError(try ROMImage(path: p)) { e in XCTAssertEqual("\(e)", "corrupt ROM image: header lengths are out of range") }
    }

    func testCompilerRefusesNonFiniteWeights() throws {
        let tiny = TinyModel(seed: 6)
        var poisoned = GGUFWriter()
        let g = try GGUFFile(path: tiny.write())
        for k in g.metadataKeys { poisoned.set(k, g.metadata[k]!) }
        for t in g.tensors {
            var v = try g.dequantize(t)
            if t.name == "blk.0.attn_q.weight" { v[100] = .nan }
            poisoned.addTensor(t.name, shape: t.shape, values: v)
        }
        let path = TempFiles.path("nan-\(UUID().uuidString).gguf")
        try poisoned.write(to: path)
        XCTAssertThrowsError(try ROMCompiler(bits: 4).compile(gguf: GGUFFile(path: path), output: TempFiles.path("nan.rom"))) { e in
            XCTAssertEqual("\(e)", "tensor 'blk.0.attn_q.weight' row 1 holds a non-finite weight (NaN or infinity); it cannot be quantized")
        }
    }

    func testModelConfigBounds() {
        var m = ModelConfig.smollm2_135M
        m.contextLength = 0
        XCTAssertThrowsError(try m.validate()) { e in XCTAssertEqual("\(e)", "model config: context_length must be in 1...16777216, got 0") }
        m = .smollm2_135M
        m.headDim = 1 << 40
        XCTAssertThrowsError(try m.validate()) { e in XCTAssertEqual("\(e)", "model config: head_dim must be in 1...16777216, got 1099511627776") }
    }

    /// A parallel loop inside a job, and two callers at once, run (serially where the pool is busy)
    /// and finish: checked on a helper thread with a deadline, so a deadlock fails instead of hanging.
    func testNestedAndConcurrentParallelLoopsFinish() {
        let out = UnsafeMutablePointer<Int>.allocate(capacity: 128)
        defer { out.deallocate() }
        let o = Unchecked(out)
        let done = DispatchSemaphore(value: 0)
        for half in 0..<2 {
            Thread {
                Parallel.forEach(8) { i in
                    Parallel.forEach(8) { j in o.value[half * 64 + i * 8 + j] = half * 64 + i * 8 + j }
                }
                done.signal()
            }.start()
        }
        for _ in 0..<2 {
            guard done.wait(timeout: .now() + 60) == .success else { return XCTFail("parallel loops did not finish within 60 s") }
        }
        XCTAssertEqual((0..<128).map { out[$0] }, Array(0..<128))
    }
}
