import Foundation

/// Writes GGUF v3 files (little-endian). Used for adapters, converted weights and test models.
public struct GGUFWriter {
    public var alignment = 32
    private var kv: [(String, GGUFValue)] = []
    private var tensors: [(name: String, shape: [Int], type: GGMLType, data: [UInt8])] = []

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = kv.firstIndex(where: { $0.0 == key }) { kv[i].1 = value } else { kv.append((key, value)) }
    }

    /// Adds a tensor from FP32 values, quantized to `type`. `shape` is in ggml order (ne[0] first).
    public mutating func addTensor(_ name: String, shape: [Int], type: GGMLType = .f32, values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        tensors.append((name, shape, type, Quantize.row(type: type, values)))
    }

    /// Adds a tensor from already-encoded bytes.
    public mutating func addRawTensor(_ name: String, shape: [Int], type: GGMLType, bytes: [UInt8]) {
        tensors.append((name, shape, type, bytes))
    }

    public func serialize() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func str(_ s: String) { let b = Array(s.utf8); u64(UInt64(b.count)); out.append(contentsOf: b) }
        func val(_ v: GGUFValue, tagged: Bool) {
            if tagged { u32(v.typeCode) }
            switch v {
            case .uint8(let x): out.append(x)
            case .int8(let x): out.append(UInt8(bitPattern: x))
            case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
            case .int16(let x): withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .bool(let b): out.append(b ? 1 : 0)
            case .string(let s): str(s)
            case .array(let et, let items):
                u32(et); u64(UInt64(items.count))
                for it in items { val(it, tagged: false) }
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float64(let x): u64(x.bitPattern)
            }
        }
        u32(GGUFFile.magic); u32(3)
        u64(UInt64(tensors.count))
        var allKV = kv
        if alignment != 32, !allKV.contains(where: { $0.0 == "general.alignment" }) {
            allKV.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        u64(UInt64(allKV.count))
        for (k, v) in allKV { str(k); val(v, tagged: true) }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (i, t) in tensors.enumerated() {
            str(t.name); u32(UInt32(t.shape.count))
            for d in t.shape { u64(UInt64(d)) }
            u32(t.type.rawValue); u64(UInt64(offsets[i]))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out.append(contentsOf: t.data)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    public func write(to path: String) throws {
        try Data(serialize()).write(to: URL(fileURLWithPath: path))
    }
}

public extension GGUFValue {
    static func strings(_ a: [String]) -> GGUFValue { .array(elementType: 8, a.map { .string($0) }) }
    static func int32s(_ a: [Int]) -> GGUFValue { .array(elementType: 5, a.map { .int32(Int32($0)) }) }
    static func float32s(_ a: [Float]) -> GGUFValue { .array(elementType: 6, a.map { .float32($0) }) }
}
