import Foundation
import ROMAChip
import ROMALlama

/// The four L-Unit implementations compared in Fig. 12 (Sec. III-B..D).
public enum LUnitDesign: String, CaseIterable, Sendable, Codable {
    case sramCompute = "SRAM + compute"
    case romCompute = "ROM + compute"
    case bromCompute = "B-ROM + compute"
    case fusedCell = "Fused cell"
}

/// Chip components of the Fig. 11 breakdown.
public enum ChipComponent: String, CaseIterable, Sendable, Codable {
    case lUnit = "L-Unit", hUnit = "H-Unit", vectorUnit = "vector unit", router = "router"
}

/// Per-component area of a chip (mm^2), from bit cells, array efficiency and logic density.
public struct SimArea: Sendable {
    public let chip: ChipConfig
    public init(chip: ChipConfig) { self.chip = chip }
    var t: ChipConfig.Technology { chip.technology }
    var U: Double { Double(chip.array.matrixUnits) }

    /// mm^2 of `bits` memory bits at `cellUm2` per bit, including macro periphery.
    public func memoryMm2(bits: Double, cellUm2: Double) -> Double {
        bits * cellUm2 / t.memoryArrayEfficiency * 1e-6
    }
    /// mm^2 of `transistors` of placed standard-cell logic.
    public func logicMm2(transistors: Double) -> Double {
        transistors / (t.logicMTrPerMm2 * 1e6) / t.logicUtilization
    }

    /// Bit-cell area of the base-weight store for each L-Unit design.
    public func weightCellUm2(_ d: LUnitDesign) -> Double {
        switch d {
        case .sramCompute: return t.sramBitCellUm2
        case .romCompute: return t.sramBitCellUm2 * t.romCellToSRAMCellRatio
        case .bromCompute, .fusedCell: return t.sramBitCellUm2 * t.romCellToSRAMCellRatio * t.bromAreaToROMRatio
        }
    }
    /// B-ROM transistor count relative to a standard ROM: (D/4)(W + NUM_CGEN) / (D W) (Sec. III-C).
    public var bromTransistorRatio: Double {
        let w = Double(chip.lUnit.bromWordBits), b = Double(chip.lUnit.bromBlockSize)
        return (w + Double(chip.lUnit.bromCGenTransistors)) / (b * w)
    }
    /// Compute lanes of one L-Unit: one 4-bit MAC lane (two 2-bit MACs in 2-bit mode) per 4 bits read.
    public var lUnitLanes: Double { chip.lUnit.weightBitsPerCycle / 4 }

    /// All L-Units' weight store, mm^2.
    public func lUnitStorageMm2(_ d: LUnitDesign) -> Double {
        memoryMm2(bits: chip.memory.romBytes * 8, cellUm2: weightCellUm2(d))
    }
    /// All L-Units' compute logic (alignment unit + compute cells), mm^2.
    public var lUnitComputeMm2: Double { logicMm2(transistors: U * lUnitLanes * t.lUnitLaneTransistors) }
    /// All L-Units, mm^2: store + compute side by side, or overlapped in the Fused cell (Sec. III-D).
    public func lUnitMm2(_ d: LUnitDesign) -> Double {
        let s = lUnitStorageMm2(d), c = lUnitComputeMm2
        return d == .fusedCell ? s + c - t.fusedCellOverlap * min(s, c) : s + c
    }
    public var hUnitSRAMMm2: Double { memoryMm2(bits: chip.memory.loraKVSRAMBytes * 8, cellUm2: t.sramBitCellUm2) }
    public var hUnitComputeMm2: Double {
        logicMm2(transistors: U * (chip.hUnit.fp16MACsPerCycle * t.fp16MACTransistors + chip.hUnit.fp8MACsPerCycle * t.fp8MACTransistors))
    }
    public var vectorSRAMMm2: Double { memoryMm2(bits: chip.memory.intermediateSRAMBytes * 8, cellUm2: t.sramBitCellUm2) }
    public var vectorComputeMm2: Double {
        logicMm2(transistors: Double(chip.array.vectorUnits) * chip.vectorUnit.lanes * t.vectorLaneTransistors)
    }
    public var routerMm2: Double {
        logicMm2(transistors: Double(chip.array.matrixUnits + chip.array.vectorUnits) * t.routerTransistors)
    }

