import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMANumerics

/// Hugging Face PEFT LoRA adapters: a directory with `adapter_config.json` and
/// `adapter_model.safetensors` (tensors `base_model.model.model.layers.N.{self_attn,mlp}.X_proj.lora_{A,B}.weight`,
/// A [r, in], B [out, r], F32/F16/BF16). Scaling per module: alpha/r, or alpha/sqrt(r) with `use_rslora`;
/// `rank_pattern` / `alpha_pattern` override r and alpha for the modules their keys match.
public enum PEFTAdapter {
    public static let configName = "adapter_config.json"
    public static let weightsName = "adapter_model.safetensors"

    /// The parts of adapter_config.json that decide how the adapter runs.
    public struct Config: Sendable, Equatable {
        public var r: Int
        public var alpha: Double
        public var useRSLoRA: Bool
        public var rankPattern: [String: Int]
        public var alphaPattern: [String: Double]
        /// nil = "all-linear"; otherwise module names or one regex (`targetRegex`).
        public var targetModules: [String]?
        public var targetRegex: String?
        public var layersToTransform: [Int]?
        public var baseModel: String?

        /// Rank and scale PEFT gives module `path` ("model.layers.3.self_attn.q_proj").
        public func rankAndScale(for path: String) -> (rank: Int, scale: Double) {
            let r = PEFTAdapter.match(rankPattern, path) ?? self.r
            let a = PEFTAdapter.match(alphaPattern, path) ?? alpha
            return (r, useRSLoRA ? a / Double(r).squareRoot() : a / Double(r))
        }

        /// Whether target_modules selects module `path` whose short name is `module`.
        public func targets(path: String, module: String) -> Bool {
            if let re = targetRegex { return PEFTAdapter.fullMatch(re, path) }
            guard let list = targetModules else { return true }   // all-linear
            return list.contains { $0 == module || path.hasSuffix("." + $0) || $0 == path }
        }
    }

    /// A pattern key matches a module path when it equals it or, as a regex, matches the whole path
    /// after an optional "prefix." (PEFT's rule). The longest matching key wins.
    static func match<V>(_ patterns: [String: V], _ path: String) -> V? {
        let hits = patterns.keys.filter { $0 == path || fullMatch("(.*\\.)?(\($0))", path) }
        return hits.max { $0.count < $1.count }.flatMap { patterns[$0] }
    }

