import Foundation
import ROMAChip
import ROMAFormats
import Synchronization

/// A tiny generated model and its INT4 ROM image, made once per seed per test process.
public enum TinyChip {
    private static let made = Mutex<[UInt64: (gguf: String, rom: String)]>([:])

    public static func files(seed: UInt64) throws -> (gguf: String, rom: String) {
        if let f = made.withLock({ $0[seed] }) { return f }
        let gguf = try TinyModel(seed: seed).write()
        let rom = TempFiles.path("tiny-\(seed)-\(UUID().uuidString).rom")
        _ = try ROMCompiler(bits: 4).compile(gguf: GGUFFile(path: gguf), output: rom)
        made.withLock { $0[seed] = (gguf, rom) }
        return (gguf, rom)
    }
}
