import Foundation

/// One reader under hostile input. `read` hands the bytes to the reader the way `roma` does (a file
/// on disk, a directory, a request body) and goes on to use what it accepted (dequantize, encode,
/// decode), so a fuzzer reaches the code behind the parser. A thrown error is a refusal, which is
/// the right answer to bad input; a trap, an out-of-bounds access or a hang is a bug.
public protocol FuzzTarget: Sendable {
    /// The name `scripts/fuzz.sh` and `ROMA_FUZZ_TARGET` use.
    static var name: String { get }
    /// Format tokens (magic values, keys) for libFuzzer's `-dict`.
    static var dictionary: [String] { get }
    /// Valid inputs for the seed corpus (each must be accepted).
    static func seeds() throws -> [[UInt8]]
    static func read(_ bytes: [UInt8], scratch: FuzzScratch) throws
}

public enum FuzzOutcome: Equatable, Sendable {
    case accepted
    case refused(String)
}

public enum FuzzTargets {
    nonisolated(unsafe) public static let all: [any FuzzTarget.Type] = [
        GGUFTarget.self, SafetensorsTarget.self, ROMImageTarget.self, PEFTAdapterTarget.self,
        LoRAGGUFTarget.self, TokenizerTarget.self, TrainingDataTarget.self, RequestTarget.self,
    ]

    public static func named(_ name: String) -> (any FuzzTarget.Type)? { all.first { $0.name == name } }

    /// One input through one target: accepted, or refused with the reader's message.
    public static func run(_ target: any FuzzTarget.Type, _ bytes: [UInt8], scratch: FuzzScratch) -> FuzzOutcome {
        do {
            try target.read(bytes, scratch: scratch)
            return .accepted
        } catch {
            return .refused("\(error)")
        }
    }

    /// libFuzzer's dictionary format: one quoted token per line, non-printable bytes as \xNN.
    public static func dictionaryFile(_ target: any FuzzTarget.Type) -> String {
        target.dictionary.map { token in
            "\"" + token.utf8.map { b in
                (0x20..<0x7F).contains(b) && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\")
                    ? String(UnicodeScalar(b)) : String(format: "\\x%02x", b)
            }.joined() + "\""
        }.joined(separator: "\n") + "\n"
    }
}

/// Where a target writes the input it hands to a path-taking reader: one folder per process, in
/// /dev/shm when there is one (no disk traffic per execution).
public final class FuzzScratch: @unchecked Sendable {
    public let directory: String

    public init() {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        FuzzScratch.removeStale(in: base)
        directory = base + "/roma-fuzz-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Folders left by processes that have ended (a process-wide scratch is never deinitialized).
    static func removeStale(in base: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix("roma-fuzz-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = pid_t(parts[2]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: base + "/" + name)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `bytes` to `name` inside the scratch folder (replacing it) and returns the path.
    public func write(_ bytes: [UInt8], as name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Little-endian helpers for targets that pack two inputs into one (the PEFT directory).
enum FuzzPacking {
    /// `[u32 length][first][second]`: splits a fuzz input into two; nil if the length runs past the end.
    static func split(_ bytes: [UInt8]) -> ([UInt8], [UInt8])? {
        guard bytes.count >= 4 else { return nil }
        let n = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard n <= bytes.count - 4 else { return nil }
        return (Array(bytes[4..<(4 + n)]), Array(bytes[(4 + n)...]))
    }

    static func join(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        let n = UInt32(a.count)
        return [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + a + b
    }
}

struct FuzzInputError: Error, CustomStringConvertible {
    let description: String
}
