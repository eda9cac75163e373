import Foundation
import ROMAChip
import ROMALlama
import ROMAFormats
import ROMATokenizer
import ROMANumerics

/// The engine's errors (generation, sampling, calibration, tuning).
public enum EngineError: ROMAError {
    case contextOverflow(needed: Int, limit: Int)
    case emptyPrompt
    case invalid(String)
    /// A sampler parameter outside its range.
    case sampler(String)
    /// Tuning or training did not converge.
    case diverged(String)
    /// A job needs more host memory than the machine has.
    case overBudget(String)
    public var description: String {
        switch self {
        case .contextOverflow(let n, let l): return "prompt plus generated tokens (\(n)) exceed the context length (\(l))"
        case .emptyPrompt: return "the prompt is empty (it tokenizes to no tokens)"
        case .invalid(let m), .diverged(let m), .overBudget(let m): return m
        case .sampler(let m): return "sampler: \(m)"
        }
    }
    public var code: ErrorCode {
        switch self {
        case .contextOverflow: return .contextOverflow
        case .emptyPrompt, .invalid, .sampler: return .invalidArgument
        case .diverged: return .diverged
        case .overBudget: return .overBudget
        }
    }
}

/// A loaded model: tokenizer + Llama graph over a backend.
public final class Engine: Sendable {
    public let tokenizer: BPETokenizer
    public let model: LlamaModel
    public var config: ModelConfig { model.config }
    public var backend: Backend { model.backend }
    /// The adapters this engine can run (registered in host memory, resident on demand).
    public let adapters: AdapterRegistry

    public init(tokenizer: BPETokenizer, backend: Backend) throws {
        guard tokenizer.vocabSize == backend.config.vocabSize else {
            throw EngineError.invalid("tokenizer has \(tokenizer.vocabSize) tokens but the model's vocabulary is \(backend.config.vocabSize)")
        }
        self.tokenizer = tokenizer
        self.model = LlamaModel(backend: backend)
        self.adapters = AdapterRegistry(backend: backend)
    }

    /// Loads a GGUF model on the FP32 reference backend.
    public static func reference(path: String) throws -> Engine {
        let g = try GGUFFile(path: path)
        return try Engine(tokenizer: BPETokenizer(gguf: g), backend: ReferenceBackend(gguf: g))
    }

    /// Loads a compiled ROM image on the chip backend (checksum verified; tokenizer from the image).
    public static func chip(imagePath: String, chip: ChipConfig = .paper) throws -> Engine {
        let backend = try ChipBackend.load(imagePath: imagePath, chip: chip)
        return try Engine(tokenizer: BPETokenizer(romImage: backend.image), backend: backend)
    }

    /// A fresh per-request session: its own KV cache and the adapters it runs with. The adapters are
    /// made resident first, then the KV cache is allocated (evicting idle adapters if SRAM is short);
    /// a request that cannot fit is refused here, before any work.
    public func session(capacity: Int? = nil, adapters requests: [AdapterRequest] = []) throws -> Session {
        let lease = try adapters.acquire(requests)
        let cap = min(capacity ?? config.contextLength, config.contextLength)
        do {
            return try Session(model: model, capacity: cap, lease: lease)
        } catch let e as MemoryBudgetError where adapters.makeRoom(e.requested, protecting: Set(requests.map(\.name))) {
            return try Session(model: model, capacity: cap, lease: lease)
        }
    }
}

/// One sequence being processed: a KV cache (which owns the position) and the tokens in it.
public final class Session {
    public let model: LlamaModel
    public let cache: KVCache
    /// The adapters this request runs with (held resident while the session lives).
    public let lease: AdapterLease
    public private(set) var tokens: [Int] = []
    /// Tokens per forward pass at most (bounds activation memory during prefill).
    public var maxTokensPerPass = 256

    init(model: LlamaModel, capacity: Int, lease: AdapterLease = .none) throws {
        self.model = model
        self.lease = lease
        cache = try model.backend.makeKVCache(capacity: capacity)
    }

    public var position: Int { cache.count }
    public var capacity: Int { cache.capacity }

    /// Feeds tokens and returns the logits after the last one.
    public func feed(_ ids: [Int]) throws -> [Float] {
        try feed(ids, logitRows: (ids.count - 1)..<ids.count).rowArray(0)
    }

