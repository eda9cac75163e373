import Foundation
import ROMAModel
import ROMAServe
import ROMATokenizer

/// A JSON request body with typed, range-checked accessors; each failure is a 400 naming the field.
/// Unknown fields are ignored (as the peers do).
struct JSONBody {
    let object: [String: Any]

    init(_ data: Data) throws {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw APIError.invalid("the request body is not valid JSON", param: nil, code: "invalid_json")
        }
        guard let o = any as? [String: Any] else { throw APIError.invalid("the request body must be a JSON object", param: nil, code: "invalid_json") }
        object = o
    }

    func has(_ k: String) -> Bool { object[k] != nil && !(object[k] is NSNull) }

    func string(_ k: String) throws -> String? {
        guard has(k) else { return nil }
        guard let s = object[k] as? String else { throw APIError.invalid("'\(k)' must be a string", param: k, code: "invalid_type") }
        return s
    }

    func requireString(_ k: String) throws -> String {
        guard let s = try string(k) else { throw APIError.invalid("'\(k)' is required", param: k, code: "missing_required_parameter") }
        return s
    }

    func bool(_ k: String) throws -> Bool? {
        guard has(k) else { return nil }
        guard let n = object[k] as? NSNumber, JSONBody.isBool(n) else {
            throw APIError.invalid("'\(k)' must be a boolean", param: k, code: "invalid_type")
        }
        return n.boolValue
    }

    func number(_ k: String, _ range: ClosedRange<Double>) throws -> Double? {
        guard has(k) else { return nil }
        guard let n = object[k] as? NSNumber, !JSONBody.isBool(n) else {
            throw APIError.invalid("'\(k)' must be a number", param: k, code: "invalid_type")
        }
        let v = n.doubleValue
        guard v.isFinite, range.contains(v) else {
            throw APIError.invalid("'\(k)' must be in [\(Self.fmt(range.lowerBound)), \(Self.fmt(range.upperBound))], got \(Self.fmt(v))", param: k)
        }
        return v
    }

    func int(_ k: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let v = try number(k, Double(range.lowerBound)...Double(range.upperBound)) else { return nil }
        guard let i = Int(exactly: v), range.contains(i) else {
            throw APIError.invalid("'\(k)' must be an integer in \(range.lowerBound)...\(range.upperBound), got \(Self.fmt(v))", param: k, code: "invalid_type")
        }
        return i
    }

    /// JSON true/false (Foundation decodes them as a boolean NSNumber subclass on every platform).
    static func isBool(_ v: Any) -> Bool { String(describing: type(of: v)).contains("Boolean") }

    static func fmt(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}

/// What the chat and completion routes share once parsed: the prompts, sampling, the adapters.
struct GenerationParameters {
    var model: String
    var adapters: [AdapterRequest]
    var maxTokens: Int
    var n: Int
    var stream: Bool
    var includeUsage: Bool
    var stop: [String]
    var sampler: SamplerConfig
    var seeded: Bool
    var presencePenalty: Float
    var frequencyPenalty: Float
    var topLogprobs: Int?
    var ignoreEOS: Bool

    /// The fields common to both routes; `defaultMaxTokens` differs (chat: up to the context; completions: 16).
    init(_ b: JSONBody, defaultMaxTokens: Int, contextLength: Int, resolve: (String) throws -> [AdapterRequest],
         extraAdapters: (JSONBody) throws -> [AdapterRequest]) throws {
        model = try b.requireString("model")
        adapters = try resolve(model)
        for a in try extraAdapters(b) where !adapters.contains(where: { $0.name == a.name }) { adapters.append(a) }
        let mt = try b.int("max_completion_tokens", 0...contextLength) ?? b.int("max_tokens", 0...contextLength)
        maxTokens = mt ?? defaultMaxTokens
        n = try b.int("n", 1...16) ?? 1
        stream = try b.bool("stream") ?? false
        if let so = b.object["stream_options"], !(so is NSNull) {
            guard let o = so as? [String: Any] else { throw APIError.invalid("'stream_options' must be an object", param: "stream_options", code: "invalid_type") }
            includeUsage = try JSONBody(object: o).bool("include_usage") ?? false
        } else { includeUsage = false }
        stop = try Self.stops(b)
        let temperature = try b.number("temperature", 0...2) ?? 1
        let topP = try b.number("top_p", 0...1) ?? 1
        let seed = try b.int("seed", Int(Int64.min)...Int(Int64.max))
        seeded = seed != nil
        sampler = SamplerConfig(temperature: Float(temperature), topK: 0, topP: topP > 0 ? Float(topP) : 1e-9, minP: 0,
                                repeatPenalty: 1, repeatLastN: 0,
                                seed: seed.map { UInt64(bitPattern: Int64($0)) } ?? UInt64.random(in: 0...UInt64.max))
        presencePenalty = Float(try b.number("presence_penalty", -2...2) ?? 0)
        frequencyPenalty = Float(try b.number("frequency_penalty", -2...2) ?? 0)
        ignoreEOS = try b.bool("ignore_eos") ?? false
        topLogprobs = nil
    }

