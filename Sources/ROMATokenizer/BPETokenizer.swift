import Foundation
import ROMANumerics
import ROMAFormats

public enum TokenizerError: Error, CustomStringConvertible {
    case unsupported(String)
    case invalid(String)
    public var description: String {
        switch self {
        case .unsupported(let m): return "tokenizer: \(m)"
        case .invalid(let m): return "tokenizer: \(m)"
        }
    }
}

/// Token types as stored in `tokenizer.ggml.token_type`.
public enum TokenType: Int, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Byte-level BPE tokenizer (`tokenizer.ggml.model = gpt2`) built from GGUF metadata.
/// `@unchecked Sendable`: immutable but for the merge cache, which is behind `cacheLock`.
public final class BPETokenizer: @unchecked Sendable {
    public let tokens: [String]
    public let tokenTypes: [TokenType]
    public let preTokenizer: PreTokenizer
    public let bosID: Int?
    public let eosID: Int?
    public let addBOS: Bool
    /// End-of-generation tokens: EOS plus tokens whose text marks the end of a turn.
    public let endOfGeneration: Set<Int>
    public let chatTemplate: ChatTemplate?

    private let vocab: [String: Int32]
    /// (left id, right id) -> (rank, merged id)
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Special tokens matched in raw text, longest first.
    private let specials: [(text: String, id: Int)]
    private let tokenBytes: [[UInt8]]
    private let cacheLock = NSLock()
    private var cache: [String: [Int32]] = [:]

    public var vocabSize: Int { tokens.count }

    public convenience init(gguf g: GGUFFile) throws {
        let model = try g.requireString("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw TokenizerError.unsupported("tokenizer.ggml.model '\(model)' is not supported (only byte-level BPE 'gpt2')")
        }
        let pre = g.value("tokenizer.ggml.pre")?.stringValue ?? "default"
        guard let preTok = PreTokenizer(ggufName: pre) else {
            throw TokenizerError.unsupported("pre-tokenizer '\(pre)' is not supported (supported: smollm, gpt2)")
        }
        let tokens = try g.stringArray("tokenizer.ggml.tokens")
        let types = (try? g.intArray("tokenizer.ggml.token_type")) ?? Array(repeating: 1, count: tokens.count)
        guard types.count == tokens.count else {
            throw TokenizerError.invalid("token_type has \(types.count) entries but there are \(tokens.count) tokens")
        }
        let merges = try g.stringArray("tokenizer.ggml.merges")
        try self.init(tokens: tokens, types: types.map { TokenType(rawValue: $0) ?? .normal }, merges: merges,
                      preTokenizer: preTok,
                      bosID: g.value("tokenizer.ggml.bos_token_id")?.intValue,
                      eosID: g.value("tokenizer.ggml.eos_token_id")?.intValue,
                      eotID: g.value("tokenizer.ggml.eot_token_id")?.intValue,
                      addBOS: g.value("tokenizer.ggml.add_bos_token")?.boolValue ?? false,
                      chatTemplate: g.value("tokenizer.chat_template")?.stringValue)
    }

