import XCTest
@testable import ROMASim
import ROMAChip
final class ProbeTests: XCTestCase {
  func testProbe() throws {
    let cal = try SimCalibration.fit()
    for f in cal.fitted { print(f) }
    let c = cal.chip
    let s3 = try ChipSimulator(chip: c, workload: .paper3B)
    let s8 = try ChipSimulator(chip: c, workload: .paper8B)
    print("chunk", s3.mapper.prefillChunkTokens, s8.mapper.prefillChunkTokens)
    for n in [256, 1024, 2048, 4096] { print("ttft", n, s3.ttft(input: n)*1e3, s8.ttft(input: n)*1e3) }
    for n in [0, 1024, 4096] { print("dec", n, s3.decodeRate(cached: n), s8.decodeRate(cached: n)) }
    print("e2e", s3.endToEnd(input: 256, output: 4096), s3.endToEnd(input: 2048, output: 4096))
    var w = SimWorkload.paper3B; w.loraRank = 64
    let s64 = try ChipSimulator(chip: c, workload: w)
    print("r64", s64.ttft(input: 1024)/s3.ttft(input: 1024), s64.decodeRate(cached: 0)/s3.decodeRate(cached: 0))
    let p = s3.decodeStep(cached: 0)
    for st in p.stages { print(st.name, st.cycles, st.boundBy, st.busy) }
  }
}
