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

/// The calibration text shipped in the repository (`data/calibration/`, see its README): the model's own
/// chat transcripts and five licence texts, which `roma compile` and `roma tune` use by default. Found
/// under the current directory or any parent, or beside the checkout the `roma` binary was built in.
public enum CalibrationLocator {
    public static let defaultFiles = ["chat-smollm2.txt", "licenses-en.txt"]

    /// The default calibration files, or nil when no `data/calibration/` holding them is found.
    public static var defaultPaths: [String]? {
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        if let exe = Bundle.main.executableURL { starts.append(exe.deletingLastPathComponent()) }
        for start in starts {
            var dir = start
            for _ in 0..<8 {
                let folder = dir.appendingPathComponent("data").appendingPathComponent("calibration")
                let paths = defaultFiles.map { folder.appendingPathComponent($0).path }
                if paths.allSatisfy(FileManager.default.fileExists(atPath:)) { return paths }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }
}
