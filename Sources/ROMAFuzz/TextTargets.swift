import Foundation
import ROMAModel
import ROMAServer
import ROMATokenizer

/// The tokenizer on arbitrary bytes: decode(encode(text)) must give the text back exactly, but for the
/// bytes the vocabulary has no symbol for; streaming detokenization must agree; then the bytes as
/// token ids, decoded.
public enum TokenizerTarget: FuzzTarget {
    public static let name = "tokenizer"
    public static let dictionary = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "'s", "'ll", " the", "\r\n", "\u{00A0}",
        "\u{FEFF}", "\u{1F600}", "日本語", "  ", "\t", "123456", "Ġ"]

    public static func seeds() throws -> [[UInt8]] {
        ["Hello, world!", "The capital of France is Paris.", "def f(x):\n    return x ** 2  # square\n",
         "<|im_start|>user\nhi<|im_end|>\n", "naïve café — 日本語 😀\r\n\ttabs", "it's we'll I'M 12345 3.14"].map { Array($0.utf8) }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let tok = FuzzContext.shared.tokenizer
        let text = String(decoding: bytes, as: UTF8.self)
        let ids = tok.encode(text, parseSpecial: false, addBOS: false)
        let back = tok.decode(ids, renderSpecial: true)
        // bytes the vocabulary has no symbol for are left out (as llama.cpp does); nothing else may change
        let kept = String(decoding: text.utf8.filter { tok.hasSymbol(forByte: $0) }, as: UTF8.self)
        guard back == kept else {
            fatalError("tokenizer round trip changed the text: \(Array(text.utf8)) -> \(ids) -> \(Array(back.utf8))")
        }
        let special = tok.encode(text, parseSpecial: true)
        _ = tok.decode(special)
        var stream = StreamingDetokenizer(tokenizer: tok, renderSpecial: true)
        var streamed = ""
        for id in ids { streamed += stream.append(id) }
        streamed += stream.flush()
        guard streamed == back else { fatalError("streamed decoding differs from decode: \(Array(streamed.utf8)) vs \(Array(text.utf8))") }
        // the raw bytes as (possibly invalid) token ids
        let raw = stride(from: 0, to: bytes.count - 1, by: 2).map { Int(bytes[$0]) | Int(bytes[$0 + 1]) << 8 }
        _ = tok.decode(raw)
        _ = raw.map { tok.tokenText($0) }
    }
}

/// Fine-tuning data: JSON Lines in the three forms (and bad lines), tokenized with the chat template.
public enum TrainingDataTarget: FuzzTarget {
    public static let name = "training-data"
    public static let dictionary = ["{\"text\":", "{\"prompt\":", "\"completion\":", "{\"messages\":", "\"role\":", "\"content\":",
        "\"user\"", "\"assistant\"", "\"system\"", "\n", "\r\n", "[", "]", "null", "true"]

    public static func seeds() throws -> [[UInt8]] {
        [#"{"text": "The quick brown fox."}"# + "\n" + #"{"text": "Jumps over the lazy dog."}"#,
         #"{"prompt": "2+2=", "completion": "4"}"# + "\r\n" + #"{"prompt": "Capital of France?", "completion": "Paris"}"#,
         #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]}"#,
        ].map { Array($0.utf8) }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let path = try scratch.write(bytes, as: "input.jsonl")
        let d = try TrainingData.load(path: path, tokenizer: FuzzContext.shared.tokenizer, maxSeqLen: 64)
        for s in d.samples {
            guard s.tokens.count == s.supervised.count, s.tokens.count <= 64 else {
                fatalError("a training sample has \(s.tokens.count) tokens and \(s.supervised.count) mask entries (limit 64)")
            }
        }
    }
}

/// The server's request decoding (both generation routes) on arbitrary bodies, without HTTP.
public enum RequestTarget: FuzzTarget {
    public static let name = "request"
    public static let dictionary = ["\"model\"", "\"roma\"", "\"messages\"", "\"prompt\"", "\"role\"", "\"content\"", "\"user\"",
        "\"max_tokens\"", "\"max_completion_tokens\"", "\"temperature\"", "\"top_p\"", "\"n\"", "\"stream\"", "\"stop\"",
        "\"seed\"", "\"logprobs\"", "\"top_logprobs\"", "\"adapters\"", "\"lora\"", "\"id\"", "\"scale\"", "\"name\"",
        "\"stream_options\"", "\"include_usage\"", "\"type\"", "\"text\"", "\"presence_penalty\"", "\"frequency_penalty\"",
        "\"logit_bias\"", "\"ignore_eos\"", "\"top_k\"", "\"min_p\"", "1e308", "-0", "null"]

    public static func seeds() throws -> [[UInt8]] {
        [#"{"model": "roma", "messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 8}"#,
         #"{"model": "a", "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}, {"role": "user", "content": "hi"}], "stream": true, "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 2}"#,
         #"{"model": "roma", "prompt": "The quick brown fox", "temperature": 0.7, "top_p": 0.9, "seed": 42, "stop": ["\n", "."], "n": 2, "logprobs": 1}"#,
         #"{"model": "roma", "prompt": [[1, 2, 3], [4, 5]], "adapters": [{"name": "a", "scale": 0.5}], "lora": [{"id": 1, "scale": 1}]}"#,
        ].map { Array($0.utf8) }
    }

    public static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws {
        let decoder = RequestDecoder(modelID: "roma", adapterNames: ["a", "b"], tokenizer: FuzzContext.shared.tokenizer, contextLength: 2048)
        let body = Data(bytes)
        var refusals: [Error] = []
        do { _ = try decoder.chat(body) } catch { refusals.append(error) }
        do { _ = try decoder.completion(body) } catch { refusals.append(error) }
        if refusals.count == 2 { throw refusals[0] }
    }
}
