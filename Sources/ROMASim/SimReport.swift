import Foundation
import ROMAChip
import ROMALlama

/// The report of `roma sim run`: timing, breakdown, utilisation, capacity, area, power and energy.
public struct SimRunReport: Sendable {
    public let sim: ChipSimulator
    public let input: Int
    public let output: Int
    public let kvPoints: [Int]

    public init(sim: ChipSimulator, input: Int, output: Int, kvPoints: [Int]) throws {
        guard input >= 1 else { throw SimError.badArgument("the input length must be >= 1 token, got \(input)") }
        guard output >= 1 else { throw SimError.badArgument("the output length must be >= 1 token, got \(output)") }
        self.sim = sim; self.input = input; self.output = output; self.kvPoints = kvPoints
    }

    var chip: ChipConfig { sim.chip }
    var w: SimWorkload { sim.workload }

    struct Numbers {
        var prefill: SimPhase, decode: SimPhase, ttft: Double, decodeRates: [(Int, Double)], e2e: (seconds: Double, tokensPerSecond: Double)
        var cap: SimCapacity, area: [(ChipComponent, Double)], power: [(ChipComponent, Double)]
        var decodeEnergy: [ChipComponent: Double], decodeSeconds: Double
    }

    func numbers() -> Numbers {
        let pre = sim.prefill(tokens: input)
        let dec = sim.decodeStep(cached: input)
        let pw = SimPower(chip: chip)
        let secs = sim.seconds(dec.cycles)
        var e = pw.dynamicEnergy(dec.work, bits: w.weightBits)
        for (k, v) in pw.leakage() { e[k, default: 0] += v * secs }
        return Numbers(prefill: pre, decode: dec, ttft: sim.seconds(pre.cycles),
                       decodeRates: kvPoints.map { ($0, sim.decodeRate(cached: $0)) },
                       e2e: sim.endToEnd(input: input, output: output), cap: SimCapacity(chip: chip, workload: w),
                       area: SimArea(chip: chip).breakdown(), power: PaperReproduction.peakPower(sim),
                       decodeEnergy: e, decodeSeconds: secs)
    }

    static func mib(_ b: Double) -> String { String(format: "%.2f MiB", b / 1_048_576) }

    public func text() -> String {
        let n = numbers()
        let m = w.model
        var s = "model  \(m.name): hidden \(m.hiddenSize), FFN \(m.intermediateSize), \(m.numLayers) layers, \(m.numHeads)/\(m.numKVHeads) heads, vocab \(m.vocabSize)\n"
        s += "chip   \(chip.name): \(chip.array.rows)x\(chip.array.columns) array (\(chip.array.matrixUnits) matrix units, \(chip.array.vectorUnits) vector units), "
        s += String(format: "%.0f MHz\n", chip.clockHz / 1e6)
        s += "run    INT\(w.weightBits) base, LoRA rank \(w.loraRank) on \(w.loraTargets.isEmpty ? "none" : w.loraTargets.map(\.rawValue).joined(separator: ",")), input \(input), output \(output)\n\n"
        s += String(format: "TTFT (prefill %d tokens)          %10.3f ms  (%.0f cycles, chunks of %d tokens)\n",
                    input, n.ttft * 1e3, n.prefill.cycles, sim.mapper.prefillChunkTokens)
        s += String(format: "end-to-end (%d in, %d out)   %10.1f tokens/s  (%.3f s)\n", input, output, n.e2e.tokensPerSecond, n.e2e.seconds)
        s += "decode tokens/s vs tokens in KV cache:\n"
        for (k, r) in n.decodeRates { s += String(format: "  %6d  %10.1f tokens/s  (%.2f us/token)\n", k, r, 1e6 / r) }

        for (title, phase) in [("prefill (\(input) tokens)", n.prefill), ("decode step (\(input) tokens in KV cache)", n.decode)] {
            s += "\nper-operator breakdown, \(title):\n"
            s += "  stage                          cycles    share  bound by   operators (busy cycles per unit)\n"
            let total = phase.cycles
            for st in phase.stages {
                let ops = st.operators.sorted { $0.key < $1.key }.map { "\($0.key)[\($0.value.unit.rawValue)] \(Self.fmt($0.value.busy))" }.joined(separator: ", ")
                s += "  " + st.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                s += Self.fmt(st.cycles).leftPad(10) + String(format: " %7.1f%%  ", st.cycles / total * 100)
                s += st.boundBy.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0) + "  " + ops + "\n"
            }
            s += "  utilisation: " + SimUnitKind.allCases.map { String(format: "%@ %.1f%%", $0.rawValue, phase.utilisation($0) * 100) }.joined(separator: ", ") + "\n"
        }

