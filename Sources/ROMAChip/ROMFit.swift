import ROMALlama

/// Does a model fit the chip's ROM? Bytes per tensor class at a given bit width and group size,
/// from the model configuration alone (no weights).
public struct ROMFit: Sendable {
    public struct Row: Sendable { public var tensorClass: String; public var weights: Int; public var bytes: Double }
    public let model: ModelConfig
    public let bits: Int
    public let groupSize: Int
    public let romBytes: Double
    public let rows: [Row]

    public let chip: ChipConfig

    /// ROM bytes per base weight: the code plus its share of the group's scale (the chip's
    /// `quantScaleFormat`, FP16) and `bits`-wide zero point.
    public static func bytesPerWeight(bits: Int, groupSize: Int, chip: ChipConfig = .paper) -> Double {
        (Double(bits) + Double(chip.numerics.quantScaleFormat.bits + bits) / Double(groupSize)) / 8
    }

    /// The fit against `chip`'s ROM (`memory.romBytes`).
    public init(model m: ModelConfig, bits: Int, groupSize: Int, chip: ChipConfig = .paper) {
        self.model = m; self.bits = bits; self.groupSize = groupSize; self.chip = chip; romBytes = chip.memory.romBytes
        let bpw = ROMFit.bytesPerWeight(bits: bits, groupSize: groupSize, chip: chip)
        let L = m.numLayers, h = m.hiddenSize
        let attn = L * (h * m.qDim + 2 * h * m.kvDim + m.qDim * h)
        let ffn = L * 3 * h * m.intermediateSize
        let embed = m.vocabSize * h
        var r: [Row] = [
            Row(tensorClass: "embedding table", weights: embed, bytes: Double(embed) * bpw),
            Row(tensorClass: "attention (q, k, v, o)", weights: attn, bytes: Double(attn) * bpw),
            Row(tensorClass: "feed-forward (gate, up, down)", weights: ffn, bytes: Double(ffn) * bpw),
        ]
        if !m.tiedEmbeddings { r.append(Row(tensorClass: "output head", weights: embed, bytes: Double(embed) * bpw)) }
        let norms = (2 * L + 1) * h
        let gain = chip.numerics.activationFormat
        r.append(Row(tensorClass: "RMSNorm weights (\(gain.rawValue.uppercased()))", weights: norms, bytes: Double(norms) * gain.bytes))
        rows = r
    }

    public var totalBytes: Double { rows.reduce(0) { $0 + $1.bytes } }
    public var fits: Bool { totalBytes <= romBytes }
    public var margin: Double { romBytes - totalBytes }

    public func report() -> String {
        var s = "ROM fit: \(model.name), INT\(bits), group \(groupSize) (\(String(format: "%.4f", ROMFit.bytesPerWeight(bits: bits, groupSize: groupSize, chip: chip) * 8)) bits/weight) against \(String(format: "%.2f", romBytes / 1e9)) GB ROM\n"
        for r in rows {
            s += "  " + r.tensorClass.padding(toLength: 32, withPad: " ", startingAt: 0)
                + String(r.weights).leftPadded(14) + String(format: " weights  %9.3f GB  %5.1f%%\n", r.bytes / 1e9, 100 * r.bytes / romBytes)
        }
        s += "  " + "total".padding(toLength: 32, withPad: " ", startingAt: 0) + String(rows.reduce(0) { $0 + $1.weights }).leftPadded(14)
            + String(format: " weights  %9.3f GB  %5.1f%%  -> ", totalBytes / 1e9, 100 * totalBytes / romBytes)
            + (fits ? "fits" : "does NOT fit") + String(format: " (margin %+.3f GB)\n", margin / 1e9)
        return s
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
