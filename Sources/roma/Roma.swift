import ArgumentParser

@main
struct Roma: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roma",
        abstract: "ROMA: a ROM-based LLM accelerator, in software.",
        subcommands: [InspectCommand.self, SimCommand.self, RTLCommand.self]
    )
}
