import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import UnixSignals
import TensorLog
import TensorLogSystem

/// One store served over HTTP (the API is docs/openapi.json): tensors, row appends,
/// training jobs and inference run next to the data, so a thin client sends requests
/// and gets results back, never the data set.
///
/// The caller owns the store: it stays open while the server runs and is closed by
/// the caller afterwards (`run()` returns once in-flight requests and jobs have stopped).
public final class TensorLogServer: Sendable {
    public static let version = "0.1.0"

    let store: TensorStore
    let configuration: ServerConfiguration
    let spoolDirectory: String
    let jobs: JobManager
    let appendLock = NIOLock()
    let logger: Logger

    public init(store: TensorStore, configuration: ServerConfiguration, logger: Logger = Logger(label: "tensorlog.serve")) throws {
        guard !store.options.readOnly else {
            throw APIError(.internalServerError, "read_only", "the server needs a writable store")
        }
        if !configuration.isLoopback, configuration.token?.isEmpty ?? true {
            throw APIError(.internalServerError, "token_required",
                           "binding to \(configuration.host) (not loopback) requires a bearer token (--token-file or TENSORLOG_TOKEN)")
        }
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.jobs = JobManager(maxRunning: configuration.maxJobs, logger: logger)
        let spool = configuration.spoolDirectory ?? store.directory + "/.spool"
        if !FileSystem.isDirectory(spool) {
            do { try FileSystem.makeDirectory(spool) } catch { throw storeError(error, "creating the spool directory \(spool)") }
        }
        // Bodies left by a server that stopped mid-upload were never acknowledged.
        for name in (try? FileSystem.list(spool)) ?? [] where name.hasPrefix("body-") {
            try? FileSystem.remove(spool + "/" + name)
        }
        spoolDirectory = spool
    }

    /// The router with every route and middleware (also used by tests without a socket).
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        if let token = configuration.token, !token.isEmpty {
            router.add(middleware: BearerTokenMiddleware(token: token))
        }
        router.add(middleware: RequestTimeoutMiddleware(seconds: configuration.requestSeconds))
        addTensorRoutes(to: router)
        addComputeRoutes(to: router)
        return router
    }

    /// Serves until SIGTERM or SIGINT (or until `shutdown` is triggered), then shuts down
    /// gracefully: stops accepting connections, cancels running jobs at their next batch
    /// (each keeps its last epoch's checkpoint), and lets in-flight requests finish.
    /// Every acknowledged write is already durable (see `ServerConfiguration.durability`).
    public func run(signals: [UnixSignal] = [.sigterm, .sigint], onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await makeServiceGroup(signals: signals, onListening: onListening).run()
    }

    /// The server and its job manager as one service group; `triggerGracefulShutdown()` on it
    /// shuts down as a signal would.
    public func makeServiceGroup(signals: [UnixSignal] = [], onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> ServiceGroup {
        var server = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.idleSeconds))))
        if let tls = configuration.tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
                server = try .tls(server, tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw APIError(.internalServerError, "tls", "cannot use the TLS certificate \(tls.certificateChain) and key \(tls.privateKey): \(error)")
            }
        }
        let application = Application(
            router: makeRouter(),
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tensorlog/\(Self.version)"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        return ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: application),
                    .init(service: jobs),
                ],
                gracefulShutdownSignals: signals,
                logger: logger))
    }
}
