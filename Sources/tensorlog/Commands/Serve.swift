import ArgumentParser
import Foundation
import TensorLog
import TensorLogServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a store over HTTP: tensors, row appends, training jobs and inference next to the data.",
        discussion: """
            The API is described in docs/openapi.json and docs/SERVER.md. Tensor bodies are .npy (default) or \
            .safetensors files, streamed both ways. Binding to anything but loopback requires a bearer token, \
            read from --token-file or the TENSORLOG_TOKEN environment variable; clients send \
            'Authorization: Bearer <token>'; off this machine serve HTTPS (--tls-cert, --tls-key) so the token \
            cannot be read on the way. SIGTERM or SIGINT shuts down gracefully: no new connections, \
            running jobs stop at their next batch (keeping their last epoch's checkpoint), in-flight requests \
            finish, and the store is closed with every write synced.

            Examples:
              tensorlog serve my-store
              TENSORLOG_TOKEN=$(cat token) tensorlog serve my-store --host 0.0.0.0 --port 8676
              tensorlog ls --remote http://127.0.0.1:8676
            """
    )

    enum DurabilityChoice: String, ExpressibleByArgument, CaseIterable {
        case sync, group, none
    }

    @OptionGroup var target: StoreArgument
    @Option(help: ArgumentHelp("Address to listen on (127.0.0.1, ::1, 0.0.0.0, a host name).", valueName: "address"))
    var host = "127.0.0.1"
    @Option(help: ArgumentHelp("TCP port (0: any free port, printed at start).", valueName: "port")) var port = 8676
    @Option(help: ArgumentHelp("File holding the bearer token (else TENSORLOG_TOKEN).", valueName: "path"), completion: .file())
    var tokenFile: String?
    @Option(help: ArgumentHelp("Largest tensor body accepted, in bytes.", valueName: "bytes")) var maxBody = 64 << 30
    @Option(help: ArgumentHelp("Training jobs running at once (more are refused with 429).", valueName: "n")) var maxJobs = 2
    @Option(help: ArgumentHelp("Seconds a request may take to start its response (408 after).", valueName: "s")) var requestTimeout = 600
    @Option(help: ArgumentHelp("Seconds a connection may stay idle before it is closed.", valueName: "s")) var idleTimeout = 120
    @Option(help: ArgumentHelp(
        "When writes over the network are acknowledged: sync (after fsync: survives a crash), group (group commit) or none.",
        valueName: "mode"))
    var durability: DurabilityChoice = .sync
    @Option(help: ArgumentHelp("Directory for request bodies in transit (default: STORE/.spool).", valueName: "path"))
    var spoolDir: String?
    @Option(help: ArgumentHelp("Serve HTTPS with this PEM certificate chain (with --tls-key).", valueName: "path"), completion: .file())
    var tlsCert: String?
    @Option(help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "path"), completion: .file())
    var tlsKey: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard maxBody > 0 else { throw ValidationError("--max-body must be positive") }
        guard maxJobs > 0 else { throw ValidationError("--max-jobs must be positive") }
        guard requestTimeout > 0, idleTimeout > 0 else { throw ValidationError("timeouts must be positive") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.token = try readToken()
        configuration.maxBodyBytes = maxBody
        configuration.maxJobs = maxJobs
        configuration.requestSeconds = requestTimeout
        configuration.idleSeconds = idleTimeout
        configuration.spoolDirectory = spoolDir
        if let tlsCert, let tlsKey { configuration.tls = (tlsCert, tlsKey) }
        configuration.durability = switch durability {
        case .sync: .everyWrite
        case .group: .groupCommit(bytes: 8 << 20, milliseconds: 100)
        case .none: .none
        }
        var options = StoreOptions()
        options.create = false
        options.durability = .groupCommit(bytes: 8 << 20, milliseconds: 100)
        let store = try reporting { try TensorStore.open(at: target.store, options: options) }
        let server: TensorLogServer
        do {
            server = try TensorLogServer(store: store, configuration: configuration)
        } catch let error as APIError {
            try? store.close()
            throw CLIError(error.message)
        }
        let where_ = "\(target.store)"
        let secured = configuration.token == nil ? "no token: loopback only" : "bearer token required"
        let host = host.contains(":") ? "[\(host)]" : host
        let scheme = configuration.tls == nil ? "http" : "https"
        do {
            try runAsync {
                try await server.run { port in
                    print("serving \(where_) on \(scheme)://\(host):\(port) (\(secured)); SIGINT or SIGTERM stops")
                    fflush(nil)
                }
            }
        } catch let error as APIError {
            try? store.close()
            throw CLIError(error.message)
        } catch {
            try? store.close()
            throw CLIError("serving \(target.store): \(error)")
        }
        try closeStore(store)
        print("stopped; store closed")
    }

    /// The token from --token-file (trimmed of surrounding white space) or TENSORLOG_TOKEN.
    private func readToken() throws -> String? {
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else { throw CLIError("cannot read --token-file \(tokenFile)") }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw CLIError("--token-file \(tokenFile) is empty") }
            return token
        }
        if let token = ProcessInfo.processInfo.environment["TENSORLOG_TOKEN"], !token.isEmpty { return token }
        return nil
    }
}
