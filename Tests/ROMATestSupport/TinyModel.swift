import Foundation
import ROMAFormats
import ROMANumerics

/// A tiny random Llama model written as a GGUF file, for fast tests. The weights are generated in
/// Hugging Face convention (rotate-half RoPE) and Q/K rows are permuted the way llama.cpp's converter
/// does, so `NaiveLlama` below (HF convention) is an independent check of the engine.
public struct TinyModel {
    public var hidden = 64, ffn = 96, layers = 2, heads = 4, kvHeads = 2, headDim = 16
    public var ropeTheta: Float = 10000
    public var eps: Float = 1e-5
    public var context = 128
    public var weightType: GGMLType = .f32
    public let vocab: [String]
    public let merges: [String]
    /// HF-convention float weights, [out][in] row-major.
    public var embed: [Float] = []
    public var q: [[Float]] = [], k: [[Float]] = [], v: [[Float]] = [], o: [[Float]] = []
    public var gate: [[Float]] = [], up: [[Float]] = [], down: [[Float]] = []
    public var attnNorm: [[Float]] = [], ffnNorm: [[Float]] = [], outNorm: [Float] = []
    /// A separate output head [vocab][hidden] (`output.weight`); nil: tied to the embedding table.
    public var outputHead: [Float]?

    public var vocabSize: Int { vocab.count }