    /// Area of each component with the chip's L-Unit design (the paper's: Fused cell).
    public func breakdown(_ d: LUnitDesign = .fusedCell) -> [(ChipComponent, Double)] {
        [(.lUnit, lUnitMm2(d)), (.hUnit, hUnitSRAMMm2 + hUnitComputeMm2),
         (.vectorUnit, vectorSRAMMm2 + vectorComputeMm2), (.router, routerMm2)]
    }
    public func totalMm2(_ d: LUnitDesign = .fusedCell) -> Double { breakdown(d).reduce(0) { $0 + $1.1 } }
    /// Logic area (for leakage), mm^2.
    public var logicMm2Total: Double { lUnitComputeMm2 + hUnitComputeMm2 + vectorComputeMm2 + routerMm2 }
}

/// Energy and power from counted work (Accelergy-style: actions x energy per action, plus leakage).
public struct SimPower: Sendable {
    public let chip: ChipConfig
    public let area: SimArea
    public init(chip: ChipConfig) { self.chip = chip; self.area = SimArea(chip: chip) }
    var t: ChipConfig.Technology { chip.technology }

    /// Energy per bit read from the base-weight store of an L-Unit design, pJ, including the wire from the
    /// store to the compute cells (half the side of one L-Unit).
    public func weightReadPJPerBit(_ d: LUnitDesign) -> Double {
        let cell: Double
        switch d {
        case .sramCompute: cell = t.sramReadPJPerBit
        case .romCompute: cell = t.romReadPJPerBit
        case .bromCompute, .fusedCell: cell = t.romReadPJPerBit * t.bromReadEnergyRatio
        }
        let sideMm = (area.lUnitMm2(d) / Double(chip.array.matrixUnits)).squareRoot()
        return cell + t.wirePJPerBitMm * sideMm / 2
    }

    /// Dynamic energy of `work` per component, joules.
    public func dynamicEnergy(_ w: SimWork, bits: Int, design: LUnitDesign = .fusedCell) -> [ChipComponent: Double] {
        let pj = 1e-12
        let l = w.lUnitMACs * t.lUnitMACPJ * Double(bits) / 4 + w.romBits * weightReadPJPerBit(design)
        let h = w.fp16MACs * t.fp16MACPJ + w.fp8MACs * t.fp8MACPJ + w.sramReadBits * t.sramReadPJPerBit
            + w.sramWriteBits * t.sramWritePJPerBit
        return [.lUnit: l * pj, .hUnit: h * pj, .vectorUnit: w.vectorOps * t.vectorOpPJ * pj,
                .router: w.routerByteHops * t.routerPJPerByteHop * pj]
    }

    /// Leakage power per component, watts (SRAM bits + logic area; ROM cells assumed leakage-free
    /// except in the SRAM design).
    public func leakage(design: LUnitDesign = .fusedCell) -> [ChipComponent: Double] {
        let sramW = t.sramLeakagePWPerBit * 1e-12
        let logicW = t.logicLeakageMWPerMm2 * 1e-3
        let lStore = design == .sramCompute ? chip.memory.romBytes * 8 * sramW : 0
        return [.lUnit: lStore + area.lUnitComputeMm2 * logicW,
                .hUnit: chip.memory.loraKVSRAMBytes * 8 * sramW + area.hUnitComputeMm2 * logicW,
                .vectorUnit: chip.memory.intermediateSRAMBytes * 8 * sramW + area.vectorComputeMm2 * logicW,
                .router: area.routerMm2 * logicW]
    }

    /// Average power per component over a phase, watts.
    public func power(_ phase: SimPhase, seconds: Double, bits: Int, design: LUnitDesign = .fusedCell) -> [(ChipComponent, Double)] {
        let e = dynamicEnergy(phase.work, bits: bits, design: design), s = leakage(design: design)
        return ChipComponent.allCases.map { ($0, e[$0]! / seconds + s[$0]!) }
    }
}
