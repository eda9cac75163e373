import Foundation
import ROMAModel
import ROMANumerics

/// One completion the scheduler runs: a prompt (already in tokens), how much to generate and how, and
/// the adapters to run it with.
public struct CompletionRequest: Sendable {
    public var promptIDs: [Int]
    public var maxTokens: Int
    public var sampler: SamplerConfig
    public var adapters: [AdapterRequest]
    /// Stop sequences: generation ends before the first one (it is not part of the text).
    public var stop: [String]
    /// OpenAI penalties on the generated tokens: logit -= presence·[count > 0] + frequency·count.
    public var presencePenalty: Float
    public var frequencyPenalty: Float
    /// Return the chosen token's log-probability and this many alternatives (nil: none).
    public var topLogprobs: Int?
    /// Keep generating through end-of-generation tokens (llama.cpp's `ignore_eos`; fixed-length benchmarks).
    public var ignoreEOS = false

    public init(promptIDs: [Int], maxTokens: Int, sampler: SamplerConfig = .greedy, adapters: [AdapterRequest] = [],
                stop: [String] = [], presencePenalty: Float = 0, frequencyPenalty: Float = 0, topLogprobs: Int? = nil,
                ignoreEOS: Bool = false) {
        self.promptIDs = promptIDs; self.maxTokens = maxTokens; self.sampler = sampler; self.adapters = adapters
        self.stop = stop; self.presencePenalty = presencePenalty; self.frequencyPenalty = frequencyPenalty
        self.topLogprobs = topLogprobs; self.ignoreEOS = ignoreEOS
    }
}

/// Why a completion ended (OpenAI's `finish_reason`).
public enum FinishReason: String, Sendable, Codable {
    /// An end-of-generation token or a stop sequence.
    case stop
    /// `maxTokens` reached, or the server drained it at shutdown.
    case length
}

public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
}

/// The log-probability of a token, with its text.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int
    public var text: String
    public var logprob: Double
}

/// What a running completion reports, in order: pieces of text as tokens arrive, then one end.
public enum CompletionEvent: Sendable {
    /// One generated token and the text it completes (possibly empty: held back for a stop sequence or an
    /// unfinished UTF-8 character); its log-probability and the top alternatives when asked.
    case token(id: Int, text: String, logprob: TokenLogprob?, top: [TokenLogprob])
    /// The completion ended; `text` is what is left to deliver (held-back text that turned out not to be a stop).
    case finished(reason: FinishReason, usage: Usage, text: String)
    /// It could not run (refused, timed out in the queue, cancelled by shutdown) or failed.
    case failed(ServeError)
}

/// The scheduler's refusals and failures, each with the stable code a server maps to a status.
public struct ServeError: ROMAError, Equatable {
    public enum Kind: String, Sendable {
        /// The request can never fit the memory budget (400 `sram_budget_exceeded`).
        case neverFits
        /// It could fit later, but did not within the queue timeout or the queue is full (429).
        case queueTimeout
        case queueFull
        /// The server is shutting down (503).
        case shuttingDown
        /// Bad parameters (400).
        case invalidRequest
        /// An unknown adapter (404).
        case unknownAdapter
    }
    public var kind: Kind
    public var message: String
    /// Bytes the request needs and bytes that could ever be free for it (neverFits).
    public var neededBytes: Int?
    public var availableBytes: Int?
    /// Seconds after which a retry may succeed (queue refusals).
    public var retryAfter: Int?

    public init(_ kind: Kind, _ message: String, neededBytes: Int? = nil, availableBytes: Int? = nil, retryAfter: Int? = nil) {
        self.kind = kind; self.message = message; self.neededBytes = neededBytes; self.availableBytes = availableBytes
        self.retryAfter = retryAfter
    }

    /// A refusal of the prompt itself: it and its max tokens exceed the model's context length.
    public var isContextOverflow: Bool { kind == .invalidRequest && message.contains(Self.contextOverflowPhrase) }
    /// The words every context-length refusal contains.
    public static let contextOverflowPhrase = "exceed the context length"
    public var description: String { message }
    public var code: ErrorCode {
        switch kind {
        case .neverFits: return .overBudget
        case .queueTimeout, .queueFull, .shuttingDown: return .conflict
        case .invalidRequest: return .invalidArgument
        case .unknownAdapter: return .notFound
        }
    }
}
