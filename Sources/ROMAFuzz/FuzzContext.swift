import Foundation
import ROMAFormats
import ROMALlama
import ROMAModel
import ROMATokenizer

/// What the targets read against, made once per process: the seed model's configuration (adapters)
/// and a tokenizer (training data, requests, the tokenizer target): SmolLM2's own when the model is
/// present (`$ROMA_MODEL` or models/), else the seed model's small byte-level vocabulary.
public final class FuzzContext: @unchecked Sendable {
    public static let shared: FuzzContext = {
        do { return try FuzzContext() } catch { fatalError("roma-fuzz: cannot set up the fuzz context: \(error)") }
    }()

    public let config: ModelConfig
    public let tokenizer: BPETokenizer
    /// Which tokenizer: the model file's path, or "seed model".
    public let tokenizerSource: String

    init() throws {
        config = try FuzzSeeds.shared.config
        let real = ModelLocator.defaultModelPath
        if FileManager.default.fileExists(atPath: real) {
            tokenizer = try BPETokenizer(gguf: GGUFFile(path: real))
            tokenizerSource = real
        } else {
            let g = try GGUFFile(path: FuzzSeeds.shared.scratch.write(FuzzSeeds.shared.ggufModel(.f32), as: "tokenizer.gguf"))
            tokenizer = try BPETokenizer(gguf: g)
            tokenizerSource = "seed model"
        }
    }
}
