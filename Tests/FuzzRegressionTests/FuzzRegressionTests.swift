import Foundation
import ROMAFuzz
import XCTest

/// Every fuzz target's seeds are accepted, and every input the fuzzer once crashed on (Fixtures/TARGET/,
/// with the message it must now be refused with in NAME.expected, or "accepted") gives that outcome.
final class FuzzRegressionTests: XCTestCase {
    let scratch = FuzzScratch()

    func fixtures(_ target: String) throws -> [(name: String, bytes: [UInt8], expected: String?)] {
        // a target without regression inputs has no folder (git keeps no empty folders)
        guard let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.appendingPathComponent(target),
              FileManager.default.fileExists(atPath: dir.path) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasSuffix(".expected") && $0 != "README.md" }.sorted()
        return try names.map { n in
            let bytes = Array(try Data(contentsOf: dir.appendingPathComponent(n)))
            let e = try? String(contentsOf: dir.appendingPathComponent(n + ".expected"), encoding: .utf8)
            return (n, bytes, e?.trimmingCharacters(in: .newlines))
        }
    }

    func testEverySeedIsAccepted() throws {
        for t in FuzzTargets.all {
            let seeds = try t.seeds()
            XCTAssertFalse(seeds.isEmpty, t.name)
            for (i, s) in seeds.enumerated() {
                XCTAssertEqual(FuzzTargets.run(t, s, scratch: scratch), .accepted, "\(t.name) seed \(i)")
            }
        }
    }

    func testEveryTargetHasADictionaryLibFuzzerCanRead() {
        for t in FuzzTargets.all {
            let lines = FuzzTargets.dictionaryFile(t).split(separator: "\n")
            XCTAssertEqual(lines.count, t.dictionary.count, t.name)
            for l in lines { XCTAssertTrue(l.hasPrefix("\"") && l.hasSuffix("\"") && l.allSatisfy { $0.isASCII }, "\(t.name): \(l)") }
        }
        XCTAssertEqual(FuzzTargets.dictionaryFile(ROMImageTarget.self).split(separator: "\n").first, #""ROMAROM\x00""#)
    }

    func testCrashInputsAreRefusedWithTheirMessages() throws {
        var count = 0
        for t in FuzzTargets.all {
            for f in try fixtures(t.name) {
                count += 1
                let outcome = FuzzTargets.run(t, f.bytes, scratch: scratch)
                if f.expected == "accepted" { XCTAssertEqual(outcome, .accepted, "\(t.name)/\(f.name)"); continue }
                guard case .refused(let message) = outcome else {
                    XCTFail("\(t.name)/\(f.name) was accepted"); continue
                }
                XCTAssertFalse(message.isEmpty, "\(t.name)/\(f.name)")
                if let e = f.expected { XCTAssertEqual(message, e, "\(t.name)/\(f.name)") }
            }
        }
        XCTAssertGreaterThan(count, 0, "no regression inputs found in Fixtures/")
    }

    /// The packing the PEFT target uses: a length, the config, the weights; short or overlong lengths refused.
    func testPEFTInputsSplitIntoConfigAndWeights() throws {
        let seed = try PEFTAdapterTarget.seeds()[0]
        XCTAssertEqual(FuzzTargets.run(PEFTAdapterTarget.self, [1, 0], scratch: scratch), .refused("not a packed pair"))
        XCTAssertEqual(FuzzTargets.run(PEFTAdapterTarget.self, [9, 0, 0, 0, 1], scratch: scratch), .refused("not a packed pair"))
        let n = Int(seed[0]) | Int(seed[1]) << 8
        let config = try JSONSerialization.jsonObject(with: Data(seed[4..<(4 + n)])) as? [String: Any]
        XCTAssertEqual(config?["peft_type"] as? String, "LORA")
        let weights = Array(seed[(4 + n)...])   // a safetensors file: u64 header length, then the JSON header
        let headerLength = weights[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(weights[8], UInt8(ascii: "{"))
        let header = String(decoding: weights[8..<(8 + headerLength)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        XCTAssertTrue(header.hasSuffix("}") && header.contains("lora_A"), header)
    }
}
