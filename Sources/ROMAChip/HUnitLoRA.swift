import Foundation
import ROMALlama
import ROMANumerics

/// The chip's LoRA on the H-Units: A and B stored in the chip's LoRA weight format (FP8 E4M3 by default,
/// each tensor scaled so its largest magnitude maps to the format's largest finite value), computed by
/// `HUnit.loraAccumulate`.
public final class HUnitLoRA: LoRAProduct {
    public let rank: Int, inDim: Int, outDim: Int
    public let format: NumberFormat
    /// Stored codes (FP8: one byte per weight; other formats keep only `aValues`/`bValues`).
    public let aCodes: [UInt8], bCodes: [UInt8]
    /// The stored values as FP32 (exactly representable in `format`), without the per-tensor scales;
    /// B transposed ([rank, out]) for the H-Unit's expand step.
    let aValues: [Float], bValues: [Float], bValuesT: [Float]
    public let aScale: Float, bScale: Float
    /// The adapter's own scaling of this layer (alpha/r, ...).
    public let layerScale: Float

    public static let supportedFormats: [NumberFormat] = [.fp8e4m3, .fp16, .bf16, .fp32]

    public init(_ l: LoRALayer, format: NumberFormat = .fp8e4m3) throws {
        guard HUnitLoRA.supportedFormats.contains(format) else {
            throw AdapterError.invalid("LoRA weight format \(format.rawValue) is not supported by the H-Unit model (use \(HUnitLoRA.supportedFormats.map(\.rawValue).joined(separator: ", ")))")
        }
        rank = l.rank; inDim = l.inDim; outDim = l.outDim; self.format = format; layerScale = l.scale
        (aCodes, aValues, aScale) = HUnitLoRA.encode(l.a, format: format)
        (bCodes, bValues, bScale) = HUnitLoRA.encode(l.b, format: format)
        bValuesT = F32Kernels.transpose(bValues, rows: outDim, cols: rank)
    }

    /// A tensor as the H-Units store it: FP8 codes with one FP32 scale (largest magnitude -> the
    /// format's largest finite value), or the values rounded to FP16/BF16, or kept in FP32.
    static func encode(_ x: [Float], format: NumberFormat) -> (codes: [UInt8], values: [Float], scale: Float) {
        switch format {
        case .fp8e4m3:
            let amax = x.reduce(Float(0)) { max($0, abs($1)) }
            let s = amax > 0 ? amax / FP8E4M3.maxNormal : 1
            let codes = x.map { FP8E4M3.fromFloat($0 / s) }
            return (codes, codes.map { FP8E4M3.table[Int($0)] }, s)
        case .fp16: return ([], x.map { FP16.round($0) }, 1)
        case .bf16: return ([], x.map { BF16.toFloat(BF16.fromFloat($0)) }, 1)
        default: return ([], x, 1)
        }
    }

    /// The values the H-Units compute with for a tensor stored in `format` (codes times the tensor's
    /// scale): what a LoRA trainer's forward pass sees (straight-through rounding).
    public static func servedValues(_ x: [Float], format: NumberFormat) -> [Float] {
        let (_, values, scale) = encode(x, format: format)
        return scale == 1 ? values : values.map { $0 * scale }
    }

    /// SRAM bytes: the weights in `format`, plus two FP32 scales for FP8 (`SRAMAccounting.loraLayerBytes`).
    public var bytes: Int { SRAMAccounting.loraLayerBytes(rank: rank, inDim: inDim, outDim: outDim, format: format) }

    public func accumulate(_ x: Matrix, rows: Range<Int>, userScale: Float, into y: Matrix) {
        aValues.withUnsafeBufferPointer { a in
            bValuesT.withUnsafeBufferPointer { b in
                HUnit.loraAccumulate(x: x.row(rows.lowerBound), tokens: rows.count, inDim: inDim, a: a.baseAddress!, aScale: aScale,
                                     bT: b.baseAddress!, bScale: bScale, rank: rank, outDim: outDim,
                                     scale: layerScale * userScale, y: y.row(rows.lowerBound))
            }
        }
    }
}

extension HUnit {
    /// The LoRA products of a batch on one layer: each span of rows (one sequence) on its own H-Unit
    /// work item, spans in parallel (their rows are disjoint); a span's adapters are added in the
    /// request's order, so each row's sum is what it is alone.
    static func loraSpans(_ products: [(rows: Range<Int>, product: LoRAProduct, scale: Float)], x: Matrix, into y: Matrix) {
        var spans: [(rows: Range<Int>, items: [(LoRAProduct, Float)])] = []
        for (rows, p, scale) in products {
            if let i = spans.firstIndex(where: { $0.rows == rows }) { spans[i].items.append((p, scale)) } else { spans.append((rows, [(p, scale)])) }
        }
        let work = Unchecked((spans, x, y))
        Parallel.forEach(spans.count) { s in
            let (spans, x, y) = work.value
            for (p, scale) in spans[s].items { p.accumulate(x, rows: spans[s].rows, userScale: scale, into: y) }
        }
    }
}