        let c = n.cap
        s += "\ncapacity:\n"
        s += String(format: "  ROM    %.3f GB needed of %.3f GB (%.1f%%)%@\n", c.romBytesNeeded / 1e9, chip.memory.romBytes / 1e9, c.romFill * 100,
                    c.romFill > 1 ? " -- DOES NOT FIT" : "")
        let kvUsed = Double(input + output) * c.kvBytesPerToken(.plain)
        s += "  SRAM   LoRA \(Self.mib(c.loraBytes(.plain))) + KV \(Self.mib(kvUsed)) (\(input + output) tokens x \(Self.fmt(c.kvBytesPerToken(.plain))) B) of \(Self.mib(chip.memory.loraKVSRAMBytes))"
        s += (c.loraBytes(.plain) + kvUsed > chip.memory.loraKVSRAMBytes ? " -- DOES NOT FIT\n" : "\n")
        s += "  intermediate SRAM  \(Self.mib(c.intermediateBytesUsed)) of \(Self.mib(chip.memory.intermediateSRAMBytes)) (prefill chunk)\n"
        s += "  max tokens: \(c.maxTokens(.plain)) (\(CapacityAccounting.plain.name)); \(c.maxTokens(.paperFig10)) (\(CapacityAccounting.paperFig10.name))\n"

        s += "\narea and power (power at a \(PaperReproduction.powerOperatingPointTokens)-token prefill):\n"
        let at = n.area.reduce(0) { $0 + $1.1 }, pt = n.power.reduce(0) { $0 + $1.1 }
        for ((k, a), (_, p)) in zip(n.area, n.power) {
            s += "  " + k.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
            s += String(format: "%8.1f mm^2 (%4.1f%%)  %7.2f W (%4.1f%%)\n", a, a / at * 100, p, p / pt * 100)
        }
        s += String(format: "  total       %8.1f mm^2           %7.2f W   (paper Table I: 503.7 mm^2, 33.1 W)\n", at, pt)
        let ej = n.decodeEnergy.values.reduce(0, +)
        s += String(format: "energy per decode token (%d in KV cache): %.1f uJ/token (%.2f mJ), %.0f tokens/J\n",
                    input, ej * 1e6, ej * 1e3, 1 / ej)
        return s
    }

    public func json() throws -> String {
        let n = numbers()
        var o: [String: Any] = [
            "model": w.model.name, "chip": chip.name, "bits": w.weightBits, "rank": w.loraRank,
            "loraTargets": w.loraTargets.map(\.rawValue), "input": input, "output": output,
            "ttftMs": n.ttft * 1e3, "prefillCycles": n.prefill.cycles, "prefillChunkTokens": sim.mapper.prefillChunkTokens,
            "endToEndTokensPerSecond": n.e2e.tokensPerSecond, "endToEndSeconds": n.e2e.seconds,
            "decode": n.decodeRates.map { ["kvTokens": $0.0, "tokensPerSecond": $0.1] },
        ]
        func phase(_ p: SimPhase) -> [String: Any] {
            ["cycles": p.cycles,
             "utilisation": Dictionary(uniqueKeysWithValues: SimUnitKind.allCases.map { ($0.rawValue, p.utilisation($0)) }),
             "stages": p.stages.map { st in
                ["name": st.name, "cycles": st.cycles, "boundBy": st.boundBy.rawValue,
                 "operators": st.operators.sorted { $0.key < $1.key }.map { ["name": $0.key, "unit": $0.value.unit.rawValue, "busyCycles": $0.value.busy] }] as [String: Any]
             }]
        }
        o["prefill"] = phase(n.prefill)
        o["decodeStep"] = phase(n.decode)
        let c = n.cap
        o["capacity"] = ["romBytesNeeded": c.romBytesNeeded, "romFill": c.romFill, "loraBytes": c.loraBytes(.plain),
                         "kvBytesPerToken": c.kvBytesPerToken(.plain), "maxTokensPlain": c.maxTokens(.plain),
                         "maxTokensPaperFig10": c.maxTokens(.paperFig10), "intermediateBytesUsed": c.intermediateBytesUsed]
        o["areaMm2"] = Dictionary(uniqueKeysWithValues: n.area.map { ($0.0.rawValue, $0.1) })
        o["powerW"] = Dictionary(uniqueKeysWithValues: n.power.map { ($0.0.rawValue, $0.1) })
        o["joulesPerDecodeToken"] = n.decodeEnergy.values.reduce(0, +)
        let data = try JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func fmt(_ v: Double) -> String {
        if v >= 100 { return String(format: "%.0f", v) }
        return String(format: "%.3g", v)
    }
}
