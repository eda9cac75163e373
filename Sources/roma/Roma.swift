import ArgumentParser
import Foundation
import ROMANumerics

@main
struct Roma: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roma",
        abstract: "ROMA: a ROM-based LLM accelerator, in software.",
        subcommands: [GenerateCommand.self, ChatCommand.self, TokenizeCommand.self, InspectCommand.self, EvalCommand.self, BenchCommand.self, CompileCommand.self, TuneCommand.self, FinetuneCommand.self, GoldenCommand.self, ChipCommand.self, AdapterCommand.self, SRAMCommand.self, SimCommand.self, RTLCommand.self, ServeCommand.self]
    )

    /// Parses the command line (usage errors as ArgumentParser prints them) and runs the command; any
    /// other error is one line on stderr, "error: <what went wrong>", and exit code 1.
    static func main() async {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do { _ = try KernelPath.fromEnvironment() } catch {   // a forced kernel path this CPU cannot run, or no path at all
            writeStderr("error: \(error)\n")
            Foundation.exit(1)
        }
        do {
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let e as ValidationError {
            writeStderr("error: \(e.message)\n")
            Foundation.exit(1)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            exit(withError: error)   // help, exit codes, clean exits: as ArgumentParser prints them
        } catch {
            let hint = (error as? ROMAError).flatMap { (command as? HintingCommand)?.hint(for: $0.code) }
            writeStderr("error: \(error)" + (hint.map { "; " + $0 } ?? "") + "\n")
            Foundation.exit(1)
        }
    }
}

/// A command that tells the user which of its flags helps with a kind of library error (the libraries'
/// messages never name flags).
protocol HintingCommand {
    func hint(for code: ErrorCode) -> String?
}