    static func fullMatch(_ pattern: String, _ s: String) -> Bool {
        guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { return false }
        return re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    public static func parseConfig(_ data: Data, path: String) throws -> Config {
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AdapterError.invalid("\(path) is not a JSON object")
        }
        if let t = obj["peft_type"] as? String, t.uppercased() != "LORA" {
            throw AdapterError.invalid("\(path): peft_type is '\(t)'; only LORA adapters are supported")
        }
        if obj["use_dora"] as? Bool == true { throw AdapterError.invalid("\(path): DoRA adapters (use_dora) are not supported") }
        if obj["fan_in_fan_out"] as? Bool == true { throw AdapterError.invalid("\(path): fan_in_fan_out adapters (GPT-2 Conv1D) do not apply to Llama") }
        if let b = obj["bias"] as? String, b != "none" { throw AdapterError.invalid("\(path): bias '\(b)' is not supported (Llama linears have no bias)") }
        if obj["lora_bias"] as? Bool == true { throw AdapterError.invalid("\(path): lora_bias is not supported") }
        if let m = obj["modules_to_save"] as? [Any], !m.isEmpty {
            throw AdapterError.invalid("\(path): modules_to_save (\(m.map { "\($0)" }.joined(separator: ", "))) would replace base weights, which live in ROM")
        }
        func number(_ key: String, default d: Double?) throws -> Double {
            guard let v = obj[key] else {
                if let d { return d }
                throw AdapterError.invalid("\(path): missing '\(key)'")
            }
            guard let n = v as? NSNumber else { throw AdapterError.invalid("\(path): '\(key)' must be a number") }
            return n.doubleValue
        }
        let r = try number("r", default: 8)
        guard r >= 1, r <= 65536, r == r.rounded() else { throw AdapterError.invalid("\(path): r must be a positive integer, got \(r)") }
        let alpha = try number("lora_alpha", default: 8)
        guard alpha.isFinite else { throw AdapterError.invalid("\(path): lora_alpha is not finite") }
        var cfg = Config(r: Int(r), alpha: alpha, useRSLoRA: obj["use_rslora"] as? Bool ?? false, rankPattern: [:], alphaPattern: [:],
                         targetModules: nil, targetRegex: nil, layersToTransform: nil, baseModel: obj["base_model_name_or_path"] as? String)
        if let rp = obj["rank_pattern"] as? [String: Any] {
            for (k, v) in rp {
                guard let n = v as? NSNumber, n.intValue >= 1 else { throw AdapterError.invalid("\(path): rank_pattern['\(k)'] must be a positive integer") }
                cfg.rankPattern[k] = n.intValue
            }
        }
        if let ap = obj["alpha_pattern"] as? [String: Any] {
            for (k, v) in ap {
                guard let n = v as? NSNumber else { throw AdapterError.invalid("\(path): alpha_pattern['\(k)'] must be a number") }
                cfg.alphaPattern[k] = n.doubleValue
            }
        }
        switch obj["target_modules"] {
        case let s as String where s.lowercased() == "all-linear": cfg.targetModules = nil
        case let s as String: cfg.targetRegex = s
        case let a as [Any]: cfg.targetModules = a.map { "\($0)" }
        case nil: cfg.targetModules = nil
        default: throw AdapterError.invalid("\(path): target_modules must be a list, a regex string or \"all-linear\"")
        }
        switch obj["layers_to_transform"] {
        case let n as NSNumber: cfg.layersToTransform = [n.intValue]
        case let a as [Any]: cfg.layersToTransform = a.compactMap { ($0 as? NSNumber)?.intValue }
        default: break
        }
        return cfg
    }

