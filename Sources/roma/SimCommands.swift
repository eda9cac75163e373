import ArgumentParser

/// `roma sim ...` — performance / area / power model (owned by the simulator work).
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sim", abstract: "Performance, area and power model of the ROMA chip.")
}
