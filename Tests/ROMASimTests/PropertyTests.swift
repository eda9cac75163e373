import XCTest
import ROMAChip
import ROMALlama
@testable import ROMASim

/// Sanity properties over many configurations (deterministic pseudo-random draws).
final class PropertyTests: XCTestCase {
    struct LCG { var s: UInt64; mutating func next(_ n: Int) -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int((s >> 33) % UInt64(n)) } }

    /// More SRAM never gives fewer tokens, under both accountings, for every preset model and rank.
    func testMoreSRAMNeverFewerTokens() {
        var g = LCG(s: 42)
        for m in ModelConfig.presets {
            for _ in 0..<40 {
                let w = SimWorkload(model: m, weightBits: 4, loraRank: [0, 4, 16, 32, 64, 128][g.next(6)],
                                    loraTargets: Array(LoRAModule.allCases.prefix(1 + g.next(7))))
                let cap = SimCapacity(chip: .paper, workload: w)
                var prevPlain = -1, prevPaper = -1
                for mib in stride(from: 0.0, through: 1024, by: 16 + Double(g.next(32))) {
                    let p = cap.maxTokens(sramBytes: mib * 1_048_576, .plain)
                    let q = cap.maxTokens(sramBytes: mib * 1_048_576, .paperFig10)
                    XCTAssertGreaterThanOrEqual(p, prevPlain); XCTAssertGreaterThanOrEqual(q, prevPaper)
                    prevPlain = p; prevPaper = q
                }
            }
        }
    }

    /// More rank never gives fewer tokens... (capacity) and never a faster chip (TTFT, decode, end-to-end).
    func testMoreRankNeverFaster() throws {
        let cases: [(ChipConfig, [ModelConfig])] = [(.paper, ModelConfig.presets + [tinyModel]), (tinyChip(), [tinyModel])]
        let targetsets: [[LoRAModule]] = [[.q, .v], [.q, .k, .v, .o], LoRAModule.allCases]
        for (chip, models) in cases {
            for m in models {
                for t in targetsets {
                    var prev: (ttft: Double, dec: Double, dec1k: Double, e2e: Double, tok: Int)? = nil
                    for r in [0, 1, 8, 16, 32, 64, 128, 256] {
                        let w = SimWorkload(model: m, weightBits: 4, loraRank: r, loraTargets: t)
                        let s = try ChipSimulator(chip: chip, workload: w)
                        let cur = (s.ttft(input: 300), s.decodeStep(cached: 0).cycles, s.decodeStep(cached: 1000).cycles,
                                   s.endToEnd(input: 64, output: 64).seconds, SimCapacity(chip: chip, workload: w).maxTokens())
                        if let p = prev {
                            XCTAssertGreaterThanOrEqual(cur.0, p.ttft, "\(m.name) rank \(r)")
                            XCTAssertGreaterThanOrEqual(cur.1, p.dec, "\(m.name) rank \(r)")
                            XCTAssertGreaterThanOrEqual(cur.2, p.dec1k, "\(m.name) rank \(r)")
                            XCTAssertGreaterThanOrEqual(cur.3, p.e2e, "\(m.name) rank \(r)")
                            XCTAssertLessThanOrEqual(cur.4, p.tok, "\(m.name) rank \(r)")
                        }
                        prev = (cur.0, cur.1, cur.2, cur.3, cur.4)
                    }
                }
            }
        }
    }

    /// A longer KV cache never decodes faster; a longer prompt never has a shorter TTFT.
    func testMonotoneInLengths() throws {
        for w in [SimWorkload.paper3B, .paper8B] {
            let s = try ChipSimulator(chip: .paper, workload: w)
            var prev = 0.0
            for n in stride(from: 0, through: 8192, by: 256) {
                let c = s.decodeStep(cached: n).cycles; XCTAssertGreaterThanOrEqual(c, prev); prev = c
            }
            prev = 0
            for n in stride(from: 1, through: 4097, by: 128) {
                let t = s.ttft(input: n); XCTAssertGreaterThan(t, prev); prev = t
            }
        }
    }
}