    public init(tokens: [String], types: [TokenType], merges mergeStrings: [String], preTokenizer: PreTokenizer,
                bosID: Int?, eosID: Int?, eotID: Int? = nil, addBOS: Bool, chatTemplate: String?) throws {
        guard !tokens.isEmpty else { throw TokenizerError.invalid("empty vocabulary") }
        for (name, id) in [("bos", bosID), ("eos", eosID), ("eot", eotID)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerError.invalid("\(name)_token_id \(id) is outside the vocabulary of \(tokens.count) tokens")
            }
        }
        self.tokens = tokens
        self.tokenTypes = types
        self.preTokenizer = preTokenizer
        self.bosID = bosID
        self.eosID = eosID
        self.addBOS = addBOS
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = Int32(i) }
        self.vocab = vocab
        var m: [UInt64: (Int32, Int32)] = [:]
        m.reserveCapacity(mergeStrings.count)
        for (rank, s) in mergeStrings.enumerated() {
            // split at the first space at index >= 1 (llama.cpp: word.find(' ', 1))
            let chars = Array(s)
            guard chars.count >= 3, let sp = chars[1...].firstIndex(of: " ") else {
                throw TokenizerError.invalid("merge \(rank) '\(s)' is not of the form 'left right'")
            }
            let left = String(chars[..<sp]), right = String(chars[(sp + 1)...])
            guard let a = vocab[left], let b = vocab[right], let ab = vocab[left + right] else { continue }
            let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
            if m[key] == nil { m[key] = (Int32(rank), ab) }
        }
        self.merges = m
        var sp: [(String, Int)] = []
        for (i, t) in types.enumerated() where (t == .control || t == .userDefined || t == .unknown) && !tokens[i].isEmpty {
            sp.append((tokens[i], i))
        }
        sp.sort { $0.0.utf8.count > $1.0.utf8.count }
        self.specials = sp
        self.tokenBytes = tokens.enumerated().map { i, t in
            switch types[i] {
            case .normal, .byte, .undefined, .unused: return ByteLevel.decode(t) ?? Array(t.utf8)
            default: return Array(t.utf8)
            }
        }
        var eog: Set<Int> = []
        if let eosID { eog.insert(eosID) }
        if let eotID { eog.insert(eotID) }
        for name in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "<|end_of_text|>"] {
            if let id = vocab[name] { eog.insert(Int(id)) }
        }
        self.endOfGeneration = eog
        self.chatTemplate = chatTemplate.flatMap { ChatTemplate(source: $0) }
    }

    public func id(of token: String) -> Int? { vocab[token].map(Int.init) }

    // MARK: encoding

    /// Encodes text. With `parseSpecial`, control tokens such as `<|im_start|>` written in the text
    /// become their ids (user-defined tokens are always recognised, as in llama.cpp).
    /// A conversation in the model's chat template: the template's special tokens are control tokens,
    /// every message's content is plain text (special-token strings in it are tokenized as text, so no
    /// message can forge a role or end a turn).
    public func encode(chat messages: [ChatMessage], template: ChatTemplate, addGenerationPrompt: Bool = true) -> [Int] {
        var out: [Int] = addBOS ? bosID.map { [$0] } ?? [] : []
        for seg in template.segments(messages, addGenerationPrompt: addGenerationPrompt) {
            switch seg {
            case .template(let s): out += encode(s, parseSpecial: true, addBOS: false)
            case .content(let s): out += encode(s, parseSpecial: false, addBOS: false)
            }
        }
        return out
    }

    public func encode(_ text: String, parseSpecial: Bool = true, addBOS: Bool? = nil) -> [Int] {
        var out: [Int] = []
        if addBOS ?? self.addBOS, let bosID { out.append(bosID) }
        for fragment in partition(text, parseSpecial: parseSpecial) {
            switch fragment {
            case .special(let id): out.append(id)
            case .text(let s):
                for piece in preTokenizer.split(s) { out.append(contentsOf: bpe(piece).map(Int.init)) }
            }
        }
        return out
    }

    enum Fragment { case text(String), special(Int) }

    /// Splits raw text around special-token occurrences (longest special tokens first).
    func partition(_ text: String, parseSpecial: Bool) -> [Fragment] {
        var frags: [Fragment] = text.isEmpty ? [] : [.text(text)]
        for (stext, sid) in specials {
            if !parseSpecial && tokenTypes[sid] != .userDefined { continue }
            var next: [Fragment] = []
            for f in frags {
                guard case .text(let s) = f, s.contains(stext) else { next.append(f); continue }
                var rest = Substring(s)
                while let r = rest.range(of: stext) {
                    if r.lowerBound > rest.startIndex { next.append(.text(String(rest[..<r.lowerBound]))) }
                    next.append(.special(sid))
                    rest = rest[r.upperBound...]
                }
                if !rest.isEmpty { next.append(.text(String(rest))) }
            }
            frags = next
        }
        return frags
    }

    /// Whether the vocabulary has the byte-level symbol for byte `b`. A byte without one cannot be
    /// encoded and is left out of the tokens, as llama.cpp's BPE does (SmolLM2 lacks a few control bytes).
    public func hasSymbol(forByte b: UInt8) -> Bool { vocab[String(ByteLevel.byteToScalar[Int(b)])] != nil }

    /// Byte-level BPE of one pre-token: repeatedly merge the adjacent pair of lowest rank (leftmost first).
    func bpe(_ piece: String) -> [Int32] {
        cacheLock.lock()
        if let hit = cache[piece] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        var syms: [Int32] = []
        for b in piece.utf8 {
            let ch = String(ByteLevel.byteToScalar[Int(b)])
            if let id = vocab[ch] { syms.append(id) }
        }
        // Whole-piece shortcut is not used (ignore_merges is off for smollm).
        while syms.count > 1 {
            var bestRank = Int32.max, bestAt = -1, bestID: Int32 = 0
            for k in 0..<(syms.count - 1) {
                let key = UInt64(UInt32(syms[k])) << 32 | UInt64(UInt32(syms[k + 1]))
                if let m = merges[key], m.rank < bestRank { bestRank = m.rank; bestAt = k; bestID = m.id }
            }
            if bestAt < 0 { break }
            syms[bestAt] = bestID
            syms.remove(at: bestAt + 1)
        }
        cacheLock.lock()
        if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
        cache[piece] = syms
        cacheLock.unlock()
        return syms
    }

    // MARK: decoding

    /// The raw bytes of one token. Control tokens give their text only when `renderSpecial` is set.
    public func bytes(of id: Int, renderSpecial: Bool = false) -> [UInt8] {
        guard id >= 0 && id < tokens.count else { return [] }
        switch tokenTypes[id] {
        case .control, .unknown: return renderSpecial ? tokenBytes[id] : []
        default: return tokenBytes[id]
        }
    }

    /// Decodes ids to text (invalid UTF-8 becomes U+FFFD).
    public func decode(_ ids: [Int], renderSpecial: Bool = false) -> String {
        var b: [UInt8] = []
        for id in ids { b.append(contentsOf: bytes(of: id, renderSpecial: renderSpecial)) }
        return String(decoding: b, as: UTF8.self)
    }

    /// The vocabulary text of a token (byte-level form), for display.
    public func tokenText(_ id: Int) -> String { id >= 0 && id < tokens.count ? tokens[id] : "<invalid \(id)>" }
}

