import XCTest
import ROMAModel

final class SamplerTests: XCTestCase {
    let logits: [Float] = [1.0, 3.0, 2.0, -1.0, 2.9]

    func testGreedyIsArgmax() {
        var s = Sampler(.greedy)
        XCTAssertEqual(s.sample(logits, history: []), 1)
    }

    func testTopKOneIsArgmaxAtAnyTemperature() {
        var s = Sampler(SamplerConfig(temperature: 5, topK: 1, topP: 1, minP: 0, seed: 3))
        for _ in 0..<50 { XCTAssertEqual(s.sample(logits, history: []), 1) }
    }

    func testRepetitionPenaltyChangesTheChoice() {
        // 3.0 / 1.1 = 2.727 < 2.9, so the penalised token 1 loses to token 4
        var s = Sampler(SamplerConfig(temperature: 0, repeatPenalty: 1.1))
        XCTAssertEqual(s.sample(logits, history: [1]), 4)
        XCTAssertEqual(s.sample(logits, history: [2]), 1)
    }

    func testSeedDeterminismAndDistribution() {
        let cfg = SamplerConfig(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 42)
        var a = Sampler(cfg), b = Sampler(cfg)
        let seqA = (0..<200).map { _ in a.sample(logits, history: []) }
        let seqB = (0..<200).map { _ in b.sample(logits, history: []) }
        XCTAssertEqual(seqA, seqB)
        // empirical frequencies over 20k draws vs softmax probabilities
        var c = Sampler(cfg)
        var counts = [Int](repeating: 0, count: logits.count)
        let n = 20000
        for _ in 0..<n { counts[c.sample(logits, history: [])] += 1 }
        let e = logits.map { exp(Double($0)) }, z = e.reduce(0, +)
        for i in logits.indices { XCTAssertEqual(Double(counts[i]) / Double(n), e[i] / z, accuracy: 0.015) }
    }

    func testTopPAndMinPTruncate() {
        // probabilities of [1,3,2,-1,2.9]: token1 .39, token4 .35, token2 .14, token0 .05, token3 .007
        var p = Sampler(SamplerConfig(temperature: 1, topK: 0, topP: 0.7, minP: 0, seed: 1))
        XCTAssertEqual(Set((0..<300).map { _ in p.sample(logits, history: []) }), [1, 4])
        var m = Sampler(SamplerConfig(temperature: 1, topK: 0, topP: 1, minP: 0.3, seed: 1))
        XCTAssertEqual(Set((0..<300).map { _ in m.sample(logits, history: []) }), [1, 4, 2])
    }

    func testInvalidSettingsAreRejected() {
        XCTAssertThrowsError(try SamplerConfig(temperature: -1).validate())
        XCTAssertThrowsError(try SamplerConfig(topP: 0).validate())
        XCTAssertThrowsError(try SamplerConfig(minP: 1).validate())
        XCTAssertThrowsError(try SamplerConfig(repeatPenalty: 0).validate())
    }
}
