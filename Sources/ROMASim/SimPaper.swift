import Foundation
import ROMAChip
import ROMALlama

/// One row R1-R19 of ../shared/reference/paper-figures.md, paper value beside the model's.
public struct PaperRow: Sendable, Equatable {
    public enum Kind: String, Sendable { case calibration, prediction, upperBound, lowerBound, ordering }
    public var id: String
    public var quantity: String
    public var unit: String
    public var kind: Kind
    /// Model value in the paper's unit (bound rows: the worst case the bound covers; ordering rows: 1 if
    /// the ordering holds, else 0).
    public var value: Double
    /// The paper's number (bound rows: the bound; ordering rows: 1).
    public var paper: Double
    public var note: String

    /// Signed relative error (value - paper) / paper for numeric rows; for bound rows 0 when the bound holds,
    /// else the relative amount by which it is exceeded; for ordering rows 0 when it holds, else 1; for a
    /// paper value of 0, the absolute difference.
    public var error: Double {
        switch kind {
        case .calibration, .prediction: return paper == 0 ? value - paper : (value - paper) / paper
        case .upperBound: return value < paper ? 0 : (value - paper) / paper
        case .lowerBound: return value > paper ? 0 : (paper - value) / paper
        case .ordering: return value == paper ? 0 : 1
        }
    }
    public var holds: Bool {
        switch kind {
        case .calibration: return abs(error) <= 0.05
        case .prediction: return abs(error) <= 0.15
        default: return error == 0
        }
    }
}

/// Reproduces the paper's stated numbers (Sec. I, IV-B, IV-C) with the calibrated model.
public struct PaperReproduction: Sendable {
    public let calibration: SimCalibration
    public var chip: ChipConfig { calibration.chip }
    public let rows: [PaperRow]
    public let sim3B: ChipSimulator
    public let sim8B: ChipSimulator

    /// Input lengths of Fig. 6 / Fig. 8, KV lengths of Fig. 7, input lengths of Fig. 9.
    public static let prefillLengths = [256, 512, 1024, 2048, 4096]
    public static let kvLengths = [0, 256, 512, 1024, 2048, 4096]
    public static let e2eInputs = [256, 512, 1024, 2048]
    public static let ranks = [8, 16, 32, 64]
    /// Table II / Fig. 9 comparison points (Sec. IV-B): 3B 4-bit, 256 input, 4K output.
    public static let cpuTokensPerSecond = 6.8, gpuTokensPerSecond = 219.0

