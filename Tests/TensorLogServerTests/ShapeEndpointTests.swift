import Foundation
import Testing
import TensorLog
import TensorLogAPI
import TensorLogClient
import TensorLogInterop
import TensorLogServer

/// A .npy body whose header is written by hand (the interop writer refuses shapes whose rows overflow).
private func handMadeNPY(descr: String, shape: [Int]) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
    while (10 + header.count + 1) % 64 != 0 { header.append(UInt8(ascii: " ")) }
    header.append(UInt8(ascii: "\n"))
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
}

/// Risk covered: an upload with no elements but rows whose size overflows is accepted, and any later
/// download or job on it traps and kills the server (issue 16).
@Suite("Shapes over HTTP: overflowing rows refused at upload; such a stored tensor is an error, the server stays up")
struct ShapeEndpointTests {
    /// The server still answers.
    func expectAlive(_ server: LiveServer) async throws {
        let health = try await server.raw(.GET, "/v1/health")
        #expect(health.status == 200)
    }

    @Test("uploads of .npy and .safetensors with rows that overflow are 400s naming the problem; nothing is stored")
    func uploadRefused() async throws {
        try await withServer { server in
            let json = Array(#"{"z":{"dtype":"F64","shape":[0,4611686018427387904],"data_offsets":[0,0]}}"#.utf8)
            let safetensors = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
            for (path, body) in [
                ("/v1/tensors/z", handMadeNPY(descr: "<f8", shape: [0, 1 << 62])), ("/v1/tensors/z", safetensors),
                ("/v1/tensors/z", handMadeNPY(descr: "|i1", shape: [0, 1 << 62, 2])), ("/v1/append/z", handMadeNPY(descr: "<f8", shape: [0, 1 << 62])),
            ] {
                let response = try await server.raw(path.hasPrefix("/v1/append") ? .POST : .PUT, path, body: body)
                #expect(response.status == 400, "\(path): \(String(decoding: response.body, as: UTF8.self))")
                let detail = LiveServer.errorDetail(response.body)
                #expect(detail?.message.contains("64-bit integer") == true, "\(String(decoding: response.body, as: UTF8.self))")
            }
            #expect(!server.store.snapshot().contains("z"))
            try await expectAlive(server)
        }
    }

    @Test("a tensor of 2^62 empty rows is stored; downloads (npy, safetensors, rows=0:0) are headers only; a job on it fails cleanly")
    func manyEmptyRows() async throws {
        try await withServer { server in
            let put = try await server.raw(.PUT, "/v1/tensors/e", body: handMadeNPY(descr: "<f8", shape: [1 << 62, 0]))
            #expect(put.status == 201, "\(String(decoding: put.body, as: UTF8.self))")
            for (query, shape) in [("", [1 << 62, 0]), ("?rows=0:0", [0, 0]), ("?rows=5:9", [4, 0])] {
                let response = try await server.raw(.GET, "/v1/tensors/e" + query)
                #expect(response.status == 200)
                let (description, data) = try NPY.parse(response.body)
                #expect(description.shape == shape && description.dtype == .float64 && data.isEmpty && data.upperBound == response.body.count, "\(query)")
            }
            let safetensors = try await server.raw(.GET, "/v1/tensors/e?format=safetensors")
            #expect(safetensors.status == 200)
            let (entries, _) = try SafeTensors.parse(safetensors.body)
            #expect(entries.first?.description.shape == [1 << 62, 0])
            var request = TrainingRequest(model: .linear, save: "m")
            request.data = "e"
            request.labels = "e"
            try await expectJobFails(server, request, mentioning: "rows of no values")
            try await expectAlive(server)
        }
    }

    @Test("a store that already holds [0, 2^62] float64 (old or hostile): listed and described; downloads and jobs are errors naming it")
    func alreadyStored() async throws {
        try await withServer(prepare: { directory in
            try HostileStore.writeEmptyTensor(directory, key: "z", dtype: .float64, shape: [0, 1 << 62])
        }) { server in
            let info = try await server.client.info("z")
            #expect(info.shape == [0, 1 << 62])
            for query in ["", "?format=safetensors", "?rows=0:0"] {
                let response = try await server.raw(.GET, "/v1/tensors/z" + query)
                #expect(response.status == 400, "\(query): \(String(decoding: response.body, as: UTF8.self))")
                let message = LiveServer.errorDetail(response.body)?.message ?? ""
                #expect(message.contains("'z'") && message.contains("cannot be read"), "\(query): \(message)")
            }
            var request = TrainingRequest(model: .linear, save: "m")
            request.data = "z"
            request.labels = "z"
            try await expectJobFails(server, request, mentioning: "cannot be read")
            // Inference and evaluation on it, with a model trained on sane data.
            try storeBlobs(server.store)
            let trained = try await server.client.follow(try await server.client.startTraining(softmaxRequest(epochs: 1)).id)
            #expect(trained.state == .succeeded)
            for attempt in 0..<2 {
                do {
                    if attempt == 0 {
                        _ = try await server.client.infer(InferRequest(model: "models/blobs", data: "z", output: "p"))
                    } else {
                        _ = try await server.client.evaluate(EvalRequest(model: "models/blobs", data: "z", labels: "blobs/y"))
                    }
                    Issue.record("\(attempt == 0 ? "infer" : "eval") on 'z' succeeded")
                } catch {
                    #expect("\(error)".contains("cannot be read"), "\(error)")
                }
            }
            try await expectAlive(server)
        }
    }

    /// Starting the job is refused, or the job ends failed, with `words` in the error.
    func expectJobFails(_ server: LiveServer, _ request: TrainingRequest, mentioning words: String) async throws {
        do {
            let started = try await server.client.startTraining(request)
            let finished = try await server.client.follow(started.id)
            #expect(finished.state == .failed && (finished.error ?? "").contains(words), "\(finished.state): \(finished.error ?? "")")
        } catch {
            #expect("\(error)".contains(words), "\(error)")
        }
    }
}