    /// Splits a saved PEFT key into (layer, kind, "A"|"B").
    static func parseKey(_ key: String) -> (layer: Int, kind: LinearKind, part: String)? {
        var k = key
        for prefix in ["base_model.model.", "base_model."] where k.hasPrefix(prefix) { k.removeFirst(prefix.count); break }
        // model.layers.N.(self_attn|mlp).X_proj.lora_(A|B)[.adapter].weight
        let parts = k.split(separator: ".").map(String.init)
        guard parts.count >= 7, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]),
              parts[3] == "self_attn" || parts[3] == "mlp", let kind = LinearKind(hfModule: parts[4]),
              parts.last == "weight", parts[5] == "lora_A" || parts[5] == "lora_B", parts.count <= 8 else { return nil }
        guard (parts[3] == "mlp") == [.gate, .up, .down].contains(kind) else { return nil }
        return (layer, kind, String(parts[5].suffix(1)))
    }

    /// Loads a PEFT adapter directory (or the path of its adapter_model.safetensors) for a model.
    public static func load(path: String, model m: ModelConfig, name: String? = nil) throws -> LoRAAdapter {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw AdapterError.invalid("adapter '\(path)' not found")
        }
        let dir = isDir.boolValue ? path : (path as NSString).deletingLastPathComponent
        let configPath = (dir as NSString).appendingPathComponent(configName)
        let weightsPath = isDir.boolValue ? (dir as NSString).appendingPathComponent(weightsName) : path
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw AdapterError.invalid("PEFT adapter '\(path)': \(configName) not found beside the weights")
        }
        let cfg = try parseConfig(data, path: configPath)
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            if FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("adapter_model.bin")) {
                throw AdapterError.invalid("PEFT adapter '\(path)': only adapter_model.bin (a pickle) is present; save it with safetensors")
            }
            throw AdapterError.invalid("PEFT adapter '\(path)': \(weightsName) not found")
        }
        let st: SafetensorsFile
        do { st = try SafetensorsFile(path: weightsPath) } catch {
            throw AdapterError.invalid("PEFT adapter '\(path)': \(weightsName): \(error)")
        }
        var parts: [LoRATarget: (a: SafetensorsFile.Tensor?, b: SafetensorsFile.Tensor?)] = [:]
        for (key, t) in st.tensors.sorted(by: { $0.key < $1.key }) {
            guard let (layer, kind, part) = parseKey(key) else {
                if key.contains("embed_tokens") || key.contains("lm_head") || key.contains("lora_embedding") {
                    throw AdapterError.invalid("PEFT adapter '\(path)': tensor '\(key)' adapts the embedding or output head; those are not supported (only q/k/v/o/gate/up/down)")
                }
                throw AdapterError.invalid("PEFT adapter '\(path)': unexpected tensor '\(key)' (expected ...layers.N.{self_attn,mlp}.X_proj.lora_{A,B}.weight)")
            }
            guard [.F32, .F16, .BF16].contains(t.dtype) else {
                throw AdapterError.invalid("PEFT adapter '\(path)': tensor '\(key)' has dtype \(t.dtype.rawValue); LoRA weights must be F32, F16 or BF16")
            }
            let target = LoRATarget(layer: layer, kind: kind)
            guard cfg.targets(path: kind.hfPath(layer: layer), module: kind.hfModule) else {
                throw AdapterError.invalid("PEFT adapter '\(path)': tensor '\(key)' adapts \(kind.hfModule), which target_modules does not select")
            }
            if let lt = cfg.layersToTransform, !lt.contains(layer) {
                throw AdapterError.invalid("PEFT adapter '\(path)': tensor '\(key)' is in layer \(layer), outside layers_to_transform")
            }
            var p = parts[target] ?? (nil, nil)
            if part == "A" { p.a = t } else { p.b = t }
            parts[target] = p
        }
        guard !parts.isEmpty else { throw AdapterError.invalid("PEFT adapter '\(path)': no LoRA tensors in \(weightsName)") }
        var layers: [LoRATarget: LoRALayer] = [:]
        for (target, p) in parts.sorted(by: { $0.key < $1.key }) {
            guard let ta = p.a, let tb = p.b else {
                throw AdapterError.invalid("PEFT adapter '\(path)': \(target.kind.hfPath(layer: target.layer)) has lora_\(p.a != nil ? "A" : "B") but no lora_\(p.a != nil ? "B" : "A")")
            }
            guard target.layer < m.numLayers else {
                throw AdapterError.shapeMismatch("PEFT adapter '\(path)': it adapts layer \(target.layer), but the model has \(m.numLayers) layers (an adapter for another model?)")
            }
            let (out, inDim) = target.kind.shape(in: m)
            let hfPath = target.kind.hfPath(layer: target.layer)
            let (rank, scale) = cfg.rankAndScale(for: hfPath)
            guard ta.shape == [rank, inDim] else {
                throw AdapterError.shapeMismatch("PEFT adapter '\(path)': \(hfPath).lora_A is \(ta.shape) but rank \(rank) on this model needs [\(rank), \(inDim)]")
            }
            guard tb.shape == [out, rank] else {
                throw AdapterError.shapeMismatch("PEFT adapter '\(path)': \(hfPath).lora_B is \(tb.shape) but rank \(rank) on this model needs [\(out), \(rank)]")
            }
            var b = try st.floats(tb)
            if QKPermutation.applies(to: target.kind) { b = QKPermutation.toGGUF(b, cols: rank, headDim: m.headDim) }
            layers[target] = LoRALayer(rank: rank, inDim: inDim, outDim: out, a: try st.floats(ta), b: b, scale: Float(scale))
        }
        var meta = ["r": "\(cfg.r)", "lora_alpha": "\(cfg.alpha)", "use_rslora": "\(cfg.useRSLoRA)"]
        if let bm = cfg.baseModel { meta["base_model"] = bm }
        if !cfg.rankPattern.isEmpty { meta["rank_pattern"] = cfg.rankPattern.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        if !cfg.alphaPattern.isEmpty { meta["alpha_pattern"] = cfg.alphaPattern.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        let adapter = LoRAAdapter(name: name ?? defaultName(path), layers: layers, source: "peft", alpha: cfg.alpha, metadata: meta)
        try adapter.validate(for: m)
        return adapter
    }

    /// An adapter's name from its path: the directory (or file, without .gguf/.safetensors) name.
    public static func defaultName(_ path: String) -> String {
        var p = path
        while p.hasSuffix("/") && p.count > 1 { p.removeLast() }
        var n = (p as NSString).lastPathComponent
        if n == weightsName { n = ((p as NSString).deletingLastPathComponent as NSString).lastPathComponent }
        for ext in [".gguf", ".safetensors"] where n.lowercased().hasSuffix(ext) { n.removeLast(ext.count) }
        return n
    }

    public enum WeightType: String, Sendable, CaseIterable { case f32, f16, bf16 }

    /// Writes `adapter` as a PEFT directory. The most common (rank, alpha = scale·rank) becomes `r` /
    /// `lora_alpha`; modules that differ get exact `rank_pattern` / `alpha_pattern` entries (full module
    /// paths). B rows of q/k go back to Hugging Face order.
    public static func save(_ adapter: LoRAAdapter, model m: ModelConfig, to dir: String, dtype: WeightType = .f32,
                            baseModel: String? = nil) throws {
        try adapter.validate(for: m)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var counts: [String: Int] = [:]
        func key(_ l: LoRALayer) -> String { "\(l.rank)|\(Double(l.scale) * Double(l.rank))" }
        for l in adapter.layers.values { counts[key(l), default: 0] += 1 }
        let common = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key.split(separator: "|")
        let r = Int(common[0])!, alpha = Double(common[1])!
        var rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:]
        var w = SafetensorsWriter()
        w.metadata = ["format": "pt", "producer": "roma"]
        for t in adapter.targets {
            let l = adapter.layers[t]!
            let path = t.kind.hfPath(layer: t.layer)
            if l.rank != r { rankPattern[path] = l.rank }
            let a = Double(l.scale) * Double(l.rank)
            if a != alpha { alphaPattern[path] = a }
            let b = QKPermutation.applies(to: t.kind) ? QKPermutation.toHF(l.b, cols: l.rank, headDim: m.headDim) : l.b
            let prefix = "base_model.model." + path
            switch dtype {
            case .f32:
                w.add(prefix + ".lora_A.weight", shape: [l.rank, l.inDim], f32: l.a)
                w.add(prefix + ".lora_B.weight", shape: [l.outDim, l.rank], f32: b)
            case .f16:
                w.add(prefix + ".lora_A.weight", shape: [l.rank, l.inDim], f16: l.a)
                w.add(prefix + ".lora_B.weight", shape: [l.outDim, l.rank], f16: b)
            case .bf16:
                w.add(prefix + ".lora_A.weight", shape: [l.rank, l.inDim], bf16: l.a)
                w.add(prefix + ".lora_B.weight", shape: [l.outDim, l.rank], bf16: b)
            }
        }
        try w.write(to: (dir as NSString).appendingPathComponent(weightsName))
        var cfg: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "use_rslora": false,
            "target_modules": adapter.kinds.map(\.hfModule), "lora_dropout": 0.0, "bias": "none",
            "fan_in_fan_out": false, "inference_mode": true, "rank_pattern": rankPattern, "alpha_pattern": alphaPattern,
        ]
        if let baseModel { cfg["base_model_name_or_path"] = baseModel }
        let data = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(configName)))
    }
}