    public init(base: ChipConfig = .paper) throws {
        calibration = try SimCalibration.fit(base)
        let chip = calibration.chip
        sim3B = try ChipSimulator(chip: chip, workload: .paper3B)
        sim8B = try ChipSimulator(chip: chip, workload: .paper8B)
        let s3 = sim3B, s8 = sim8B
        func withRank(_ w: SimWorkload, _ r: Int) throws -> ChipSimulator {
            var w = w; w.loraRank = r; return try ChipSimulator(chip: chip, workload: w)
        }
        let ms = 1e3
        var rows: [PaperRow] = []
        func row(_ id: String, _ q: String, _ unit: String, _ k: PaperRow.Kind, _ v: Double, _ p: Double, _ note: String = "") {
            rows.append(PaperRow(id: id, quantity: q, unit: unit, kind: k, value: v, paper: p, note: note))
        }
        row("R1", "TTFT, 3B, 256 input", "ms", .calibration, s3.ttft(input: 256) * ms, 5.6, "fitted: lUnit.weightBitsPerCycle")
        row("R2", "TTFT, 3B, 4K input", "ms", .prediction, s3.ttft(input: 4096) * ms, 140.2)
        row("R3", "TTFT, both models, 256 input (worst)", "ms", .upperBound,
            max(s3.ttft(input: 256), s8.ttft(input: 256)) * ms, 7)
        row("R4", "TTFT, both models, 4K input (worst)", "ms", .upperBound,
            max(s3.ttft(input: 4096), s8.ttft(input: 4096)) * ms, 190)
        let faster = Self.prefillLengths.allSatisfy { s3.ttft(input: $0) < s8.ttft(input: $0) }
        row("R5", "3B INT4 prefill faster than 8B INT2 at every length", "ordering", .ordering, faster ? 1 : 0, 1)
        row("R6", "decode, 8B, empty KV cache", "tokens/s", .prediction, s8.decodeRate(cached: 0), 24_100)
        row("R7", "decode, 3B, empty KV cache", "tokens/s", .calibration, s3.decodeRate(cached: 0), 31_800,
            "fitted: router.hopLatencyCycles")
        row("R8", "decode, 3B, 1K in KV cache", "tokens/s", .prediction, s3.decodeRate(cached: 1024), 24_600)
        row("R9", "decode, both models, 4K in KV cache (worst)", "tokens/s", .lowerBound,
            min(s3.decodeRate(cached: 4096), s8.decodeRate(cached: 4096)), 10_000)
        row("R10", "prefill, 1K input, rank 16, both models (worst)", "ms", .upperBound,
            max(s3.ttft(input: 1024), s8.ttft(input: 1024)) * ms, 30)
        var r11 = 0.0, r12 = 0.0
        for (w, s) in [(SimWorkload.paper3B, s3), (SimWorkload.paper8B, s8)] {
            let s64 = try withRank(w, 64)
            r11 = max(r11, (s64.ttft(input: 1024) / s.ttft(input: 1024) - 1) * 100)
            for n in Self.kvLengths { r12 = max(r12, (1 - s64.decodeRate(cached: n) / s.decodeRate(cached: n)) * 100) }
        }
        row("R11", "prefill time increase, rank 16 -> 64, 1K input (worst)", "%", .upperBound, r11, 5)
        row("R12", "decode speed drop, rank 16 -> 64 (worst, KV 0..4K)", "%", .upperBound, r12, 5,
            "paper: 'minimal'; read as < 5% like R11")
        let e256 = s3.endToEnd(input: 256, output: 4096).tokensPerSecond
        row("R13", "end-to-end, 3B, 256 input, 4K output", "tokens/s", .prediction, e256, 20_078)
        row("R14", "end-to-end, 3B, 2K input, 4K output", "tokens/s", .prediction, s3.endToEnd(input: 2048, output: 4096).tokensPerSecond, 8_533)
        row("R15", "speed-up over CPU (paper: mean over inputs; model: 256 in)", "x", .prediction,
            e256 / Self.cpuTokensPerSecond, 2_785,
            String(format: "paper gives CPU/GPU only at 256 input (6.8 / 219 tokens/s); vs GPU: %.1fx (paper 70.5x)", e256 / Self.gpuTokensPerSecond))
        let cap16 = SimCapacity(chip: chip, workload: .paper3B)
        var w64 = SimWorkload.paper3B; w64.loraRank = 64
        let cap64 = SimCapacity(chip: chip, workload: w64)
        let mib = 1_048_576.0
        row("R16", "max tokens, 3B, SRAM 64 MB, rank 16", "tokens", .prediction,
            Double(cap16.maxTokens(sramBytes: 64 * mib, .paperFig10)), 736,
            "plain FP16 KV + FP8 LoRA: \(cap16.maxTokens(sramBytes: 64 * mib, .plain))")
        row("R17", "max tokens, 3B, SRAM 256 MB, rank 16", "tokens", .prediction,
            Double(cap16.maxTokens(sramBytes: 256 * mib, .paperFig10)), 3_808,
            "plain FP16 KV + FP8 LoRA: \(cap16.maxTokens(sramBytes: 256 * mib, .plain))")
        row("R18", "max tokens, 3B, SRAM 64 MB, rank 64", "tokens", .prediction,
            Double(cap64.maxTokens(sramBytes: 64 * mib, .paperFig10)), 0,
            "plain FP16 KV + FP8 LoRA: \(cap64.maxTokens(sramBytes: 64 * mib, .plain))")
        let area = SimArea(chip: chip).breakdown()
        let power = Self.peakPower(s3)
        func top2(_ xs: [(ChipComponent, Double)]) -> Set<ChipComponent> { Set(xs.sorted { $0.1 > $1.1 }.prefix(2).map(\.0)) }
        let r19 = top2(area) == [.lUnit, .hUnit] && top2(power) == [.lUnit, .hUnit]
        let p1k = { () -> [(ChipComponent, Double)] in
            let p = s3.prefill(tokens: 1024)
            return SimPower(chip: chip).power(p, seconds: s3.seconds(p.cycles), bits: s3.workload.weightBits)
        }()
        row("R19", "L-Unit, H-Unit largest shares of area and power", "ordering", .ordering, r19 ? 1 : 0, 1,
            "power at a \(Self.powerOperatingPointTokens)-token prefill; at a 1K prefill the power half "
                + (top2(p1k) == [.lUnit, .hUnit] ? "also holds" : "fails (routers above H-Units)"))
        self.rows = rows
    }

