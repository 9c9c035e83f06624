import Foundation

// The JSON bodies of the API (docs/openapi.json), shared by the server and the client.
// Property names are camelCase here and snake_case on the wire (`APIJSON` converts).

/// One tensor as `GET /v1/tensors`, `GET /v1/info/{key}` and write responses describe it.
public struct TensorSummary: Codable, Sendable, Equatable {
    public var key: String
    public var dtype: String
    public var shape: [Int]
    public var version: UInt64
    public var blocks: Int
    public var codecs: [String]
    public var storedBytes: Int
    public var rawBytes: Int
    public var metadata: [String: String]

    public init(key: String, dtype: String, shape: [Int], version: UInt64, blocks: Int, codecs: [String], storedBytes: Int, rawBytes: Int, metadata: [String: String]) {
        self.key = key
        self.dtype = dtype
        self.shape = shape
        self.version = version
        self.blocks = blocks
        self.codecs = codecs
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
        self.metadata = metadata
    }
}

public struct TensorList: Codable, Sendable {
    public var tensors: [TensorSummary]
    /// Pass as `after` to fetch the next page; absent on the last page.
    public var next: String?

    public init(tensors: [TensorSummary], next: String? = nil) {
        self.tensors = tensors
        self.next = next
    }
}

/// The result of a put, append or delete.
public struct WriteResult: Codable, Sendable {
    public var key: String
    public var sequence: UInt64
    /// The tensor after the write (absent after a delete).
    public var tensor: TensorSummary?

    public init(key: String, sequence: UInt64, tensor: TensorSummary? = nil) {
        self.key = key
        self.sequence = sequence
        self.tensor = tensor
    }
}

public struct VersionSummary: Codable, Sendable {
    public var sequence: UInt64
    public var deleted: Bool
    public var dtype: String?
    public var shape: [Int]
    public var blocks: Int
    /// Where the version's first record is: segment id and byte offset.
    public var segment: UInt64
    public var offset: UInt64

    public init(sequence: UInt64, deleted: Bool, dtype: String? = nil, shape: [Int], blocks: Int, segment: UInt64, offset: UInt64) {
        self.sequence = sequence
        self.deleted = deleted
        self.dtype = dtype
        self.shape = shape
        self.blocks = blocks
        self.segment = segment
        self.offset = offset
    }
}

public struct HistoryResult: Codable, Sendable {
    public var key: String
    public var versions: [VersionSummary]

    public init(key: String, versions: [VersionSummary]) {
        self.key = key
        self.versions = versions
    }
}

public struct StoreSummary: Codable, Sendable {
    public var keys: Int
    public var sequence: UInt64
    public var segments: Int
    public var totalBytes: Int
    public var storedBytes: Int
    public var rawBytes: Int
    public var deadBytes: Int
    public var compressionRatio: Double

    public init(keys: Int, sequence: UInt64, segments: Int, totalBytes: Int, storedBytes: Int, rawBytes: Int, deadBytes: Int, compressionRatio: Double) {
        self.keys = keys
        self.sequence = sequence
        self.segments = segments
        self.totalBytes = totalBytes
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
        self.deadBytes = deadBytes
        self.compressionRatio = compressionRatio
    }
}

public struct HealthResult: Codable, Sendable {
    public var status: String
    public var version: String

    public init(status: String, version: String) {
        self.status = status
        self.version = version
    }
}

/// JSON rows for `POST /v1/append/{key}` from devices without numpy:
/// `{"rows": [[1.5, 2.0], [1.7, 2.1]]}` (or `[1.5, 1.7]` for a one-dimensional series).
/// Values are converted to the stored tensor's dtype (a new series is float32).
public struct JSONRows: Codable, Sendable {
    public var rows: [JSONRow]

    public enum JSONRow: Codable, Sendable {
        case scalar(Double)
        case values([Double])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Double.self) { self = .scalar(value) } else { self = .values(try container.decode([Double].self)) }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .scalar(let value): try container.encode(value)
            case .values(let values): try container.encode(values)
            }
        }
    }

    public init(rows: [JSONRow]) {
        self.rows = rows
    }
}

