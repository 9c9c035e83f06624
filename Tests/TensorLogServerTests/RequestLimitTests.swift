import Foundation
import Testing
import TensorLog
import TensorLogAPI
import TensorLogServer

@Suite("Sizes a request chooses are bounded")
struct RequestLimitTests {
    /// Regression: each of these bodies used to stop the whole server process (an arithmetic
    /// overflow or a failed allocation of terabytes in the compute code), taking every client down.
    @Test("huge batch sizes, hidden widths, layers, windows and horizons are a 400, and the server keeps serving")
    func hugeSizesAreRefused() async throws {
        try await withServer { server in
            try storeBlobs(server.store, rows: 90)
            var series: [Float] = []
            for row in 0..<200 { series += [Float(row % 7), Float(row % 5)] }
            try server.store.put("series/load", series, shape: [200, 2])
            let trained = try await server.client.startTraining(softmaxRequest(epochs: 1, save: "models/small"))
            for _ in 0..<2000 {
                if try await server.client.job(trained.id).state != .running { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await server.client.job(trained.id).state == .succeeded)

            let huge = "9223372036854775807"
            let bodies: [(String, String)] = [
                ("/v1/infer", #"{"model": "models/small", "data": "blobs/x", "output": "p", "batch_size": \#(huge)}"#),
                ("/v1/infer", #"{"model": "models/small", "data": "blobs/x", "output": "p", "batch_size": 100000000000}"#),
                ("/v1/eval", #"{"model": "models/small", "data": "blobs/x", "labels": "blobs/y", "batch_size": \#(huge)}"#),
                ("/v1/jobs", #"{"model": "softmax", "save": "m1", "data": "blobs/x", "labels": "blobs/y", "batch_size": \#(huge)}"#),
                ("/v1/jobs", #"{"model": "mlp", "save": "m2", "data": "blobs/x", "labels": "blobs/y", "hidden": [\#(huge)]}"#),
                ("/v1/jobs", #"{"model": "mlp", "save": "m3", "data": "blobs/x", "labels": "blobs/y", "hidden": [100000000000]}"#),
                ("/v1/jobs", #"{"model": "mlp", "save": "m4", "data": "blobs/x", "labels": "blobs/y", "hidden": [1,1,1,1,1,1,1,1,1]}"#),
                ("/v1/jobs", #"{"model": "mlp", "save": "m5", "data": "blobs/x", "labels": "blobs/y", "hidden": [4096, 4096], "batch_size": 65536}"#),
                ("/v1/jobs", #"{"model": "lstm", "save": "m6", "series": "series/load", "window": \#(huge)}"#),
                ("/v1/jobs", #"{"model": "lstm", "save": "m7", "series": "series/load", "window": 2, "layers": 100000000000}"#),
                ("/v1/jobs", #"{"model": "lstm", "save": "m8", "series": "series/load", "window": 65536, "batch_size": 65536}"#),
                ("/v1/jobs", #"{"model": "lstm", "save": "m9", "series": "series/load", "window": 2, "horizon": \#(huge)}"#),
                ("/v1/jobs", #"{"model": "lstm", "save": "m10", "series": "series/load", "window": 2, "horizon": 4096, "batch_size": 65536}"#),
            ]
            for (path, body) in bodies {
                let response = try await server.raw(.POST, path, body: Array(body.utf8), headers: [("Content-Type", "application/json")])
                #expect(response.status == 400, "\(path) \(body)")
                let detail = LiveServer.errorDetail(response.body)
                #expect(detail?.code == "invalid_argument", "\(path) \(body)")
                #expect(detail?.message.contains("server's limit") == true, "\(path) \(body): \(detail?.message ?? "")")
                #expect(try await server.raw(.GET, "/v1/health").status == 200, "the server stopped after \(path) \(body)")
            }
            // Nothing was started, and sizes within the limits still work.
            #expect(try await server.client.jobs().count == 1)
            let scores = try await server.client.evaluate(EvalRequest(model: "models/small", data: "blobs/x", labels: "blobs/y", batchSize: 65536))
            #expect(scores.rows == 90)
        }
    }
}
