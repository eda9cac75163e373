import Foundation

/// A GGUF metadata value (GGUF spec value types 0-12; arrays may nest).
public indirect enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String)
    case array(elementType: UInt32, [GGUFValue])
    case uint64(UInt64), int64(Int64), float64(Double)

    public static let typeNames = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"]

    public var typeCode: UInt32 {
        switch self {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    public var typeName: String {
        if case .array(let et, _) = self { return "array[\(et < 13 ? GGUFValue.typeNames[Int(et)] : "?")]" }
        return GGUFValue.typeNames[Int(typeCode)]
    }

    /// Integer value of any integer type (and bool), nil otherwise.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [GGUFValue]? { if case .array(_, let a) = self { return a }; return nil }

    public var description: String {
        switch self {
        case .string(let s): return s.debugDescription
        case .array(_, let a):
            let head = a.prefix(6).map(\.description).joined(separator: ", ")
            return a.count > 6 ? "[\(head), ... (\(a.count) items)]" : "[\(head)]"
        case .float32(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .bool(let b): return "\(b)"
        default: return "\(intValue ?? 0)"
        }
    }
}

/// One tensor's description in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml `ne[]` order: `shape[0]` is the contiguous (input-feature) dimension.
    public let shape: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the data in the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    /// Rows of a 2-D weight: product of dims after the first.
    public var rows: Int { shape.dropFirst().reduce(1, *) }
    public var columns: Int { shape.first ?? 1 }
}

/// A GGUF file (v2/v3, little-endian), memory-mapped read-only. Every count, offset and size is
/// validated against the file before use.
/// `@unchecked Sendable`: immutable after parsing; its bytes are a read-only mapping (`MappedFile`).
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF"
    public let file: MappedFile
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Keys in file order.
    public let metadataKeys: [String]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let tensorIndex: [String: Int]

    public var path: String { file.path }

    public convenience init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError.io(path: path, message: "no such file")
        }
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        var r = ByteReader(file.bytes)
        let header = try GGUFFile.readHeader(&r, file: file)
        version = header.version
        let (meta, keys) = try GGUFFile.readMetadata(&r, count: header.nKV)
        let align = try GGUFFile.alignment(of: meta)
        let raws = try GGUFFile.readTensorInfos(&r, count: header.nTensors)
        let dataStart = (r.offset + align - 1) / align * align
        let (infos, index) = try GGUFFile.placeTensors(raws, alignment: align, dataStart: dataStart, fileSize: file.count)
        metadata = meta
        metadataKeys = keys
        tensors = infos
        tensorIndex = index
        alignment = align
        dataOffset = dataStart
    }

    /// A tensor info as read from the file, before it is validated against the data section.
    private struct RawTensorInfo { let name: String; let shape: [Int]; let type: GGMLType; let rel: UInt64 }

    /// Header step: magic, version and the two counts, each count bounded by what the file can hold.
    private static func readHeader(_ r: inout ByteReader, file: MappedFile) throws -> (version: UInt32, nTensors: UInt64, nKV: UInt64) {
        guard file.count >= 4 else { throw FormatError.truncated(what: "GGUF magic", offset: 0, needed: 4, fileSize: file.count) }
        let m = try r.u32("magic")
        guard m == GGUFFile.magic else {
            let b = withUnsafeBytes(of: m.littleEndian) { Array($0) }
            let printable = b.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
            throw FormatError.badMagic(found: "'\(printable)'")
        }
        let version = try r.u32("version")
        guard version == 2 || version == 3 else { throw FormatError.unsupportedVersion(version) }
        let nTensors = try r.u64("tensor_count")
        let nKV = try r.u64("metadata_kv_count")
        // Each kv needs at least 8 (key len) + 4 (type) + 1 bytes; each tensor info at least 8+4+4+8.
        guard nKV <= UInt64(file.count / 13) else {
            throw FormatError.invalid("metadata_kv_count \(nKV) is larger than the file (\(file.count) bytes) can hold")
        }
        guard nTensors <= UInt64(file.count / 24) else {
            throw FormatError.invalid("tensor_count \(nTensors) is larger than the file (\(file.count) bytes) can hold")
        }
        return (version, nTensors, nKV)
    }

    /// Metadata step: `count` key/value pairs, keys unique, in file order.
    private static func readMetadata(_ r: inout ByteReader, count nKV: UInt64) throws -> ([String: GGUFValue], [String]) {
        var meta: [String: GGUFValue] = [:]
        var keys: [String] = []
        for _ in 0..<Int(nKV) {
            let key = try r.string("metadata key")
            let type = try r.u32("value type of '\(key)'")
            let value = try r.value(type: type, key: key, depth: 0)
            if meta[key] != nil { throw FormatError.invalid("duplicate metadata key '\(key)'") }
            meta[key] = value
            keys.append(key)
        }
        return (meta, keys)
    }

    /// Alignment step: `general.alignment` if present and valid, else 32.
    private static func alignment(of meta: [String: GGUFValue]) throws -> Int {
        var align = 32
        if let a = meta["general.alignment"] {
            guard let v = a.intValue, v > 0, v % 8 == 0, v <= 1 << 20 else {
                throw FormatError.invalid("general.alignment must be a positive multiple of 8, got \(a)")
            }
            align = v
        }
        return align
    }

    /// Tensor-info step: `count` entries of name, shape, type and data-relative offset.
    private static func readTensorInfos(_ r: inout ByteReader, count nTensors: UInt64) throws -> [RawTensorInfo] {
        var raws: [RawTensorInfo] = []
        for i in 0..<Int(nTensors) {
            let name = try r.string("name of tensor \(i)")
            let nd = try r.u32("n_dims of '\(name)'")
            guard nd >= 1 && nd <= 4 else { throw FormatError.invalid("tensor '\(name)' has \(nd) dimensions (1...4 allowed)") }
            let shape = try readShape(&r, name: name, dims: nd)
            let t = try r.u32("type of '\(name)'")
            guard let type = GGMLType(rawValue: t) else { throw FormatError.unknownTensorType(tensor: name, type: t) }
            let off = try r.u64("offset of '\(name)'")
            raws.append(RawTensorInfo(name: name, shape: shape, type: type, rel: off))
        }
        return raws
    }

    /// One tensor's `dims` dimensions, each positive and bounded, with a bounded element count.
    private static func readShape(_ r: inout ByteReader, name: String, dims nd: UInt32) throws -> [Int] {
        var shape: [Int] = []
        var elems: UInt64 = 1
        for _ in 0..<nd {
            let d = try r.u64("dimensions of '\(name)'")
            guard d > 0, d < 1 << 40 else { throw FormatError.invalid("tensor '\(name)' has invalid dimension \(d)") }
            let (p, o) = elems.multipliedReportingOverflow(by: d)
            guard !o, p < 1 << 48 else { throw FormatError.invalid("tensor '\(name)' has too many elements") }
            elems = p
            shape.append(Int(d))
        }
        return shape
    }

    /// Validation step: checks each tensor's block size, alignment, bounds and name, and places it in the file.
    /// Like llama.cpp's loader, tensors must lie in table order, each at the previous one's end rounded up to
    /// the alignment: no overlaps, no gaps, nothing outside the file.
    private static func placeTensors(_ raws: [RawTensorInfo], alignment align: Int, dataStart: Int,
                                     fileSize: Int) throws -> ([GGUFTensorInfo], [String: Int]) {
        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        var expected = 0   // where the next tensor must start, relative to the data section
        for raw in raws {
            guard raw.shape[0] % raw.type.blockSize == 0 else {
                throw FormatError.invalid("tensor '\(raw.name)': first dimension \(raw.shape[0]) is not a multiple of the \(raw.type) block size \(raw.type.blockSize)")
            }
            guard raw.rel % UInt64(align) == 0 else {
                throw FormatError.invalid("tensor '\(raw.name)': offset \(raw.rel) is not a multiple of the alignment \(align)")
            }
            let n = raw.shape.reduce(1, *)
            let bytes = n / raw.type.blockSize * raw.type.blockBytes
            try checkPlacement(raw, bytes: bytes, expected: expected, previous: infos.last, dataStart: dataStart)
            guard raw.rel <= UInt64(fileSize), dataStart + Int(raw.rel) + bytes <= fileSize else {
                throw FormatError.truncated(what: "data of tensor '\(raw.name)'", offset: dataStart + Int(min(raw.rel, UInt64(fileSize))),
                                            needed: bytes, fileSize: fileSize)
            }
            if index[raw.name] != nil { throw FormatError.invalid("duplicate tensor name '\(raw.name)'") }
            index[raw.name] = infos.count
            infos.append(GGUFTensorInfo(name: raw.name, shape: raw.shape, type: raw.type, fileOffset: dataStart + Int(raw.rel), byteCount: bytes))
            expected = Int(raw.rel) + (bytes + align - 1) / align * align
        }
        return (infos, index)
    }

    /// One tensor's data offset against where the table says it must start (overlap or gap: refused).
    private static func checkPlacement(_ raw: RawTensorInfo, bytes: Int, expected: Int, previous: GGUFTensorInfo?,
                                       dataStart: Int) throws {
        guard raw.rel != UInt64(expected) else { return }
        let prev = previous.map { p in
            "tensor '\(p.name)' (data offsets \(p.fileOffset - dataStart)..<\(p.fileOffset - dataStart + p.byteCount))"
        } ?? "the start of the data section"
        if raw.rel < UInt64(expected) {
            throw FormatError.invalid("tensor '\(raw.name)' at data offset \(raw.rel) (\(bytes) bytes) overlaps \(prev); it must start at \(expected)")
        }
        throw FormatError.invalid("tensor '\(raw.name)' at data offset \(raw.rel) leaves a gap after \(prev); tensors must be contiguous, so it must start at \(expected)")
    }

    // MARK: metadata access

    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    public func requireInt(_ key: String) throws -> Int {
        guard let v = metadata[key] else { throw FormatError.missingKey(key) }
        guard let i = v.intValue else { throw FormatError.wrongKeyType(key: key, expected: "an integer", found: v.typeName) }
        return i
    }

    public func requireDouble(_ key: String) throws -> Double {
        guard let v = metadata[key] else { throw FormatError.missingKey(key) }
        guard let d = v.doubleValue else { throw FormatError.wrongKeyType(key: key, expected: "a number", found: v.typeName) }
        return d
    }

    public func requireString(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw FormatError.missingKey(key) }
        guard let s = v.stringValue else { throw FormatError.wrongKeyType(key: key, expected: "a string", found: v.typeName) }
        return s
    }

    public func stringArray(_ key: String) throws -> [String] {
        guard let v = metadata[key] else { throw FormatError.missingKey(key) }
        guard case .array(let et, let a) = v, et == 8 else { throw FormatError.wrongKeyType(key: key, expected: "an array of strings", found: v.typeName) }
        return a.map { $0.stringValue ?? "" }
    }

    public func intArray(_ key: String) throws -> [Int] {
        guard let v = metadata[key] else { throw FormatError.missingKey(key) }
        guard case .array(_, let a) = v else { throw FormatError.wrongKeyType(key: key, expected: "an array of integers", found: v.typeName) }
        return try a.map { guard let i = $0.intValue else { throw FormatError.wrongKeyType(key: key, expected: "an array of integers", found: v.typeName) }; return i }
    }

    // MARK: tensors

    public func tensor(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    public func requireTensor(_ name: String, shape: [Int]? = nil) throws -> GGUFTensorInfo {
        guard let t = tensor(name) else { throw FormatError.missingTensor(name) }
        if let shape, t.shape != shape { throw FormatError.shapeMismatch(tensor: name, expected: shape, found: t.shape) }
        return t
    }

    /// The raw bytes of a tensor, in place in the mapped file.
    public func data(_ t: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[t.fileOffset..<(t.fileOffset + t.byteCount)])
    }

    /// Dequantizes a whole tensor to FP32.
    public func dequantize(_ t: GGUFTensorInfo) throws -> [Float] {
        guard t.type.canDequantize else { throw FormatError.invalid("tensor '\(t.name)': dequantization of \(t.type) is not supported") }
        var out = [Float](repeating: 0, count: t.elementCount)
        out.withUnsafeMutableBufferPointer { o in
            Dequantize.row(type: t.type, src: data(t).baseAddress!, dst: o.baseAddress!, count: t.elementCount)
        }
        return out
    }
}

