import Foundation
import ROMAChip
import ROMALlama

/// The calibration protocol (issue 6): the paper does not give the L-Unit's B-ROM read width nor the
/// router's hop latency; these two, and only these, are fitted, to R1 (TTFT, 3B, 256 input = 5.6 ms)
/// and R7 (decode, 3B, empty KV cache = 31.8k tokens/s). Every other row is a prediction.
public struct SimCalibration: Sendable {
    public struct Fitted: Sendable, Equatable {
        public var parameter: String
        public var value: Double
        public var unit: String
        public var fittedTo: String
        public var target: String
        public var achieved: String
    }

    /// R1 target: TTFT of 4-bit Llama3.2-3B, rank 16, 256 input tokens (Sec. I), seconds.
    public static let r1TTFTSeconds = 5.6e-3
    /// R7 target: decode rate of 4-bit Llama3.2-3B, rank 16, empty KV cache (Sec. I), tokens/s.
    public static let r7DecodeRate = 31_800.0

    public let chip: ChipConfig
    public let fitted: [Fitted]

    /// Fits `lUnit.weightBitsPerCycle` to R1 and `router.hopLatencyCycles` to R7, starting from `base`.
    /// Both are monotone (more bits/cycle -> faster; more hop latency -> slower), so alternating
    /// bisections converge; 8 rounds reach < 1e-9 relative change.
    public static func fit(_ base: ChipConfig = .paper) throws -> SimCalibration {
        var chip = base
        let w = SimWorkload.paper3B
        func ttft(_ c: ChipConfig) throws -> Double { try ChipSimulator(chip: c, workload: w).ttft(input: 256) }
        func rate(_ c: ChipConfig) throws -> Double { try ChipSimulator(chip: c, workload: w).decodeRate(cached: 0) }
        for _ in 0..<8 {
            // weight bits per cycle: TTFT decreases with it.
            var lo = 64.0, hi = 65_536.0
            for _ in 0..<60 {
                let mid = (lo + hi) / 2
                var c = chip; c.lUnit.weightBitsPerCycle = mid
                if try ttft(c) > r1TTFTSeconds { lo = mid } else { hi = mid }
            }
            chip.lUnit.weightBitsPerCycle = (lo + hi) / 2
            // hop latency: decode rate decreases with it.
            lo = 0; hi = 64
            for _ in 0..<60 {
                let mid = (lo + hi) / 2
                var c = chip; c.router.hopLatencyCycles = mid
                if try rate(c) > r7DecodeRate { lo = mid } else { hi = mid }
            }
            chip.router.hopLatencyCycles = (lo + hi) / 2
        }
        let sim = try ChipSimulator(chip: chip, workload: w)
        let t = sim.ttft(input: 256), r = sim.decodeRate(cached: 0)
        return SimCalibration(chip: chip, fitted: [
            Fitted(parameter: "lUnit.weightBitsPerCycle", value: chip.lUnit.weightBitsPerCycle, unit: "bits/cycle/L-Unit",
                   fittedTo: "R1", target: "TTFT 3B 4-bit r16, 256 input = 5.6 ms", achieved: String(format: "%.4f ms", t * 1e3)),
            Fitted(parameter: "router.hopLatencyCycles", value: chip.router.hopLatencyCycles, unit: "cycles/hop",
                   fittedTo: "R7", target: "decode 3B 4-bit r16, empty KV = 31.8k tokens/s", achieved: String(format: "%.1f tokens/s", r)),
        ])
    }
}
