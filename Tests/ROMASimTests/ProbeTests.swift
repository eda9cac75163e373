import XCTest
@testable import ROMASim
import ROMAChip
final class ProbeTests: XCTestCase {
  func testProbe() throws {
    let c = ChipConfig.paper
    let a = SimArea(chip: c)
    print("AREA", a.breakdown(), a.totalMm2(), a.lUnitStorageMm2(.fusedCell), a.lUnitComputeMm2, a.hUnitSRAMMm2, a.hUnitComputeMm2)
    let s = try ChipSimulator(chip: c, workload: .paper3B)
    print("POWER", PaperReproduction.peakPower(s))
    let d = s.decodeStep(cached: 0)
    let pw = SimPower(chip: c)
    print("DEC", pw.dynamicEnergy(d.work, bits: 4), pw.leakage())
    print("WORK", d.work)
  }
}
