import Foundation
import Hummingbird
import HummingbirdCore
import TensorLog
import TensorLogAPI
import TensorLogInterop

/// Tensors over HTTP: list, describe, download (whole or a row range, streamed), upload,
/// append rows, delete, history.
extension TensorLogServer {
    func addTensorRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v1/health") { _, _ in
            try jsonResponse(HealthResult(status: "ok", version: TensorLogServer.version))
        }
        router.get("/v1/stat") { _, _ in
            try jsonResponse(self.storeSummary())
        }
        router.get("/v1/tensors") { request, _ in
            try jsonResponse(try self.list(request.uri.queryParameters))
        }
        router.get("/v1/tensors/**") { request, _ in
            try await self.download(request)
        }
        router.put("/v1/tensors/**") { request, _ in
            try await self.upload(request, append: false)
        }
        router.post("/v1/append/**") { request, _ in
            try await self.upload(request, append: true)
        }
        router.delete("/v1/tensors/**") { request, _ in
            let key = try tensorKey(request, after: "/v1/tensors/")
            let durability = self.configuration.durability
            let sequence = try await runBlocking { try self.store.delete(key, options: WriteOptions(durability: durability)) }
            return try jsonResponse(WriteResult(key: key, sequence: sequence, tensor: nil))
        }
        router.get("/v1/info/**") { request, _ in
            let key = try tensorKey(request, after: "/v1/info/")
            return try jsonResponse(TensorSummary(try self.store.snapshot().info(key)))
        }
        router.get("/v1/history/**") { request, _ in
            let key = try tensorKey(request, after: "/v1/history/")
            let versions = try await runBlocking { try self.store.history(key) }
            guard !versions.isEmpty else { throw APIError.notFound("no versions of '\(key)' in the store") }
            return try jsonResponse(HistoryResult(key: key, versions: versions.map {
                VersionSummary(
                    sequence: $0.sequence, deleted: $0.isDeletion, dtype: $0.dtype?.name, shape: $0.shape, blocks: $0.blockCount,
                    segment: $0.location.segment, offset: UInt64($0.location.offset))
            }))
        }
    }

    func storeSummary() -> StoreSummary {
        let statistics = store.statistics()
        return StoreSummary(
            keys: statistics.keys, sequence: statistics.sequence, segments: statistics.segments.count,
            totalBytes: statistics.totalBytes, storedBytes: statistics.storedBytes, rawBytes: statistics.rawBytes,
            deadBytes: statistics.segments.reduce(0) { $0 + $1.deadBytes }, compressionRatio: statistics.compressionRatio)
    }

    /// Keys in order, a page at a time: `prefix`, `limit` (1 to 10,000, default 1,000), `after` (the last key of the previous page).
    func list(_ query: FlatDictionary<Substring, Substring>) throws -> TensorList {
        let prefix = query["prefix"].map(String.init) ?? ""
        let limit = try integerParameter(query, "limit", default: 1000, range: 1...10_000)
        let after = query["after"].map(String.init)
        let snapshot = store.snapshot()
        var keys = snapshot.keys(prefix: prefix)[...]
        if let after {
            // Keys are sorted by their UTF-8 bytes, as the store lists them.
            let start = keys.firstIndex { $0.utf8.lexicographicallyPrecedes(after.utf8) == false && $0 != after } ?? keys.endIndex
            keys = keys[start...]
        }
        let page = keys.prefix(limit)
        let summaries = try page.map { key in TensorSummary(try snapshot.info(key)) }
        return TensorList(tensors: summaries, next: page.count < keys.count ? page.last : nil)
    }

    /// `GET /v1/tensors/{key}`: the tensor as a `.npy` (default) or `.safetensors` body, streamed
    /// in pieces of about 1 MiB straight from the mapped (or decoded) blocks of one snapshot.
    /// `rows=a:b` selects rows along axis 0; `version=N` an older version (read whole).
    func download(_ request: Request) async throws -> Response {
        let key = try tensorKey(request, after: "/v1/tensors/")
        let query = request.uri.queryParameters
        let format = try TensorFormat(query["format"])
        let snapshot = store.snapshot()
        if let version = query["version"] {
            guard let sequence = UInt64(version) else { throw APIError.invalid("version must be a sequence number, got '\(version)'") }
            guard query["rows"] == nil else { throw APIError.invalid("rows and version cannot be combined") }
            let tensor = try await runBlocking { try self.store.read(key, version: sequence) }
            let header = try format.header(name: key, dtype: tensor.dtype, shape: tensor.shape, metadata: tensor.metadata)
            var buffer = ByteBuffer(bytes: header)
            buffer.writeBytes(tensor.bytes)
            return Response(status: .ok, headers: format.headers, body: .init(byteBuffer: buffer))
        }
        let info = try snapshot.info(key)
        let rows = try rowRange(query["rows"], info: info)
        var shape = info.shape
        if let rows { shape[0] = rows.count }
        // Overflow-checked: a stored shape whose rows overflow (an old or hostile file) is an error, not a trap.
        let rowBytes = try info.rowBytes()
        let rowRange = rows ?? 0..<(info.shape.first ?? 1)
        let (dataBytes, overflow) = rowRange.count.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw APIError.invalid("rows \(rowRange) of '\(key)' have more bytes than fit in a 64-bit integer") }
        let header = try format.header(name: key, dtype: info.dtype, shape: shape, metadata: rows == nil ? info.metadata : [:])
        let pieces = Self.pieces(of: rowRange, rowBytes: rowBytes)
        let scalar = info.shape.isEmpty
        let body = ResponseBody(contentLength: header.count + dataBytes) { writer in
            try await writer.write(ByteBuffer(bytes: header))
            for piece in pieces {
                // Read (decoding, checksumming each block once per snapshot) straight into the buffer NIO sends.
                let buffer = try await runBlocking {
                    if scalar { return ByteBuffer(bytes: try snapshot.read(key).bytes) }
                    var buffer = ByteBufferAllocator().buffer(capacity: piece.bytes)
                    try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: piece.bytes) { pointer in
                        try snapshot.read(key, rows: piece.rows, into: UnsafeMutableRawBufferPointer(rebasing: pointer[0..<piece.bytes]))
                        return piece.bytes
                    }
                    return buffer
                }
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: format.headers, body: body)
    }

    /// Row ranges of about `target` bytes (at least one row each).
    static func pieces(of rows: Range<Int>, rowBytes: Int, target: Int = 1 << 20) -> [(rows: Range<Int>, bytes: Int)] {
        guard rowBytes > 0 else { return rows.isEmpty ? [] : [(rows, 0)] }
        let step = max(1, target / rowBytes)
        return stride(from: rows.lowerBound, to: rows.upperBound, by: step).map { start in
            let end = min(start + step, rows.upperBound)
            return (start..<end, (end - start) * rowBytes)
        }
    }

    /// `PUT /v1/tensors/{key}` and `POST /v1/append/{key}`: the body (a `.npy` or `.safetensors`
    /// file, or JSON rows for an append) is spooled to disk, then written to the store in one
    /// write, so the new version appears whole or not at all.
    func upload(_ request: Request, append: Bool) async throws -> Response {
        let key = try tensorKey(request, after: append ? "/v1/append/" : "/v1/tensors/")
        let query = request.uri.queryParameters
        var blockBytes: Int?
        if let text = query["block_bytes"] {
            guard let value = Int(text), value > 0 else { throw APIError.invalid("block_bytes must be a positive integer, got '\(text)'") }
            blockBytes = value
        }
        let options = WriteOptions(
            durability: configuration.durability, compression: try compressionParameter(query["compression"]), blockBytes: blockBytes)
        if append, request.headers[.contentType]?.hasPrefix("application/json") == true {
            let body = try await request.body.collect(upTo: configuration.maxJSONBytes)
            let rows = try APIJSON.decoder.decode(JSONRows.self, from: Data(buffer: body))
            let sequence = try await runBlocking { try self.appendJSONRows(key, rows, options: options) }
            return try writeResponse(key: key, sequence: sequence, status: .ok)
        }
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        let spooled = try await SpooledBody.receive(
            request.body, declaredLength: declared, limit: configuration.maxBodyBytes, directory: spoolDirectory)
        let name = query["name"].map(String.init)
        let sequence: UInt64 = try await runBlocking {
            let (description, metadata, data) = try spooled.tensor(name: name)
            if append {
                guard metadata.isEmpty else { throw APIError.invalid("appended rows cannot carry metadata (the body's __metadata__ is not empty)") }
                return try self.appendRows(key, dtype: description.dtype, shape: description.shape, bytes: data, options: options)
            }
            var putOptions = options
            putOptions.metadata = metadata
            return try self.store.put(key, dtype: description.dtype, shape: description.shape, bytes: data, options: putOptions)
        }
        return try writeResponse(key: key, sequence: sequence, status: append ? .ok : .created)
    }

    private func writeResponse(key: String, sequence: UInt64, status: HTTPResponse.Status) throws -> Response {
        let info = try? store.snapshot().info(key)
        return try jsonResponse(WriteResult(key: key, sequence: sequence, tensor: info.map(TensorSummary.init)), status: status)
    }

    /// Appends rows, starting the series with a put when the key does not exist yet.
    /// One lock makes "does it exist, then put" atomic among appenders.
    func appendRows(_ key: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, options: WriteOptions) throws -> UInt64 {
        guard !shape.isEmpty else { throw APIError.invalid("appended rows need rank >= 1; the body holds a scalar") }
        return try appendLock.withLock {
            if store.snapshot().contains(key) {
                return try store.append(key, dtype: dtype, shape: shape, bytes: bytes, options: options)
            }
            return try store.put(key, dtype: dtype, shape: shape, bytes: bytes, options: options)
        }
    }

    /// JSON rows converted to the stored dtype (float32 for a new series).
    func appendJSONRows(_ key: String, _ body: JSONRows, options: WriteOptions) throws -> UInt64 {
        guard !body.rows.isEmpty else { throw APIError.invalid("'rows' is empty") }
        var values: [Double] = []
        var width: Int?
        for (index, row) in body.rows.enumerated() {
            let rowValues: [Double]
            switch row {
            case .scalar(let value): rowValues = [value]
            case .values(let list): rowValues = list
            }
            let isScalar = if case .scalar = row { true } else { false }
            let rowWidth = isScalar ? 0 : rowValues.count
            guard width == nil || width == rowWidth else {
                throw APIError.invalid("rows[\(index)] has \(rowWidth) values; rows[0] has \(width!)")
            }
            width = rowWidth
            values += rowValues
        }
        let shape = width! == 0 ? [body.rows.count] : [body.rows.count, width!]
        let existing = try? store.snapshot().info(key)
        let dtype = existing?.dtype ?? .float32
        let bytes = try NumberConversion.encode(values, as: dtype)
        return try bytes.withBytes { buffer in
            try appendRows(key, dtype: dtype, shape: shape, bytes: buffer, options: options)
        }
    }
}

