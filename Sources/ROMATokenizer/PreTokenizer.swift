/// Pre-tokenizers: split text into the pieces BPE runs on (llama.cpp `unicode_regex_split`).
public enum PreTokenizer: String, Sendable {
    /// `smollm` (also starcoder, refact, ...): `\p{N}` (each digit alone), then the GPT-2 split.
    case smollm
    /// Plain GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2

    public init?(ggufName: String) {
        switch ggufName {
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b": self = .smollm
        case "gpt-2", "gpt2", "default": self = .gpt2
        default: return nil
        }
    }

    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [Range<Int>] = []
        switch self {
        case .gpt2:
            PreTokenizer.gpt2Split(scalars, 0..<scalars.count, into: &pieces)
        case .smollm:
            // First regex: every \p{N} scalar is its own piece; the spans between are kept as pieces.
            var start = 0
            for i in 0..<scalars.count where PreTokenizer.isNumber(scalars[i]) {
                if start < i { PreTokenizer.gpt2Split(scalars, start..<i, into: &pieces) }
                pieces.append(i..<(i + 1))
                start = i + 1
            }
            if start < scalars.count { PreTokenizer.gpt2Split(scalars, start..<scalars.count, into: &pieces) }
        }
        return pieces.map { r in
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[r])
            return String(v)
        }
    }

    @inline(__always) static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    @inline(__always) static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    @inline(__always) static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// The GPT-2 regex as a hand-written matcher over `range` of `t` (leftmost alternative wins).
    static func gpt2Split(_ t: [Unicode.Scalar], _ range: Range<Int>, into out: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        func at(_ k: Int) -> Unicode.Scalar? { k < end ? t[k] : nil }
        func isOther(_ s: Unicode.Scalar) -> Bool { !isSpace(s) && !isLetter(s) && !isNumber(s) }
        while i < end {
            let c = t[i]
            // 's 't 're 've 'm 'll 'd
            if c == "'", let n = at(i + 1) {
                if n == "s" || n == "t" || n == "m" || n == "d" { out.append(i..<(i + 2)); i += 2; continue }
                if let n2 = at(i + 2), (n == "r" && n2 == "e") || (n == "v" && n2 == "e") || (n == "l" && n2 == "l") {
                    out.append(i..<(i + 3)); i += 3; continue
                }
            }
            // optional single space, then a run of one class
            let lead = (c == " ") ? 1 : 0
            if let f = at(i + lead) {
                let cls: ((Unicode.Scalar) -> Bool)? =
                    isLetter(f) ? isLetter : isNumber(f) ? isNumber : isOther(f) ? isOther : nil
                if let cls {
                    var j = i + lead + 1
                    while j < end, cls(t[j]) { j += 1 }
                    out.append(i..<j); i = j; continue
                }
            }
            // whitespace: \s+(?!\S) then \s+
            if isSpace(c) {
                var j = i + 1
                while j < end, isSpace(t[j]) { j += 1 }
                if j < end && j - i > 1 { j -= 1 }  // leave the last space to prefix the next word
                out.append(i..<j); i = j; continue
            }
            out.append(i..<(i + 1)); i += 1
        }
    }
}
