import Foundation
import Hummingbird
import TensorLog
import TensorLogAPI
import TensorLogCompute
import TensorLogInterop

/// Training jobs and inference, run next to the data.
extension TensorLogServer {
    func addComputeRoutes(to router: Router<BasicRequestContext>) {
        router.post("/v1/jobs") { request, _ in
            let training = try await self.decode(TrainingRequest.self, from: request)
            try training.validate()
            try RequestLimits.check(training)
            let snapshot = self.store.snapshot()
            for key in [training.data, training.labels, training.series].compactMap({ $0 }) where !snapshot.contains(key) {
                throw APIError.notFound("no tensor '\(key)' in the store")
            }
            let store = self.store
            let status = try self.jobs.start(kind: training.model.rawValue, request: training) { control, report in
                let outcome = try training.run(store: store, control: control, progress: report)
                return ["model": training.save, "epochs_completed": String(outcome.epochsCompleted)]
            }
            return try jsonResponse(status, status: .accepted)
        }
        router.get("/v1/jobs") { _, _ in
            try jsonResponse(JobList(jobs: self.jobs.list()))
        }
        router.get("/v1/jobs/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let status = self.jobs.status(id) else { throw APIError.notFound("no job '\(id)'") }
            return try jsonResponse(status)
        }
        router.delete("/v1/jobs/:id") { _, context in
            try jsonResponse(try self.jobs.cancel(try context.parameters.require("id")), status: .accepted)
        }
        router.get("/v1/jobs/:id/events") { _, context in
            let events = try self.jobs.follow(try context.parameters.require("id"))
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                for await event in events {
                    var line = try APIJSON.encoder.encode(event.line)
                    line.append(UInt8(ascii: "\n"))
                    try await writer.write(ByteBuffer(bytes: line))
                }
                try await writer.finish(nil)
            })
        }
        router.post("/v1/infer") { request, _ in
            let body = try await self.decode(InferRequest.self, from: request)
            return try jsonResponse(try await runBlocking { try self.infer(body) })
        }
        router.post("/v1/predict") { request, _ in
            try await self.predict(request)
        }
        router.post("/v1/eval") { request, _ in
            let body = try await self.decode(EvalRequest.self, from: request)
            return try jsonResponse(try await runBlocking { try self.evaluate(body) })
        }
        router.post("/v1/forecast") { request, _ in
            let body = try await self.decode(ForecastRequest.self, from: request)
            guard (1...10_000).contains(body.steps) else { throw APIError.invalid("steps must be from 1 to 10000, got \(body.steps)") }
            let predictions = try await runBlocking {
                try Forecaster.forecast(store: self.store, model: body.model, series: body.series, steps: body.steps)
            }
            return try jsonResponse(ForecastResult(model: body.model, series: body.series, predictions: predictions))
        }
    }

    /// A JSON body of at most `maxJSONBytes`.
    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let body = try await request.body.collect(upTo: configuration.maxJSONBytes)
        return try APIJSON.decoder.decode(type, from: Data(buffer: body))
    }

    func infer(_ body: InferRequest) throws -> InferResult {
        let batchSize = body.batchSize ?? 4096
        guard batchSize > 0 else { throw APIError.invalid("batch_size must be positive") }
        try RequestLimits.checkBatchSize(batchSize)
        guard (body.data == nil) != (body.series == nil) else { throw APIError.invalid("give exactly one of data and series") }
        let kind = try StoredModel.kind(store.snapshot(), model: body.model)
        let rows: Int, seconds: Double
        if kind == "lstm" {
            guard let series = body.series else { throw APIError.invalid("'\(body.model)' is an lstm forecaster: give series, not data") }
            guard body.probabilities != true else { throw APIError.invalid("probabilities is for classifiers; '\(body.model)' is an lstm forecaster") }
            let clock = ContinuousClock()
            let start = clock.now
            rows = try Forecaster.predict(store: store, model: body.model, series: series, output: body.output, batchSize: min(batchSize, 1024))
            seconds = (clock.now - start) / .seconds(1)
        } else {
            guard let data = body.data else { throw APIError.invalid("'\(body.model)' is a \(kind) model: give data, not series") }
            let summary = try Inference.predict(
                store: store, model: body.model, data: data, output: body.output, batchSize: batchSize, probabilities: body.probabilities ?? false)
            rows = summary.rows
            seconds = summary.seconds
        }
        if case .everyWrite = configuration.durability { try store.sync() }
        let info = try store.snapshot().info(body.output)
        return InferResult(
            model: body.model, output: body.output, rows: rows, dtype: info.dtype.name, shape: info.shape, seconds: seconds,
            rowsPerSecond: seconds > 0 ? Double(rows) / seconds : 0)
    }

    /// `POST /v1/predict?model=M`: predictions returned as a `.npy` body (int32 classes [N], or
    /// float32 [N] / [N, K]), for the rows in the request body (a `.npy` or `.safetensors` file), or
    /// with `data=KEY` (and optionally `rows=a:b`) for rows of a stored data set. Nothing is stored.
    func predict(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        guard let model = query["model"].map(String.init) else { throw APIError.invalid("give the model's key as ?model=") }
        let probabilities = query["probabilities"] == "true"
        let batchSize = try integerParameter(query, "batch_size", default: 4096, range: 1...RequestLimits.maxBatchSize)
        let predictions: Predictions
        if let data = query["data"].map(String.init) {
            let snapshot = store.snapshot()
            let info = try snapshot.info(data)
            let rows = try rowRange(query["rows"], info: info) ?? 0..<(info.shape.first ?? 1)
            predictions = try await runBlocking {
                let tensor = try snapshot.read(data, rows: rows)
                return try tensor.bytes.withBytes { bytes in
                    try Inference.predict(
                        store: self.store, model: model, dtype: tensor.dtype, shape: tensor.shape, bytes: bytes, batchSize: batchSize,
                        probabilities: probabilities)
                }
            }
        } else {
            let declared = request.headers[.contentLength].flatMap { Int($0) }
            let spooled = try await SpooledBody.receive(
                request.body, declaredLength: declared, limit: configuration.maxBodyBytes, directory: spoolDirectory)
            predictions = try await runBlocking {
                let (description, _, bytes) = try spooled.tensor(name: query["name"].map(String.init))
                return try Inference.predict(
                    store: self.store, model: model, dtype: description.dtype, shape: description.shape, bytes: bytes, batchSize: batchSize,
                    probabilities: probabilities)
            }
        }
        var buffer: ByteBuffer
        switch predictions {
        case .classes(let classes):
            buffer = ByteBuffer(bytes: try NPY.header(for: TensorDescription(dtype: .int32, shape: [classes.count])))
            classes.withUnsafeBytes { _ = buffer.writeBytes($0) }
        case .values(let values, let width):
            let rows = width > 0 ? values.count / width : 0
            buffer = ByteBuffer(bytes: try NPY.header(for: TensorDescription(dtype: .float32, shape: width == 1 ? [rows] : [rows, width])))
            values.withUnsafeBytes { _ = buffer.writeBytes($0) }
        }
        return Response(status: .ok, headers: TensorFormat.npy.headers, body: .init(byteBuffer: buffer))
    }

    func evaluate(_ body: EvalRequest) throws -> EvalResult {
        let batchSize = body.batchSize ?? 4096
        guard batchSize > 0 else { throw APIError.invalid("batch_size must be positive") }
        try RequestLimits.checkBatchSize(batchSize)
        let kind = try StoredModel.kind(store.snapshot(), model: body.model)
        guard kind != "lstm" else {
            throw APIError.invalid("'\(body.model)' is an lstm forecaster: eval scores classifiers and regressors")
        }
        let result = try Evaluation.evaluate(store: store, model: body.model, data: body.data, labels: body.labels, batchSize: batchSize)
        return EvalResult(
            model: body.model, task: result.task.rawValue, rows: result.rows, accuracy: result.accuracy, loss: result.crossEntropy,
            mse: result.meanSquaredError)
    }
}