    /// Input length of the operating point at which Table I power and the Fig. 11/12 power are evaluated:
    /// the paper's heaviest workload, a 4K-token prefill, where every unit kind is busy.
    public static let powerOperatingPointTokens = 4096

    /// Power per component at the chip's busiest operating point: prefill of 4K tokens.
    public static func peakPower(_ s: ChipSimulator) -> [(ChipComponent, Double)] {
        let p = s.prefill(tokens: powerOperatingPointTokens)
        return SimPower(chip: s.chip).power(p, seconds: s.seconds(p.cycles), bits: s.workload.weightBits)
    }

    // MARK: - Output

    public func json() -> String {
        func num(_ v: Double) -> String {
            if v == v.rounded() && abs(v) < 1e15 { return String(format: "%.0f", v) }
            return String(format: "%.6g", v)
        }
        // errors below 1e-9 (the calibration rows after the fit) print as 0
        func err(_ e: Double) -> String { abs(e) < 1e-9 ? "0" : num(e) }
        let items = rows.map { "    {\"id\": \"\($0.id)\", \"value\": \(num($0.value)), \"paper\": \(num($0.paper)), \"error\": \(err($0.error))}" }
        return "{\"rows\": [\n" + items.joined(separator: ",\n") + "\n]}\n"
    }

    public func table() -> String {
        var s = "Calibration (the only fitted parameters; every other row is a prediction):\n"
        for f in calibration.fitted {
            s += String(format: "  %-26@ = %10.4f %@  fitted to %@ (%@); model gives %@\n",
                        f.parameter as NSString, f.value, f.unit as NSString, f.fittedTo as NSString,
                        f.target as NSString, f.achieved as NSString)
        }
        s += "\nrow  " + "quantity [unit]".padding(toLength: 66, withPad: " ", startingAt: 0) + "     paper        model      error   ok\n"
        for r in rows {
            let paper: String
            switch r.kind {
            case .upperBound: paper = "< " + Self.fmt(r.paper)
            case .lowerBound: paper = "> " + Self.fmt(r.paper)
            case .ordering: paper = "holds"
            default: paper = Self.fmt(r.paper)
            }
            let model = r.kind == .ordering ? (r.value == 1 ? "holds" : "fails") : Self.fmt(r.value)
            let err: String
            switch r.kind {
            case .ordering: err = ""
            case .upperBound, .lowerBound: err = r.error == 0 ? "" : String(format: "%+.1f%%", r.error * 100)
            default: err = r.paper == 0 ? Self.fmt(r.error) : String(format: "%+.1f%%", r.error * 100)
            }
            let q = "\(r.quantity) [\(r.unit)]"
            s += "\(r.id.padding(toLength: 4, withPad: " ", startingAt: 0)) \(q.padding(toLength: 66, withPad: " ", startingAt: 0)) "
            s += "\(paper.leftPad(10)) \(model.leftPad(12)) \(err.leftPad(9))   \(r.holds ? "yes" : "NO")\n"
            if !r.note.isEmpty && !r.note.hasPrefix("fitted") { s += "     (\(r.note))\n" }
        }
        let predicted = ["R2", "R6", "R8", "R13", "R14", "R16", "R17"]
        let hit = rows.filter { predicted.contains($0.id) && $0.holds }.count
        s += "\npredicted numeric rows within 15%: \(hit) of \(predicted.count)\n"
        return s
    }

