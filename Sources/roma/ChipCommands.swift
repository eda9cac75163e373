import ArgumentParser
import Foundation
import ROMAChip
import ROMALlama
import ROMANumerics

/// `roma chip ...` — the declarative chip configuration (ChipConfig).
struct ChipCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chip", abstract: "Show the chip configuration.",
                                                    subcommands: [ChipShow.self])
}

struct ChipShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show",
        abstract: "Print a chip configuration (default: the paper's chip); JSON output is loadable with --config.")
    @OptionGroup var chipOptions: ChipOptions
    @OptionGroup var printing: OutputOptions

    func run() throws {
        let c = try chipOptions.chip()
        if printing.json { print(String(decoding: try c.jsonData(), as: UTF8.self)); return }
        let a = c.array, n = c.numerics
        print("chip \(c.name)")
        print(String(format: "  clock            %.0f MHz", c.clockHz / 1e6))
        print("  array            \(a.rows) x \(a.columns): \(a.matrixArrays) arrays of \(a.matrixRowsPerArray) x \(a.columns) matrix units (H-Unit + L-Unit) around \(a.vectorRows) x \(a.columns) vector units")
        print(String(format: "  ROM (B-ROM)      %.3f GB total, %.2f MB per L-Unit", c.memory.romBytes / 1e9, c.lUnitROMBytes / 1e6))
        print(String(format: "  SRAM LoRA + KV   %.1f MiB total, %.3f MiB per H-Unit", c.memory.loraKVSRAMBytes / 1_048_576, c.hUnitSRAMBytes / 1_048_576))
        print(String(format: "  SRAM interm.     %.1f MiB total, %.2f MiB per vector unit", c.memory.intermediateSRAMBytes / 1_048_576, c.vectorUnitSRAMBytes / 1_048_576))
        print("  base weights     INT\(n.baseWeightBitsSupported.sorted().map(String.init).joined(separator: "/INT")), groups of \(n.quantGroupSize), scale \(n.quantScaleFormat.rawValue), zero point \(n.quantZeroPointUnsigned ? "unsigned" : "signed")")
        print("  LoRA weights     \(n.loraWeightFormat.rawValue); activations \(n.activationFormat.rawValue); KV cache \(n.kvCacheFormat.rawValue); partial sums \(n.partialSumFormat.rawValue)")
        print(String(format: "  L-Unit           %.2f weight bits/cycle (= %.1f INT4 or %.1f INT2 MACs/cycle), pipeline %.0f cycles",
                     c.lUnit.weightBitsPerCycle, c.lUnit.macsPerCycle(bits: 4), c.lUnit.macsPerCycle(bits: 2), c.lUnit.pipelineLatencyCycles))
        print(String(format: "  H-Unit           %.0f FP16 MACs/cycle, %.0f FP8 MACs/cycle, %.0f B/cycle SRAM read, pipeline %.0f cycles",
                     c.hUnit.fp16MACsPerCycle, c.hUnit.fp8MACsPerCycle, c.hUnit.sramReadBytesPerCycle, c.hUnit.pipelineLatencyCycles))
        print(String(format: "  vector unit      %.0f FP16 lanes, %.0f cycles per op", c.vectorUnit.lanes, c.vectorUnit.opLatencyCycles))
        print(String(format: "  router           %.0f B/cycle links, %.4f cycles/hop", c.router.linkBytesPerCycle, c.router.hopLatencyCycles))
        print("  technology       \(c.technology.processName): SRAM cell \(c.technology.sramBitCellUm2) um^2, ROM/SRAM cell \(String(format: "%.3f", c.technology.romCellToSRAMCellRatio)), B-ROM/ROM area \(c.technology.bromAreaToROMRatio)")
        print("  this host        runs the chip model on the \(KernelPath.selected) kernels (CPU: \(KernelPath.CPUFeatures.host.names.joined(separator: ", ")); ROMA_KERNELS=\(KernelPath.supported.map(\.rawValue).joined(separator: "|")) forces a path)")
        print("(every number and its source: docs/sim-parameters.md)")
    }
}
