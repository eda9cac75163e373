import Foundation
import XCTest
import ROMAFormats
import ROMATokenizer

/// Access to the real SmolLM2 model for tests. Tests that need it skip (with a reason) when the
/// model file is absent; `scripts/test.sh` fetches it first so they run in CI.
public enum RealModel {
    public static var path: String? {
        if let env = ProcessInfo.processInfo.environment["ROMA_MODEL"], FileManager.default.fileExists(atPath: env) { return env }
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<4 {
            dir.deleteLastPathComponent()
            let p = dir.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    /// The package's root directory (for data files such as data/calibration/).
    public static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    public static func gguf() throws -> GGUFFile {
        guard let p = path else { throw XCTSkip("real model not present; run scripts/fetch-model.sh") }
        return try GGUFFile(path: p)
    }

    nonisolated(unsafe) private static var cachedTokenizer: BPETokenizer?
    private static let lock = NSLock()

    public static func tokenizer() throws -> BPETokenizer {
        lock.lock(); defer { lock.unlock() }
        if let t = cachedTokenizer { return t }
        let t = try BPETokenizer(gguf: gguf())
        cachedTokenizer = t
        return t
    }
}