    static func fmt(_ v: Double) -> String {
        if abs(v) >= 1000 || v == v.rounded() { return String(format: "%.0f", v) }
        if abs(v) >= 100 { return String(format: "%.1f", v) }
        return String(format: "%.3g", v)
    }

    // MARK: - Plots (Figs. 6-12)

    /// SVG documents keyed by file name.
    public func plots() throws -> [(String, String)] {
        let s3 = sim3B, s8 = sim8B, ms = 1e3
        var out: [(String, String)] = []
        var f6 = SVGPlot(title: "Fig. 6: prefill time (TTFT), rank 16", xLabel: "input tokens", yLabel: "ms", logX: true)
        f6.series = [.init(name: "Llama3.2-3B 4-bit", points: Self.prefillLengths.map { (Double($0), s3.ttft(input: $0) * ms) }),
                     .init(name: "Llama3-8B 2-bit", points: Self.prefillLengths.map { (Double($0), s8.ttft(input: $0) * ms) })]
        f6.markers = [.init(x: 256, y: 5.6, label: "R1 5.6"), .init(x: 4096, y: 140.2, label: "R2 140.2")]
        f6.bounds = [.init(y: 7, label: "R3 < 7 ms"), .init(y: 190, label: "R4 < 190 ms")]
        out.append(("fig6-prefill.svg", f6.render()))

        var f7 = SVGPlot(title: "Fig. 7: decode speed vs tokens in KV cache, rank 16", xLabel: "tokens in KV cache", yLabel: "tokens/s")
        f7.series = [.init(name: "Llama3.2-3B 4-bit", points: Self.kvLengths.map { (Double($0), s3.decodeRate(cached: $0)) }),
                     .init(name: "Llama3-8B 2-bit", points: Self.kvLengths.map { (Double($0), s8.decodeRate(cached: $0)) })]
        f7.markers = [.init(x: 0, y: 31_800, label: "R7 31.8k"), .init(x: 0, y: 24_100, label: "R6 24.1k"),
                      .init(x: 1024, y: 24_600, label: "R8 24.6k")]
        f7.bounds = [.init(y: 10_000, label: "R9 > 10k at 4K")]
        out.append(("fig7-decode.svg", f7.render()))

        var f8a = SVGPlot(title: "Fig. 8 (left): prefill time, 1K input, vs LoRA rank", xLabel: "LoRA rank", yLabel: "ms", logX: true)
        var f8b = SVGPlot(title: "Fig. 8 (right): decode speed, empty KV cache, vs LoRA rank", xLabel: "LoRA rank", yLabel: "tokens/s", logX: true)
        for (name, w) in [("Llama3.2-3B 4-bit", SimWorkload.paper3B), ("Llama3-8B 2-bit", SimWorkload.paper8B)] {
            var a: [(x: Double, y: Double)] = [], b: [(x: Double, y: Double)] = []
            for r in Self.ranks {
                var wr = w; wr.loraRank = r
                let s = try ChipSimulator(chip: chip, workload: wr)
                a.append((Double(r), s.ttft(input: 1024) * ms)); b.append((Double(r), s.decodeRate(cached: 0)))
            }
            f8a.series.append(.init(name: name, points: a)); f8b.series.append(.init(name: name, points: b))
        }
        f8a.bounds = [.init(y: 30, label: "R10 < 30 ms at rank 16")]
        out.append(("fig8-rank-prefill.svg", f8a.render()))
        out.append(("fig8-rank-decode.svg", f8b.render()))

        var f9 = SVGPlot(title: "Fig. 9: end-to-end speed, 3B 4-bit, 4K output", xLabel: "input tokens", yLabel: "tokens/s", logX: true)
        f9.series = [.init(name: "ROMA model", points: Self.e2eInputs.map { (Double($0), s3.endToEnd(input: $0, output: 4096).tokensPerSecond) })]
        f9.markers = [.init(x: 256, y: 20_078, label: "R13 20,078"), .init(x: 2048, y: 8_533, label: "R14 8,533")]
        out.append(("fig9-e2e.svg", f9.render()))

        var f10 = SVGPlot(title: "Fig. 10: max tokens vs SRAM size, Llama3.2-3B", xLabel: "SRAM for LoRA + KV (MiB)", yLabel: "tokens")
        let sizes = stride(from: 32, through: 320, by: 32).map(Double.init)
        for r in [16, 32, 64] {
            var w = SimWorkload.paper3B; w.loraRank = r
            let c = SimCapacity(chip: chip, workload: w)
            f10.series.append(.init(name: "rank \(r), paper accounting", points: sizes.map { ($0, Double(c.maxTokens(sramBytes: $0 * 1_048_576, .paperFig10))) }))
        }
        for r in [16, 64] {
            var w = SimWorkload.paper3B; w.loraRank = r
            let c = SimCapacity(chip: chip, workload: w)
            f10.series.append(.init(name: "rank \(r), plain FP16 KV", points: sizes.map { ($0, Double(c.maxTokens(sramBytes: $0 * 1_048_576, .plain))) }, dashed: true))
        }
        f10.markers = [.init(x: 64, y: 736, label: "R16 736"), .init(x: 256, y: 3808, label: "R17 3808"), .init(x: 64, y: 0, label: "R18 0 (r64)")]
        out.append(("fig10-max-tokens.svg", f10.render()))

        let area = SimArea(chip: chip).breakdown(), power = Self.peakPower(s3)
        out.append(("fig11-breakdown.svg", SVGBars(title: "Fig. 11: area (mm^2) and peak power (W) by component", unit: "", groups: [
            ("area, mm^2", area.map { ($0.0.rawValue, $0.1) }), ("power, W", power.map { ($0.0.rawValue, $0.1) })]).render()))
        let l = LUnitComparison(chip: chip, simulator: s3)
        out.append(("fig12-lunit.svg", SVGBars(title: "Fig. 12: L-Unit area (mm^2) and power (W), all L-Units", unit: "", groups: [
            ("area, mm^2", l.rows.map { ($0.design.rawValue, $0.areaMm2) }), ("power, W", l.rows.map { ($0.design.rawValue, $0.powerW) })]).render()))
        return out
    }
}

/// Fig. 12: the L-Units' area and power under the four designs, at the 3B 4K-prefill operating point.
public struct LUnitComparison: Sendable {
    public struct Row: Sendable { public var design: LUnitDesign; public var areaMm2: Double; public var powerW: Double }
    public let rows: [Row]
    public init(chip: ChipConfig, simulator s: ChipSimulator) {
        let p = s.prefill(tokens: PaperReproduction.powerOperatingPointTokens), secs = s.seconds(p.cycles)
        let pw = SimPower(chip: chip), area = SimArea(chip: chip)
        rows = LUnitDesign.allCases.map { d in
            let e = pw.dynamicEnergy(p.work, bits: s.workload.weightBits, design: d)[.lUnit]!
            return Row(design: d, areaMm2: area.lUnitMm2(d), powerW: e / secs + pw.leakage(design: d)[.lUnit]!)
        }
    }
    /// Fig. 12's ordering: each design smaller and cooler than the previous one.
    public var orderingHolds: Bool {
        zip(rows, rows.dropFirst()).allSatisfy { $0.areaMm2 > $1.areaMm2 && $0.powerW > $1.powerW }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
