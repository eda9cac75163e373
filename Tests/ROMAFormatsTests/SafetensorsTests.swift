import XCTest
import Foundation
import ROMAFormats
import ROMATestSupport

final class SafetensorsTests: XCTestCase {
    func path(_ bytes: [UInt8]) throws -> String {
        let p = TempFiles.path("st-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// A file with the given JSON header and buffer, written by hand (independent of SafetensorsWriter).
    func raw(_ header: String, _ buffer: [UInt8]) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
        return out + h + buffer
    }

    func expect(_ bytes: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertThrowsError(try SafetensorsFile(path: path(bytes)), file: file, line: line) { e in
            XCTAssertEqual("\(e)", message, file: file, line: line)
        }
    }

    func testRoundTripOfEveryFloatDtype() throws {
        var w = SafetensorsWriter()
        w.add("a", shape: [2, 3], f32: [1, -2, 3.5, 0, 1e-3, 7])
        w.add("b", shape: [3], f16: [0.5, -1.25, 2048])
        w.add("c", shape: [1, 2], bf16: [1.5, -3])
        w.metadata = ["format": "pt"]
        let f = try SafetensorsFile(path: path(w.serialize()))
        XCTAssertEqual(try f.floats(f.requireTensor("a")), [1, -2, 3.5, 0, 1e-3, 7])
        XCTAssertEqual(try f.floats(f.requireTensor("b")), [0.5, -1.25, 2048])
        XCTAssertEqual(try f.floats(f.requireTensor("c")), [1.5, -3])
        XCTAssertEqual(f.tensors["a"]?.shape, [2, 3])
        XCTAssertEqual(f.metadata, ["format": "pt"])
    }

    func testHandWrittenFileReads() throws {
        // F32 [2] = [1.0, 2.0]; F16 [1] = 1.0 (0x3C00)
        let buf: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0x00, 0x3C]
        let f = try SafetensorsFile(path: path(raw(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}"#, buf)))
        XCTAssertEqual(try f.floats(f.requireTensor("x")), [1, 2])
        XCTAssertEqual(try f.floats(f.requireTensor("y")), [1])
        XCTAssertThrowsError(try f.requireTensor("z")) { e in XCTAssertEqual("\(e)", "missing required tensor 'z'") }
    }

    func testMalformedFiles() throws {
        try expect([1, 2, 3], "file is truncated: safetensors header length needs 8 bytes at offset 0, but the file has 3 bytes")
        var big: [UInt8] = []
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { big += $0 }
        try expect(big, "safetensors header length 1099511627776 exceeds the limit of 100000000 bytes")
        var short: [UInt8] = []
        withUnsafeBytes(of: UInt64(100).littleEndian) { short += $0 }
        try expect(short + Array("{}".utf8), "file is truncated: safetensors JSON header needs 100 bytes at offset 8, but the file has 10 bytes")
        try expect(raw("[1, 2]", []), "safetensors header does not start with '{'")
        try expect(raw("{\"x\": ", []), "safetensors header is not a JSON object")
        try expect(raw(#"{"x":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]),
                   "tensor 'x': unsupported dtype 'Q9' (supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL, U16, U32, U64)")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, [UInt8](repeating: 0, count: 8)),
                   "tensor 'x': data_offsets [0, 16] lie outside the 8-byte buffer")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8)),
                   "tensor 'x' has shape [2], expected [3]")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, [UInt8](repeating: 0, count: 8)),
                   "tensor 'y' overlaps another tensor's data")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, [UInt8](repeating: 0, count: 8)),
                   "safetensors buffer has a hole before tensor 'x'")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, [UInt8](repeating: 0, count: 8)),
                   "safetensors buffer has 4 bytes not covered by any tensor")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]), "tensor 'x': invalid shape [-1]")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, [0, 0, 0, 0]), "tensor 'x': data_offsets must be [begin, end]")
        try expect(raw(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0, 4.5]}}"#, [0, 0, 0, 0]), "tensor 'x': data_offsets must be [begin, end]")
    }
}
