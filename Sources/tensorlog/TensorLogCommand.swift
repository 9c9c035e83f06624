import ArgumentParser
import Foundation
import TensorLog

/// The `tensorlog` command line: inspect, check and move data in and out of a TensorLog store.
@main
struct TensorLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensorlog",
        abstract: "Inspect, check, import into and export from TensorLog tensor stores.",
        discussion: """
            A store is a directory of append-only segment files. Read-only commands (ls, stat, dump, get, \
            history, verify, export) open it without locking, so they can run beside a writer.

            Start with `tensorlog demo`, then:
              tensorlog ls demo-store
              tensorlog stat demo-store
              tensorlog get demo-store model/w1 --slice 0:2

            Exit status: 0 success (verify: healthy); 1 damage found (verify, or corrupt bytes met by any \
            command); 2 any other error (missing store, unknown key, bad input file...); 64 bad command line. \
            Errors print one line on stderr: `tensorlog: error: ...`. See docs/CLI.md.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Import.self, Export.self, Ls.self, Get.self, Stat.self, Dump.self, History.self,
            Rm.self, Compact.self, Verify.self, Salvage.self, Train.self, Infer.self, Eval.self, Serve.self, Demo.self,
        ]
    )

    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot(try rewritingRemoteOption(Array(CommandLine.arguments.dropFirst())))
        } catch let error as CLIError {
            printErrorLine(error.message)
            Foundation.exit(error.status)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let text = message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
            printErrorLine("\(text) (see '\(helpCommand()) --help')")
            Foundation.exit(ExitStatus.usage)
        }
        do {
            try command.run()
        } catch let error as CLIError {
            printErrorLine(error.message)
            Foundation.exit(error.status)
        } catch let error as ExitWithStatus {
            Foundation.exit(error.status)
        } catch let error as TensorLogError {
            let failure = CLIError(error)
            printErrorLine(failure.message)
            Foundation.exit(failure.status)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            printErrorLine(message(for: error))
            Foundation.exit(code == .validationFailure ? ExitStatus.usage : ExitStatus.failure)
        }
        Foundation.exit(ExitStatus.success)
    }

    /// `tensorlog` or `tensorlog SUBCOMMAND`, for the hint after a usage error.
    private static func helpCommand() -> String {
        let arguments = CommandLine.arguments.dropFirst()
        let names = configuration.subcommands.map { $0._commandName }
        if let first = arguments.first, names.contains(first) { return "tensorlog \(first)" }
        return "tensorlog"
    }
}
