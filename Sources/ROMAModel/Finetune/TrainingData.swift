import Foundation
import ROMANumerics
import ROMATokenizer

/// One training sequence: its tokens and which of them the loss learns.
public struct TrainingSample: Sendable, Equatable {
    public var tokens: [Int]
    /// `supervised[t]`: token t is a target, predicted from position t − 1 (`supervised[0]` is false).
    public var supervised: [Bool]
    /// Where it came from: "train.jsonl:12" (a line) or "notes.txt:chunk 3".
    public var origin: String

    public init(tokens: [Int], supervised: [Bool], origin: String) {
        precondition(tokens.count == supervised.count)
        self.tokens = tokens; self.origin = origin
        self.supervised = supervised.enumerated().map { $0 > 0 && $1 }   // the first token has nothing before it
    }

    public var supervisedCount: Int { supervised.reduce(0) { $0 + ($1 ? 1 : 0) } }
    /// The positions whose logits the loss reads: from the one before the first target to the one
    /// before the last (the output head runs on these rows only).
    public var logitRows: Range<Int> {
        let first = supervised.firstIndex(of: true)!, last = supervised.lastIndex(of: true)!
        return (first - 1)..<last
    }
}

/// Training data as people already have it, one JSON object per line (the three forms of mlx-lm and
/// Hugging Face TRL), or plain text:
///
///     {"text": "..."}                                   every token is learned
///     {"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]}
///                                                       the model's chat template; assistant turns are learned
///     {"prompt": "...", "completion": "..."}            a user turn and an assistant turn; the completion is learned
///     file.txt                                          cut into chunks of `maxSeqLen` tokens, all learned
///
/// Every line must have the first line's form. Bad data is refused with the file and line before any
/// training (`TrainingDataError`).
public struct TrainingData: Sendable {
    public enum Form: String, Sendable, Codable { case text, messages, completion, plainText = "txt" }

    public let path: String
    public let form: Form
    public let samples: [TrainingSample]

    public var tokenCount: Int { samples.reduce(0) { $0 + $1.tokens.count } }
    public var supervisedCount: Int { samples.reduce(0) { $0 + $1.supervisedCount } }

    /// Reads and tokenizes `path`. `maskPrompt` (default) learns only completions and assistant
    /// turns; false learns every token after the first.
    public static func load(path: String, tokenizer: BPETokenizer, maxSeqLen: Int, maskPrompt: Bool = true) throws -> TrainingData {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingDataError(.notFound, "\(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrainingDataError(.corruptInput, "\(name): not UTF-8 text")
        }
        let reader = Reader(name: name, tokenizer: tokenizer, maxSeqLen: maxSeqLen, maskPrompt: maskPrompt)
        if path.lowercased().hasSuffix(".txt") {
            return TrainingData(path: path, form: .plainText, samples: try reader.chunks(text))
        }
        let (form, samples) = try reader.jsonLines(text)
        return TrainingData(path: path, form: form, samples: samples)
    }

    /// Tokenizes records (one per line) into samples.
    struct Reader {
        let name: String
        let tokenizer: BPETokenizer
        let maxSeqLen: Int
        let maskPrompt: Bool

        /// Every non-blank line parsed to an object, with where it stands ("name:line"; any line ending).
        func records(_ text: String) throws -> [(at: String, record: [String: Any])] {
            try text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().compactMap { i, raw in
                let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if line.isEmpty { return nil }
                let at = "\(name):\(i + 1)"
                return (at, try parse(line, at: at))
            }
        }

        func jsonLines(_ text: String) throws -> (Form, [TrainingSample]) {
            var form: Form?, samples: [TrainingSample] = []
            for (at, record) in try records(text) {
                let f = try self.form(of: record, at: at)
                if let form, f != form {
                    throw TrainingDataError(.corruptInput, "\(at): a \"\(f.rawValue)\" record, but the file's first record is \"\(form.rawValue)\" (one form per file)")
                }
                form = f
                samples.append(try sample(record, form: f, at: at))
            }
            guard let form else { throw TrainingDataError(.corruptInput, "\(name): no samples (the file is empty)") }
            return (form, samples)
        }

