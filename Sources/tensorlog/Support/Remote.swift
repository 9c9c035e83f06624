import Foundation
import TensorLogAPI
import TensorLogClient

/// Commands that run against a server when STORE is a URL (or `--remote URL` is given).
let remoteCommands: Set<String> = ["ls", "get", "import", "export", "stat", "train", "infer", "eval", "history", "rm"]

/// Rewrites `--remote URL` into the STORE position (right after the command name), so that
/// `tensorlog get --remote http://h:8676 model/w` parses as `tensorlog get http://h:8676 model/w`.
/// `--token-file PATH` sets the token for that server and `--ca-file PATH` the certificates an https
/// server is checked against (else TENSORLOG_TOKEN and TENSORLOG_CA_FILE).
func rewritingRemoteOption(_ arguments: [String]) throws -> [String] {
    guard let command = arguments.first, remoteCommands.contains(command) else {
        if let command = arguments.first, command != "serve", arguments.contains("--remote") {
            throw CLIError("'tensorlog \(command)' works on a local store directory; --remote is for \(remoteCommands.sorted().joined(separator: ", "))",
                           status: ExitStatus.usage)
        }
        return arguments
    }
    var rest = Array(arguments.dropFirst())
    var url: String?
    var index = 0
    while index < rest.count {
        let argument = rest[index]
        if argument == "--" { break }
        if argument == "--remote" || argument == "--token-file" || argument == "--ca-file" {
            guard index + 1 < rest.count else { throw CLIError("\(argument) needs a value", status: ExitStatus.usage) }
            switch argument {
            case "--remote": url = rest[index + 1]
            case "--token-file": RemoteSettings.tokenFile = rest[index + 1]
            default: RemoteSettings.caFile = rest[index + 1]
            }
            rest.removeSubrange(index...(index + 1))
        } else if argument.hasPrefix("--remote=") {
            url = String(argument.dropFirst("--remote=".count))
            rest.remove(at: index)
        } else if argument.hasPrefix("--token-file=") {
            RemoteSettings.tokenFile = String(argument.dropFirst("--token-file=".count))
            rest.remove(at: index)
        } else if argument.hasPrefix("--ca-file=") {
            RemoteSettings.caFile = String(argument.dropFirst("--ca-file=".count))
            rest.remove(at: index)
        } else {
            index += 1
        }
    }
    guard let url else {
        // STORE given as a URL directly: the token and CA options still apply to it.
        return [command] + rest
    }
    guard isRemote(url) else { throw CLIError("--remote \(url): expected an http:// or https:// URL", status: ExitStatus.usage) }
    return [command, url] + rest
}

/// Whether a STORE argument names a server.
func isRemote(_ store: String) -> Bool {
    store.hasPrefix("http://") || store.hasPrefix("https://")
}

/// Set once by `rewritingRemoteOption`, before any command runs.
enum RemoteSettings {
    nonisolated(unsafe) static var tokenFile: String?
    nonisolated(unsafe) static var caFile: String?
}

/// A client of the server at `url`, with the token from --token-file or TENSORLOG_TOKEN.
func remoteClient(_ url: String) throws -> TensorLogClient {
    var token = ProcessInfo.processInfo.environment["TENSORLOG_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    if let path = RemoteSettings.tokenFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read --token-file \(path)") }
        token = text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    do {
        let caFile = RemoteSettings.caFile ?? ProcessInfo.processInfo.environment["TENSORLOG_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        return try TensorLogClient(baseURL: url, token: token, caFile: caFile)
    } catch let error as RemoteError {
        throw CLIError(error.message, status: ExitStatus.usage)
    }
}

/// Runs async client calls from a command, turning server errors into one-line CLI errors.
func remote<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    do {
        return try runAsync(body)
    } catch let error as RemoteError {
        let status = error.code == "corruption" ? ExitStatus.damage : ExitStatus.failure
        throw CLIError(error.description, status: status)
    }
}

/// Prints an API value as the server sends it (snake_case JSON).
func printAPIJSON(_ value: some Encodable) throws {
    let data = try APIJSON.encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}
