import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats

/// llama.cpp LoRA adapters in GGUF: `general.type = adapter`, `adapter.type = lora`,
/// `adapter.lora.alpha`, tensors `<base weight name>.lora_a` (ne {in, r}) and `.lora_b` (ne {r, out}),
/// B rows already in GGUF (permuted q/k) order. llama.cpp scales each layer by alpha/r (r = lora_b's
/// ne[0]), or by 1 when alpha is 0.
public enum GGUFAdapter {
    /// Loads a llama.cpp LoRA GGUF for a model.
    public static func load(path: String, model m: ModelConfig, name: String? = nil) throws -> LoRAAdapter {
        let g = try GGUFFile(path: path)
        return try load(g, model: m, name: name ?? PEFTAdapter.defaultName(path))
    }

    public static func load(_ g: GGUFFile, model m: ModelConfig, name: String) throws -> LoRAAdapter {
        let path = g.path
        let type = g.value("general.type")?.stringValue
        guard type == "adapter" else {
            throw AdapterError.invalid("GGUF '\(path)' is not an adapter: general.type is \(type.map { "'\($0)'" } ?? "missing") (expected 'adapter')")
        }
        if let at = g.value("adapter.type")?.stringValue, at != "lora" {
            throw AdapterError.invalid("GGUF adapter '\(path)': adapter.type is '\(at)'; only 'lora' is supported")
        }
        if let arch = g.value("general.architecture")?.stringValue, arch != "llama" {
            throw AdapterError.invalid("GGUF adapter '\(path)' is for architecture '\(arch)', the model is 'llama'")
        }
        var alpha = 0.0
        if let v = g.value("adapter.lora.alpha") {
            guard let d = v.doubleValue, d.isFinite else { throw AdapterError.invalid("GGUF adapter '\(path)': adapter.lora.alpha is not a number") }
            alpha = d
        }
        // ggml names -> (layer, kind)
        var byName: [String: LoRATarget] = [:]
        for l in 0..<m.numLayers { for k in LinearKind.allCases { byName[k.ggufName(layer: l)] = LoRATarget(layer: l, kind: k) } }
        var parts: [LoRATarget: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
        for t in g.tensors {
            let isA = t.name.hasSuffix(".lora_a"), isB = t.name.hasSuffix(".lora_b")
            guard isA || isB else {
                if t.name.hasSuffix("_norm.weight") { continue }   // mergekit extras, ignored as llama.cpp does
                throw AdapterError.invalid("GGUF adapter '\(path)': unexpected tensor '\(t.name)' (expected <weight>.lora_a / .lora_b)")
            }
            let base = String(t.name.dropLast(7))
            guard let target = byName[base] else {
                if base.hasPrefix("token_embd") || base.hasPrefix("output") {
                    throw AdapterError.invalid("GGUF adapter '\(path)': tensor '\(t.name)' adapts the embedding or output head; only q/k/v/o/gate/up/down are supported")
                }
                throw AdapterError.shapeMismatch("GGUF adapter '\(path)': tensor '\(t.name)' names no linear layer of this \(m.numLayers)-layer model (an adapter for another model?)")
            }
            guard t.type.canDequantize, t.shape.count == 2 else {
                throw AdapterError.invalid("GGUF adapter '\(path)': tensor '\(t.name)' has type \(t.type) and \(t.shape.count) dimensions (expected a 2-D float tensor)")
            }
            var p = parts[target] ?? (nil, nil)
            if isA { p.a = t } else { p.b = t }
            parts[target] = p
        }
        guard !parts.isEmpty else { throw AdapterError.invalid("GGUF adapter '\(path)' has no LoRA tensors") }
        var layers: [LoRATarget: LoRALayer] = [:]
        for (target, p) in parts.sorted(by: { $0.key < $1.key }) {
            guard let ta = p.a, let tb = p.b else {
                throw AdapterError.invalid("GGUF adapter '\(path)': \(target) has lora_\(p.a == nil ? "b" : "a") but no lora_\(p.a == nil ? "a" : "b")")
            }
            let (out, inDim) = target.kind.shape(in: m)
            let rank = tb.shape[0]
            // ne order: lora_a {in, r}, lora_b {r, out}
            guard ta.shape == [inDim, rank], tb.shape == [rank, out] else {
                throw AdapterError.shapeMismatch("GGUF adapter '\(path)': \(target) has lora_a ne \(ta.shape) and lora_b ne \(tb.shape); this model needs {\(inDim), r} and {r, \(out)} with the same r")
            }
            let scale = alpha != 0 ? alpha / Double(rank) : 1
            layers[target] = LoRALayer(rank: rank, inDim: inDim, outDim: out, a: try g.dequantize(ta), b: try g.dequantize(tb), scale: Float(scale))
        }
        var meta = ["adapter.lora.alpha": "\(alpha)"]
        if let n = g.value("general.name")?.stringValue { meta["general.name"] = n }
        let adapter = LoRAAdapter(name: name, layers: layers, source: "gguf", alpha: alpha, metadata: meta)
        try adapter.validate(for: m)
        return adapter
    }

    /// Writes `adapter` as a llama.cpp LoRA GGUF. When every layer's scale is alpha/r for one alpha, that
    /// alpha is written; otherwise (rsLoRA, alpha patterns) alpha is 0 (scale 1) and each layer's scale is
    /// folded into its lora_b.
    public static func save(_ adapter: LoRAAdapter, model m: ModelConfig, to path: String, type: GGMLType = .f32) throws {
        try adapter.validate(for: m)
        guard [.f32, .f16].contains(type) else { throw AdapterError.invalid("GGUF adapters are written as F32 or F16, not \(type)") }
        let alphas = Set(adapter.layers.values.map { Double($0.scale) * Double($0.rank) })
        let alpha = alphas.count == 1 ? alphas.first! : 0
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("general.type", .string("adapter"))
        w.set("general.name", .string(adapter.name))
        w.set("adapter.type", .string("lora"))
        w.set("adapter.lora.alpha", .float32(Float(alpha)))
        for t in adapter.targets {
            let l = adapter.layers[t]!
            let fold: Float = alpha != 0 ? 1 : l.scale
            let base = t.kind.ggufName(layer: t.layer)
            w.addTensor(base + ".lora_a", shape: [l.inDim, l.rank], type: type, values: l.a)
            w.addTensor(base + ".lora_b", shape: [l.rank, l.outDim], type: type, values: fold == 1 ? l.b : l.b.map { $0 * fold })
        }
        try w.write(to: path)
    }
}

/// Loads an adapter from a path in either format: a `.gguf` file (llama.cpp) or a PEFT directory /
/// adapter_model.safetensors.
public enum AdapterLoader {
    public static func load(path: String, model m: ModelConfig, name: String? = nil) throws -> LoRAAdapter {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw AdapterError.invalid("adapter '\(path)' not found")
        }
        if !isDir.boolValue, let h = FileHandle(forReadingAtPath: path) {
            let magic = h.readData(ofLength: 4)
            try? h.close()
            if magic == Data("GGUF".utf8) { return try GGUFAdapter.load(path: path, model: m, name: name) }
        }
        return try PEFTAdapter.load(path: path, model: m, name: name)
    }
}