    /// Special tokens 0..2, then the 256 byte-level symbols, then merged tokens.
    public static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    public init(seed: UInt64 = 1, weightType: GGMLType = .f32, hidden: Int = 64, ffn: Int = 96, layers: Int = 2,
                heads: Int = 4, kvHeads: Int = 2, headDim: Int = 16) {
        self.weightType = weightType
        self.hidden = hidden; self.ffn = ffn; self.layers = layers
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        var vocab = TinyModel.specials
        for b in 0..<256 { vocab.append(String(ByteLevelTable.byteToScalar[b])) }
        let merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "Ġ w", "o r"]
        for m in merges { vocab.append(m.replacingOccurrences(of: " ", with: "")) }
        self.vocab = vocab
        self.merges = merges
        var rng = SplitMix(seed)
        func mat(_ rows: Int, _ cols: Int, _ scale: Float) -> [Float] { (0..<(rows * cols)).map { _ in rng.normal() * scale } }
        let qd = heads * headDim, kvd = kvHeads * headDim
        embed = mat(vocab.count, hidden, 0.5)
        for _ in 0..<layers {
            q.append(mat(qd, hidden, 0.2)); k.append(mat(kvd, hidden, 0.2)); v.append(mat(kvd, hidden, 0.2))
            o.append(mat(hidden, qd, 0.2)); gate.append(mat(ffn, hidden, 0.2)); up.append(mat(ffn, hidden, 0.2))
            down.append(mat(hidden, ffn, 0.2))
            attnNorm.append((0..<hidden).map { _ in 1 + 0.1 * rng.normal() })
            ffnNorm.append((0..<hidden).map { _ in 1 + 0.1 * rng.normal() })
        }
        outNorm = (0..<hidden).map { _ in 1 + 0.1 * rng.normal() }
    }

    /// The same model with its own output head (random, like the embedding table).
    public func untied(seed: UInt64 = 77) -> TinyModel {
        var m = self
        var rng = SplitMix(seed)
        m.outputHead = (0..<(vocab.count * hidden)).map { _ in rng.normal() * 0.5 }
        return m
    }

    /// llama.cpp converter's Q/K permutation: GGUF row 2j = HF row j, 2j+1 = HF row j + hd/2 (per head).
    public func permuteRows(_ w: [Float], nHeads: Int, cols: Int) -> [Float] {
        var out = w
        let hd = w.count / cols / nHeads
        for h in 0..<nHeads {
            for j in 0..<(hd / 2) {
                for (dst, src) in [(2 * j, j), (2 * j + 1, j + hd / 2)] {
                    let d = (h * hd + dst) * cols, s = (h * hd + src) * cols
                    for c in 0..<cols { out[d + c] = w[s + c] }
                }
            }
        }
        return out
    }

    public func writer(metadataOverrides: [String: GGUFValue] = [:], omit: Set<String> = []) -> GGUFWriter {
        var w = GGUFWriter()
        var meta: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("general.name", .string("tiny-test")),
            ("llama.context_length", .uint32(UInt32(context))),
            ("llama.embedding_length", .uint32(UInt32(hidden))),
            ("llama.block_count", .uint32(UInt32(layers))),
            ("llama.feed_forward_length", .uint32(UInt32(ffn))),
            ("llama.rope.dimension_count", .uint32(UInt32(headDim))),
            ("llama.attention.head_count", .uint32(UInt32(heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("llama.attention.layer_norm_rms_epsilon", .float32(eps)),
            ("llama.rope.freq_base", .float32(ropeTheta)),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .strings(vocab)),
            ("tokenizer.ggml.token_type", .int32s(vocab.indices.map { $0 < 3 ? 3 : 1 })),
            ("tokenizer.ggml.merges", .strings(merges)),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
            ("tokenizer.chat_template", .string("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}")),
        ]
        for (k, v) in metadataOverrides {
            if let i = meta.firstIndex(where: { $0.0 == k }) { meta[i].1 = v } else { meta.append((k, v)) }
        }
        for (k, v) in meta where !omit.contains(k) { w.set(k, v) }
        let qd = heads * headDim, kvd = kvHeads * headDim
        func add(_ name: String, _ shape: [Int], _ values: [Float], quantized: Bool = true) {
            guard !omit.contains(name) else { return }
            w.addTensor(name, shape: shape, type: quantized ? weightType : .f32, values: values)
        }
        add("token_embd.weight", [hidden, vocab.count], embed)
        add("output_norm.weight", [hidden], outNorm, quantized: false)
        if let outputHead { add("output.weight", [hidden, vocab.count], outputHead) }
        for l in 0..<layers {
            let p = "blk.\(l)."
            add(p + "attn_norm.weight", [hidden], attnNorm[l], quantized: false)
            add(p + "ffn_norm.weight", [hidden], ffnNorm[l], quantized: false)
            add(p + "attn_q.weight", [hidden, qd], permuteRows(q[l], nHeads: heads, cols: hidden))
            add(p + "attn_k.weight", [hidden, kvd], permuteRows(k[l], nHeads: kvHeads, cols: hidden))
            add(p + "attn_v.weight", [hidden, kvd], v[l])
            add(p + "attn_output.weight", [qd, hidden], o[l])
            add(p + "ffn_gate.weight", [hidden, ffn], gate[l])
            add(p + "ffn_up.weight", [hidden, ffn], up[l])
            add(p + "ffn_down.weight", [ffn, hidden], down[l])
        }
        return w
    }

    /// Writes the model to a temporary file and returns its path.
    public func write(metadataOverrides: [String: GGUFValue] = [:], omit: Set<String> = []) throws -> String {
        let path = TempFiles.path("tiny-\(UUID().uuidString).gguf")
        try writer(metadataOverrides: metadataOverrides, omit: omit).write(to: path)
        return path
    }
}

/// An obviously-correct, slow Llama forward pass in Hugging Face convention (rotate-half RoPE on
/// unpermuted Q/K weights), full recomputation per call, Double accumulation.
public struct NaiveLlama {
    public let m: TinyModel
    public init(_ m: TinyModel) { self.m = m }

