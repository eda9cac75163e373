import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

extension TrainableLlama {
    /// The graph over a ROM image's weights exactly as its codes dequantize, W = (c − z)·s in FP32 with
    /// the stored FP16 scales, and its FP16 norm gains: the base a LoRA trainer learns against. The
    /// image is only read.
    public convenience init(image: ROMImage) throws {
        let m = image.model
        let gains = try NormWeights(model: m) { (name: String) throws -> [Float] in image.normValues(try image.requireTensor(name)) }
        self.init(config: m, norms: gains)
        var covered = Set<ObjectIdentifier>()
        for t in image.header.tensors where t.kind != .norm {
            guard let w = weight(named: t.name), w.rows == t.rows, w.cols == t.cols else {
                throw EngineError.invalid("the image's tensor '\(t.name)' [\(t.rows) x \(t.cols)] is not a weight of the model")
            }
            guard covered.insert(ObjectIdentifier(w)).inserted else {
                throw EngineError.invalid("the image holds the weight of '\(t.name)' twice")
            }
            let wp = Unchecked(w.data)
            Parallel.forEach(t.rows, minChunk: 64) { r in
                image.dequantizeRow(t, r).withUnsafeBufferPointer { (wp.value + r * t.cols).update(from: $0.baseAddress!, count: t.cols) }
            }
        }
        let weightCount = m.numLayers * LinearKind.allCases.count + (m.tiedEmbeddings ? 1 : 2)
        guard covered.count == weightCount else {
            throw EngineError.invalid("the image holds \(covered.count) of the model's \(weightCount) weights")
        }
    }
}
