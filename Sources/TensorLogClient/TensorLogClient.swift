import AsyncHTTPClient
import Foundation
import NIOCore
import NIOConcurrencyHelpers
import NIOHTTP1
import NIOSSL
import TensorLogAPI
import TensorLogFormat
import TensorLogInterop

/// A tensor fetched from a server: its description, metadata and bytes (little-endian, row-major).
public struct RemoteTensor: Sendable, Equatable {
    public var description: TensorDescription
    public var metadata: [String: String]
    public var bytes: [UInt8]

    public init(description: TensorDescription, metadata: [String: String] = [:], bytes: [UInt8]) {
        self.description = description
        self.metadata = metadata
        self.bytes = bytes
    }
}

/// An error the server answered with (its JSON error body), or a transport failure.
public struct RemoteError: Error, Sendable, CustomStringConvertible {
    /// HTTP status (0 when no response arrived).
    public let status: Int
    public let code: String
    public let message: String

    public var description: String { status == 0 ? message : "\(message) (HTTP \(status), \(code))" }
}

/// A client of `tensorlog serve` (the API in docs/openapi.json). Bodies of tensors are streamed
/// both ways; nothing here holds more than a chunk of a file in memory unless asked for a tensor's bytes.
public final class TensorLogClient: Sendable {
    public let baseURL: String
    let token: String?
    let timeout: TimeAmount
    let http: HTTPClient

