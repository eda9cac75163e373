import Foundation
import ROMAFormats
import ROMALlama
import ROMAModel
import ROMATokenizer

/// GGUF: header, metadata, tensor table, every tensor dequantized, then the model configuration and
/// tokenizer read from the metadata (what `roma inspect` and model loading do).
public enum GGUFTarget: FuzzTarget {
    public static let name = "gguf"
    public static let dictionary = ["GGUF", "\u{3}\0\0\0", "general.architecture", "general.alignment", "llama",
        "llama.block_count", "llama.embedding_length", "llama.attention.head_count", "tokenizer.ggml.tokens",
        "tokenizer.ggml.merges", "tokenizer.ggml.model", "gpt2", "token_embd.weight", "blk.0.attn_q.weight"]

    public static func seeds() throws -> [[UInt8]] {
        let s = FuzzSeeds.shared
        return [s.ggufModel(.f32), s.ggufModel(.f16), s.ggufEveryType()]
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let g = try GGUFFile(path: scratch.write(bytes, as: "input.gguf"))
        for t in g.tensors where t.type.canDequantize {
            let v = try g.dequantize(t)
            guard v.count == t.elementCount else { throw FuzzInputError(description: "dequantized \(v.count) of \(t.elementCount)") }
        }
        _ = g.metadata.values.map(\.description)
        if g.value("general.architecture") != nil { _ = try? ModelConfig(gguf: g) }
        if g.value("tokenizer.ggml.tokens") != nil, let tok = try? BPETokenizer(gguf: g) {
            _ = tok.decode(tok.encode("Hello, world! 123"))
        }
    }
}

/// safetensors: the JSON header, every tensor's range, and every value widened to FP32.
public enum SafetensorsTarget: FuzzTarget {
    public static let name = "safetensors"
    public static let dictionary = ["{", "}", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"",
        "\"F32\"", "\"F16\"", "\"BF16\"", "\"F64\"", "\"I64\"", "\"I32\"", "\"U8\""]

    public static func seeds() throws -> [[UInt8]] {
        try PEFTAdapter.WeightType.allCases.map { try FuzzSeeds.shared.peftDirectory(dtype: $0).weights }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let f = try SafetensorsFile(path: scratch.write(bytes, as: "input.safetensors"))
        for t in f.tensors.values {
            let v = try f.floats(t)
            guard v.count == t.elementCount else { throw FuzzInputError(description: "read \(v.count) of \(t.elementCount)") }
        }
    }
}

/// A PEFT adapter directory: `[u32 length][adapter_config.json][adapter_model.safetensors]`, read
/// against the seed model the way `roma adapter` and `--lora` do.
public enum PEFTAdapterTarget: FuzzTarget {
    public static let name = "peft"
    public static let dictionary = ["\"r\"", "\"lora_alpha\"", "\"target_modules\"", "\"rank_pattern\"", "\"alpha_pattern\"",
        "\"peft_type\"", "\"LORA\"", "\"use_rslora\"", "\"use_dora\"", "\"layers_to_transform\"", "\"fan_in_fan_out\"",
        "q_proj", "v_proj", "down_proj", "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "lora_B"]

    public static func seeds() throws -> [[UInt8]] {
        try PEFTAdapter.WeightType.allCases.map { dt in
            let d = try FuzzSeeds.shared.peftDirectory(dtype: dt)
            return FuzzPacking.join(d.config, d.weights)
        }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        guard let (config, weights) = FuzzPacking.split(bytes) else { throw FuzzInputError(description: "not a packed pair") }
        let dir = scratch.directory + "/peft"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try scratch.write(config, as: "peft/" + PEFTAdapter.configName)
        _ = try scratch.write(weights, as: "peft/" + PEFTAdapter.weightsName)
        let a = try PEFTAdapter.load(path: dir, model: FuzzContext.shared.config)
        try a.validate(for: FuzzContext.shared.config)
    }
}

/// A llama.cpp LoRA GGUF (`general.type = adapter`), read against the seed model.
public enum LoRAGGUFTarget: FuzzTarget {
    public static let name = "lora-gguf"
    public static let dictionary = ["GGUF", "general.type", "adapter", "adapter.type", "lora", "adapter.lora.alpha",
        "general.architecture", "llama", "blk.0.attn_q.weight.lora_a", "blk.0.attn_v.weight.lora_b", "blk.0.ffn_down.weight.lora_a"]

    public static func seeds() throws -> [[UInt8]] {
        try [GGMLType.f32, .f16].map { try FuzzSeeds.shared.loraGGUF($0) }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let a = try GGUFAdapter.load(path: scratch.write(bytes, as: "input-lora.gguf"), model: FuzzContext.shared.config)
        try a.validate(for: FuzzContext.shared.config)
    }
}
