import Foundation
import ROMAChip
import ROMALlama

/// A chip or workload parameter a design-space sweep can vary.
public enum SweepParameter: String, CaseIterable, Sendable {
    case sram          // MiB of LoRA + KV SRAM (all H-Units)
    case rank          // LoRA rank
    case bits          // base-weight bits
    case group         // quantization group size
    case columns       // array columns
    case rows          // matrix rows per array (two arrays)
    case clock         // MHz
    case romCell = "rom-cell"        // ROM bit cell / SRAM bit cell area ratio
    case romGB = "rom-gb"            // ROM capacity, GB
    case lunitBits = "lunit-bits"    // L-Unit weight bits per cycle

    public var help: String {
        switch self {
        case .sram: return "LoRA+KV SRAM, MiB"
        case .rank: return "LoRA rank"
        case .bits: return "base-weight bits"
        case .group: return "quantization group size"
        case .columns: return "array columns"
        case .rows: return "matrix rows per array"
        case .clock: return "clock, MHz"
        case .romCell: return "ROM cell / SRAM cell area"
        case .romGB: return "ROM capacity, GB"
        case .lunitBits: return "L-Unit weight bits per cycle"
        }
    }

    /// Applies `v` to a (chip, workload) pair.
    public func apply(_ v: Double, chip: inout ChipConfig, workload: inout SimWorkload) throws {
        func int(_ v: Double) throws -> Int {
            guard v == v.rounded(), v >= 1 else { throw SimError.badArgument("\(rawValue) must be a positive integer, got \(v)") }
            return Int(v)
        }
        switch self {
        case .sram: chip.memory.loraKVSRAMBytes = v * 1_048_576
        case .rank: workload.loraRank = try int(v)
        case .bits:
            let b = try int(v)
            workload.weightBits = b
            if !chip.numerics.baseWeightBitsSupported.contains(b) { chip.numerics.baseWeightBitsSupported.append(b) }
        case .group: chip.numerics.quantGroupSize = try int(v)
        case .columns: chip.array.columns = try int(v)
        case .rows: chip.array.matrixRowsPerArray = try int(v)
        case .clock: chip.clockHz = v * 1e6
        case .romCell: chip.technology.romCellToSRAMCellRatio = v
        case .romGB: chip.memory.romBytes = v * 1e9
        case .lunitBits: chip.lUnit.weightBitsPerCycle = v
        }
    }
}

/// One varied parameter and its values, parsed from "name=a,b,c", "name=lo:hi:step" or "name=lo:hi/n".
public struct SweepAxis: Sendable {
    public var parameter: SweepParameter
    public var values: [Double]

    public init(parameter: SweepParameter, values: [Double]) { self.parameter = parameter; self.values = values }

    public static func parse(_ s: String) throws -> SweepAxis {
        let parts = s.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw SimError.badArgument("sweep '\(s)': expected NAME=VALUES (e.g. sram=32:512:32)") }
        guard let p = SweepParameter(rawValue: parts[0]) else {
            throw SimError.badArgument("sweep: unknown parameter '\(parts[0])' (known: \(SweepParameter.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func num(_ x: Substring) throws -> Double {
            guard let d = Double(x.trimmingCharacters(in: .whitespaces)), d.isFinite else {
                throw SimError.badArgument("sweep \(p.rawValue): '\(x)' is not a number")
            }
            return d
        }
        let spec = parts[1]
        var values: [Double] = []
        if spec.contains(":") {
            let r = spec.split(separator: ":")
            guard r.count == 2 || r.count == 3 else { throw SimError.badArgument("sweep \(p.rawValue): range must be lo:hi:step or lo:hi/n") }
            let lo = try num(r[0])
            if r.count == 3 {
                let hi = try num(r[1]), step = try num(r[2])
                guard step > 0, hi >= lo else { throw SimError.badArgument("sweep \(p.rawValue): need step > 0 and hi >= lo") }
                var v = lo
                while v <= hi + step * 1e-9 { values.append(v); v += step }
            } else {
                let hn = r[1].split(separator: "/")
                guard hn.count == 2, let n = Int(hn[1]), n >= 2 else { throw SimError.badArgument("sweep \(p.rawValue): lo:hi/n needs n >= 2") }
                let hi = try num(hn[0])
                values = (0..<n).map { lo + (hi - lo) * Double($0) / Double(n - 1) }
            }
        } else {
            values = try spec.split(separator: ",").map(num)
        }
        guard !values.isEmpty else { throw SimError.badArgument("sweep \(p.rawValue): no values") }
        if values.count > 100_000 { throw SimError.badArgument("sweep \(p.rawValue): \(values.count) values is too many (max 100000)") }
        return SweepAxis(parameter: p, values: values)
    }
}