    /// - Parameters:
    ///   - baseURL: `http://host:port` or `https://host:port` of the server.
    ///   - token: the bearer token, when the server requires one.
    ///   - timeoutSeconds: the longest a request may take, from start to its last byte.
    ///   - caFile: a PEM file of certificates to trust for `https` (e.g. a self-signed server's own
    ///     certificate) instead of the system's roots.
    public init(baseURL: String, token: String? = nil, timeoutSeconds: Int64 = 3600, caFile: String? = nil) throws {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw RemoteError(status: 0, code: "bad_url", message: "'\(baseURL)' is not an http:// or https:// URL of a server")
        }
        self.baseURL = base
        self.token = token
        self.timeout = .seconds(timeoutSeconds)
        self.http = try caFile.map(Self.httpClient(trusting:)) ?? HTTPClient.shared
    }

    /// One HTTP client per CA file, kept for the life of the process (like `HTTPClient.shared`).
    private static let clientsByCAFile = NIOLockedValueBox<[String: HTTPClient]>([:])

    private static func httpClient(trusting caFile: String) throws -> HTTPClient {
        try clientsByCAFile.withLockedValue { clients in
            if let client = clients[caFile] { return client }
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw RemoteError(status: 0, code: "bad_ca_file", message: "cannot read certificates from \(caFile): \(error)")
            }
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            clients[caFile] = client
            return client
        }
    }

    // MARK: Store

    public func health() async throws -> HealthResult { try await getJSON("/v1/health") }

    public func stat() async throws -> StoreSummary { try await getJSON("/v1/stat") }

    /// One page of keys under `prefix`, after `after`.
    public func list(prefix: String = "", limit: Int = 1000, after: String? = nil) async throws -> TensorList {
        var query = [("prefix", prefix), ("limit", String(limit))]
        if let after { query.append(("after", after)) }
        return try await getJSON("/v1/tensors", query: query)
    }

    /// Every key under `prefix`, fetched page by page.
    public func listAll(prefix: String = "") async throws -> [TensorSummary] {
        var all: [TensorSummary] = []
        var after: String?
        repeat {
            let page = try await list(prefix: prefix, limit: 10_000, after: after)
            all += page.tensors
            after = page.next
        } while after != nil
        return all
    }

    public func info(_ key: String) async throws -> TensorSummary { try await getJSON("/v1/info/" + Self.encode(key)) }

    public func history(_ key: String) async throws -> HistoryResult { try await getJSON("/v1/history/" + Self.encode(key)) }

    /// The tensor (or `rows` of it) in memory.
    public func get(_ key: String, rows: Range<Int>? = nil, version: UInt64? = nil) async throws -> RemoteTensor {
        var query: [(String, String)] = []
        if let rows { query.append(("rows", "\(rows.lowerBound):\(rows.upperBound)")) }
        if let version { query.append(("version", String(version))) }
        let response = try await send(.GET, "/v1/tensors/" + Self.encode(key), query: query + [("format", "safetensors")])
        let body = try await response.body.collect(upTo: Int.max)
        let bytes = Array(buffer: body)
        let (entries, metadata) = try SafeTensors.parse(bytes)
        guard entries.count == 1 else { throw RemoteError(status: 0, code: "bad_response", message: "the server sent \(entries.count) tensors") }
        return RemoteTensor(description: entries[0].description, metadata: metadata, bytes: Array(bytes[entries[0].dataRange]))
    }

    /// Streams the tensor (or `rows` of it) into a `.npy` or `.safetensors` file at `path`
    /// (written under a temporary name, renamed when complete). Returns the bytes written.
    @discardableResult
    public func download(_ key: String, to path: String, format: String = "npy", rows: Range<Int>? = nil) async throws -> Int {
        var query = [("format", format)]
        if let rows { query.append(("rows", "\(rows.lowerBound):\(rows.upperBound)")) }
        let response = try await send(.GET, "/v1/tensors/" + Self.encode(key), query: query)
        return try await writeAtomically(path) { handle in
            var written = 0
            for try await buffer in response.body {
                try handle.write(contentsOf: Data(buffer.readableBytesView))
                written += buffer.readableBytes
            }
            return written
        }
    }

    /// Writes a file under a temporary name beside `path` and renames it over `path` once `body` succeeds.
    private func writeAtomically(_ path: String, _ body: (FileHandle) async throws -> Int) async throws -> Int {
        let temporary = path + ".part-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw RemoteError(status: 0, code: "io_error", message: "cannot create \(temporary)")
        }
        do {
            let written = try await body(handle)
            try handle.synchronize()
            try handle.close()
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
            return written
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Stores a tensor as a new version of `key`.
    @discardableResult
    public func put(_ key: String, _ tensor: RemoteTensor, compression: String? = nil) async throws -> WriteResult {
        let body = try Self.safetensorsBody(tensor)
        return try await upload(.PUT, "/v1/tensors/" + Self.encode(key), body: .bytes(ByteBuffer(bytes: body)), compression: compression)
    }

    /// Stores the tensor in a `.npy` or `.safetensors` file (`name` picks one of several), streamed from disk.
    @discardableResult
    public func put(_ key: String, file path: String, name: String? = nil, compression: String? = nil) async throws -> WriteResult {
        try await upload(.PUT, "/v1/tensors/" + Self.encode(key), body: try Self.fileBody(path), compression: compression, name: name)
    }

    /// Stores one tensor whose data is bytes `dataRange` of the file at `path` (a tensor inside a
    /// .npy or .safetensors file), streamed from disk behind a header made here.
    @discardableResult
    public func put(
        _ key: String, file path: String, dataRange: Range<Int>, description: TensorDescription, metadata: [String: String] = [:],
        compression: String? = nil
    ) async throws -> WriteResult {
        let header = try SafeTensors.header(for: [("tensor", description)], metadata: metadata).header
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RemoteError(status: 0, code: "io_error", message: "cannot open \(path)")
        }
        try handle.seek(toOffset: UInt64(dataRange.lowerBound))
        let body = FileChunks(handle: handle, prefix: header, remaining: dataRange.count)
        return try await upload(
            .PUT, "/v1/tensors/" + Self.encode(key), body: .stream(body, length: .known(Int64(header.count + dataRange.count))),
            compression: compression)
    }

    /// Streams several tensors into one `.safetensors` file at `path`, named `names` (default: their keys),
    /// with `metadata` as its `__metadata__`. Returns the bytes written.
    @discardableResult
    public func downloadSafetensors(_ keys: [String], names: [String]? = nil, metadata: [String: String] = [:], to path: String) async throws -> Int {
        var described: [(name: String, description: TensorDescription)] = []
        for (index, key) in keys.enumerated() {
            let info = try await info(key)
            guard let dtype = DType(name: info.dtype) else {
                throw RemoteError(status: 0, code: "bad_response", message: "unknown dtype '\(info.dtype)' of '\(key)'")
            }
            described.append((names?[index] ?? key, TensorDescription(dtype: dtype, shape: info.shape)))
        }
        let (header, ranges) = try SafeTensors.header(for: described, metadata: metadata)
        return try await writeAtomically(path) { handle in
            try handle.write(contentsOf: Data(header))
            var written = header.count
            for (index, key) in keys.enumerated() {
                // Each tensor as .npy; everything after the .npy header is the data.
                let response = try await send(.GET, "/v1/tensors/" + Self.encode(key), query: [("format", "npy")])
                var skipper = NPYHeaderSkipper()
                var data = 0
                for try await buffer in response.body {
                    let payload = try skipper.payload(of: Array(buffer.readableBytesView))
                    try handle.write(contentsOf: Data(payload))
                    data += payload.count
                }
                guard data == ranges[index].count else {
                    throw RemoteError(status: 0, code: "bad_response", message: "'\(key)' changed during the export (\(data) bytes, expected \(ranges[index].count))")
                }
                written += data
            }
            return written
        }
    }

    /// Appends rows (a tensor of rank >= 1) to `key`, which starts as those rows if it does not exist.
    @discardableResult
    public func append(_ key: String, _ rows: RemoteTensor) async throws -> WriteResult {
        try await upload(.POST, "/v1/append/" + Self.encode(key), body: .bytes(ByteBuffer(bytes: try Self.safetensorsBody(rows))))
    }

    /// Appends rows given as numbers (converted to the stored dtype; a new series is float32).
    @discardableResult
    public func append(_ key: String, rows: [[Double]]) async throws -> WriteResult {
        let body = try APIJSON.encoder.encode(JSONRows(rows: rows.map { .values($0) }))
        return try await decode(try await send(.POST, "/v1/append/" + Self.encode(key), body: .bytes(ByteBuffer(bytes: body)), json: true))
    }

    @discardableResult
    public func delete(_ key: String) async throws -> WriteResult {
        try await decode(try await send(.DELETE, "/v1/tensors/" + Self.encode(key)))
    }

    // MARK: Compute

    /// Starts a training job; the model lands in the store under `request.save`.
    public func startTraining(_ request: TrainingRequest) async throws -> JobStatus {
        try await postJSON("/v1/jobs", request)
    }

    public func job(_ id: String) async throws -> JobStatus { try await getJSON("/v1/jobs/" + Self.encode(id)) }

    public func jobs() async throws -> [JobStatus] { (try await getJSON("/v1/jobs") as JobList).jobs }

    /// Asks a job to stop at its next batch (its last epoch's checkpoint stays).
    @discardableResult
    public func cancel(_ id: String) async throws -> JobStatus {
        try await decode(try await send(.DELETE, "/v1/jobs/" + Self.encode(id)))
    }

    /// Follows a job until it ends, calling `onEpoch` for each epoch (past ones first); returns its final status.
    public func follow(_ id: String, onEpoch: (EpochProgress) -> Void = { _ in }) async throws -> JobStatus {
        let response = try await send(.GET, "/v1/jobs/" + Self.encode(id) + "/events")
        var pending: [UInt8] = []
        for try await buffer in response.body {
            pending += buffer.readableBytesView
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(pending[..<newline])
                pending.removeSubrange(...newline)
                let event = try APIJSON.decoder.decode(JobEventLine.self, from: line)
                if let epoch = event.epoch { onEpoch(epoch) }
                if let job = event.job { return job }
            }
        }
        throw RemoteError(status: 0, code: "bad_response", message: "the event stream of \(id) ended before the job did")
    }

    public func infer(_ request: InferRequest) async throws -> InferResult { try await postJSON("/v1/infer", request) }

    /// Predictions of `model` for the rows of `features` ([N, D], any numeric dtype), computed on the
    /// server next to the model and returned: int32 classes [N], or float32 [N] / [N, K].
    public func predict(model: String, features: RemoteTensor, probabilities: Bool = false) async throws -> RemoteTensor {
        let body = try Self.safetensorsBody(features)
        let response = try await send(
            .POST, "/v1/predict", query: [("model", model), ("probabilities", String(probabilities))], body: .bytes(ByteBuffer(bytes: body)))
        return try await Self.npyTensor(response)
    }

    /// Predictions of `model` for `rows` of a stored data set, returned (not stored).
    public func predict(model: String, data: String, rows: Range<Int>? = nil, probabilities: Bool = false) async throws -> RemoteTensor {
        var query = [("model", model), ("data", data), ("probabilities", String(probabilities))]
        if let rows { query.append(("rows", "\(rows.lowerBound):\(rows.upperBound)")) }
        return try await Self.npyTensor(try await send(.POST, "/v1/predict", query: query))
    }

    private static func npyTensor(_ response: HTTPClientResponse) async throws -> RemoteTensor {
        let bytes = Array((try await response.body.collect(upTo: Int.max)).readableBytesView)
        let (description, range) = try NPY.parse(bytes)
        return RemoteTensor(description: description, bytes: Array(bytes[range]))
    }

    public func evaluate(_ request: EvalRequest) async throws -> EvalResult { try await postJSON("/v1/eval", request) }

    public func forecast(_ request: ForecastRequest) async throws -> ForecastResult { try await postJSON("/v1/forecast", request) }

    // MARK: Transport

    private func getJSON<T: Decodable>(_ path: String, query: [(String, String)] = []) async throws -> T {
        try await decode(try await send(.GET, path, query: query))
    }

    private func postJSON<T: Decodable>(_ path: String, _ value: some Encodable) async throws -> T {
        let body = try APIJSON.encoder.encode(value)
        return try await decode(try await send(.POST, path, body: .bytes(ByteBuffer(bytes: body)), json: true))
    }

    private func upload(
        _ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body, compression: String? = nil, name: String? = nil
    ) async throws -> WriteResult {
        var query: [(String, String)] = []
        if let compression { query.append(("compression", compression)) }
        if let name { query.append(("name", name)) }
        return try await decode(try await send(method, path, query: query, body: body))
    }

    private func decode<T: Decodable>(_ response: HTTPClientResponse) async throws -> T {
        let body = try await response.body.collect(upTo: 256 << 20)
        do {
            return try APIJSON.decoder.decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw RemoteError(status: Int(response.status.code), code: "bad_response", message: "unexpected response body: \(error)")
        }
    }

    /// Sends a request; a status of 400 or more becomes a `RemoteError` with the server's message.
    private func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: HTTPClientRequest.Body? = nil, json: Bool = false
    ) async throws -> HTTPClientResponse {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if json { request.headers.add(name: "Content-Type", value: "application/json") }
        request.body = body
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw RemoteError(status: 0, code: "unreachable", message: "\(method) \(url): \(error)")
        }
        guard response.status.code < 400 else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Data($0.readableBytesView) } ?? Data()
            if let error = try? JSONDecoder().decode(APIErrorBody.self, from: bytes) {
                throw RemoteError(status: error.error.status, code: error.error.code, message: error.error.message)
            }
            throw RemoteError(status: Int(response.status.code), code: "http_error", message: "\(method) \(path): \(response.status)")
        }
        return response
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (so `/` in a key becomes `%2F`).
    static func encode(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    static func safetensorsBody(_ tensor: RemoteTensor) throws -> [UInt8] {
        let (header, _) = try SafeTensors.header(for: [("tensor", tensor.description)], metadata: tensor.metadata)
        return header + tensor.bytes
    }

    /// A file streamed in 1 MiB chunks.
    static func fileBody(_ path: String) throws -> HTTPClientRequest.Body {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RemoteError(status: 0, code: "io_error", message: "cannot open \(path)")
        }
        let size = Int(try handle.seekToEnd())
        try handle.seek(toOffset: 0)
        return .stream(FileChunks(handle: handle), length: .known(Int64(size)))
    }
}

