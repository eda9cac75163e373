import ArgumentParser
import Foundation
import ROMAFormats
import ROMAModel
import ROMATokenizer

/// `roma tokenize`: text -> token ids (special tokens parsed, no BOS).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Turn text into token ids.")

    @Option(help: "GGUF model file whose vocabulary to use.")
    var model: String?
    @Option(help: "Text to tokenize.")
    var text: String?
    @Option(help: "File whose contents to tokenize.")
    var textFile: String?
    @Flag(help: "Treat special tokens such as <|im_start|> as plain text.")
    var noParseSpecial = false
    @Flag(help: "Print one line per token: id and its text.")
    var pieces = false
    @OptionGroup var printing: OutputOptions

    func validate() throws {
        if (text == nil) == (textFile == nil) { throw ValidationError("give exactly one of --text or --text-file") }
    }

    func run() throws {
        let input: String
        if let textFile {
            guard let d = FileManager.default.contents(atPath: textFile) else {
                throw EngineError.invalid("cannot read text file '\(textFile)'")
            }
            input = String(decoding: d, as: UTF8.self)
        } else { input = text! }
        let path = model ?? ModelLocator.defaultModelPath
        let tok = try BPETokenizer(gguf: GGUFFile(path: path))
        let ids = tok.encode(input, parseSpecial: !noParseSpecial)
        switch printing.format {
        case .json:
            try printJSON(["ids": ids, "count": ids.count])
        case .text:
            if pieces {
                for id in ids { print("\(id) -> \(String(decoding: tok.bytes(of: id, renderSpecial: true), as: UTF8.self).debugDescription)") }
            } else {
                print(ids.map(String.init).joined(separator: " "))
            }
        }
    }
}
