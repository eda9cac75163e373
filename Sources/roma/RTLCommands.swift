import ArgumentParser

/// `roma rtl ...` — standard ROM and B-ROM Verilog generation (owned by the RTL work).
struct RTLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rtl", abstract: "Generate and verify ROM / B-ROM Verilog.")
}
