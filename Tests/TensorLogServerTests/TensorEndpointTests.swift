import Foundation
import Testing
import TensorLog
import TensorLogAPI
import TensorLogClient
import TensorLogInterop
import TensorLogServer

@Suite("Tensors over HTTP")
struct TensorEndpointTests {
    @Test("a put tensor comes back byte for byte, whole and as row ranges, and is listed, described and versioned")
    func roundTrip() async throws {
        try await withServer { server in
            let tensor = randomTensor([300, 7], seed: 1)
            let written = try await server.client.put("data/x", tensor)
            #expect(written.tensor?.shape == [300, 7])
            #expect(written.tensor?.dtype == "float32")

            let fetched = try await server.client.get("data/x")
            #expect(fetched.description == tensor.description)
            #expect(fetched.bytes == tensor.bytes)

            let rows = try await server.client.get("data/x", rows: 10..<25)
            #expect(rows.description.shape == [15, 7])
            #expect(rows.bytes == Array(tensor.bytes[(10 * 28)..<(25 * 28)]))

            // The store itself holds what the server acknowledged.
            #expect(try server.store.snapshot().read("data/x").bytes == tensor.bytes)

            let second = randomTensor([2, 7], seed: 2)
            try await server.client.put("data/x", second)
            let history = try await server.client.history("data/x")
            #expect(history.versions.count == 2)
            #expect(history.versions[0].shape == [2, 7])
            let old = try await server.client.get("data/x", version: history.versions[1].sequence)
            #expect(old.bytes == tensor.bytes)

            try await server.client.put("other", randomTensor([3], seed: 3))
            let listed = try await server.client.list(prefix: "data/")
            #expect(listed.tensors.map(\.key) == ["data/x"])
            #expect(try await server.client.info("data/x").shape == [2, 7])
            #expect(try await server.client.stat().keys == 2)
        }
    }

    @Test("a download is a .npy or .safetensors file that the format's reader accepts, with metadata")
    func downloadFormats() async throws {
        try await withServer { server in
            let values: [Int32] = Array(0..<24)
            try server.store.put("grid", values, shape: [2, 3, 4], options: WriteOptions(metadata: ["unit": "cm"]))
            let npy = try await server.raw(.GET, "/v1/tensors/grid")
            #expect(npy.status == 200)
            #expect(npy.contentType == "application/x-npy")
            let (description, range) = try NPY.parse(npy.body)
            #expect(description == TensorDescription(dtype: .int32, shape: [2, 3, 4]))
            #expect(Array(npy.body[range]) == values.withUnsafeBytes { Array($0) })

            let safetensors = try await server.raw(.GET, "/v1/tensors/grid?format=safetensors")
            let (entries, metadata) = try SafeTensors.parse(safetensors.body)
            #expect(entries.count == 1 && entries[0].name == "grid")
            #expect(metadata == ["unit": "cm"])
        }
    }

    @Test("a tensor larger than many streaming pieces arrives whole through files on both sides")
    func largeTensorThroughFiles() async throws {
        try await withServer { server in
            let tensor = randomTensor([1 << 20, 6], seed: 4)  // 24 MiB
            let npy = server.directory + "-upload.npy"
            let header = try NPY.header(for: tensor.description)
            try Data(header + tensor.bytes).write(to: URL(fileURLWithPath: npy))
            defer { try? FileManager.default.removeItem(atPath: npy) }
            let result = try await server.client.put("big", file: npy, compression: "lz4")
            #expect(result.tensor?.shape == [1 << 20, 6])

            let out = server.directory + "-download.npy"
            defer { try? FileManager.default.removeItem(atPath: out) }
            let written = try await server.client.download("big", to: out)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
            #expect(written == bytes.count)
            let (description, range) = try NPY.parse(bytes)
            #expect(description == tensor.description)
            #expect(Array(bytes[range]) == tensor.bytes)
            // Nothing is left in the spool directory once the upload is in the store.
            let spool = try FileManager.default.contentsOfDirectory(atPath: server.directory + "/.spool")
            #expect(spool.isEmpty)
        }
    }