/// The two tensor body formats, both read by Python with one call
/// (`numpy.load(io.BytesIO(body))`, `safetensors.numpy.load(body)`).
enum TensorFormat: String {
    case npy
    case safetensors

    init(_ parameter: Substring?) throws {
        guard let parameter else { self = .npy; return }
        guard let format = TensorFormat(rawValue: String(parameter)) else {
            throw APIError.invalid("format must be npy or safetensors, got '\(parameter)'")
        }
        self = format
    }

    var headers: HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = self == .npy ? "application/x-npy" : "application/x-safetensors"
        return fields
    }

    /// Everything before the data: `.npy` header, or the safetensors length and JSON
    /// (one tensor named `name`, its metadata as `__metadata__`).
    func header(name: String, dtype: DType, shape: [Int], metadata: [String: String]) throws -> [UInt8] {
        let description = TensorDescription(dtype: dtype, shape: shape)
        switch self {
        case .npy: return try NPY.header(for: description)
        case .safetensors: return try SafeTensors.header(for: [(name, description)], metadata: metadata).header
        }
    }
}

/// The key named by the rest of the path after `prefix`, percent-decoded (so `a%2Fb` and `a/b` are the same key).
func tensorKey(_ request: Request, after prefix: String) throws -> String {
    let path = request.uri.path
    guard path.hasPrefix(prefix) else { throw APIError.notFound("no route for \(path)") }
    let raw = path.dropFirst(prefix.count)
    guard let key = String(raw).removingPercentEncoding else { throw APIError.invalid("the key in the path is not valid percent-encoded UTF-8") }
    guard !key.isEmpty else { throw APIError.invalid("the path names no key") }
    return key
}