/// One line of a job's event stream.
struct JobEventLine: Decodable {
    let event: String
    let epoch: EpochProgress?
    let job: JobStatus?
}

/// `prefix`, then a file's bytes from its current offset (up to `remaining`, or to its end), as 1 MiB `ByteBuffer`s.
struct FileChunks: AsyncSequence, @unchecked Sendable {
    typealias Element = ByteBuffer
    let handle: FileHandle
    var prefix: [UInt8] = []
    /// Bytes still to send; nil: to the end of the file.
    var remaining: Int?

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        var prefix: [UInt8]
        var remaining: Int?

        mutating func next() async throws -> ByteBuffer? {
            if !prefix.isEmpty {
                defer { prefix = [] }
                return ByteBuffer(bytes: prefix)
            }
            let wanted = Swift.min(1 << 20, remaining ?? Int.max)
            guard wanted > 0, let data = try handle.read(upToCount: wanted), !data.isEmpty else {
                try? handle.close()
                if let remaining, remaining > 0 {
                    throw RemoteError(status: 0, code: "io_error", message: "the file ended \(remaining) bytes early")
                }
                return nil
            }
            remaining = remaining.map { $0 - data.count }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle, prefix: prefix, remaining: remaining) }
}

/// Drops the `.npy` header at the start of a stream of chunks, passing the data through.
struct NPYHeaderSkipper {
    private var pending: [UInt8] = []
    private var headerLength: Int?
    private var skipped = false

    mutating func payload(of chunk: [UInt8]) throws -> [UInt8] {
        if skipped { return chunk }
        pending += chunk
        if headerLength == nil, pending.count >= 12 {
            guard Array(pending[0..<6]) == NPY.magic else {
                throw RemoteError(status: 0, code: "bad_response", message: "the server's .npy body has no \\x93NUMPY magic")
            }
            let major = pending[6]
            headerLength = major == 1
                ? 10 + (Int(pending[8]) | (Int(pending[9]) << 8))
                : 12 + (Int(pending[8]) | (Int(pending[9]) << 8) | (Int(pending[10]) << 16) | (Int(pending[11]) << 24))
        }
        guard let headerLength, pending.count >= headerLength else { return [] }
        skipped = true
        defer { pending = [] }
        return Array(pending[headerLength...])
    }
}
