import Foundation
import ROMAModel
import ROMAServe
import ROMATokenizer

/// The HTTP-free half of the two generation routes: a request body (bytes) to prompts and generation
/// parameters, every failure an `APIError` naming the field. The routes call it, then schedule; the
/// request fuzz target and the tests drive it directly.
public struct RequestDecoder: Sendable {
    /// The base model's id (`model` naming it selects no adapter) and the registered adapters, in
    /// `/v1/adapters` order (llama.cpp's `lora[].id` is a position in it).
    public let modelID: String
    public let adapterNames: [String]
    public let tokenizer: BPETokenizer
    public let contextLength: Int

    public init(modelID: String, adapterNames: [String], tokenizer: BPETokenizer, contextLength: Int) {
        self.modelID = modelID; self.adapterNames = adapterNames
        self.tokenizer = tokenizer; self.contextLength = contextLength
    }

    /// What a body decodes to: one prompt per choice group, and the parameters shared by all of them.
    public struct Decoded {
        var parameters: GenerationParameters
        public var prompts: [[Int]]
        public var maxTokensGiven: Bool
    }

    /// `/v1/chat/completions`: messages through the model's chat template.
    public func chat(_ body: Data) throws -> Decoded {
        let b = try JSONBody(body)
        var p = try parameters(b, defaultMaxTokens: 0)
        let wantLogprobs = try b.bool("logprobs") ?? false
        let top = try b.int("top_logprobs", 0...20)
        if top != nil && !wantLogprobs { throw APIError.invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs") }
        p.topLogprobs = wantLogprobs ? (top ?? 0) : nil
        guard let template = tokenizer.chatTemplate else {
            throw APIError(.badRequest, "the model has no chat template; use /v1/completions", code: "no_chat_template")
        }
        let messages = try ChatMessages.parse(b)
        let prompt = tokenizer.encode(chat: messages, template: template)
        return Decoded(parameters: p, prompts: [prompt], maxTokensGiven: b.has("max_completion_tokens") || b.has("max_tokens"))
    }

    /// `/v1/completions`: a string, strings, token ids or arrays of token ids.
    public func completion(_ body: Data) throws -> Decoded {
        let b = try JSONBody(body)
        var p = try parameters(b, defaultMaxTokens: 16)
        p.topLogprobs = try b.int("logprobs", 0...5)
        if try b.bool("echo") == true { throw APIError.invalid("'echo' is not supported", param: "echo", code: "unsupported_parameter") }
        if b.has("suffix") { throw APIError.invalid("'suffix' is not supported", param: "suffix", code: "unsupported_parameter") }
        let prompts = try CompletionPrompts.parse(b, tokenizer: tokenizer)
        return Decoded(parameters: p, prompts: prompts, maxTokensGiven: true)
    }

    func parameters(_ b: JSONBody, defaultMaxTokens: Int) throws -> GenerationParameters {
        try GenerationParameters(b, defaultMaxTokens: defaultMaxTokens, contextLength: contextLength,
                                 resolve: { try adapters(forModel: $0) }, extraAdapters: { try extraAdapters($0) })
    }

    /// `model` = the base id, or an adapter's name (vLLM / LoRAX); anything else is 404 model_not_found.
    func adapters(forModel model: String) throws -> [AdapterRequest] {
        if model == modelID { return [] }
        if adapterNames.contains(model) { return [AdapterRequest(model)] }
        throw APIError(.notFound, "the model '\(model)' does not exist (models: \(([modelID] + adapterNames).joined(separator: ", ")))",
                       param: "model", code: "model_not_found")
    }

    /// `adapters: [{"name", "scale"}]` (ours) and llama.cpp's `lora: [{"id", "scale"}]` (id = position in /v1/adapters).
    func extraAdapters(_ b: JSONBody) throws -> [AdapterRequest] {
        var out: [AdapterRequest] = []
        for key in ["adapters", "lora"] where b.has(key) {
            guard let list = b.object[key] as? [Any] else { throw APIError.invalid("'\(key)' must be an array", param: key, code: "invalid_type") }
            for (i, item) in list.enumerated() {
                guard let o = item as? [String: Any] else { throw APIError.invalid("'\(key)[\(i)]' must be an object", param: "\(key)[\(i)]", code: "invalid_type") }
                let e = JSONBody(object: o)
                let scale = Float(try e.number("scale", -100...100) ?? 1)
                let name: String
                if key == "lora" {
                    guard let id = try e.int("id", 0...Int(Int32.max)) else { throw APIError.invalid("'lora[\(i)].id' is required", param: "lora[\(i)].id", code: "missing_required_parameter") }
                    guard id < adapterNames.count else { throw APIError(.notFound, "no adapter with id \(id) (there are \(adapterNames.count))", param: "lora[\(i)].id", code: "model_not_found") }
                    name = adapterNames[id]
                } else {
                    name = try e.requireString("name")
                    guard adapterNames.contains(name) else {
                        throw APIError(.notFound, "no adapter named '\(name)' is registered", param: "adapters[\(i)].name", code: "model_not_found")
                    }
                }
                if scale != 0 { out.append(AdapterRequest(name, scale: scale)) }
            }
        }
        return out
    }
}
