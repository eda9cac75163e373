import Foundation
import ROMANumerics

/// A safetensors file (8-byte little-endian header length, JSON header, byte buffer), memory-mapped
/// read-only. Every offset, shape and dtype is validated against the file before use: offsets inside
/// the buffer, sizes matching shape x dtype, no overlaps, no holes.
/// `@unchecked Sendable`: immutable after parsing; its bytes are a read-only mapping (`MappedFile`).
public final class SafetensorsFile: @unchecked Sendable {
    public enum DType: String, Sendable, CaseIterable {
        case F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL, U16, U32, U64

        public var size: Int {
            switch self {
            case .F64, .I64, .U64: return 8
            case .F32, .I32, .U32: return 4
            case .F16, .BF16, .I16, .U16: return 2
            case .F8_E4M3, .F8_E5M2, .I8, .U8, .BOOL: return 1
            }
        }
    }

    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        /// Row-major shape (PyTorch order: [out, in] for a weight).
        public let shape: [Int]
        /// Absolute byte range in the file.
        public let range: Range<Int>
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public static let maxHeaderSize = 100_000_000

    public let file: MappedFile
    public let tensors: [String: Tensor]
    public let metadata: [String: String]

    public var path: String { file.path }

    public convenience init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError.io(path: path, message: "no such file") }
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let b = file.bytes
        let (json, bufferStart) = try SafetensorsFile.readHeader(b)
        let bufferSize = b.count - bufferStart
        var tensors: [String: Tensor] = [:]
        var meta: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                try SafetensorsFile.readMetadata(value, into: &meta)
                continue
            }
            tensors[name] = try SafetensorsFile.readTensor(name, value, bufferStart: bufferStart, bufferSize: bufferSize)
        }
        try SafetensorsFile.checkCoverage(tensors, bufferStart: bufferStart, fileSize: b.count)
        self.tensors = tensors
        self.metadata = meta
    }

    /// Header step: the 8-byte length and the JSON object it frames; returns the object and where the buffer starts.
    private static func readHeader(_ b: UnsafeRawBufferPointer) throws -> ([String: Any], Int) {
        guard b.count >= 8 else { throw FormatError.truncated(what: "safetensors header length", offset: 0, needed: 8, fileSize: b.count) }
        let n = b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard n <= UInt64(SafetensorsFile.maxHeaderSize) else {
            throw FormatError.invalid("safetensors header length \(n) exceeds the limit of \(SafetensorsFile.maxHeaderSize) bytes")
        }
        guard n >= 2, Int(n) <= b.count - 8 else {
            throw FormatError.truncated(what: "safetensors JSON header", offset: 8, needed: Int(n), fileSize: b.count)
        }
        let headerBytes = Data(b[8..<(8 + Int(n))])
        guard headerBytes.first == UInt8(ascii: "{") else { throw FormatError.invalid("safetensors header does not start with '{'") }
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw FormatError.invalid("safetensors header is not a JSON object")
        }
        return (json, 8 + Int(n))
    }

    /// Metadata step: the `__metadata__` entry, an object of strings, added to `meta`.
    private static func readMetadata(_ value: Any, into meta: inout [String: String]) throws {
        guard let m = value as? [String: Any] else { throw FormatError.invalid("safetensors __metadata__ is not an object") }
        for (k, v) in m {
            guard let s = v as? String else { throw FormatError.invalid("safetensors __metadata__ value for '\(k)' is not a string") }
            meta[k] = s
        }
    }

    /// Tensor-info step: one header entry's dtype, shape and data offsets, checked against the buffer.
    private static func readTensor(_ name: String, _ value: Any, bufferStart: Int, bufferSize: Int) throws -> Tensor {
        guard let info = value as? [String: Any] else { throw FormatError.invalid("tensor '\(name)': header entry is not an object") }
        guard let dt = info["dtype"] as? String else { throw FormatError.invalid("tensor '\(name)': missing dtype") }
        guard let dtype = DType(rawValue: dt) else {
            throw FormatError.invalid("tensor '\(name)': unsupported dtype '\(dt)' (supported: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let (shape, count) = try readShape(name, info)
        guard let offs = info["data_offsets"] as? [NSNumber], offs.count == 2,
              offs.allSatisfy({ $0.doubleValue == Double($0.intValue) }) else {
            throw FormatError.invalid("tensor '\(name)': data_offsets must be [begin, end]")
        }
        let begin = offs[0].intValue, end = offs[1].intValue
        guard begin >= 0, end >= begin, end <= bufferSize else {
            throw FormatError.invalid("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(bufferSize)-byte buffer")
        }
        guard end - begin == count * dtype.size else {
            throw FormatError.shapeMismatch(tensor: name, expected: shape, found: [(end - begin) / dtype.size])
        }
        return Tensor(name: name, dtype: dtype, shape: shape, range: (bufferStart + begin)..<(bufferStart + end))
    }

    /// One header entry's shape (integral, bounded dimensions) and its element count.
    private static func readShape(_ name: String, _ info: [String: Any]) throws -> ([Int], Int) {
        guard let shapeN = info["shape"] as? [NSNumber] else { throw FormatError.invalid("tensor '\(name)': missing or invalid shape") }
        let shape = shapeN.map(\.intValue)
        guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }), shapeN.allSatisfy({ $0.doubleValue == Double($0.intValue) }) else {
            throw FormatError.invalid("tensor '\(name)': invalid shape \(shapeN)")
        }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o, p < 1 << 48 else { throw FormatError.invalid("tensor '\(name)': shape \(shape) is too large") }
            count = p
        }
        return (shape, count)
    }

    /// Validation step: the buffer is covered exactly: no overlaps, no holes.
    private static func checkCoverage(_ tensors: [String: Tensor], bufferStart: Int, fileSize: Int) throws {
        let sorted = tensors.values.sorted { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var cursor = bufferStart
        for t in sorted {
            if t.range.lowerBound < cursor { throw FormatError.invalid("tensor '\(t.name)' overlaps another tensor's data") }
            if t.range.lowerBound > cursor { throw FormatError.invalid("safetensors buffer has a hole before tensor '\(t.name)'") }
            cursor = t.range.upperBound
        }
        if cursor != fileSize { throw FormatError.invalid("safetensors buffer has \(fileSize - cursor) bytes not covered by any tensor") }
    }

    public func requireTensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw FormatError.missingTensor(name) }
        return t
    }

    /// The tensor's values as FP32 (floating dtypes only).
    public func floats(_ t: Tensor) throws -> [Float] {
        let p = file.bytes.baseAddress! + t.range.lowerBound
        let n = t.elementCount
        switch t.dtype {
        case .F32: return (0..<n).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        case .F16: return (0..<n).map { FP16.toFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .BF16: return (0..<n).map { BF16.toFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .F64: return (0..<n).map { Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))) }
        case .F8_E4M3: return (0..<n).map { FP8E4M3.toFloat(p.load(fromByteOffset: $0, as: UInt8.self)) }
        default: throw FormatError.invalid("tensor '\(t.name)': dtype \(t.dtype.rawValue) is not a floating-point type")
        }
    }
}

/// Writes safetensors files (header padded with spaces to a multiple of 8, tensors in the given order).
public struct SafetensorsWriter {
    private var entries: [(name: String, dtype: SafetensorsFile.DType, shape: [Int], bytes: [UInt8])] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, shape: [Int], f32 values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        var b: [UInt8] = []
        b.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { b += $0 } }
        entries.append((name, .F32, shape, b))
    }

    public mutating func add(_ name: String, shape: [Int], f16 values: [Float]) {
        var b: [UInt8] = []
        for v in values { let h = FP16.fromFloat(v); b += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        entries.append((name, .F16, shape, b))
    }

    public mutating func add(_ name: String, shape: [Int], bf16 values: [Float]) {
        var b: [UInt8] = []
        for v in values { let h = BF16.fromFloat(v); b += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        entries.append((name, .BF16, shape, b))
    }

    public func serialize() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]] as [String: Any]
            offset += e.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json
        for e in entries { out += e.bytes }
        return out
    }

    public func write(to path: String) throws {
        try Data(serialize()).write(to: URL(fileURLWithPath: path))
    }
}
