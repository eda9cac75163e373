import XCTest
import Foundation
import ROMAFormats
import ROMANumerics
import ROMATestSupport

final class GGUFTests: XCTestCase {
    func write(_ w: GGUFWriter) throws -> String {
        let p = TempFiles.path("t-\(UUID().uuidString).gguf")
        try w.write(to: p)
        return p
    }

    func writeBytes(_ b: [UInt8]) throws -> String {
        let p = TempFiles.path("b-\(UUID().uuidString).gguf")
        try Data(b).write(to: URL(fileURLWithPath: p))
        return p
    }

    func expectError(_ bytes: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let p = try writeBytes(bytes)
        XCTAssertThrowsError(try GGUFFile(path: p), file: file, line: line) { e in
            XCTAssertEqual("\(e)", message, file: file, line: line)
        }
    }

    func testEveryMetadataTypeRoundTrips() throws {
        var w = GGUFWriter()
        let values: [(String, GGUFValue)] = [
            ("a.u8", .uint8(200)), ("a.i8", .int8(-5)), ("a.u16", .uint16(60000)), ("a.i16", .int16(-300)),
            ("a.u32", .uint32(4_000_000_000)), ("a.i32", .int32(-7)), ("a.f32", .float32(1.5)), ("a.bool", .bool(true)),
            ("a.str", .string("héllo ✓")), ("a.u64", .uint64(1 << 40)), ("a.i64", .int64(-(1 << 40))), ("a.f64", .float64(-2.25)),
            ("a.arr", .int32s([1, -2, 3])),
            ("a.nested", .array(elementType: 9, [.strings(["x", "y"]), .strings([])])),
            ("a.empty", .array(elementType: 4, [])),
        ]
        for (k, v) in values { w.set(k, v) }
        w.alignment = 64
        w.addTensor("t", shape: [4, 2], type: .f32, values: [1, 2, 3, 4, 5, 6, 7, 8])
        let g = try GGUFFile(path: write(w))
        for (k, v) in values { XCTAssertEqual(g.value(k), v, k) }
        XCTAssertEqual(g.metadataKeys.prefix(values.count).map { $0 }, values.map(\.0))
        XCTAssertEqual(g.alignment, 64)
        XCTAssertEqual(g.dataOffset % 64, 0)
        XCTAssertEqual(try g.dequantize(g.requireTensor("t")), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(g.tensor("t")?.rows, 2)
        XCTAssertEqual(g.tensor("t")?.columns, 4)
    }

    /// Simple block types against the ggml formulas evaluated here on the encoded bytes.
    func testSimpleBlockTypesDequantizeByTheirFormulas() throws {
        var rng = SplitMix(5)
        let x = (0..<64).map { _ in rng.normal() }
        for type in [GGMLType.f16, .bf16, .q8_0, .q4_0, .q4_1] {
            let bytes = Quantize.row(type: type, x)
            XCTAssertEqual(bytes.count, 64 / type.blockSize * type.blockBytes)
            var w = GGUFWriter()
            w.addRawTensor("w", shape: [64], type: type, bytes: bytes)
            let got = try GGUFFile(path: write(w)).dequantize(GGUFFile(path: write(w)).requireTensor("w"))
            func h(_ o: Int) -> Float { FP16.decodeSlow(UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8) }
            var expect = [Float]()
            switch type {
            case .f16: expect = (0..<64).map { h(2 * $0) }
            case .bf16: expect = (0..<64).map { Float(bitPattern: (UInt32(bytes[2 * $0]) | UInt32(bytes[2 * $0 + 1]) << 8) << 16) }
            case .q8_0: expect = (0..<64).map { i in let b = (i / 32) * 34; return Float(Int8(bitPattern: bytes[b + 2 + i % 32])) * h(b) }
            case .q4_0: expect = (0..<64).map { i in
                let b = (i / 32) * 18, j = i % 32
                let nib = j < 16 ? bytes[b + 2 + j] & 15 : bytes[b + 2 + j - 16] >> 4
                return Float(Int(nib) - 8) * h(b) }
            case .q4_1: expect = (0..<64).map { i in
                let b = (i / 32) * 20, j = i % 32
                let nib = j < 16 ? bytes[b + 4 + j] & 15 : bytes[b + 4 + j - 16] >> 4
                return Float(nib) * h(b) + h(b + 2) }
            default: break
            }
            XCTAssertEqual(got, expect, "\(type)")
            let err = zip(got, x).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, type == .q4_0 || type == .q4_1 ? 0.5 : 0.05, "\(type) quantization error")
        }
    }

