import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TensorLog
import TensorLogClient
import TensorLogInterop
import TensorLogServer
@_exported import TensorLogTestSupport

/// A real server on a loopback port (chosen by the kernel) over a fresh store, for one test.
struct LiveServer {
    let client: TensorLogClient
    let store: TensorStore
    let port: Int
    let directory: String

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Sends a raw request; returns status, headers' content type and body bytes.
    func raw(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) async throws
        -> (status: Int, contentType: String?, body: [UInt8])
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 1 << 30)
        return (Int(response.status.code), response.headers.first(name: "content-type"), Array(bytes.readableBytesView))
    }

    /// The `error` object of a JSON error body.
    static func errorDetail(_ body: [UInt8]) -> (code: String, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let error = object["error"] as? [String: Any],
              let code = error["code"] as? String, let message = error["message"] as? String
        else { return nil }
        return (code, message)
    }
}

/// Runs `body` against a live server; shuts it down gracefully and closes the store afterwards.
/// `prepare` gets the store's directory before the server opens (or creates) the store there.
func withServer(
    _ configure: (inout ServerConfiguration) -> Void = { _ in }, name: String = #function,
    prepare: (String) throws -> Void = { _ in }, afterShutdown: (String) throws -> Void = { _ in },
    _ body: (LiveServer) async throws -> Void
) async throws {
    let directory = NSTemporaryDirectory() + "tensorlog-serve-\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var options = StoreOptions()
    options.durability = .none
    try prepare(directory)  // e.g. files of a store the server then opens
    let store = try TensorStore.open(at: directory, options: options)
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.durability = .none
    configure(&configuration)
    let server = try TensorLogServer(store: store, configuration: configuration)
    let (ports, announce) = AsyncStream<Int>.makeStream()
    let group = try server.makeServiceGroup { port in announce.yield(port) }
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ServerTestFailure("the server did not start") }
        let client = try TensorLogClient(baseURL: "http://127.0.0.1:\(port)", token: configuration.token)
        let live = LiveServer(client: client, store: store, port: port, directory: directory)
        do {
            try await body(live)
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
    try store.close()
    try afterShutdown(directory)
}

struct ServerTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Random float32 values as a remote tensor of `shape`.
func randomTensor(_ shape: [Int], seed: UInt64) -> RemoteTensor {
    var generator = SeededGenerator(seed: seed)
    let count = shape.reduce(1, *)
    let values = (0..<count).map { _ in Float.random(in: -10...10, using: &generator) }
    return RemoteTensor(description: TensorDescription(dtype: .float32, shape: shape), bytes: values.withUnsafeBytes { Array($0) })
}

func floats(_ bytes: [UInt8]) -> [Float] {
    bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}
