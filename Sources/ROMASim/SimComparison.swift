import Foundation
import ROMAChip
import ROMALlama

/// A published design to set beside ROMA (../shared/reference/simulator-anchors.md §3, paper Table II).
public struct ComparisonEntry: Sendable {
    public var design: String
    public var model: String
    public var tokensPerSecond: Double?
    public var powerW: Double?
    public var areaMm2: Double?
    public var process: String
    public var source: String
    public var tokensPerJoule: Double? {
        guard let t = tokensPerSecond, let p = powerW, p > 0 else { return nil }
        return t / p
    }
}

public enum SimComparison {
    /// Published rows, as stated by their sources (figures from AI-summary pages are marked so).
    public static let published: [ComparisonEntry] = [
        ComparisonEntry(design: "ROMA (paper)", model: "Llama3.2-3B 4-bit, 256 in / 4K out", tokensPerSecond: 20_078, powerW: 33.1,
                        areaMm2: 503.7, process: "TSMC 7 nm", source: "paper Fig. 9, Table I"),
        ComparisonEntry(design: "RTX 4090, TensorRT-LLM", model: "Llama3.2-3B 4-bit, 256 in / 4K out", tokensPerSecond: 219, powerW: 450,
                        areaMm2: nil, process: "TSMC 4N", source: "paper Fig. 9, Table II"),
        ComparisonEntry(design: "i5-1135G7, llama.cpp", model: "Llama3.2-3B 4-bit, 256 in / 4K out", tokensPerSecond: 6.8, powerW: 28,
                        areaMm2: nil, process: "Intel 10 nm SF", source: "paper Fig. 9, Table II"),
        ComparisonEntry(design: "Taalas HC1", model: "Llama 3.1 8B (3-bit base), 1k/1k", tokensPerSecond: 17_000, powerW: 250,
                        areaMm2: 815, process: "TSMC 6 nm", source: "anchors §3 (ertas.ai, thequantumdispatch.com; second-hand)"),
        ComparisonEntry(design: "TOM", model: "BitNet-2B (ternary)", tokensPerSecond: 3_306, powerW: nil,
                        areaMm2: nil, process: "-", source: "anchors §3 (arXiv 2602.20662)"),
        ComparisonEntry(design: "HNLPU", model: "gpt-oss-120B", tokensPerSecond: 249_960, powerW: 249_960.0 / 36,
                        areaMm2: 13_232, process: "5 nm", source: "anchors §3 (arXiv 2508.16151v2; power from 36 tok/J)"),
        ComparisonEntry(design: "T-MAC on Jetson AGX Orin", model: "BitNet-3B", tokensPerSecond: 15.6, powerW: 10.4,
                        areaMm2: nil, process: "Samsung 8 nm", source: "anchors §3 (arXiv 2407.00088v2)"),
    ]

    /// The model's own ROMA row for `workload` on `chip`: 256 in / 4K out end-to-end, power at the
    /// operating point of `PaperReproduction.peakPower`, area from `SimArea`.
    public static func modelRow(chip: ChipConfig, workload: SimWorkload) throws -> ComparisonEntry {
        let sim = try ChipSimulator(chip: chip, workload: workload)
        let e2e = sim.endToEnd(input: 256, output: 4096).tokensPerSecond
        let power = PaperReproduction.peakPower(sim).reduce(0) { $0 + $1.1 }
        return ComparisonEntry(design: "ROMA (this model)", model: "\(workload.model.name) \(workload.weightBits)-bit, 256 in / 4K out",
                               tokensPerSecond: e2e, powerW: power, areaMm2: SimArea(chip: chip).totalMm2(),
                               process: chip.technology.processName, source: "roma sim (calibrated to R1, R7)")
    }

    public static func table(_ rows: [ComparisonEntry]) -> String {
        func f(_ v: Double?, _ fmt: String) -> String { v.map { String(format: fmt, $0) } ?? "-" }
        var s = "design                     model                                    tokens/s     power W   tokens/J   area mm^2  process         source\n"
        for r in rows {
            s += r.design.padding(toLength: 26, withPad: " ", startingAt: 0) + " "
            s += r.model.padding(toLength: 40, withPad: " ", startingAt: 0) + " "
            s += f(r.tokensPerSecond, "%.1f").leftPad(9) + " " + f(r.powerW, "%.1f").leftPad(11) + " "
            s += f(r.tokensPerJoule, "%.2f").leftPad(10) + " " + f(r.areaMm2, "%.1f").leftPad(11) + "  "
            s += r.process.padding(toLength: 15, withPad: " ", startingAt: 0) + " " + r.source + "\n"
        }
        return s
    }
}
