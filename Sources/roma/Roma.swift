import ArgumentParser

@main
struct Roma: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roma",
        abstract: "ROMA: a ROM-based LLM accelerator, in software.",
        subcommands: [GenerateCommand.self, ChatCommand.self, TokenizeCommand.self, InspectCommand.self, EvalCommand.self, BenchCommand.self, CompileCommand.self, TuneCommand.self, GoldenCommand.self, ChipCommand.self, AdapterCommand.self, SRAMCommand.self, SimCommand.self, RTLCommand.self]
    )
}