    @Test("keys with slashes, dots, percent signs and non-ASCII letters are keys, never paths")
    func keysAreNotPaths() async throws {
        try await withServer { server in
            for key in ["../../etc/passwd", "a/./b", "100%/x?y#z", "modèle/poids", "/leading"] {
                try await server.client.put(key, randomTensor([2], seed: 5))
                #expect(try await server.client.get(key).description.shape == [2], "key \(key)")
                #expect(server.store.snapshot().contains(key), "key \(key)")
            }
            // A raw slash in the path names the same key as %2F.
            let raw = try await server.raw(.GET, "/v1/info/a/./b")
            #expect(raw.status == 200 || raw.status == 404)  // clients may normalise dot segments; the server never does
            let encoded = try await server.raw(.GET, "/v1/info/a%2F.%2Fb")
            #expect(encoded.status == 200)
            // Keys the store refuses (not NFC) are a 400 that says why.
            let decomposed = "mode\u{300}le"
            let refused = try await server.raw(.PUT, "/v1/tensors/" + decomposed.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                                               body: try NPY.header(for: TensorDescription(dtype: .uint8, shape: [1])) + [7])
            #expect(refused.status == 400)
            #expect(LiveServer.errorDetail(refused.body)?.message.contains("normalization form C") == true)
        }
    }

