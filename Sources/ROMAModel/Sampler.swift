import Foundation

/// Sampling settings (llama.cpp's order: repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw).
public struct SamplerConfig: Sendable, Equatable {
    /// 0 (or less) means greedy (argmax).
    public var temperature: Float = 0
    /// 0 disables.
    public var topK: Int = 40
    /// 1 disables.
    public var topP: Float = 0.95
    /// 0 disables.
    public var minP: Float = 0.05
    /// 1 disables.
    public var repeatPenalty: Float = 1.0
    /// How many recent tokens the repetition penalty looks at.
    public var repeatLastN: Int = 64
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repeatPenalty: Float = 1.0, repeatLastN: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP
        self.repeatPenalty = repeatPenalty; self.repeatLastN = repeatLastN; self.seed = seed
    }

    public static let greedy = SamplerConfig(temperature: 0)
    /// `roma chat`'s defaults: the model card's temperature 0.2 and top-p 0.9 (SmolLM2-Instruct), with
    /// llama.cpp's top-k 40 and min-p 0.05 (README, "Sampling defaults"). Greedy decoding loops on this model.
    public static let chat = SamplerConfig(temperature: 0.2, topK: 40, topP: 0.9, minP: 0.05)

    public func validate() throws {
        func bad(_ m: String) -> Error { EngineError.sampler(m) }
        if temperature.isNaN || temperature < 0 { throw bad("temperature must be >= 0, got \(temperature)") }
        if topK < 0 { throw bad("top-k must be >= 0, got \(topK)") }
        if !(topP > 0 && topP <= 1) { throw bad("top-p must be in (0, 1], got \(topP)") }
        if !(minP >= 0 && minP < 1) { throw bad("min-p must be in [0, 1), got \(minP)") }
        if !(repeatPenalty > 0) { throw bad("repeat penalty must be > 0, got \(repeatPenalty)") }
        if repeatLastN < 0 { throw bad("repeat-last-n must be >= 0") }
    }
}


/// xoshiro256** seeded through SplitMix64: deterministic for a given seed on every platform.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Chooses the next token from logits.
public struct Sampler {
    public let config: SamplerConfig
    private var rng: Xoshiro256

    public init(_ config: SamplerConfig) {
        self.config = config
        rng = Xoshiro256(seed: config.seed)
    }

    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bv = -Float.infinity
        for i in 0..<logits.count where logits[i] > bv { bv = logits[i]; best = i }
        return best
    }

    public mutating func sample(_ logitsIn: [Float], history: [Int]) -> Int {
        var logits = logitsIn
        // repetition penalty on the last N tokens (llama.cpp: divide positive logits, multiply negative)
        if config.repeatPenalty != 1, config.repeatLastN > 0 {
            for t in Set(history.suffix(config.repeatLastN)) where t >= 0 && t < logits.count {
                logits[t] = logits[t] > 0 ? logits[t] / config.repeatPenalty : logits[t] * config.repeatPenalty
            }
        }
        if config.temperature <= 0 { return logits.withUnsafeBufferPointer(Sampler.argmax) }
        // candidates sorted by logit, descending
        var cand: [(id: Int, logit: Float)]
        if config.topK > 0 && config.topK < logits.count {
            cand = Sampler.topK(logits, config.topK)
        } else {
            cand = logits.enumerated().map { ($0.offset, $0.element) }.sorted { $0.logit > $1.logit }
        }
        func probs(_ c: [(id: Int, logit: Float)], _ temp: Float) -> [Double] {
            let m = Double(c[0].logit)
            let e = c.map { exp((Double($0.logit) - m) / Double(temp)) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        if config.topP < 1 {
            let p = probs(cand, 1)
            var cum = 0.0, keep = cand.count
            for (i, pi) in p.enumerated() { cum += pi; if cum >= Double(config.topP) { keep = i + 1; break } }
            cand = Array(cand.prefix(max(1, keep)))
        }
        if config.minP > 0 {
            let p = probs(cand, 1)
            let threshold = Double(config.minP) * p[0]
            let keep = p.firstIndex { $0 < threshold } ?? p.count
            cand = Array(cand.prefix(max(1, keep)))
        }
        let p = probs(cand, config.temperature)
        let u = rng.nextUnit()
        var cum = 0.0
        for (i, pi) in p.enumerated() { cum += pi; if u < cum { return cand[i].id } }
        return cand[cand.count - 1].id
    }

    /// The `k` largest logits, best first (ties: the lower id first), by partial selection.
    public static func topK(_ logits: [Float], _ k: Int) -> [(id: Int, logit: Float)] {
        // partial selection: keep a sorted buffer of the k best
        var best: [(id: Int, logit: Float)] = []
        best.reserveCapacity(k + 1)
        var floor = -Float.infinity
        for (i, v) in logits.enumerated() where best.count < k || v > floor {
            var lo = 0, hi = best.count
            while lo < hi { let mid = (lo + hi) / 2; if best[mid].logit >= v { lo = mid + 1 } else { hi = mid } }
            best.insert((i, v), at: lo)
            if best.count > k { best.removeLast() }
            if best.count == k { floor = best[k - 1].logit }
        }
        return best
    }
}
