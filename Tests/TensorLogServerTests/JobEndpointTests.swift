import Foundation
import Testing
import TensorLog
import TensorLogAPI
import TensorLogClient
import TensorLogInterop
import TensorLogServer

/// Three well-separated blobs in 4 dimensions: features [n, 4] float32, labels [n] int64.
func storeBlobs(_ store: TensorStore, rows: Int = 600, seed: UInt64 = 1) throws {
    var generator = SeededGenerator(seed: seed)
    var features: [Float] = []
    var labels: [Int64] = []
    for row in 0..<rows {
        let label = row % 3
        for column in 0..<4 {
            let center: Float = column == label ? 4 : 0
            features.append(center + Float.random(in: -1...1, using: &generator))
        }
        labels.append(Int64(label))
    }
    try store.put("blobs/x", features, shape: [rows, 4])
    try store.put("blobs/y", labels)
}

func softmaxRequest(epochs: Int, save: String = "models/blobs") -> TrainingRequest {
    var request = TrainingRequest(model: .softmax, save: save)
    request.data = "blobs/x"
    request.labels = "blobs/y"
    request.epochs = epochs
    request.batchSize = 32
    request.lr = 0.05
    request.optimizer = .sgd
    return request
}

/// Polls until the job has reported at least one epoch.
func waitForFirstEpoch(_ client: TensorLogClient, _ id: String) async throws {
    for _ in 0..<1000 {
        if try await !client.job(id).epochs.isEmpty { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw ServerTestFailure("job \(id) reported no epoch in 10 s")
}

@Suite("Training jobs and inference over HTTP")
struct JobEndpointTests {
    @Test("a training job runs next to the data, reports every epoch, and its model evaluates and predicts through the API")
    func trainEvaluateInfer() async throws {
        try await withServer { server in
            try storeBlobs(server.store)
            let started = try await server.client.startTraining(softmaxRequest(epochs: 5))
            #expect(started.state == .running)
            var seen: [Int] = []
            let finished = try await server.client.follow(started.id) { seen.append($0.epoch) }
            #expect(finished.state == .succeeded, "\(finished.error ?? "")")
            #expect(seen == [1, 2, 3, 4, 5])
            #expect(finished.epochs.count == 5)
            #expect(finished.epochs.allSatisfy { $0.samples == 600 && $0.loss.isFinite })
            #expect(finished.epochs.last!.loss < finished.epochs.first!.loss)
            #expect(finished.result?["epochs_completed"] == "5")
            #expect(server.store.snapshot().contains("models/blobs/config"))

            let scores = try await server.client.evaluate(EvalRequest(model: "models/blobs", data: "blobs/x", labels: "blobs/y"))
            #expect(scores.task == "classification")
            #expect(scores.rows == 600)
            #expect((scores.accuracy ?? 0) > 0.95)

            let predicted = try await server.client.infer(InferRequest(model: "models/blobs", data: "blobs/x", output: "blobs/predicted"))
            #expect(predicted.rows == 600 && predicted.shape == [600] && predicted.dtype == "int32")
            let classes = try server.store.snapshot().read("blobs/predicted").values(as: Int32.self)
            let labels = try server.store.snapshot().read("blobs/y").values(as: Int64.self)
            let correct = zip(classes, labels).filter { Int64($0) == $1 }.count
            #expect(Double(correct) / 600 == scores.accuracy)
            #expect(try await server.client.jobs().map(\.id) == [started.id])

            // Predictions returned instead of stored: for rows sent in the request, and for stored rows.
            let features = try server.store.snapshot().read("blobs/x", rows: 100..<110)
            let sent = RemoteTensor(description: TensorDescription(dtype: .float32, shape: [10, 4]), bytes: features.bytes)
            let returned = try await server.client.predict(model: "models/blobs", features: sent)
            #expect(returned.description == TensorDescription(dtype: .int32, shape: [10]))
            #expect(returned.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) } == Array(classes[100..<110]))
            let fromStore = try await server.client.predict(model: "models/blobs", data: "blobs/x", rows: 100..<110)
            #expect(fromStore.bytes == returned.bytes)
            let probabilities = try await server.client.predict(model: "models/blobs", data: "blobs/x", probabilities: true)
            #expect(probabilities.description == TensorDescription(dtype: .float32, shape: [600, 3]))
            let sums = floats(probabilities.bytes).chunked3()
            #expect(sums.allSatisfy { abs($0 - 1) < 1e-4 })
            let wrongWidth = RemoteTensor(description: TensorDescription(dtype: .float32, shape: [2, 5]), bytes: [UInt8](repeating: 0, count: 40))
            let refused = await #expect(throws: RemoteError.self) { try await server.client.predict(model: "models/blobs", features: wrongWidth) }
            #expect(refused?.status == 422 && refused?.message.contains("4 features") == true)
        }
    }

    @Test("a cancelled job stops at its next batch and keeps its last epoch's checkpoint, which resume continues")
    func cancelAndResume() async throws {
        try await withServer { server in
            try storeBlobs(server.store)
            let job = try await server.client.startTraining(softmaxRequest(epochs: 100_000))
            try await waitForFirstEpoch(server.client, job.id)
            try await server.client.cancel(job.id)
            let final = try await server.client.follow(job.id)
            #expect(final.state == .cancelled)
            #expect(final.error?.contains("stopped") == true)
            #expect(final.epochs.count < 100_000)
            let epochs = try server.store.history("models/blobs/config").count
            #expect(epochs >= 1)

            var more = softmaxRequest(epochs: 2)
            more.resume = true
            let resumed = try await server.client.follow(try await server.client.startTraining(more).id)
            #expect(resumed.state == .succeeded)
            #expect(resumed.epochs.first!.epoch >= 2)
        }
    }

    @Test("jobs beyond the server's limit are refused with 429 until one ends")
    func jobLimit() async throws {
        try await withServer({ $0.maxJobs = 1 }) { server in
            try storeBlobs(server.store)
            let first = try await server.client.startTraining(softmaxRequest(epochs: 100_000))
            let error = await #expect(throws: RemoteError.self) {
                try await server.client.startTraining(softmaxRequest(epochs: 1, save: "models/second"))
            }
            #expect(error?.status == 429)
            #expect(error?.code == "too_many_jobs")
            try await server.client.cancel(first.id)
            _ = try await server.client.follow(first.id)
            let second = try await server.client.follow(try await server.client.startTraining(softmaxRequest(epochs: 1, save: "models/second")).id)
            #expect(second.state == .succeeded)
        }
    }

    @Test("bad job requests are 4xx errors that name the field; a missing data set is a 404")
    func badJobs() async throws {
        try await withServer { server in
            try storeBlobs(server.store)
            let noModel = try await server.raw(.POST, "/v1/jobs", body: Array(#"{"save": "m"}"#.utf8))
            #expect(noModel.status == 400)
            #expect(LiveServer.errorDetail(noModel.body)?.message.contains("model") == true)
            let wrongType = try await server.raw(.POST, "/v1/jobs", body: Array(#"{"model": "mlp", "save": "m", "epochs": "ten"}"#.utf8))
            #expect(wrongType.status == 400)
            #expect(LiveServer.errorDetail(wrongType.body)?.message.contains("epochs") == true)
            let unknownKind = try await server.raw(.POST, "/v1/jobs", body: Array(#"{"model": "transformer", "save": "m"}"#.utf8))
            #expect(unknownKind.status == 400)
            var noWindow = TrainingRequest(model: .lstm, save: "m")
            noWindow.series = "blobs/x"
            let invalid = await #expect(throws: RemoteError.self) { try await server.client.startTraining(noWindow) }
            #expect(invalid?.status == 400 && invalid?.message.contains("window") == true)
            var missing = softmaxRequest(epochs: 1)
            missing.data = "nope"
            let notFound = await #expect(throws: RemoteError.self) { try await server.client.startTraining(missing) }
            #expect(notFound?.status == 404)
            let noJob = await #expect(throws: RemoteError.self) { try await server.client.job("job-999") }
            #expect(noJob?.status == 404)
            let badEval = await #expect(throws: RemoteError.self) {
                try await server.client.evaluate(EvalRequest(model: "no/model", data: "blobs/x", labels: "blobs/y"))
            }
            #expect(badEval?.status == 422 || badEval?.status == 404)
            #expect(try await server.client.jobs().isEmpty)
        }
    }

    @Test("a forecaster trained over the network forecasts the next rows of a series in its units")
    func forecast() async throws {
        try await withServer { server in
            let rows = 300
            var series: [Float] = []
            for t in 0..<rows { series += [50 + 20 * sin(Float(t) / 8), 30 + 5 * cos(Float(t) / 8)] }
            try await server.client.append("node/util", rows: stride(from: 0, to: series.count, by: 2).map { [Double(series[$0]), Double(series[$0 + 1])] })
            var request = TrainingRequest(model: .lstm, save: "models/util")
            request.series = "node/util"
            request.window = 6
            request.hidden = [16]
            request.epochs = 3
            let job = try await server.client.follow(try await server.client.startTraining(request).id)
            #expect(job.state == .succeeded, "\(job.error ?? "")")
            #expect(job.epochs.allSatisfy { $0.validationLoss != nil })
            let forecast = try await server.client.forecast(ForecastRequest(model: "models/util", series: "node/util", steps: 4))
            #expect(forecast.predictions.count == 4)
            #expect(forecast.predictions.allSatisfy { $0.count == 2 && $0.allSatisfy { $0.isFinite && $0 > 0 && $0 < 100 } })
        }
    }

    @Test("graceful shutdown stops a running job at its next batch; its checkpoint is in the store after reopening")
    func shutdownCheckpointsJobs() async throws {
        try await withServer(afterShutdown: { directory in
            let store = try TensorStore.open(at: directory)
            defer { try? store.close() }
            #expect(store.snapshot().contains("models/blobs/config"))
            #expect(store.snapshot().contains("blobs/x"))
        }) { server in
            try storeBlobs(server.store)
            let job = try await server.client.startTraining(softmaxRequest(epochs: 100_000))
            try await waitForFirstEpoch(server.client, job.id)
            // Returning starts the graceful shutdown while the job runs.
        }
    }
}

extension Array where Element == Float {
    /// Sums of consecutive triples (rows of a [N, 3] matrix).
    func chunked3() -> [Float] {
        stride(from: 0, to: count, by: 3).map { self[$0] + self[$0 + 1] + self[$0 + 2] }
    }
}