    /// `stop`: a string or up to four strings.
    static func stops(_ b: JSONBody) throws -> [String] {
        guard b.has("stop") else { return [] }
        if let s = b.object["stop"] as? String { return [s] }
        guard let a = b.object["stop"] as? [Any], a.count <= 4, let strings = a as? [String] else {
            throw APIError.invalid("'stop' must be a string or an array of at most 4 strings", param: "stop", code: "invalid_type")
        }
        return strings
    }

    /// The scheduler's request for one prompt and choice index (seeds step per choice).
    func request(prompt: [Int], choice: Int) -> CompletionRequest {
        var s = sampler
        s.seed = sampler.seed &+ UInt64(choice)
        return CompletionRequest(promptIDs: prompt, maxTokens: maxTokens, sampler: s, adapters: adapters, stop: stop,
                                 presencePenalty: presencePenalty, frequencyPenalty: frequencyPenalty,
                                 topLogprobs: topLogprobs, ignoreEOS: ignoreEOS)
    }
}

extension JSONBody {
    init(object: [String: Any]) { self.object = object }
}

/// The chat route's messages: roles system, developer (as system), user, assistant; content a string or
/// an array of text parts. Content is text: the template's special tokens are never parsed in it.
enum ChatMessages {
    static func parse(_ b: JSONBody) throws -> [ChatMessage] {
        guard let raw = b.object["messages"] else { throw APIError.invalid("'messages' is required", param: "messages", code: "missing_required_parameter") }
        guard let list = raw as? [Any], !list.isEmpty else {
            throw APIError.invalid("'messages' must be a non-empty array", param: "messages", code: "invalid_type")
        }
        return try list.enumerated().map { i, m in
            guard let o = m as? [String: Any] else { throw APIError.invalid("'messages[\(i)]' must be an object", param: "messages[\(i)]", code: "invalid_type") }
            guard let role = o["role"] as? String else { throw APIError.invalid("'messages[\(i)].role' is required", param: "messages[\(i)].role", code: "missing_required_parameter") }
            guard ["system", "developer", "user", "assistant"].contains(role) else {
                throw APIError.invalid("'messages[\(i)].role' must be system, developer, user or assistant, got '\(role)'", param: "messages[\(i)].role")
            }
            return ChatMessage(role: role == "developer" ? "system" : role, content: try content(o["content"], i))
        }
    }

    static func content(_ c: Any?, _ i: Int) throws -> String {
        if let s = c as? String { return s }
        if c == nil || c is NSNull { return "" }
        guard let parts = c as? [Any] else { throw APIError.invalid("'messages[\(i)].content' must be a string or an array of text parts", param: "messages[\(i)].content", code: "invalid_type") }
        return try parts.enumerated().map { j, p in
            guard let o = p as? [String: Any], o["type"] as? String == "text", let t = o["text"] as? String else {
                throw APIError.invalid("'messages[\(i)].content[\(j)]' must be a text part ({\"type\": \"text\", \"text\": ...})", param: "messages[\(i)].content[\(j)]", code: "invalid_type")
            }
            return t
        }.joined()
    }
}

/// The completion route's `prompt`: a string, strings, token ids, or arrays of token ids.
enum CompletionPrompts {
    static func parse(_ b: JSONBody, tokenizer: BPETokenizer) throws -> [[Int]] {
        guard let p = b.object["prompt"], !(p is NSNull) else { throw APIError.invalid("'prompt' is required", param: "prompt", code: "missing_required_parameter") }
        func ids(_ x: Any) -> [Int]? {
            guard let a = x as? [Any], !a.isEmpty else { return nil }
            var out: [Int] = []
            for v in a {
                guard let n = v as? NSNumber, !JSONBody.isBool(n), let i = Int(exactly: n.doubleValue) else { return nil }
                out.append(i)
            }
            return out
        }
        if let s = p as? String { return [tokenizer.encode(s)] }
        if let single = ids(p) { return [single] }
        if let list = p as? [Any], !list.isEmpty {
            if let strings = list as? [String] { return strings.map { tokenizer.encode($0) } }
            let many = list.compactMap(ids)
            if many.count == list.count { return many }
        }
        throw APIError.invalid("'prompt' must be a string, an array of strings, an array of token ids or an array of such arrays", param: "prompt", code: "invalid_type")
    }
}