/// Streaming detokenizer: emits text as tokens arrive, holding back an incomplete UTF-8 sequence
/// until the bytes that complete it arrive.
public struct StreamingDetokenizer {
    private var pending: [UInt8] = []
    public let tokenizer: BPETokenizer
    public let renderSpecial: Bool

    public init(tokenizer: BPETokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds a token and returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int) -> String {
        pending.append(contentsOf: tokenizer.bytes(of: id, renderSpecial: renderSpecial))
        let n = StreamingDetokenizer.completePrefixLength(pending)
        guard n > 0 else { return "" }
        let s = String(decoding: pending[..<n], as: UTF8.self)
        pending.removeFirst(n)
        return s
    }

    /// Whatever is left (an incomplete sequence decodes to U+FFFD).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside an incomplete UTF-8 sequence.
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        let n = b.count
        // look back at most 3 bytes for the start of the last sequence
        var i = n - 1
        var back = 0
        while i >= 0 && back < 4 {
            let c = b[i]
            if c & 0xC0 != 0x80 {  // a lead byte or ASCII
                let need: Int = c < 0x80 ? 1 : c >> 5 == 0b110 ? 2 : c >> 4 == 0b1110 ? 3 : c >> 3 == 0b11110 ? 4 : 1
                return (n - i) >= need ? n : i
            }
            i -= 1; back += 1
        }
        return n  // stray continuation bytes: let them through as U+FFFD
    }
}

extension TokenizerError: ROMAError {
    public var code: ErrorCode {
        switch self {
        case .unsupported: return .unsupported
        case .invalid: return .corruptInput
        }
    }
}