    func matvec(_ w: [Float], _ x: [Double], rows: Int) -> [Double] {
        let cols = x.count
        return (0..<rows).map { r in (0..<cols).reduce(0.0) { $0 + Double(w[r * cols + $1]) * x[$1] } }
    }
    func norm(_ x: [Double], _ g: [Float]) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let s = 1 / (ms + Double(m.eps)).squareRoot()
        return x.indices.map { x[$0] * s * Double(g[$0]) }
    }
    func ropeHalf(_ x: inout [Double], heads: Int, pos: Int) {
        let hd = m.headDim
        for h in 0..<heads {
            for i in 0..<(hd / 2) {
                let theta = Double(pos) * pow(Double(m.ropeTheta), -2.0 * Double(i) / Double(hd))
                let a = x[h * hd + i], b = x[h * hd + i + hd / 2]
                x[h * hd + i] = a * cos(theta) - b * sin(theta)
                x[h * hd + i + hd / 2] = a * sin(theta) + b * cos(theta)
            }
        }
    }

    /// Logits after each token of `tokens`.
    public func logits(_ tokens: [Int]) -> [[Double]] {
        let hd = m.headDim, H = m.heads, KV = m.kvHeads
        var keys = [[[Double]]](repeating: [], count: m.layers), vals = keys
        var result: [[Double]] = []
        for (pos, t) in tokens.enumerated() {
            var x = (0..<m.hidden).map { Double(m.embed[t * m.hidden + $0]) }
            for l in 0..<m.layers {
                let h = norm(x, m.attnNorm[l])
                var q = matvec(m.q[l], h, rows: H * hd), k = matvec(m.k[l], h, rows: KV * hd)
                let v = matvec(m.v[l], h, rows: KV * hd)
                ropeHalf(&q, heads: H, pos: pos); ropeHalf(&k, heads: KV, pos: pos)
                keys[l].append(k); vals[l].append(v)
                var att = [Double](repeating: 0, count: H * hd)
                for head in 0..<H {
                    let kvh = head / (H / KV)
                    let scores = (0...pos).map { j in
                        (0..<hd).reduce(0.0) { $0 + q[head * hd + $1] * keys[l][j][kvh * hd + $1] } / Double(hd).squareRoot()
                    }
                    let mx = scores.max()!
                    let e = scores.map { exp($0 - mx) }, s = e.reduce(0, +)
                    for j in 0...pos { for d in 0..<hd { att[head * hd + d] += e[j] / s * vals[l][j][kvh * hd + d] } }
                }
                let ao = matvec(m.o[l], att, rows: m.hidden)
                x = x.indices.map { x[$0] + ao[$0] }
                let h2 = norm(x, m.ffnNorm[l])
                let g = matvec(m.gate[l], h2, rows: m.ffn), u = matvec(m.up[l], h2, rows: m.ffn)
                let a = g.indices.map { g[$0] / (1 + exp(-g[$0])) * u[$0] }
                let d = matvec(m.down[l], a, rows: m.hidden)
                x = x.indices.map { x[$0] + d[$0] }
            }
            result.append(matvec(m.outputHead ?? m.embed, norm(x, m.outNorm), rows: m.vocabSize))
        }
        return result
    }
}

/// GPT-2 byte table, written out independently of the tokenizer module.
public enum ByteLevelTable {
    public static let byteToScalar: [Unicode.Scalar] = {
        var printable = Set<Int>(0x21...0x7E); printable.formUnion(0xA1...0xAC); printable.formUnion(0xAE...0xFF)
        var n: UInt32 = 0
        return (0..<256).map { b in
            if printable.contains(b) { return Unicode.Scalar(UInt32(b))! }
            defer { n += 1 }
            return Unicode.Scalar(256 + n)!
        }
    }()
}

/// The tests' random numbers: ROMANumerics' SplitMix64 with float helpers.
public struct SplitMix {
    var bits: SplitMix64
    public init(_ seed: UInt64) { bits = SplitMix64(seed: seed) }
    public mutating func next() -> UInt64 { bits.next() }
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

public enum TempFiles {
    public static let directory: String = {
        let d = NSTemporaryDirectory() + "roma-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()
    public static func path(_ name: String) -> String { directory + "/" + name }
}
