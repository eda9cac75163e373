import ArgumentParser

@main
struct Roma: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roma",
        abstract: "ROMA: a ROM-based LLM accelerator, in software.",
        subcommands: [SimCommand.self, RTLCommand.self]
    )
}
