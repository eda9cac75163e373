import Foundation
import ROMAChip
import ROMAFormats
import ROMALlama

/// The frozen base a LoRA is trained against, and the engine that serves it: a ROM image on the chip
/// backend (the base is the image's dequantized codes) or, for comparisons, a GGUF model's float
/// weights on the reference backend.
public struct FinetuneBase: Sendable {
    public let engine: Engine
    /// sha256 of what the base is: the ROM image's checksum, or the GGUF file's.
    public let sha256: String
    /// How the PEFT config names the base ("rom-image-sha256:<hex>" or "gguf-sha256:<hex>").
    public let name: String
    public let image: ROMImage?
    public var config: ModelConfig { engine.config }

    public init(image imagePath: String?, model modelPath: String?, chip: ChipConfig) throws {
        if let imagePath {
            engine = try Engine.chip(imagePath: imagePath, chip: chip)
            let img = (engine.backend as! ChipBackend).image
            image = img
            sha256 = img.checksumHex
            name = "rom-image-sha256:" + sha256
        } else {
            let path = modelPath ?? ModelLocator.defaultModelPath
            guard FileManager.default.fileExists(atPath: path) else {
                throw EngineError.invalid("model file '\(path)' not found (run scripts/fetch-model.sh, or pass --model)")
            }
            engine = try Engine.reference(path: path)
            sha256 = try SHA256.hex(ofFile: path)
            name = "gguf-sha256:" + sha256
            image = nil
        }
    }

    /// The base as a trainable graph (FP32 weights, exactly as the engine's base holds them).
    public func trainable() throws -> TrainableLlama {
        if let image { return try TrainableLlama(image: image) }
        return TrainableLlama(copying: engine.backend as! ReferenceBackend)
    }
}