/// Everything a sweep reports for one design point.
public struct SweepPoint: Sendable {
    public var values: [Double]
    public var ttftMs: Double, decodeEmpty: Double, decodeAtInput: Double, e2e: Double
    public var maxTokensPlain: Int, maxTokensPaper: Int
    public var loraMiB: Double, romFill: Double, fitsROM: Bool, fitsContext: Bool
    public var areaMm2: Double, powerW: Double, joulesPerToken: Double
    public var error: String?
}

/// Cartesian design-space sweep around a base chip and workload (issue 6, item 5).
public struct SimSweep: Sendable {
    public var base: ChipConfig
    public var workload: SimWorkload
    public var axes: [SweepAxis]
    public var input: Int
    public var output: Int

    public init(base: ChipConfig, workload: SimWorkload, axes: [SweepAxis], input: Int, output: Int) {
        self.base = base; self.workload = workload; self.axes = axes; self.input = input; self.output = output
    }

    public var pointCount: Int { axes.reduce(1) { $0 * $1.values.count } }

    /// Evaluates every point; `progress` is called every `progressEvery` points.
    public func run(progress: ((Int, Int) -> Void)? = nil) -> [SweepPoint] {
        let n = pointCount
        var out: [SweepPoint] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            var idx = i
            var vals: [Double] = []
            for a in axes.reversed() { vals.insert(a.values[idx % a.values.count], at: 0); idx /= a.values.count }
            out.append(evaluate(vals))
            if let progress, (i + 1) % max(1, n / 20) == 0 || i + 1 == n { progress(i + 1, n) }
        }
        return out
    }

    public func evaluate(_ vals: [Double]) -> SweepPoint {
        var chip = base, w = workload
        var p = SweepPoint(values: vals, ttftMs: .nan, decodeEmpty: .nan, decodeAtInput: .nan, e2e: .nan,
                           maxTokensPlain: 0, maxTokensPaper: 0, loraMiB: .nan, romFill: .nan, fitsROM: false,
                           fitsContext: false, areaMm2: .nan, powerW: .nan, joulesPerToken: .nan)
        do {
            for (a, v) in zip(axes, vals) { try a.parameter.apply(v, chip: &chip, workload: &w) }
            let sim = try ChipSimulator(chip: chip, workload: w)
            let cap = SimCapacity(chip: chip, workload: w)
            p.ttftMs = sim.ttft(input: input) * 1e3
            p.decodeEmpty = sim.decodeRate(cached: 0)
            let step = sim.decodeStep(cached: input)
            p.decodeAtInput = 1 / sim.seconds(step.cycles)
            p.e2e = sim.endToEnd(input: input, output: output).tokensPerSecond
            p.maxTokensPlain = cap.maxTokens(.plain)
            p.maxTokensPaper = cap.maxTokens(.paperFig10)
            p.loraMiB = cap.loraBytes(.plain) / 1_048_576
            p.romFill = cap.romFill
            p.fitsROM = p.romFill <= 1
            p.fitsContext = p.maxTokensPlain >= input + output
            let area = SimArea(chip: chip)
            p.areaMm2 = area.totalMm2()
            let pw = SimPower(chip: chip)
            let pre = sim.prefill(tokens: PaperReproduction.powerOperatingPointTokens)
            p.powerW = pw.power(pre, seconds: sim.seconds(pre.cycles), bits: w.weightBits).reduce(0) { $0 + $1.1 }
            let secs = sim.seconds(step.cycles)
            let e = pw.dynamicEnergy(step.work, bits: w.weightBits).values.reduce(0, +)
                + pw.leakage().values.reduce(0, +) * secs
            p.joulesPerToken = e
        } catch {
            p.error = "\(error)"
        }
        return p
    }

    public static let csvColumns = ["ttft_ms", "decode_tps_empty_kv", "decode_tps_at_input", "e2e_tps", "max_tokens_plain",
                                    "max_tokens_paper_fig10", "lora_mib", "rom_fill", "fits_rom", "fits_context",
                                    "area_mm2", "power_w", "joules_per_token", "error"]

    public func csv(_ pts: [SweepPoint]) -> String {
        var s = (axes.map(\.parameter.rawValue) + Self.csvColumns).joined(separator: ",") + "\n"
        func f(_ v: Double) -> String { v.isNaN ? "" : String(format: "%.6g", v) }
        for p in pts {
            var cols = p.values.map(f)
            cols += [f(p.ttftMs), f(p.decodeEmpty), f(p.decodeAtInput), f(p.e2e), "\(p.maxTokensPlain)", "\(p.maxTokensPaper)",
                     f(p.loraMiB), f(p.romFill), p.fitsROM ? "1" : "0", p.fitsContext ? "1" : "0", f(p.areaMm2), f(p.powerW),
                     f(p.joulesPerToken), (p.error ?? "").replacingOccurrences(of: ",", with: ";")]
            s += cols.joined(separator: ",") + "\n"
        }
        return s
    }

    /// The smallest-area point that holds the model in ROM and input + output tokens in SRAM, and reaches
    /// `minTokensPerSecond` end-to-end.
    public func smallestFitting(_ pts: [SweepPoint], minTokensPerSecond: Double = 0) -> SweepPoint? {
        pts.filter { $0.error == nil && $0.fitsROM && $0.fitsContext && $0.e2e >= minTokensPerSecond }
            .min { $0.areaMm2 < $1.areaMm2 }
    }

    /// SVG plots against the first axis (one series per value of the second axis, others at their first value).
    public func plots(_ pts: [SweepPoint]) -> [(String, String)] {
        guard let a0 = axes.first else { return [] }
        let second = axes.count > 1 ? axes[1] : nil
        let groups: [Double?] = second.map { $0.values.map { Optional($0) } } ?? [nil]
        func series(_ metric: (SweepPoint) -> Double) -> [SVGPlot.Series] {
            groups.map { g in
                let sel = pts.filter { p in
                    (g == nil || p.values[1] == g!) && (axes.count < 3 || zip(axes.dropFirst(2), p.values.dropFirst(2)).allSatisfy { $0.values[0] == $1 })
                }
                let name = g.map { "\(second!.parameter.rawValue) = \(SVGPlot.fmt($0))" } ?? workload.model.name
                return SVGPlot.Series(name: name, points: sel.filter { !metric($0).isNaN }.map { ($0.values[0], metric($0)) })
            }
        }
        let x = "\(a0.parameter.rawValue) (\(a0.parameter.help))"
        var out: [(String, String)] = []
        for (file, title, y, m) in [("sweep-e2e.svg", "End-to-end tokens/s (\(input) in, \(output) out)", "tokens/s", { (p: SweepPoint) in p.e2e }),
                                    ("sweep-area.svg", "Chip area", "mm^2", { (p: SweepPoint) in p.areaMm2 }),
                                    ("sweep-max-tokens.svg", "Max tokens in SRAM (plain accounting)", "tokens", { (p: SweepPoint) in Double(p.maxTokensPlain) }),
                                    ("sweep-ttft.svg", "TTFT (\(input) input tokens)", "ms", { (p: SweepPoint) in p.ttftMs })] {
            var plot = SVGPlot(title: title, xLabel: x, yLabel: y)
            plot.series = series(m)
            out.append((file, plot.render()))
        }
        return out
    }
}
