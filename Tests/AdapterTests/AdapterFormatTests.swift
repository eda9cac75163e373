import XCTest
import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMAModel
import ROMANumerics
import ROMATestSupport

/// Fixtures written by scripts/make-adapter-fixtures.py (an independent Python writer).
enum Fixtures {
    static var dir: String { Bundle.module.resourcePath! + "/Fixtures" }
    static var peft: String { dir + "/tiny-peft" }
    static var rslora: String { dir + "/tiny-rslora" }
    static var gguf: String { dir + "/tiny-lora.gguf" }
    /// The shapes the fixtures were made for (TinyModel's defaults).
    static var tiny: TinyModel { TinyModel(seed: 11) }
    nonisolated(unsafe) static var tinyPath: String?
    static func tinyGGUF() throws -> String {
        if let p = tinyPath { return p }
        let p = try tiny.write()
        tinyPath = p
        return p
    }
    static func config() throws -> ModelConfig { try ModelConfig(gguf: GGUFFile(path: tinyGGUF())) }
}

/// Loading PEFT and llama.cpp GGUF adapters: scaling rules, q/k permutation, dtypes, malformed files.
final class AdapterFormatTests: XCTestCase {
    func testPEFTAndGGUFFormsOfTheSameAdapterAgree() throws {
        let m = try Fixtures.config()
        let peft = try PEFTAdapter.load(path: Fixtures.peft, model: m)
        let gguf = try GGUFAdapter.load(path: Fixtures.gguf, model: m)
        XCTAssertEqual(peft.name, "tiny-peft")
        XCTAssertEqual(peft.targets, gguf.targets)
        XCTAssertEqual(peft.layers.count, 14)
        XCTAssertEqual(peft.kinds, LinearKind.allCases)
        XCTAssertEqual(peft.ranks, [2, 4])
        // scales: alpha/r = 2; rank_pattern down_proj -> r 2: 8/2 = 4; alpha_pattern layer 1 q: 16/4 = 4
        XCTAssertEqual(peft.layers[LoRATarget(layer: 0, kind: .q)]!.scale, 2)
        XCTAssertEqual(peft.layers[LoRATarget(layer: 1, kind: .down)]!.scale, 4)
        XCTAssertEqual(peft.layers[LoRATarget(layer: 1, kind: .q)]!.scale, 4)
        XCTAssertEqual(gguf.layers[LoRATarget(layer: 1, kind: .q)]!.scale, 2, "llama.cpp: alpha / rank")
        for t in peft.targets {
            let p = peft.layers[t]!, g = gguf.layers[t]!
            XCTAssertEqual(p.rank, g.rank, "\(t)")
            XCTAssertEqual(p.a, g.a, "\(t): A is stored as-is in both")
            // scale * B agrees (the GGUF writer folded the PEFT per-module alpha into B and permuted q/k rows)
            for i in 0..<p.b.count {
                XCTAssertEqual(p.b[i] * p.scale, g.b[i] * g.scale, accuracy: 1e-6 * max(1, abs(p.b[i] * p.scale)), "\(t) B[\(i)]")
            }
        }
        // q's B really is permuted relative to the file's Hugging Face order
        let st = try SafetensorsFile(path: Fixtures.peft + "/adapter_model.safetensors")
        let hfB = try st.floats(st.requireTensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"))
        XCTAssertNotEqual(hfB, peft.layers[LoRATarget(layer: 0, kind: .q)]!.b)
        XCTAssertEqual(Array(hfB[(1 * 4)..<(2 * 4)]), Array(peft.layers[LoRATarget(layer: 0, kind: .q)]!.b[(2 * 4)..<(3 * 4)]),
                       "HF row 1 -> GGUF row 2 (head dim 16)")
        XCTAssertEqual(Array(hfB[(8 * 4)..<(9 * 4)]), Array(peft.layers[LoRATarget(layer: 0, kind: .q)]!.b[(1 * 4)..<(2 * 4)]),
                       "HF row hd/2 = 8 -> GGUF row 1")
    }

    func testRSLoRAScale() throws {
        let a = try PEFTAdapter.load(path: Fixtures.rslora, model: Fixtures.config())
        XCTAssertEqual(a.layers[LoRATarget(layer: 0, kind: .v)]!.scale, 8 / 2)                       // alpha / sqrt(4)
        XCTAssertEqual(a.layers[LoRATarget(layer: 0, kind: .down)]!.scale, Float(8 / 2.0.squareRoot())) // alpha / sqrt(2)
        XCTAssertEqual(a.layers[LoRATarget(layer: 1, kind: .q)]!.scale, 16 / 2)
    }

    /// The reference engine with the PEFT adapter equals an independent FP64 model whose Hugging Face
    /// weights have the adapter merged in (W + scale·B·A in HF row order), and the GGUF form gives the
    /// same logits.
    func testAdapterEqualsMergedWeightsInHuggingFaceConvention() throws {
        let m = try Fixtures.config()
        let engine = try Engine.reference(path: Fixtures.tinyGGUF())
        try engine.adapters.register(path: Fixtures.peft, name: "peft")
        try engine.adapters.register(path: Fixtures.gguf, name: "gguf")
        let tokens = [5, 70, 120, 3, 250, 33]
        // merge, reading the file's HF-order tensors directly
        var merged = Fixtures.tiny
        let st = try SafetensorsFile(path: Fixtures.peft + "/adapter_model.safetensors")
        let scales = try PEFTAdapter.load(path: Fixtures.peft, model: m)
        for l in 0..<m.numLayers {
            for kind in LinearKind.allCases {
                let key = "base_model.model." + kind.hfPath(layer: l)
                let A = try st.floats(st.requireTensor(key + ".lora_A.weight")), B = try st.floats(st.requireTensor(key + ".lora_B.weight"))
                let (out, inDim) = kind.shape(in: m)
                let r = A.count / inDim, s = Double(scales.layers[LoRATarget(layer: l, kind: kind)]!.scale)
                func add(_ w: inout [Float]) {
                    for o in 0..<out { for i in 0..<inDim {
                        var d = 0.0
                        for j in 0..<r { d += Double(B[o * r + j]) * Double(A[j * inDim + i]) }
                        w[o * inDim + i] += Float(s * d)
                    } }
                }
                switch kind {
                case .q: add(&merged.q[l])
                case .k: add(&merged.k[l])
                case .v: add(&merged.v[l])
                case .o: add(&merged.o[l])
                case .gate: add(&merged.gate[l])
                case .up: add(&merged.up[l])
                case .down: add(&merged.down[l])
                }
            }
        }
        let naive = NaiveLlama(merged).logits(tokens)
        let withPEFT = try engine.session(adapters: [AdapterRequest("peft")]).feed(tokens, logitRows: 0..<tokens.count)
        let withGGUF = try engine.session(adapters: [AdapterRequest("gguf")]).feed(tokens, logitRows: 0..<tokens.count)
        let base = try engine.session().feed(tokens, logitRows: 0..<tokens.count)
        var maxErr = 0.0, maxAbs = 0.0, maxFormat = 0.0, maxEffect = 0.0
        for p in 0..<tokens.count {
            for v in 0..<m.vocabSize {
                maxErr = max(maxErr, abs(Double(withPEFT.row(p)[v]) - naive[p][v]))
                maxAbs = max(maxAbs, abs(naive[p][v]))
                maxFormat = max(maxFormat, abs(Double(withPEFT.row(p)[v] - withGGUF.row(p)[v])))
                maxEffect = max(maxEffect, abs(Double(withPEFT.row(p)[v] - base.row(p)[v])))
            }
        }
        XCTAssertGreaterThan(maxEffect, 0.1 * maxAbs, "the adapter changes the logits")
        XCTAssertLessThan(maxErr, 2e-4 * maxAbs, "unmerged FP32 engine vs merged FP64 model")
        XCTAssertLessThan(maxFormat, 2e-5 * maxAbs, "PEFT and GGUF forms")
    }

    func testZeroBIsBitIdenticalAndUnmergedEqualsDenseOnTheReference() throws {
        let m = try Fixtures.config()
        let engine = try Engine.reference(path: Fixtures.tinyGGUF())
        let ref = engine.backend as! ReferenceBackend
        var rng = SplitMix(5)
        var layers: [LoRATarget: LoRALayer] = [:]
        for l in 0..<m.numLayers { for k in LinearKind.allCases {
            let (o, i) = k.shape(in: m)
            layers[LoRATarget(layer: l, kind: k)] = LoRALayer(rank: 3, inDim: i, outDim: o, a: (0..<(3 * i)).map { _ in rng.normal() },
                                                               b: [Float](repeating: 0, count: o * 3), scale: 5)
        } }
        try engine.adapters.register(LoRAAdapter(name: "zero", layers: layers, source: "test"))
        let tokens = [9, 8, 7, 200, 2]
        XCTAssertEqual(try engine.session(adapters: [AdapterRequest("zero")]).feed(tokens, logitRows: 0..<5).array,
                       try engine.session().feed(tokens, logitRows: 0..<5).array)
        // one layer, random adapter: W x + s B A x in FP64
        let (o, i) = LinearKind.down.shape(in: m)
        let A = (0..<(4 * i)).map { _ in rng.normal() * 0.3 }, B = (0..<(o * 4)).map { _ in rng.normal() * 0.3 }
        let r = try ref.makeResident(LoRAAdapter(name: "d", layers: [LoRATarget(layer: 1, kind: .down): LoRALayer(rank: 4, inDim: i, outDim: o, a: A, b: B, scale: 0.75)], source: "test"))
        let x = Matrix(rows: 3, cols: i, values: (0..<(3 * i)).map { _ in rng.normal() })
        let y = ref.linear(x, .down, layer: 1, adapters: AdapterSelection([(r, 2)]))
        let w = ref.weight(.down, layer: 1)
        for t in 0..<3 { for out in 0..<o {
            var exact = 0.0, mag = 0.0
            for c in 0..<i { exact += Double(w.data[out * i + c]) * Double(x.row(t)[c]); mag += abs(Double(w.data[out * i + c]) * Double(x.row(t)[c])) }
            for j in 0..<4 {
                var ax = 0.0
                for c in 0..<i { ax += Double(A[j * i + c]) * Double(x.row(t)[c]) }
                exact += 1.5 * Double(B[out * 4 + j]) * ax
                mag += 1.5 * abs(Double(B[out * 4 + j]) * ax)
            }
            XCTAssertEqual(Double(y.row(t)[out]), exact, accuracy: 1e-5 * mag, "token \(t) row \(out)")
        } }
    }

    func testWritersRoundTrip() throws {
        let m = try Fixtures.config()
        let a = try PEFTAdapter.load(path: Fixtures.peft, model: m)
        let dir = TempFiles.path("rt-peft-\(UUID().uuidString)")
        try PEFTAdapter.save(a, model: m, to: dir)
        let back = try PEFTAdapter.load(path: dir, model: m)
        let ggufPath = TempFiles.path("rt-\(UUID().uuidString).gguf")
        try GGUFAdapter.save(a, model: m, to: ggufPath)
        let fromGGUF = try GGUFAdapter.load(path: ggufPath, model: m)
        for t in a.targets {
            XCTAssertEqual(back.layers[t], a.layers[t], "PEFT -> PEFT (F32) is exact: \(t)")
            // scales differ per module (alpha_pattern): the GGUF writer folds them into B with alpha 0 (scale 1)
            XCTAssertEqual(fromGGUF.layers[t]!.scale, 1)
            XCTAssertEqual(fromGGUF.layers[t]!.b, a.layers[t]!.b.map { $0 * a.layers[t]!.scale })
        }
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["r"] as? Int, 4)
        XCTAssertEqual(cfg["lora_alpha"] as? Double, 8)
        XCTAssertEqual((cfg["rank_pattern"] as? [String: Int])?.count, 2, "the two down_proj modules")
        XCTAssertEqual(cfg["alpha_pattern"] as? [String: Double], ["model.layers.1.self_attn.q_proj": 16])
        // one alpha for all layers: written as adapter.lora.alpha, B untouched
        var uniform = a
        for t in uniform.targets { uniform.layers[t]!.scale = 8 / Float(uniform.layers[t]!.rank) }
        try GGUFAdapter.save(uniform, model: m, to: ggufPath)
        let g = try GGUFFile(path: ggufPath)
        XCTAssertEqual(g.value("adapter.lora.alpha"), .float32(8))
        XCTAssertEqual(try GGUFAdapter.load(path: ggufPath, model: m).layers[LoRATarget(layer: 0, kind: .down)], uniform.layers[LoRATarget(layer: 0, kind: .down)])
        // F16 PEFT output rounds to FP16
        try PEFTAdapter.save(a, model: m, to: dir, dtype: .f16)
        let h = try PEFTAdapter.load(path: dir, model: m)
        XCTAssertEqual(h.layers[LoRATarget(layer: 0, kind: .k)]!.a, a.layers[LoRATarget(layer: 0, kind: .k)]!.a.map { FP16.round($0) })
    }

