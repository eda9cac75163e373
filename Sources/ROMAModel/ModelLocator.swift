import Foundation

/// Where the default model lives: `$ROMA_MODEL`, else `models/SmolLM2-135M-Instruct.Q4_1.gguf`
/// under the current directory or any parent (so commands work from anywhere in the checkout).
public enum ModelLocator {
    public static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    public static var defaultModelPath: String {
        if let env = ProcessInfo.processInfo.environment["ROMA_MODEL"], !env.isEmpty { return env }
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent("models").appendingPathComponent(defaultFileName).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return "models/" + defaultFileName
    }
}
