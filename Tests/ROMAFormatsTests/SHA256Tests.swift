import Foundation
import XCTest
import ROMAFormats
import ROMATestSupport

/// SHA-256 on each compression engine this CPU runs: FIPS 180-4's examples, the engines against each
/// other on every length around the block boundaries and on split updates, and a file against coreutils'
/// sha256sum.
final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST CSRC examples: the empty message, "abc", the 448- and 896-bit messages, a million 'a'.
    static let examples: [(message: [UInt8], digest: String)] = [
        ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8),
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ([UInt8](repeating: 0x61, count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    private func checkExamples(_ engine: SHA256.Engine) {
        for (m, digest) in Self.examples {
            XCTAssertEqual(m.withUnsafeBytes { SHA256.hex(SHA256.hash($0, engine: engine)) }, digest, "\(engine), \(m.count) bytes")
        }
    }

    func testPortableEngineGivesTheFIPSDigests() { checkExamples(.portable) }

    /// CPUID's SHA bit, as the engine choice reads it, against the kernel's own list of flags.
    func testSHAExtensionsAreDetectedAsProcCpuinfoReportsThem() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { throw XCTSkip("no /proc/cpuinfo flags") }
        XCTAssertEqual(SHA256.Engine.shaExtensions.isSupported, flags.split(separator: " ").contains("sha_ni"))
    }

    func testSHAExtensionsGiveTheFIPSDigests() throws {
        guard SHA256.Engine.shaExtensions.isSupported else { throw XCTSkip("this CPU has no SHA extensions") }
        checkExamples(.shaExtensions)
    }

    /// Every length from 0 to 300 bytes (partial, whole and several blocks; padding into a second block),
    /// hashed in one update and in three uneven ones: every engine gives the portable digest.
    func testEnginesAgreeOnEveryLengthAndSplit() {
        var rng = SplitMix(2026)
        let engines = SHA256.Engine.allCases.filter(\.isSupported)
        for n in 0...300 {
            let m = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let a = Int(rng.next() % UInt64(n + 1)), b = a + Int(rng.next() % UInt64(n - a + 1))
            let reference = m.withUnsafeBytes { SHA256.hash($0, engine: .portable) }
            for e in engines {
                XCTAssertEqual(m.withUnsafeBytes { SHA256.hash($0, engine: e) }, reference, "\(e), \(n) bytes")
                var h = SHA256(engine: e)
                h.update(Array(m[0..<a])); h.update(Array(m[a..<b])); h.update(Array(m[b...]))
                XCTAssertEqual(h.finalize(), reference, "\(e), \(n) bytes split at \(a), \(b)")
            }
        }
    }

    /// A file of a little over 1 MiB: `SHA256.hex(ofFile:)` (the selected engine) against coreutils.
    func testFileDigestEqualsSha256sum() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") else { throw XCTSkip("no /usr/bin/sha256sum (coreutils)") }
        var rng = SplitMix(7)
        let path = TempFiles.path("sha-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data((0..<(1 << 20) + 37).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: URL(fileURLWithPath: path))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let line = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try SHA256.hex(ofFile: path), String(line.prefix(64)), "engine \(SHA256.Engine.selected)")
    }
}