/// The API's JSON spelling: snake_case keys, sorted for stable output.
public enum APIJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// What a job reports after each epoch.
public typealias EpochProgress = TrainingRequest.Progress

/// A job as the API shows it.
public struct JobStatus: Codable, Sendable {
    public enum State: String, Codable, Sendable {
        case running, succeeded, failed, cancelled
    }

    public var id: String
    public var kind: String
    public var state: State
    /// The request that started the job, as sent.
    public var request: TrainingRequest
    public var epochs: [EpochProgress]
    /// Why it failed or was cancelled.
    public var error: String?
    /// What the job produced (the saved model's key and epochs completed) once it succeeded.
    public var result: [String: String]?
    public var createdAt: Double
    public var finishedAt: Double?

    public init(id: String, kind: String, state: State, request: TrainingRequest, epochs: [EpochProgress], error: String? = nil, result: [String: String]? = nil, createdAt: Double, finishedAt: Double? = nil) {
        self.id = id
        self.kind = kind
        self.state = state
        self.request = request
        self.epochs = epochs
        self.error = error
        self.result = result
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}

/// `POST /v1/infer`: predictions for a stored data set (or series), written to the store.
public struct InferRequest: Codable, Sendable {
    public var model: String
    public var data: String?
    public var series: String?
    public var output: String
    public var batchSize: Int?
    public var probabilities: Bool?

    public init(model: String, data: String? = nil, series: String? = nil, output: String, batchSize: Int? = nil, probabilities: Bool? = nil) {
        self.model = model
        self.data = data
        self.series = series
        self.output = output
        self.batchSize = batchSize
        self.probabilities = probabilities
    }
}

public struct InferResult: Codable, Sendable {
    public var model: String
    public var output: String
    public var rows: Int
    public var dtype: String
    public var shape: [Int]
    public var seconds: Double
    public var rowsPerSecond: Double

    public init(model: String, output: String, rows: Int, dtype: String, shape: [Int], seconds: Double, rowsPerSecond: Double) {
        self.model = model
        self.output = output
        self.rows = rows
        self.dtype = dtype
        self.shape = shape
        self.seconds = seconds
        self.rowsPerSecond = rowsPerSecond
    }
}

/// `POST /v1/eval`: accuracy and cross-entropy (classifiers) or mean squared error (regressors).
public struct EvalRequest: Codable, Sendable {
    public var model: String
    public var data: String
    public var labels: String
    public var batchSize: Int?

    public init(model: String, data: String, labels: String, batchSize: Int? = nil) {
        self.model = model
        self.data = data
        self.labels = labels
        self.batchSize = batchSize
    }
}

public struct EvalResult: Codable, Sendable {
    public var model: String
    public var task: String
    public var rows: Int
    public var accuracy: Double?
    public var loss: Double?
    public var mse: Double?

    public init(model: String, task: String, rows: Int, accuracy: Double? = nil, loss: Double? = nil, mse: Double? = nil) {
        self.model = model
        self.task = task
        self.rows = rows
        self.accuracy = accuracy
        self.loss = loss
        self.mse = mse
    }
}

/// `POST /v1/forecast`: the next `steps` rows of a stored series from an lstm forecaster.
public struct ForecastRequest: Codable, Sendable {
    public var model: String
    public var series: String
    public var steps: Int

    public init(model: String, series: String, steps: Int) {
        self.model = model
        self.series = series
        self.steps = steps
    }
}

public struct ForecastResult: Codable, Sendable {
    public var model: String
    public var series: String
    /// One row per step, one value per target column, in the series' units.
    public var predictions: [[Float]]

    public init(model: String, series: String, predictions: [[Float]]) {
        self.model = model
        self.series = series
        self.predictions = predictions
    }
}

public struct JobList: Codable, Sendable {
    public var jobs: [JobStatus]

    public init(jobs: [JobStatus]) {
        self.jobs = jobs
    }
}

/// The body of every error response.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public let status: Int
        public let code: String
        public let message: String

        public init(status: Int, code: String, message: String) {
            self.status = status
            self.code = code
            self.message = message
        }
    }

    public let error: Detail

    public init(error: Detail) { self.error = error }
}
