import Foundation

/// Simulates a generated L-Unit slice with Icarus Verilog or Verilator and reads back what the RTL produced.
public enum LUnitSimulation {
    public struct Result: Sendable {
        public let simulator: String
        public let passed: Bool
        /// What the simulated RTL produced for each vector, in order (from `NAME_out.txt`).
        public let outputs: [LUnitOutput]
        public let log: String
        public let seconds: Double
    }

    /// The Verilog files of slice `name`, in the order both simulators read them.
    static func sources(_ name: String) -> [String] { ["", "_datapath", "_storage", "_tb"].map { "\(name)\($0).v" } }

    /// Compiles `NAME.v`, `NAME_datapath.v`, `NAME_storage.v` and `NAME_tb.v` of `directory` with
    /// iverilog -g2005 and runs the testbench there.
    public static func icarus(directory: URL, name: String, timeout: Double = 300) throws -> Result {
        let start = Date()
        let vvp = directory.appendingPathComponent("\(name).vvp")
        let paths = sources(name).map { directory.appendingPathComponent($0).path }
        try EDATools.runChecked("iverilog", ["-g2005", "-o", vvp.path, "-s", "\(name)_tb"] + paths, timeout: timeout)
        let r = try EDATools.runChecked("vvp", ["-n", vvp.path], in: directory, timeout: timeout)
        return try result("iverilog", r.output, directory: directory, name: name, seconds: Date().timeIntervalSince(start))
    }

    /// Builds the same four files with Verilator (`--binary`, timing on: the testbench's clock and
    /// delays) into `directory/obj_NAME` and runs the executable there.
    public static func verilator(directory: URL, name: String, timeout: Double = 600) throws -> Result {
        let start = Date()
        try EDATools.runChecked("verilator", ["--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-j", "2",
                                              "--top-module", "\(name)_tb", "-Mdir", "obj_\(name)"] + sources(name),
                                in: directory, timeout: timeout)
        let exe = directory.appendingPathComponent("obj_\(name)/V\(name)_tb").path
        let r = try EDATools.runChecked(exe, [], in: directory, timeout: timeout)
        return try result("verilator", r.output, directory: directory, name: name, seconds: Date().timeIntervalSince(start))
    }

    static func result(_ simulator: String, _ output: String, directory: URL, name: String, seconds: Double) throws -> Result {
        let lines = output.split(separator: "\n").map(String.init)
        let relevant = lines.filter { $0.hasPrefix("PASS ") || $0.hasPrefix("FAIL ") || $0.hasPrefix("MISMATCH ") }
        guard relevant.contains(where: { $0.hasPrefix("PASS \(name):") || $0.hasPrefix("FAIL \(name):") }) else {
            throw RTLError.verificationFailed("testbench \(name)_tb printed neither PASS nor FAIL:\n\(EDATools.tail(output, lines: 20))")
        }
        return Result(simulator: simulator, passed: relevant.contains { $0.hasPrefix("PASS \(name):") },
                      outputs: try readOutputs(directory.appendingPathComponent("\(name)_out.txt")),
                      log: relevant.joined(separator: "\n"), seconds: seconds)
    }

    /// Lines "max_exp vsum dot res" in hex, as the testbench writes them.
    static func readOutputs(_ url: URL) throws -> [LUnitOutput] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw RTLError.io("cannot read \(url.path)") }
        return try text.split(separator: "\n").map { line in
            let f = line.split(separator: " ").compactMap { UInt32($0, radix: 16) }
            guard f.count == 4 else { throw RTLError.verificationFailed("\(url.lastPathComponent): bad output line '\(line)'") }
            return LUnitOutput(maxExp: Int(f[0]), vsum: Int32(bitPattern: f[1]), dot: Int32(bitPattern: f[2]), resBits: f[3])
        }
    }
}
