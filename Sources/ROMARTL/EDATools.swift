import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the external open-source EDA tools (Icarus Verilog: `iverilog`, `vvp`; `yosys`) with a
/// timeout, capturing their output. Install them with `scripts/install-eda.sh`.
public enum EDATools {
    /// The output and exit status of one tool run.
    public struct Run: Sendable {
        public let tool: String
        public let status: Int32
        public let output: String
        public let seconds: Double
    }

    /// Throws `toolMissing` for the first of `tools` that is not installed.
    public static func require(_ tools: [String]) throws {
        for tool in tools where locate(tool) == nil { throw RTLError.toolMissing(tool) }
    }

    /// The executable named `tool` on PATH, or nil.
    public static func locate(_ tool: String) -> URL? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? URL(fileURLWithPath: tool) : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let url = URL(fileURLWithPath: String(dir)).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    /// True when iverilog, vvp and yosys are all on PATH.
    public static var available: Bool { ["iverilog", "vvp", "yosys"].allSatisfy { locate($0) != nil } }

    /// Runs `tool args` in `directory`, stdout and stderr together, killing it after `timeout` seconds.
    /// Throws `toolMissing` when it is not on PATH and `toolTimedOut` on timeout; a non-zero exit
    /// status is returned, not thrown (callers decide what failure means).
    public static func run(_ tool: String, _ args: [String], in directory: URL? = nil,
                           timeout: Double) throws -> Run {
        guard let exe = locate(tool) else { throw RTLError.toolMissing(tool) }
        // Output goes to a file, not a pipe, so a chatty tool can never block on a full pipe.
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("roma-\(exe.lastPathComponent)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }

        let p = Process()
        p.executableURL = exe
        p.arguments = args
        if let directory { p.currentDirectoryURL = directory }
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        let start = Date()
        do { try p.run() } catch {
            throw RTLError.io("cannot start \(exe.path): \(error.localizedDescription)")
        }
        let deadline = start.addingTimeInterval(timeout)
        while p.isRunning {
            if Date() > deadline {
                p.terminate()
                let grace = Date().addingTimeInterval(2)
                while p.isRunning && Date() < grace { usleep(20_000) }
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                p.waitUntilExit()
                throw RTLError.toolTimedOut(tool: tool, seconds: timeout)
            }
            usleep(5_000)
        }
        p.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return Run(tool: tool, status: p.terminationStatus, output: output, seconds: Date().timeIntervalSince(start))
    }

    /// Like `run`, but a non-zero exit status throws `toolFailed` with the last lines of output.
    @discardableResult
    static func runChecked(_ tool: String, _ args: [String], in directory: URL? = nil, timeout: Double) throws -> Run {
        let r = try run(tool, args, in: directory, timeout: timeout)
        guard r.status == 0 else {
            throw RTLError.toolFailed(tool: tool, status: r.status, output: tail(r.output, lines: 30))
        }
        return r
    }

    static func tail(_ s: String, lines: Int) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Testbench simulation with Icarus Verilog.
public enum Simulation {
    public struct Result: Codable, Equatable, Sendable {
        public let name: String
        public let passed: Bool
        /// Words the testbench checked and found wrong (from its PASS/FAIL line).
        public let words: Int
        public let wrong: Int
        public let seconds: Double
        /// The testbench's output (PASS/FAIL and up to ten MISMATCH lines).
        public let log: String
    }

    /// Compiles `directory/NAME.v` + `directory/NAME_tb.v` into `work/NAME.vvp` and runs it with the
    /// working directory `directory` (where `$readmemh` finds `NAME.hex`).
    public static func run(directory: URL, name: String, work: URL, timeout: Double = 120) throws -> Result {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let vvp = work.appendingPathComponent("\(name).vvp")
        let start = Date()
        try EDATools.runChecked("iverilog", ["-g2005", "-o", vvp.path, "-s", "\(name)_tb",
                                             directory.appendingPathComponent("\(name).v").path,
                                             directory.appendingPathComponent("\(name)_tb.v").path],
                                timeout: timeout)
        let r = try EDATools.runChecked("vvp", ["-n", vvp.path], in: directory, timeout: timeout)
        let lines = r.output.split(separator: "\n").map(String.init)
        let relevant = lines.filter { $0.hasPrefix("PASS ") || $0.hasPrefix("FAIL ") || $0.hasPrefix("MISMATCH ") }
        let seconds = Date().timeIntervalSince(start)
        // "PASS NAME: 64 words" / "FAIL NAME: 3 of 64 words wrong"
        if let pass = lines.first(where: { $0.hasPrefix("PASS \(name):") }) {
            let n = Int(pass.split(separator: " ")[2]) ?? 0
            return Result(name: name, passed: true, words: n, wrong: 0, seconds: seconds, log: relevant.joined(separator: "\n"))
        }
        if let fail = lines.first(where: { $0.hasPrefix("FAIL \(name):") }) {
            let f = fail.split(separator: " ")
            return Result(name: name, passed: false, words: Int(f[4]) ?? 0, wrong: Int(f[2]) ?? 0,
                          seconds: seconds, log: relevant.joined(separator: "\n"))
        }
        throw RTLError.verificationFailed("testbench \(name)_tb printed neither PASS nor FAIL:\n\(EDATools.tail(r.output, lines: 20))")
    }
}

/// Generic synthesis and formal equivalence with yosys.
public enum Yosys {
    /// Which synthesis flow a cell count comes from.
    public enum Flow: String, Codable, Sendable, CaseIterable {
        /// `synth -flatten -top NAME`: yosys's generic synthesis (coarse + fine optimisation + ABC)
        /// down to its internal gate library ($_AND_, $_OR_, $_NOT_, $_MUX_, ...).
        case generic
        /// `proc; flatten; techmap; opt_clean`: the circuit exactly as written, mapped to the same gate
        /// library without logic optimisation (each k-input OR becomes k-1 two-input ORs).
        case structural

        var script: String {
            switch self {
            case .generic: return "synth -flatten -top %TOP%"
            case .structural: return "hierarchy -top %TOP%; proc; flatten; techmap; opt_clean"
            }
        }
    }

    /// Cell counts of one synthesized design.
    public struct Cells: Codable, Equatable, Sendable {
        public let total: Int
        /// Count per yosys cell type, e.g. "$_OR_": 8206.
        public let byType: [String: Int]
        /// Cells of the address decoder module (`NAME_adec`) synthesized alone with the same flow, when
        /// asked for; `total - decoder` is then the storage array (+ CGens), what Sec. III-C counts.
        public let decoder: Int?
        public let seconds: Double

        /// total - decoder (nil without a decoder count).
        public var array: Int? { decoder.map { total - $0 } }
    }

    /// Synthesizes module `top` of `verilog` with `flow` and returns the cell counts (`stat -json`);
    /// with `decoder`, also synthesizes that module alone and records its cell count.
    public static func cells(verilog: URL, top: String, flow: Flow, work: URL, decoder: String? = nil,
                             timeout: Double = 600) throws -> Cells {
        let main = try synthesize(verilog: verilog, top: top, flow: flow, work: work, timeout: timeout)
        let dec = try decoder.map { try synthesize(verilog: verilog, top: $0, flow: flow, work: work, timeout: timeout) }
        return Cells(total: main.total, byType: main.byType, decoder: dec?.total, seconds: main.seconds + (dec?.seconds ?? 0))
    }

    private static func synthesize(verilog: URL, top: String, flow: Flow, work: URL,
                                   timeout: Double) throws -> (total: Int, byType: [String: Int], seconds: Double) {
        let (modules, seconds) = try stat(script: "read_verilog \(verilog.path); \(flow.script.replacingOccurrences(of: "%TOP%", with: top))",
                                          options: "", json: work.appendingPathComponent("\(top).\(flow.rawValue).stat.json"), timeout: timeout)
        guard let mod = modules[top] as? [String: Any], let total = mod["num_cells"] as? Int else {
            throw RTLError.verificationFailed("cannot read yosys statistics for \(top)")
        }
        let byType = (mod["num_cells_by_type"] as? [String: Int]) ?? [:]
        return (total, byType, seconds)
    }

    /// Runs yosys `script` followed by `stat -json OPTIONS` into `json` and returns the statistics per
    /// module (names without yosys's leading backslash) and yosys's run time.
    private static func stat(script: String, options: String, json: URL, timeout: Double) throws -> (modules: [String: Any], seconds: Double) {
        try FileManager.default.createDirectory(at: json.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: json)
        let r = try EDATools.runChecked("yosys", ["-q", "-p", "\(script); tee -q -o \(json.path) stat -json \(options)"], timeout: timeout)
        // yosys 0.23 prints a design hierarchy line without quotes into the JSON; keep only JSON lines
        let text = (try? String(contentsOf: json, encoding: .utf8)) ?? ""
        let clean = text.split(separator: "\n").filter { $0.contains("\"") || $0.contains("{") || $0.contains("}") }.joined(separator: "\n")
        guard let root = try? JSONSerialization.jsonObject(with: Data(clean.utf8)) as? [String: Any],
              let mods = root["modules"] as? [String: Any] else {
            throw RTLError.verificationFailed("cannot read yosys statistics from \(json.path)")
        }
        return (Dictionary(uniqueKeysWithValues: mods.map { ($0.key.hasPrefix("\\") ? String($0.key.dropFirst()) : $0.key, $0.value) }), r.seconds)
    }

    /// Gate and transistor counts of a synthesized design, module by module (`stat -tech cmos`),
    /// hierarchy kept so that each block of a design is counted on its own.
    public struct CMOSDesign: Codable, Equatable, Sendable {
        public struct Module: Codable, Equatable, Sendable {
            /// Primitive gates and flip-flops of the module itself.
            public let cells: Int
            /// yosys's CMOS estimate for those cells; flip-flops are costed because the flow unmaps
            /// enable and reset flops (`dffunmap`) to D flip-flops and gates first.
            public let transistors: Int
            /// Instances of other modules of the design, by module name.
            public let instances: [String: Int]
        }
        public let top: String
        public let flow: Flow
        public let modules: [String: Module]
        public let seconds: Double

        /// Transistors of `module` with everything it instantiates.
        public func transistors(_ module: String) -> Int {
            guard let m = modules[module] else { return 0 }
            return m.transistors + m.instances.reduce(0) { $0 + $1.value * transistors($1.key) }
        }
        /// Cells of `module` with everything it instantiates.
        public func cells(_ module: String) -> Int {
            guard let m = modules[module] else { return 0 }
            return m.cells + m.instances.reduce(0) { $0 + $1.value * cells($1.key) }
        }
    }

    /// Synthesizes `top` from `files` with `flow` without flattening, unmaps flops with enables
    /// (`dffunmap`), and reads `stat -json -tech cmos` for every module.
    public static func cmos(files: [URL], top: String, flow: Flow, work: URL, timeout: Double = 600) throws -> CMOSDesign {
        // hierarchy kept (each block counted alone); the structural flow maps memories (the SRAM
        // stand-in's register file) to flops and multiplexers too
        let synth = flow == .structural ? "hierarchy -top \(top); proc; memory; techmap; opt_clean" : "synth -top \(top)"
        let (mods, seconds) = try stat(script: files.map { "read_verilog \($0.path); " }.joined() + synth + "; dffunmap",
                                       options: "-tech cmos", json: work.appendingPathComponent("\(top).\(flow.rawValue).cmos.json"),
                                       timeout: timeout)
        var modules: [String: CMOSDesign.Module] = [:]
        for (name, value) in mods {
            guard let m = value as? [String: Any], let cells = m["num_cells"] as? Int,
                  let estimate = m["estimated_num_transistors"] as? String else {
                throw RTLError.verificationFailed("yosys statistics for module \(name) lack cells or a CMOS estimate")
            }
            let byType = (m["num_cells_by_type"] as? [String: Int]) ?? [:]
            let instances = byType.filter { !$0.key.hasPrefix("$") }
            // "N+": N transistors plus cells yosys cannot cost, allowed only for instances of modules
            guard let t = Int(estimate.hasSuffix("+") ? String(estimate.dropLast()) : estimate),
                  estimate.hasSuffix("+") == !instances.isEmpty else {
                throw RTLError.verificationFailed("yosys could not cost every cell of \(name) in CMOS (estimate '\(estimate)', cells \(byType))")
            }
            modules[name] = .init(cells: cells - instances.values.reduce(0, +), transistors: t, instances: instances)
        }
        guard modules[top] != nil else { throw RTLError.verificationFailed("yosys statistics have no module \(top)") }
        return CMOSDesign(top: top, flow: flow, modules: modules, seconds: seconds)
    }

    /// Result of a formal equivalence check.
    public struct Equivalence: Codable, Equatable, Sendable {
        public let gold: String
        public let gate: String
        public let proved: Bool
        public let seconds: Double
    }

    /// Proves that modules `gold` (in `goldFile`) and `gate` (in `gateFile`) compute the same function
    /// for every input: a miter of the two flattened designs, and a SAT proof that its "outputs
    /// differ" assertion can never fire (`miter -equiv -make_assert; sat -verify -prove-asserts`).
    public static func prove(gold: String, in goldFile: URL, gate: String, in gateFile: URL,
                             timeout: Double = 300) throws -> Equivalence {
        let script = "read_verilog \(goldFile.path); read_verilog \(gateFile.path); proc; "
            + "miter -equiv -flatten -make_assert \(gold) \(gate) roma_miter; hierarchy -top roma_miter; "
            + "sat -verify -prove-asserts roma_miter"
        let r = try EDATools.run("yosys", ["-p", script], timeout: timeout)
        let proved = r.status == 0 && r.output.contains("SUCCESS!")
        if !proved, !r.output.contains("proof did fail") {
            throw RTLError.toolFailed(tool: "yosys", status: r.status, output: EDATools.tail(r.output, lines: 30))
        }
        return Equivalence(gold: gold, gate: gate, proved: proved, seconds: r.seconds)
    }
}