        func parse(_ line: String, at: String) throws -> [String: Any] {
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) } catch {
                throw TrainingDataError(.corruptInput, "\(at): not valid JSON")
            }
            guard let record = object as? [String: Any] else {
                throw TrainingDataError(.corruptInput, "\(at): a line must be a JSON object, found \(Self.kind(object))")
            }
            return record
        }

        func form(of r: [String: Any], at: String) throws -> Form {
            if r["messages"] != nil { return .messages }
            if r["prompt"] != nil || r["completion"] != nil { return .completion }
            if r["text"] != nil { return .text }
            let keys = r.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw TrainingDataError(.corruptInput, "\(at): a record needs \"text\", \"messages\" or \"prompt\" and \"completion\" (found \(keys.isEmpty ? "no fields" : keys))")
        }

        func string(_ r: [String: Any], _ key: String, at: String) throws -> String {
            guard let v = r[key] else { throw TrainingDataError(.corruptInput, "\(at): missing \"\(key)\"") }
            guard let s = v as? String else { throw TrainingDataError(.corruptInput, "\(at): \"\(key)\" must be a string, found \(Self.kind(v))") }
            guard !s.isEmpty else { throw TrainingDataError(.corruptInput, "\(at): \"\(key)\" is empty") }
            return s
        }

        func sample(_ r: [String: Any], form: Form, at: String) throws -> TrainingSample {
            let (tokens, supervised): ([Int], [Bool])
            switch form {
            case .text:
                (tokens, supervised) = plain(try string(r, "text", at: at))
            case .completion:
                let p = try string(r, "prompt", at: at), c = try string(r, "completion", at: at)
                (tokens, supervised) = try chat([ChatMessage(role: "user", content: p), ChatMessage(role: "assistant", content: c)], at: at)
            case .messages:
                (tokens, supervised) = try chat(try messages(r, at: at), at: at)
            case .plainText:
                preconditionFailure("plain text is read by chunks")
            }
            return try checked(TrainingSample(tokens: tokens, supervised: supervised, origin: at))
        }

        func messages(_ r: [String: Any], at: String) throws -> [ChatMessage] {
            guard let list = r["messages"] as? [Any] else {
                throw TrainingDataError(.corruptInput, "\(at): \"messages\" must be a list, found \(Self.kind(r["messages"]!))")
            }
            guard !list.isEmpty else { throw TrainingDataError(.corruptInput, "\(at): \"messages\" is empty") }
            return try list.enumerated().map { j, item in
                guard let m = item as? [String: Any], let role = m["role"] as? String, let content = m["content"] as? String else {
                    throw TrainingDataError(.corruptInput, "\(at): message \(j + 1) needs a string \"role\" and a string \"content\"")
                }
                guard ["system", "user", "assistant"].contains(role) else {
                    throw TrainingDataError(.corruptInput, "\(at): message \(j + 1) has role \"\(role)\" (expected system, user or assistant)")
                }
                return ChatMessage(role: role, content: content)
            }
        }

        /// Text with the end-of-sequence token appended; all learned.
        func plain(_ text: String) -> ([Int], [Bool]) {
            var tokens = tokenizer.encode(text, parseSpecial: false)
            if let eos = tokenizer.eosID { tokens.append(eos) }
            return (tokens, tokens.indices.map { $0 > 0 })
        }

        /// A conversation in the chat template, the assistant turns (their content and the end-of-turn
        /// token) learned; without a template, the turns' text concatenated.
        func chat(_ messages: [ChatMessage], at: String) throws -> ([Int], [Bool]) {
            guard let template = tokenizer.chatTemplate else {
                var tokens: [Int] = [], learn: [Bool] = []
                for m in messages {
                    let t = tokenizer.encode(m.content, parseSpecial: false, addBOS: tokens.isEmpty ? nil : false)
                    tokens += t; learn += Array(repeating: m.role == "assistant" || !maskPrompt, count: t.count)
                }
                if let eos = tokenizer.eosID { tokens.append(eos); learn.append(true) }
                return (tokens, learn.indices.map { $0 > 0 && learn[$0] })
            }
            var tokens: [Int] = tokenizer.addBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
            var learn = [Bool](repeating: false, count: tokens.count)
            var inAssistant = false
            for seg in template.segments(messages, addGenerationPrompt: false) {
                switch seg {
                case .template(let s):
                    let t = tokenizer.encode(s, parseSpecial: true, addBOS: false)
                    tokens += t
                    // the turn's end (its first token, "<|im_end|>") is what the model must learn to emit
                    learn += t.indices.map { inAssistant && $0 == 0 }
                    inAssistant = s.hasSuffix("assistant\n")
                case .content(let s):
                    let t = tokenizer.encode(s, parseSpecial: false, addBOS: false)
                    tokens += t
                    learn += Array(repeating: inAssistant, count: t.count)
                }
            }
            if !maskPrompt { learn = tokens.indices.map { $0 > 0 } }
            if maskPrompt && !messages.contains(where: { $0.role == "assistant" }) {
                throw TrainingDataError(.corruptInput, "\(at): nothing to learn: the conversation has no assistant turn (or pass --no-mask-prompt)")
            }
            return (tokens, learn)
        }

        /// Plain text cut into chunks of `maxSeqLen` tokens (the last one shorter), all learned.
        func chunks(_ text: String) throws -> [TrainingSample] {
            let tokens = tokenizer.encode(text, parseSpecial: false)
            guard tokens.count >= 2 else { throw TrainingDataError(.corruptInput, "\(name): no samples (the text has \(tokens.count) tokens)") }
            return try stride(from: 0, to: tokens.count, by: maxSeqLen).compactMap { start -> TrainingSample? in
                let piece = Array(tokens[start..<min(tokens.count, start + maxSeqLen)])
                guard piece.count >= 2 else { return nil }
                return try checked(TrainingSample(tokens: piece, supervised: piece.indices.map { $0 > 0 },
                                                  origin: "\(name):chunk \(start / maxSeqLen + 1)"))
            }
        }

        func checked(_ s: TrainingSample) throws -> TrainingSample {
            guard s.tokens.count <= maxSeqLen else {
                throw TrainingDataError(.contextOverflow, "\(s.origin): the sample has \(s.tokens.count) tokens, more than the maximum sequence length \(maxSeqLen)")
            }
            guard s.supervisedCount > 0 else {
                throw TrainingDataError(.corruptInput, "\(s.origin): nothing to learn (every token is prompt)")
            }
            return s
        }

        static func kind(_ v: Any) -> String {
            switch v {
            case is String: return "a string"
            case is NSNumber: return "a number"
            case is [Any]: return "a list"
            case is [String: Any]: return "an object"
            case is NSNull: return "null"
            default: return "\(type(of: v))"
            }
        }
    }
}

public struct TrainingDataError: ROMAError, Equatable {
    public let code: ErrorCode
    public let message: String
    public init(_ code: ErrorCode, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}
