import Foundation
import TensorLog
import TensorLogInterop

/// Exit statuses of every command (docs/CLI.md, "Exit status").
enum ExitStatus {
    /// Done; for `verify`, the store is healthy.
    static let success: Int32 = 0
    /// Damage: `verify` found a problem, or a command met corrupt bytes in the store.
    static let damage: Int32 = 1
    /// Any other failure: missing store, unknown key, bad input file, I/O error, locked store.
    static let failure: Int32 = 2
    /// The command line itself is wrong (unknown option, missing argument, bad value): sysexits' EX_USAGE.
    static let usage: Int32 = 64
}

/// An error the command line reports as one line on stderr.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var status: Int32

    init(_ message: String, status: Int32 = ExitStatus.failure) {
        self.message = message
        self.status = status
    }

    var description: String { message }

    /// A store error, with its exit status (corruption is damage).
    init(_ error: TensorLogError, context: String? = nil) {
        let status: Int32 = if case .corruption = error.code { ExitStatus.damage } else { ExitStatus.failure }
        self.init(context.map { "\($0): \(error.message)" } ?? error.message, status: status)
    }

    /// An input file error: `file: npy: byte 8: ...`.
    init(_ error: InteropError, file: String) {
        self.init("\(file): \(error.message)")
    }
}

/// Ends the process with `status` after the command printed its own report and one stderr line.
struct ExitWithStatus: Error {
    var status: Int32
}

/// Prints `tensorlog: error: MESSAGE` on stderr, newlines folded so it stays one line.
func printErrorLine(_ message: String) {
    let oneLine = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }.joined(separator: "; ")
    writeStderr("tensorlog: error: \(oneLine)\n")
}

/// Prints `tensorlog: note: MESSAGE` on stderr (for things that are not errors).
func printNote(_ message: String) {
    writeStderr("tensorlog: note: \(message)\n")
}

func writeStderr(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Runs `body`, turning store and file-format errors into `CLIError`s.
func reporting<R>(_ context: String? = nil, _ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as TensorLogError {
        throw CLIError(error, context: context)
    }
}