    /// Feeds tokens, in passes of at most `maxTokensPerPass`, and returns the logits of the positions in
    /// `logitRows` (relative to `ids`).
    public func feed(_ ids: [Int], logitRows rows: Range<Int>) throws -> Matrix {
        guard !ids.isEmpty else { throw EngineError.emptyPrompt }
        guard cache.count + ids.count <= cache.capacity else {
            throw EngineError.contextOverflow(needed: cache.count + ids.count, limit: cache.capacity)
        }
        guard rows.lowerBound >= 0, rows.upperBound <= ids.count, !rows.isEmpty else {
            throw EngineError.invalid("logit rows \(rows) are outside the \(ids.count) tokens fed")
        }
        let out = Matrix(rows: rows.count, cols: model.config.vocabSize)
        var start = 0
        while start < ids.count {
            let end = min(ids.count, start + max(1, maxTokensPerPass))
            // the wanted rows in this pass (none when they all lie in other passes)
            let lo = max(rows.lowerBound, start), hi = min(rows.upperBound, end)
            let wanted = lo < hi ? lo..<hi : start..<start
            // a pass with no wanted row still returns its last row's logits (unused)
            let local = wanted.isEmpty ? (end - start - 1)..<(end - start) : (wanted.lowerBound - start)..<(wanted.upperBound - start)
            let logits = model.forward(Array(ids[start..<end]), cache: cache, adapters: lease.selection, logitRows: local)
            if !wanted.isEmpty {
                out.row(wanted.lowerBound - rows.lowerBound).update(from: logits.data, count: logits.rows * logits.cols)
            }
            start = end
        }
        tokens += ids
        return out
    }

    public func reset() { cache.truncate(to: 0); tokens = [] }
}

public struct GenerationTimings: Sendable, Codable {
    public var promptTokens = 0
    public var generatedTokens = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    /// Decode rate over the tokens after the first (the first comes from the prefill logits).
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(max(0, generatedTokens - 1)) / decodeSeconds : 0 }
}

public struct GenerationResult: Sendable {
    public var text: String
    public var ids: [Int]
    public var promptIDs: [Int]
    public var finishReason: String   // "stop" (end-of-generation token) or "length"
    public var timings: GenerationTimings
}

extension Engine {
    /// Generates up to `maxTokens` after `promptIDs`, streaming text pieces to `onText`.
    public func generate(promptIDs: [Int], maxTokens: Int, sampler config: SamplerConfig = .greedy,
                         adapters: [AdapterRequest] = [], session: Session? = nil,
                         onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        try config.validate()
        guard !promptIDs.isEmpty else { throw EngineError.emptyPrompt }
        guard maxTokens >= 0 else { throw EngineError.invalid("max tokens must be >= 0") }
        guard maxTokens <= self.config.contextLength else {
            throw EngineError.contextOverflow(needed: promptIDs.count + min(maxTokens, Int.max - promptIDs.count), limit: self.config.contextLength)
        }
        let needed = promptIDs.count + maxTokens
        guard needed <= self.config.contextLength else { throw EngineError.contextOverflow(needed: needed, limit: self.config.contextLength) }
        let s = try session ?? self.session(capacity: needed, adapters: adapters)
        var sampler = Sampler(config)
        var timings = GenerationTimings()
        timings.promptTokens = promptIDs.count
        let t0 = DispatchTime.now().uptimeNanoseconds
        var logits = try s.feed(promptIDs)
        let t1 = DispatchTime.now().uptimeNanoseconds
        timings.prefillSeconds = Double(t1 - t0) / 1e9
        var out: [Int] = []
        var detok = StreamingDetokenizer(tokenizer: tokenizer)
        var text = ""
        var finish = "length"
        while out.count < maxTokens {
            let next = sampler.sample(logits, history: s.tokens)
            if tokenizer.endOfGeneration.contains(next) { finish = "stop"; break }
            out.append(next)
            let piece = detok.append(next)
            if !piece.isEmpty { text += piece; onText(piece) }
            if out.count == maxTokens { break }
            logits = try s.feed([next])
        }
        let tail = detok.flush()
        if !tail.isEmpty { text += tail; onText(tail) }
        timings.generatedTokens = out.count
        timings.decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
        return GenerationResult(text: text, ids: out, promptIDs: promptIDs, finishReason: finish, timings: timings)
    }
}