/// Bounds-checked little-endian reader over a byte buffer.
struct ByteReader {
    let buf: UnsafeRawBufferPointer
    var offset = 0
    /// Array items read so far, over every metadata value: each becomes a `GGUFValue`, many times its
    /// bytes in the file, so the total is capped (real vocabularies hold well under a million tokens).
    var arrayItems = 0
    static let maxArrayItems = 1 << 24
    init(_ buf: UnsafeRawBufferPointer) { self.buf = buf }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, offset <= buf.count, buf.count - offset >= n else {
            throw FormatError.truncated(what: what, offset: offset, needed: n, fileSize: buf.count)
        }
    }
    mutating func read<T: FixedWidthInteger>(_ what: String, as: T.Type) throws -> T {
        try need(MemoryLayout<T>.size, what)
        let v = buf.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }
    mutating func u32(_ what: String) throws -> UInt32 { try read(what, as: UInt32.self) }
    mutating func u64(_ what: String) throws -> UInt64 { try read(what, as: UInt64.self) }
    mutating func string(_ what: String) throws -> String {
        let n = try u64("length of \(what)")
        guard n <= UInt64(buf.count - offset) else {
            throw FormatError.truncated(what: what, offset: offset, needed: Int(clamping: n), fileSize: buf.count)
        }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: buf[offset..<offset + Int(n)]), as: UTF8.self)
        offset += Int(n)
        return s
    }

    mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let what = "value of '\(key)'"
        switch type {
        case 0: return .uint8(try read(what, as: UInt8.self))
        case 1: return .int8(try read(what, as: Int8.self))
        case 2: return .uint16(try read(what, as: UInt16.self))
        case 3: return .int16(try read(what, as: Int16.self))
        case 4: return .uint32(try read(what, as: UInt32.self))
        case 5: return .int32(try read(what, as: Int32.self))
        case 6: return .float32(Float(bitPattern: try read(what, as: UInt32.self)))
        case 7:
            let b = try read(what, as: UInt8.self)
            guard b <= 1 else { throw FormatError.invalid("metadata key '\(key)': bool value \(b) is not 0 or 1") }
            return .bool(b == 1)
        case 8: return .string(try string(what))
        case 9:
            guard depth < 8 else { throw FormatError.invalid("metadata key '\(key)': arrays nested deeper than 8") }
            let et = try u32("array element type of '\(key)'")
            guard et <= 12 else { throw FormatError.unknownValueType(key: key, type: et) }
            let n = try u64("array length of '\(key)'")
            let minSize: UInt64 = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8][Int(et)]
            guard n <= UInt64(buf.count - offset) / minSize else {
                throw FormatError.truncated(what: "array '\(key)' of \(n) items", offset: offset, needed: Int(clamping: n &* minSize), fileSize: buf.count)
            }
            guard Int(n) <= ByteReader.maxArrayItems - arrayItems else {
                throw FormatError.invalid("metadata key '\(key)': arrays hold more than \(ByteReader.maxArrayItems) items in all (this one \(n))")
            }
            arrayItems += Int(n)
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { items.append(try value(type: et, key: key, depth: depth + 1)) }
            return .array(elementType: et, items)
        case 10: return .uint64(try u64(what))
        case 11: return .int64(try read(what, as: Int64.self))
        case 12: return .float64(Double(bitPattern: try u64(what)))
        default: throw FormatError.unknownValueType(key: key, type: type)
        }
    }
}