/// Upper bounds on the sizes a request chooses. The compute code allocates buffers of
/// `batch_size` rows and `hidden` widths up front, so without them one request could overflow
/// a size computation or ask for terabytes, and either stops the whole server process.
enum RequestLimits {
    static let maxBatchSize = 65_536
    static let maxHiddenWidth = 4096
    static let maxLayers = 8
    static let maxWindow = 65_536
    /// Rows an lstm predicts per window; like the window, at most 65,536 (its batch of predictions is also
    /// bounded: `batch_size` x `horizon` at most `maxBatchUnits`).
    static let maxHorizon = 65_536
    /// Rows x window x hidden units of one batch, which bounds the activations a job keeps.
    static let maxBatchUnits = 1 << 26

    static func checkBatchSize(_ size: Int) throws {
        guard size <= maxBatchSize else { throw APIError.invalid("batch_size must be at most \(maxBatchSize) (the server's limit), got \(size)") }
    }

    static func check(_ training: TrainingRequest) throws {
        if let size = training.batchSize { try checkBatchSize(size) }
        if let hidden = training.hidden {
            guard hidden.count <= maxLayers else { throw APIError.invalid("hidden has \(hidden.count) widths; the server's limit is \(maxLayers)") }
            if let widest = hidden.max(), widest > maxHiddenWidth {
                throw APIError.invalid("hidden widths must be at most \(maxHiddenWidth) (the server's limit), got \(widest)")
            }
        }
        if let layers = training.layers, layers > maxLayers {
            throw APIError.invalid("layers must be at most \(maxLayers) (the server's limit), got \(layers)")
        }
        if let window = training.window, window > maxWindow {
            throw APIError.invalid("window must be at most \(maxWindow) (the server's limit), got \(window)")
        }
        if let horizon = training.horizon {
            guard horizon <= maxHorizon else { throw APIError.invalid("horizon must be at most \(maxHorizon) (the server's limit), got \(horizon)") }
            let predictions = training.effectiveBatchSize * horizon
            guard predictions <= maxBatchUnits else {
                throw APIError.invalid(
                    "batch_size x horizon is \(predictions), above the server's limit of \(maxBatchUnits); use a smaller batch_size")
            }
        }
        let units = training.effectiveBatchSize * (training.window ?? 1) * max(1, training.hiddenWidths.reduce(0, +))
        guard units <= maxBatchUnits else {
            throw APIError.invalid(
                "batch_size x window x hidden units is \(units), above the server's limit of \(maxBatchUnits); use a smaller batch_size")
        }
    }
}