func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let bytes = try APIJSON.encoder.encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

func integerParameter(_ query: FlatDictionary<Substring, Substring>, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
    guard let text = query[Substring(name)] else { return value }
    guard let parsed = Int(text), range.contains(parsed) else {
        throw APIError.invalid("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
    }
    return parsed
}

func compressionParameter(_ text: Substring?) throws -> Compression? {
    guard let text else { return nil }
    switch text {
    case "none": return Compression.none
    case "lz4": return .lz4
    case "shuffle-lz4": return .shuffleLZ4
    case "auto": return .auto
    default: throw APIError.invalid("compression must be none, lz4, shuffle-lz4 or auto, got '\(text)'")
    }
}

/// `a:b`, `a:` or `:b` rows along axis 0, checked against the tensor.
func rowRange(_ text: Substring?, info: TensorInfo) throws -> Range<Int>? {
    guard let text else { return nil }
    guard let rows = info.shape.first else { throw APIError.invalid("'\(info.key)' is a scalar; it has no rows") }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2 else { throw APIError.invalid("rows must be start:end, got '\(text)'") }
    let start = parts[0].isEmpty ? 0 : Int(parts[0])
    let end = parts[1].isEmpty ? rows : Int(parts[1])
    guard let start, let end, 0 <= start, start <= end, end <= rows else {
        throw APIError.invalid("rows '\(text)' is not a range within 0:\(rows) of '\(info.key)'")
    }
    return start..<end
}