    /// K-quant blocks built by hand: every field set to a known value, expected values worked out here.
    func testKQuantBlocksDequantize() throws {
        // Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin
        var q2 = [UInt8](repeating: 0, count: 84)
        for i in 0..<16 { q2[i] = UInt8(i % 16) | UInt8((15 - i % 16) << 4) }
        for i in 0..<64 { q2[16 + i] = UInt8((i * 37) & 0xFF) }
        q2[80] = 0x00; q2[81] = 0x38   // d = 0.5
        q2[82] = 0x00; q2[83] = 0x34   // dmin = 0.25
        var exp2 = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let half = e / 128, r = e % 128, shiftGroup = r / 32, sub = (r % 32) / 16, l = r % 16
            let sc = q2[(half * 8) + shiftGroup * 2 + sub]
            let q = (q2[16 + half * 32 + sub * 16 + l] >> UInt8(2 * shiftGroup)) & 3
            exp2[e] = 0.5 * Float(sc & 15) * Float(q) - 0.25 * Float(sc >> 4)
        }
        // Q4_K: d, dmin, scales[12], qs[128]; sub-blocks 0-3 use the simple 6-bit encoding
        var q4 = [UInt8](repeating: 0, count: 144)
        q4[0] = 0x00; q4[1] = 0x3C     // d = 1
        q4[2] = 0x00; q4[3] = 0x38     // dmin = 0.5
        let sc6: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8], mn6: [UInt8] = [8, 7, 6, 5, 4, 3, 2, 1]
        for j in 0..<4 { q4[4 + j] = sc6[j]; q4[8 + j] = mn6[j] }
        for j in 4..<8 {  // high sub-blocks: low 4 bits in scales[j+4], top 2 bits in scales[j-4] / scales[j] bits 6-7
            q4[4 + j + 4] = (sc6[j] & 15) | ((mn6[j] & 15) << 4)
            q4[4 + j - 4] |= (sc6[j] >> 4) << 6
            q4[4 + j] |= (mn6[j] >> 4) << 6
        }
        for i in 0..<128 { q4[16 + i] = UInt8((i * 11 + 3) & 0xFF) }
        var exp4 = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let chunk = e / 64, hi = (e % 64) / 32, l = e % 32
            let sub = chunk * 2 + hi
            let byte = q4[16 + chunk * 32 + l]
            let q = hi == 0 ? byte & 15 : byte >> 4
            exp4[e] = 1 * Float(sc6[sub]) * Float(q) - 0.5 * Float(mn6[sub])
        }
        // Q6_K: ql[128], qh[64], scales[16] (int8), d
        var q6 = [UInt8](repeating: 0, count: 210)
        for i in 0..<128 { q6[i] = UInt8((i * 7 + 1) & 0xFF) }
        for i in 0..<64 { q6[128 + i] = UInt8((i * 13 + 5) & 0xFF) }
        for i in 0..<16 { q6[192 + i] = UInt8(bitPattern: Int8(i - 8)) }
        q6[208] = 0x00; q6[209] = 0x30  // d = 0.125
        var exp6 = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let half = e / 128, r = e % 128, quarter = r / 32, l = r % 32
            let ql = q6[half * 64 + l + (quarter % 2) * 32]
            let low = quarter < 2 ? ql & 15 : ql >> 4
            let qh = (q6[128 + half * 32 + l] >> UInt8(2 * quarter)) & 3
            let q = Int(low | qh << 4) - 32
            let sc = Int8(bitPattern: q6[192 + half * 8 + quarter * 2 + l / 16])
            exp6[e] = 0.125 * Float(sc) * Float(q)
        }
        var w = GGUFWriter()
        w.addRawTensor("a", shape: [256], type: .q2_K, bytes: q2)
        w.addRawTensor("b", shape: [256], type: .q4_K, bytes: q4)
        w.addRawTensor("c", shape: [256], type: .q6_K, bytes: q6)
        let g = try GGUFFile(path: write(w))
        XCTAssertEqual(try g.dequantize(g.requireTensor("a")), exp2)
        XCTAssertEqual(try g.dequantize(g.requireTensor("b")), exp4)
        XCTAssertEqual(try g.dequantize(g.requireTensor("c")), exp6)
    }

    // MARK: malformed files

    func header(version: UInt32 = 3, tensors: UInt64 = 0, kvs: UInt64 = 0) -> [UInt8] {
        var b: [UInt8] = Array("GGUF".utf8)
        withUnsafeBytes(of: version.littleEndian) { b += $0 }
        withUnsafeBytes(of: tensors.littleEndian) { b += $0 }
        withUnsafeBytes(of: kvs.littleEndian) { b += $0 }
        return b
    }

    func testBadMagic() throws {
        try expectError(Array("GGML".utf8) + [UInt8](repeating: 0, count: 20), "not a GGUF file: bad magic 'GGML' (expected 'GGUF')")
    }

    func testUnsupportedVersion() throws {
        try expectError(header(version: 7), "unsupported GGUF version 7 (supported: 2, 3)")
    }

    func testEmptyAndTinyFiles() throws {
        try expectError([], "file is truncated: GGUF magic needs 4 bytes at offset 0, but the file has 0 bytes")
        try expectError(Array("GGUF".utf8) + [3, 0], "file is truncated: version needs 4 bytes at offset 4, but the file has 6 bytes")
    }

    func testCountsPastTheEnd() throws {
        try expectError(header(kvs: 1 << 40), "metadata_kv_count 1099511627776 is larger than the file (24 bytes) can hold")
        try expectError(header(tensors: 1 << 40), "tensor_count 1099511627776 is larger than the file (24 bytes) can hold")
        var w = GGUFWriter()
        w.set("k", .strings(["a", "b"]))
        var b = w.serialize()
        // patch the array count (after key string, type, element type) to something huge
        let countOffset = 24 + 8 + 1 + 4 + 4
        withUnsafeBytes(of: UInt64(1 << 50).littleEndian) { for i in 0..<8 { b[countOffset + i] = $0[i] } }
        try expectError(b, "file is truncated: array 'k' of 1125899906842624 items needs \(Int(clamping: UInt64(1 << 50) * 8)) bytes at offset 49, but the file has \(b.count) bytes")
    }

    /// Metadata arrays become one value per item, so their items are capped in all (not only by the file size).
    func testMetadataArrayItemsAreCappedInAll() throws {
        var w = GGUFWriter()
        w.set("k", .array(elementType: 0, []))
        var b = w.serialize()
        let countOffset = 24 + 8 + 1 + 4 + 4
        let n = UInt64((1 << 24) + 1)
        withUnsafeBytes(of: n.littleEndian) { for i in 0..<8 { b[countOffset + i] = $0[i] } }
        b += [UInt8](repeating: 7, count: Int(n))
        try expectError(b, "metadata key 'k': arrays hold more than 16777216 items in all (this one 16777217)")
    }

    func testUnknownValueAndTensorTypes() throws {
        var w = GGUFWriter()
        w.set("x", .uint32(1))
        var b = w.serialize()
        b[24 + 8 + 1] = 99  // value type of key "x"
        try expectError(b, "metadata key 'x' has unknown value type 99")
        var t = GGUFWriter()
        t.addTensor("w", shape: [32], values: [Float](repeating: 1, count: 32))
        var tb = t.serialize()
        let typeOffset = 24 + 8 + 1 + 4 + 8  // name, n_dims, dims
        tb[typeOffset] = 77
        try expectError(tb, "tensor 'w' has unknown ggml type 77")
    }

    func testTensorDataPastTheEndAndMisaligned() throws {
        var t = GGUFWriter()
        t.addTensor("w", shape: [32], values: [Float](repeating: 1, count: 32))
        let b = t.serialize()
        try expectError(Array(b.dropLast(4)), "file is truncated: data of tensor 'w' needs 128 bytes at offset 64, but the file has 188 bytes")
        var mis = b
        let offOffset = 24 + 8 + 1 + 4 + 8 + 4
        mis[offOffset] = 4
        try expectError(mis, "tensor 'w': offset 4 is not a multiple of the alignment 32")
        var huge = b
        withUnsafeBytes(of: UInt64(1 << 62).littleEndian) { for i in 0..<8 { huge[offOffset + i] = $0[i] } }
        XCTAssertThrowsError(try GGUFFile(path: writeBytes(huge)))
    }

    /// llama.cpp's rule: each tensor starts where the previous one ends, rounded up to the alignment.
    func testOverlappingGappedAndReorderedTensorsAreRefusedByName() throws {
        var t = GGUFWriter()
        t.addTensor("a", shape: [32], values: [Float](repeating: 1, count: 32))
        t.addTensor("b", shape: [32], values: [Float](repeating: 2, count: 32))
        let b = t.serialize()
        let offA = 24 + 8 + 1 + 4 + 8 + 4, offB = offA + 8 + 8 + 1 + 4 + 8 + 4
        func patched(_ at: Int, _ v: UInt64, _ base: [UInt8]) -> [UInt8] {
            var c = base
            withUnsafeBytes(of: v.littleEndian) { for i in 0..<8 { c[at + i] = $0[i] } }
            return c
        }
        let g = try GGUFFile(path: writeBytes(b))
        XCTAssertEqual(g.tensors.map { $0.fileOffset - g.dataOffset }, [0, 128])
        XCTAssertEqual(try g.dequantize(g.tensors[1]), [Float](repeating: 2, count: 32))
        try expectError(patched(offB, 0, b),
                        "tensor 'b' at data offset 0 (128 bytes) overlaps tensor 'a' (data offsets 0..<128); it must start at 128")
        try expectError(patched(offB, 96, b),
                        "tensor 'b' at data offset 96 (128 bytes) overlaps tensor 'a' (data offsets 0..<128); it must start at 128")
        try expectError(patched(offB, 160, b),
                        "tensor 'b' at data offset 160 leaves a gap after tensor 'a' (data offsets 0..<128); tensors must be contiguous, so it must start at 128")
        try expectError(patched(offB, 0, patched(offA, 128, b)),
                        "tensor 'a' at data offset 128 leaves a gap after the start of the data section; tensors must be contiguous, so it must start at 0")
    }

    func testBlockSizeMismatch() throws {
        var t = GGUFWriter()
        t.addRawTensor("q", shape: [40], type: .q8_0, bytes: [UInt8](repeating: 0, count: 68))
        try expectError(t.serialize(), "tensor 'q': first dimension 40 is not a multiple of the Q8_0 block size 32")
    }

    /// Every prefix of a valid file is rejected with an error (never a crash or a hang).
    func testEveryTruncationIsAnError() throws {
        let tiny = TinyModel(seed: 1)
        let full = tiny.writer().serialize()
        let g = try GGUFFile(path: writeBytes(full))
        XCTAssertEqual(g.tensors.count, 2 + 9 * 2)
        var cuts = Array(stride(from: 0, to: g.dataOffset, by: 97)) + [g.dataOffset - 1, full.count - 1]
        cuts += [full.count / 2]
        for cut in cuts {
            let p = try writeBytes(Array(full.prefix(cut)))
            XCTAssertThrowsError(try GGUFFile(path: p), "cut at \(cut)") { e in
                let s = "\(e)"
                XCTAssertTrue(s.contains("truncated") || s.contains("larger than the file"), "cut \(cut): \(s)")
            }
        }
    }

    func testMissingFileAndMissingKeys() throws {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { e in
            XCTAssertEqual("\(e)", "cannot read '/nonexistent/model.gguf': no such file")
        }
        let g = try GGUFFile(path: write(GGUFWriter()))
        XCTAssertThrowsError(try g.requireInt("llama.block_count")) { e in
            XCTAssertEqual("\(e)", "missing required metadata key 'llama.block_count'")
        }
        var w = GGUFWriter(); w.set("n", .string("x"))
        XCTAssertThrowsError(try GGUFFile(path: write(w)).requireInt("n")) { e in
            XCTAssertEqual("\(e)", "metadata key 'n' should be an integer, found string")
        }
    }
}