    func testAdapterSpecParsing() throws {
        XCTAssertEqual(try AdapterSpec(parsing: "a/b/my-adapter"), AdapterSpec(name: "my-adapter", path: "a/b/my-adapter", scale: 1))
        XCTAssertEqual(try AdapterSpec(parsing: "sql=a/b/x.gguf:0.5"), AdapterSpec(name: "sql", path: "a/b/x.gguf", scale: 0.5))
        XCTAssertEqual(try AdapterSpec(parsing: "x.gguf:-1"), AdapterSpec(name: "x", path: "x.gguf", scale: -1))
        XCTAssertEqual(try AdapterSpec(parsing: "dir/with=sign/a:2"), AdapterSpec(name: "a", path: "dir/with=sign/a", scale: 2))
        XCTAssertThrowsError(try AdapterSpec(parsing: "name=:2")) { XCTAssertEqual("\($0)", "'name=:2' names no adapter path (expected [NAME=]PATH[:SCALE])") }
        XCTAssertThrowsError(try AdapterSpec(parsing: "a:inf")) { XCTAssertEqual("\($0)", "adapter scale in 'a:inf' is not finite") }
    }

    // MARK: malformed adapters

    /// Copies the PEFT fixture with its config edited.
    func peftCopy(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let dir = TempFiles.path("bad-peft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.peft + "/adapter_model.safetensors", toPath: dir + "/adapter_model.safetensors")
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.peft + "/adapter_config.json"))) as! [String: Any]
        edit(&cfg)
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: dir + "/adapter_config.json"))
        return dir
    }

    /// A PEFT directory with the fixture's config and the given tensors.
    func peftWith(_ tensors: [(String, [Int], [Float])], dtypeF16: Bool = false) throws -> String {
        let dir = try peftCopy { _ in }
        var w = SafetensorsWriter()
        for (n, s, v) in tensors { if dtypeF16 { w.add(n, shape: s, f16: v) } else { w.add(n, shape: s, f32: v) } }
        try w.write(to: dir + "/adapter_model.safetensors")
        return dir
    }

    func assertLoadError(_ path: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Fixtures.config()
        XCTAssertThrowsError(try AdapterLoader.load(path: path, model: m), file: file, line: line) { e in
            XCTAssertEqual("\(e)".replacingOccurrences(of: path, with: "P"), message, file: file, line: line)
        }
    }

    func testMalformedPEFTAdaptersAreRefusedWithAClearMessage() throws {
        let key = "base_model.model.model.layers.0.self_attn.v_proj"
        let a4 = [Float](repeating: 0.1, count: 4 * 64), b4 = [Float](repeating: 0.1, count: 32 * 4)
        try assertLoadError(TempFiles.path("nope-\(UUID().uuidString)"), "adapter 'P' not found")
        try assertLoadError(try peftCopy { $0["peft_type"] = "PREFIX_TUNING" }, "P/adapter_config.json: peft_type is 'PREFIX_TUNING'; only LORA adapters are supported")
        try assertLoadError(try peftCopy { $0["use_dora"] = true }, "P/adapter_config.json: DoRA adapters (use_dora) are not supported")
        try assertLoadError(try peftCopy { $0["r"] = 0 }, "P/adapter_config.json: r must be a positive integer, got 0.0")
        try assertLoadError(try peftCopy { $0["lora_alpha"] = "eight" }, "P/adapter_config.json: 'lora_alpha' must be a number")
        try assertLoadError(try peftCopy { $0["modules_to_save"] = ["lm_head"] }, "P/adapter_config.json: modules_to_save (lm_head) would replace base weights, which live in ROM")
        try assertLoadError(try peftCopy { $0["target_modules"] = ["q_proj", "v_proj"] },
                            "PEFT adapter 'P': tensor 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight' adapts down_proj, which target_modules does not select")
        try assertLoadError(try peftCopy { $0["rank_pattern"] = [:] },
                            "PEFT adapter 'P': model.layers.0.mlp.down_proj.lora_A is [2, 96] but rank 4 on this model needs [4, 96]")
        let noConfig = TempFiles.path("nocfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: noConfig, withIntermediateDirectories: true)
        try assertLoadError(noConfig, "PEFT adapter 'P': adapter_config.json not found beside the weights")
        let notJSON = try peftCopy { _ in }
        try Data("{r: 4".utf8).write(to: URL(fileURLWithPath: notJSON + "/adapter_config.json"))
        try assertLoadError(notJSON, "P/adapter_config.json is not a JSON object")
        let noWeights = try peftCopy { _ in }
        try FileManager.default.removeItem(atPath: noWeights + "/adapter_model.safetensors")
        try assertLoadError(noWeights, "PEFT adapter 'P': adapter_model.safetensors not found")
        try Data([0x80]).write(to: URL(fileURLWithPath: noWeights + "/adapter_model.bin"))
        try assertLoadError(noWeights, "PEFT adapter 'P': only adapter_model.bin (a pickle) is present; save it with safetensors")
        try assertLoadError(try peftWith([(key + ".lora_A.weight", [4, 64], a4)]),
                            "PEFT adapter 'P': model.layers.0.self_attn.v_proj has lora_A but no lora_B")
        try assertLoadError(try peftWith([(key + ".lora_A.weight", [4, 64], a4), (key + ".lora_B.weight", [64, 4], b4 + b4)]),
                            "PEFT adapter 'P': model.layers.0.self_attn.v_proj.lora_B is [64, 4] but rank 4 on this model needs [32, 4]")
        try assertLoadError(try peftWith([("base_model.model.model.layers.5.self_attn.v_proj.lora_A.weight", [4, 64], a4),
                                          ("base_model.model.model.layers.5.self_attn.v_proj.lora_B.weight", [32, 4], b4)]),
                            "PEFT adapter 'P': it adapts layer 5, but the model has 2 layers (an adapter for another model?)")
        try assertLoadError(try peftWith([("base_model.model.model.embed_tokens.lora_embedding_A", [4, 4], [Float](repeating: 0, count: 16))]),
                            "PEFT adapter 'P': tensor 'base_model.model.model.embed_tokens.lora_embedding_A' adapts the embedding or output head; those are not supported (only q/k/v/o/gate/up/down)")
        try assertLoadError(try peftWith([("base_model.model.model.layers.0.self_attn.rotary.weight", [2], [0, 0])]),
                            "PEFT adapter 'P': unexpected tensor 'base_model.model.model.layers.0.self_attn.rotary.weight' (expected ...layers.N.{self_attn,mlp}.X_proj.lora_{A,B}.weight)")
        // an integer dtype: write the file by hand
        let intDir = try peftCopy { _ in }
        var header = Array(#"{"base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        bytes += [0, 0, 0, 0]
        try Data(bytes).write(to: URL(fileURLWithPath: intDir + "/adapter_model.safetensors"))
        try assertLoadError(intDir, "PEFT adapter 'P': tensor 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight' has dtype I32; LoRA weights must be F32, F16 or BF16")
        // a truncated safetensors file
        let trunc = try peftCopy { _ in }
        let full = try Data(contentsOf: URL(fileURLWithPath: Fixtures.peft + "/adapter_model.safetensors"))
        try full.prefix(full.count - 100).write(to: URL(fileURLWithPath: trunc + "/adapter_model.safetensors"))
        let m = try Fixtures.config()
        XCTAssertThrowsError(try AdapterLoader.load(path: trunc, model: m)) { e in
            XCTAssertEqual("\(e)".replacingOccurrences(of: trunc, with: "P"), "PEFT adapter 'P': adapter_model.safetensors: tensor 'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight': data_offsets [17408, 17664] lie outside the 17564-byte buffer")
        }
        // non-finite weights
        let nan = try peftWith([(key + ".lora_A.weight", [4, 64], a4.map { _ in .nan }), (key + ".lora_B.weight", [32, 4], b4)])
        try assertLoadError(nan, "adapter '\((nan as NSString).lastPathComponent)': blk.0.attn_v.weight has a non-finite weight or scale")
    }

    func testMalformedGGUFAdaptersAreRefusedWithAClearMessage() throws {
        func gguf(_ kv: [String: GGUFValue], _ tensors: [(String, [Int], [Float])]) throws -> String {
            var w = GGUFWriter()
            for (k, v) in kv.sorted(by: { $0.key < $1.key }) { w.set(k, v) }
            for (n, s, v) in tensors { w.addTensor(n, shape: s, values: v) }
            let p = TempFiles.path("bad-\(UUID().uuidString).gguf")
            try w.write(to: p)
            return p
        }
        let ok: [String: GGUFValue] = ["general.type": .string("adapter"), "general.architecture": .string("llama"), "adapter.lora.alpha": .float32(8)]
        let a = [Float](repeating: 0.1, count: 4 * 64), b = [Float](repeating: 0.1, count: 4 * 32)
        try assertLoadError(try gguf(["general.type": .string("model")], []), "GGUF 'P' is not an adapter: general.type is 'model' (expected 'adapter')")
        try assertLoadError(try gguf(ok.merging(["general.architecture": .string("qwen2")]) { $1 }, []), "GGUF adapter 'P' is for architecture 'qwen2', the model is 'llama'")
        try assertLoadError(try gguf(ok, []), "GGUF adapter 'P' has no LoRA tensors")
        try assertLoadError(try gguf(ok, [("blk.0.attn_v.weight.lora_a", [64, 4], a)]), "GGUF adapter 'P': blk.0.attn_v.weight has lora_a but no lora_b")
        try assertLoadError(try gguf(ok, [("blk.0.attn_v.weight.lora_a", [4, 64], a), ("blk.0.attn_v.weight.lora_b", [4, 32], b)]),
                            "GGUF adapter 'P': blk.0.attn_v.weight has lora_a ne [4, 64] and lora_b ne [4, 32]; this model needs {64, r} and {r, 32} with the same r")
        try assertLoadError(try gguf(ok, [("blk.7.attn_v.weight.lora_a", [64, 4], a)]),
                            "GGUF adapter 'P': tensor 'blk.7.attn_v.weight.lora_a' names no linear layer of this 2-layer model (an adapter for another model?)")
        try assertLoadError(try gguf(ok, [("token_embd.weight.lora_a", [64, 4], a)]),
                            "GGUF adapter 'P': tensor 'token_embd.weight.lora_a' adapts the embedding or output head; only q/k/v/o/gate/up/down are supported")
        try assertLoadError(try gguf(ok, [("blk.0.attn_v.bias", [4], [0, 0, 0, 0])]),
                            "GGUF adapter 'P': unexpected tensor 'blk.0.attn_v.bias' (expected <weight>.lora_a / .lora_b)")
        // a valid one loads; alpha 0 means scale 1
        let good = try GGUFAdapter.load(path: try gguf(ok.merging(["adapter.lora.alpha": .float32(0)]) { $1 },
                                                      [("blk.0.attn_v.weight.lora_a", [64, 4], a), ("blk.0.attn_v.weight.lora_b", [4, 32], b)]),
                                        model: Fixtures.config())
        XCTAssertEqual(good.layers[LoRATarget(layer: 0, kind: .v)]!.scale, 1)
        // truncated file
        let full = try Data(contentsOf: URL(fileURLWithPath: Fixtures.gguf))
        let p = TempFiles.path("trunc-\(UUID().uuidString).gguf")
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: p))
        XCTAssertThrowsError(try GGUFAdapter.load(path: p, model: Fixtures.config())) { e in XCTAssertTrue("\(e)".contains("past the end") || "\(e)".contains("truncated"), "\(e)") }
    }
}
