import Foundation
import ROMAChip
import ROMAFormats
import ROMALlama
import ROMAModel
import ROMATestSupport

/// The generated files the seed corpora start from: a small Llama (GGUF, F32 and F16), its INT4 and
/// INT2 ROM images, a LoRA adapter for it in both adapter formats, and GGUF/safetensors files with a
/// tensor of every type the readers dequantize. Made once per process.
public final class FuzzSeeds: @unchecked Sendable {
    public static let shared = FuzzSeeds()

    public let model: TinyModel
    public let scratch = FuzzScratch()
    private let lock = NSRecursiveLock()   // a seed can be made from another (the ROM image from the GGUF)
    private var made: [String: [UInt8]] = [:]

    init() { model = TinyModel(seed: 5, hidden: 64, ffn: 64, layers: 1, heads: 4, kvHeads: 2, headDim: 16) }

    /// The small model's configuration (the adapters are read against it).
    public var config: ModelConfig {
        get throws { try ModelConfig(gguf: GGUFFile(path: scratch.write(ggufModel(.f32), as: "config.gguf"))) }
    }

    func once(_ key: String, _ make: () throws -> [UInt8]) rethrows -> [UInt8] {
        lock.lock(); defer { lock.unlock() }
        if let b = made[key] { return b }
        let b = try make()
        made[key] = b
        return b
    }

    public func ggufModel(_ type: GGMLType) -> [UInt8] {
        once("gguf-\(type)") {
            var m = model
            m.weightType = type
            return m.writer().serialize()
        }
    }

    /// GGUF with one tensor of each dequantizable type (random bytes, finite scales) and one metadata
    /// value of each type, arrays nested.
    public func ggufEveryType() -> [UInt8] {
        once("gguf-every") {
            var w = GGUFWriter()
            w.set("general.architecture", .string("llama"))
            w.set("u8", .uint8(1)); w.set("i8", .int8(-1)); w.set("u16", .uint16(2)); w.set("i16", .int16(-2))
            w.set("u32", .uint32(3)); w.set("i32", .int32(-3)); w.set("f32", .float32(0.5)); w.set("bool", .bool(true))
            w.set("u64", .uint64(4)); w.set("i64", .int64(-4)); w.set("f64", .float64(0.25))
            w.set("nested", .array(elementType: 9, [.array(elementType: 4, [.uint32(1), .uint32(2)]), .array(elementType: 8, [.string("x")])]))
            var rng = SplitMix(9)
            for t in GGMLType.allCases where t.canDequantize {
                let bytes = (0..<(256 / t.blockSize * t.blockBytes)).map { i -> UInt8 in
                    // keep half-precision fields small and finite: every odd byte below 0x3C
                    i % 2 == 1 ? UInt8(rng.next() % 0x3C) : UInt8(rng.next() & 0xFF)
                }
                w.addRawTensor("t.\(t)", shape: [256], type: t, bytes: bytes)
            }
            return w.serialize()
        }
    }

    public func romImage(bits: Int) throws -> [UInt8] {
        try once("rom-\(bits)") {
            let gguf = try scratch.write(ggufModel(.f32), as: "rom-source.gguf")
            let out = scratch.directory + "/seed-\(bits).rom"
            _ = try ROMCompiler(bits: bits).compile(gguf: GGUFFile(path: gguf), output: out)
            return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
    }

    /// A rank-4 adapter on q, v and down of layer 0.
    public func adapter() throws -> LoRAAdapter {
        let m = try config
        var rng = SplitMix(11)
        var layers: [LoRATarget: LoRALayer] = [:]
        for kind in [LinearKind.q, .v, .down] {
            let (o, i) = kind.shape(in: m)
            layers[LoRATarget(layer: 0, kind: kind)] = LoRALayer(rank: 4, inDim: i, outDim: o,
                a: (0..<(4 * i)).map { _ in rng.normal() * 0.1 }, b: (0..<(o * 4)).map { _ in rng.normal() * 0.1 }, scale: 2)
        }
        return LoRAAdapter(name: "seed", layers: layers, source: "fuzz seed", alpha: 8)
    }

    public func peftDirectory(dtype: PEFTAdapter.WeightType) throws -> (config: [UInt8], weights: [UInt8]) {
        let dir = scratch.directory + "/peft-\(dtype)"
        try PEFTAdapter.save(adapter(), model: config, to: dir, dtype: dtype)
        let c = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + PEFTAdapter.configName))
        let w = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + PEFTAdapter.weightsName))
        return (Array(c), Array(w))
    }

    public func loraGGUF(_ type: GGMLType) throws -> [UInt8] {
        let path = scratch.directory + "/lora-\(type).gguf"
        try GGUFAdapter.save(adapter(), model: config, to: path, type: type)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