    @Test("rows appended over the network, as JSON or .npy, grow the series; the first append creates it")
    func appendRows() async throws {
        try await withServer { server in
            let first = try await server.client.append("node/util", rows: [[10, 20], [11, 21]])
            #expect(first.tensor?.shape == [2, 2])
            #expect(first.tensor?.dtype == "float32")
            let more = RemoteTensor(description: TensorDescription(dtype: .float32, shape: [3, 2]), bytes: [Float](repeating: 5, count: 6).withUnsafeBytes { Array($0) })
            let second = try await server.client.append("node/util", more)
            #expect(second.tensor?.shape == [5, 2])
            let series = floats(try await server.client.get("node/util").bytes)
            #expect(series == [10, 20, 11, 21, 5, 5, 5, 5, 5, 5])

            await #expect(throws: RemoteError.self) { try await server.client.append("node/util", rows: [[1, 2, 3]]) }
            let ragged = try await server.raw(.POST, "/v1/append/node/util", body: Array(#"{"rows": [[1, 2], [3]]}"#.utf8),
                                              headers: [("Content-Type", "application/json")])
            #expect(ragged.status == 400)
            #expect(LiveServer.errorDetail(ragged.body)?.message.contains("rows[1]") == true)
            // The failed appends changed nothing.
            #expect(try server.store.snapshot().info("node/util").shape == [5, 2])
        }
    }

    @Test("deleting removes the key; a missing key is a 404 with a JSON error")
    func deleteAndMissing() async throws {
        try await withServer { server in
            try await server.client.put("gone", randomTensor([4], seed: 6))
            try await server.client.delete("gone")
            #expect(!server.store.snapshot().contains("gone"))
            let missing = try await server.raw(.GET, "/v1/tensors/gone")
            #expect(missing.status == 404)
            #expect(missing.contentType == "application/json")
            #expect(LiveServer.errorDetail(missing.body)?.code == "not_found")
            let noRoute = try await server.raw(.GET, "/v2/nothing")
            #expect(noRoute.status == 404)
            #expect(LiveServer.errorDetail(noRoute.body) != nil)
        }
    }

    @Test("malformed bodies and parameters get a 400 naming the problem, and nothing is stored")
    func badInput() async throws {
        try await withServer { server in
            let garbage = try await server.raw(.PUT, "/v1/tensors/x", body: Array("not a tensor at all".utf8))
            #expect(garbage.status == 400)
            #expect(LiveServer.errorDetail(garbage.body)?.code == "bad_body")

            var truncated = try NPY.header(for: TensorDescription(dtype: .float32, shape: [10]))
            truncated += [UInt8](repeating: 0, count: 12)
            let short = try await server.raw(.PUT, "/v1/tensors/x", body: truncated)
            #expect(short.status == 400)
            #expect(LiveServer.errorDetail(short.body)?.message.contains("truncated") == true)

            let empty = try await server.raw(.PUT, "/v1/tensors/x", body: [])
            #expect(empty.status == 400)
            #expect(!server.store.snapshot().contains("x"))

            try await server.client.put("t", randomTensor([10, 2], seed: 7))
            for query in ["rows=5:50", "rows=7:3", "rows=abc", "format=hdf5", "version=x"] {
                let response = try await server.raw(.GET, "/v1/tensors/t?" + query)
                #expect(response.status == 400, "\(query)")
                #expect(LiveServer.errorDetail(response.body)?.code == "invalid_argument", "\(query)")
            }
            let badLimit = try await server.raw(.GET, "/v1/tensors?limit=0")
            #expect(badLimit.status == 400)
        }
    }

    @Test("a body over the size limit is refused with 413 and leaves the store unchanged")
    func bodyLimit() async throws {
        try await withServer({ $0.maxBodyBytes = 1000 }) { server in
            let big = try NPY.header(for: TensorDescription(dtype: .float32, shape: [1000])) + [UInt8](repeating: 0, count: 4000)
            let response = try await server.raw(.PUT, "/v1/tensors/big", body: big)
            #expect(response.status == 413)
            #expect(LiveServer.errorDetail(response.body)?.code == "body_too_large")
            #expect(!server.store.snapshot().contains("big"))
        }
    }

    @Test("a server with a token refuses requests without it (but answers the health check)")
    func bearerToken() async throws {
        try await withServer({ $0.token = "s3cret-token" }) { server in
            let none = try await server.raw(.GET, "/v1/tensors")
            #expect(none.status == 401)
            #expect(LiveServer.errorDetail(none.body)?.code == "unauthorized")
            let wrong = try await server.raw(.GET, "/v1/tensors", headers: [("Authorization", "Bearer s3cret-tokem")])
            #expect(wrong.status == 401)
            let right = try await server.raw(.GET, "/v1/tensors", headers: [("Authorization", "Bearer s3cret-token")])
            #expect(right.status == 200)
            #expect(try await server.raw(.GET, "/v1/health").status == 200)
            // The client sends its token.
            try await server.client.put("k", randomTensor([1], seed: 8))
        }
    }

    @Test("binding to a non-loopback address without a token is refused at start")
    func tokenRequiredOffLoopback() throws {
        let directory = NSTemporaryDirectory() + "tensorlog-serve-token-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try TensorStore.open(at: directory)
        defer { try? store.close() }
        var configuration = ServerConfiguration()
        configuration.host = "0.0.0.0"
        #expect(throws: APIError.self) { try TensorLogServer(store: store, configuration: configuration) }
        configuration.token = "t"
        _ = try TensorLogServer(store: store, configuration: configuration)
    }

    @Test("many clients reading and writing at once all succeed and see whole tensors")
    func concurrentClients() async throws {
        try await withServer { server in
            let shared = randomTensor([5000, 8], seed: 9)
            try await server.client.put("shared", shared)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for round in 0..<5 {
                            let fetched = try await server.client.get("shared")
                            #expect(fetched.bytes == shared.bytes)
                            let mine = randomTensor([10, 8], seed: UInt64(100 + worker * 10 + round))
                            try await server.client.put("w\(worker)/r\(round)", mine)
                            #expect(try await server.client.get("w\(worker)/r\(round)").bytes == mine.bytes)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await server.client.listAll().count == 1 + 16 * 5)
        }
    }
}
