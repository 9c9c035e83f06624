import TensorLog

/// The result of `Inference.predict`.
public struct PredictionSummary: Sendable {
    /// Rows processed.
    public let rows: Int
    /// Wall time.
    public let seconds: Double
    /// Throughput.
    public let rowsPerSecond: Double
    /// Key the predictions were written to.
    public let output: String
    /// True when the weights were used in place from the mapped checkpoint.
    public let zeroCopyWeights: Bool
    /// Sequence of the last write of the predictions.
    public let sequence: UInt64
}

/// Runs stored models on stored data.
public enum Inference {
    /// Predicts for every row of `data` with the model stored under `model` and writes the result to
    /// `output` as a new version: int32 class indices [N] for classifiers (or float32 probabilities
    /// [N, classes] with `probabilities`), float32 predictions [N] (one target) or [N, K] for regression.
    ///
    /// Weights are read zero-copy from the mapped checkpoint; the data is streamed in stored order
    /// (scaled with the model's stored statistics when it was trained with feature scaling)
    /// and predictions are written in pieces (a put, then appends), so memory stays flat.
    public static func predict(
        store: TensorStore, model: String, data: String, output: String, batchSize: Int = 4096, probabilities: Bool = false
    ) throws -> PredictionSummary {
        try predict(store: store, model: model, data: data, output: output, batchSize: batchSize, probabilities: probabilities, flushRows: nil)
    }

    /// `flushRows`: rows buffered before each write (default: about 4 MiB of predictions).
    static func predict(
        store: TensorStore, model: String, data: String, output: String, batchSize: Int, probabilities: Bool, flushRows: Int?
    ) throws -> PredictionSummary {
        let snapshot = store.snapshot()
        let loaded = try LoadedModel(snapshot: snapshot, model: model)
        let config = loaded.config
        let stream = try BatchStream(snapshot: snapshot, features: data, batchSize: batchSize)
        guard stream.width == config.inputs else {
            throw ComputeError("model '\(model)' takes \(config.inputs) features; '\(data)' has \(stream.width)")
        }
        stream.scaler = loaded.scaler
        let workspace = Workspace(widths: config.widths, activation: config.spec.activation, capacity: batchSize, training: false)
        let classes = config.task == .classification && !probabilities
        let width = classes ? 1 : config.outputs
        let shapeTail = width == 1 ? [Int]() : [width]
        let flushRows = flushRows ?? max(batchSize, (4 << 20) / (4 * width))
        var pendingFloats: [Float] = []
        var pendingClasses: [Int32] = []
        var pendingRows = 0
        var written = 0
        var sequence: UInt64 = 0

        func flush() throws {
            guard pendingRows > 0 || written == 0 else { return }
            let shape = [pendingRows] + shapeTail
            if written == 0 {
                sequence = classes
                    ? try store.put(output, pendingClasses, shape: shape, options: Checkpoint.uncompressed)
                    : try store.put(output, pendingFloats, shape: shape, options: Checkpoint.uncompressed)
            } else {
                sequence = classes
                    ? try store.append(output, pendingClasses, shape: shape, options: Checkpoint.uncompressed)
                    : try store.append(output, pendingFloats, shape: shape, options: Checkpoint.uncompressed)
            }
            written += pendingRows
            pendingRows = 0
            pendingFloats.removeAll(keepingCapacity: true)
            pendingClasses.removeAll(keepingCapacity: true)
        }

        let clock = ContinuousClock()
        let start = clock.now
        try loaded.withParameters { weights, biases in
            try stream.forEachBatch { batch in
                let out = workspace.forward(input: batch.features.baseAddress!, rows: batch.rows, weights: weights, biases: biases)
                if classes {
                    let base = pendingClasses.count
                    pendingClasses.append(contentsOf: repeatElement(0, count: batch.rows))
                    pendingClasses.withUnsafeMutableBufferPointer {
                        Kernels.argmaxRows(out, rows: batch.rows, cols: config.outputs, into: $0.baseAddress! + base)
                    }
                } else {
                    if config.task == .classification { Kernels.softmaxRows(out, rows: batch.rows, cols: config.outputs) }
                    pendingFloats.append(contentsOf: UnsafeBufferPointer(start: out, count: batch.rows * width))
                }
                pendingRows += batch.rows
                if pendingRows >= flushRows { try flush() }
            }
        }
        try flush()
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return PredictionSummary(
            rows: written, seconds: seconds, rowsPerSecond: seconds > 0 ? Double(written) / seconds : 0, output: output,
            zeroCopyWeights: loaded.isZeroCopy, sequence: sequence)
    }
}

/// Predictions computed in memory (not stored).
public enum Predictions: Sendable, Equatable {
    /// Class indices [N] of a classifier.
    case classes([Int32])
    /// Probabilities [N, width] of a classifier, or predictions [N, width] of a regressor (width 1 is [N]).
    case values([Float], width: Int)
}

extension Inference {
    /// Predicts for rows held in memory: `bytes` are features [N, D] of `dtype` (any numeric type),
    /// converted to float32 and scaled like stored data, `batchSize` rows at a time. The weights
    /// are read from the mapped checkpoint; only the predictions are kept.
    public static func predict(
        store: TensorStore, model: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, batchSize: Int = 4096,
        probabilities: Bool = false
    ) throws -> Predictions {
        guard batchSize > 0 else { throw ComputeError("batch size must be positive") }
        let loaded = try LoadedModel(snapshot: store.snapshot(), model: model)
        let config = loaded.config
        let (rows, width) = (shape.first ?? 1, shape.count == 2 ? shape[1] : shape.count == 1 ? 1 : -1)
        guard shape.count == 2 || (shape.count == 1 && config.inputs == 1) else {
            throw ComputeError("features must be [rows, \(config.inputs)]; got shape \(shape)")
        }
        guard width == config.inputs else { throw ComputeError("model '\(model)' takes \(config.inputs) features; the rows have \(width)") }
        guard byteCount(dtype: dtype, shape: shape) == bytes.count else { throw ComputeError("\(bytes.count) bytes do not hold \(shape) of \(dtype)") }
        let workspace = Workspace(widths: config.widths, activation: config.spec.activation, capacity: min(batchSize, max(rows, 1)), training: false)
        let classes = config.task == .classification && !probabilities
        var classIndices = classes ? [Int32](repeating: 0, count: rows) : []
        var values = classes ? [] : [Float](repeating: 0, count: rows * config.outputs)
        let batch = UnsafeMutablePointer<Float>.allocate(capacity: min(batchSize, max(rows, 1)) * width)
        defer { batch.deallocate() }
        try loaded.withParameters { weights, biases in
            for start in stride(from: 0, to: rows, by: batchSize) {
                let count = min(batchSize, rows - start)
                try Convert.toFloat(bytes.baseAddress! + start * width * dtype.size, dtype: dtype, count: count * width, into: batch)
                loaded.scaler?.apply(batch, rows: count, into: batch)
                let out = workspace.forward(input: batch, rows: count, weights: weights, biases: biases)
                if classes {
                    classIndices.withUnsafeMutableBufferPointer {
                        Kernels.argmaxRows(out, rows: count, cols: config.outputs, into: $0.baseAddress! + start)
                    }
                } else {
                    if config.task == .classification { Kernels.softmaxRows(out, rows: count, cols: config.outputs) }
                    values.withUnsafeMutableBufferPointer {
                        ($0.baseAddress! + start * config.outputs).update(from: out, count: count * config.outputs)
                    }
                }
            }
        }
        return classes ? .classes(classIndices) : .values(values, width: config.outputs)
    }
}

/// How well a stored model fits stored data.
public struct EvaluationResult: Sendable {
    /// Rows processed.
    public let rows: Int
    /// Classification or regression (from the model).
    public let task: Task
    /// Fraction of rows whose arg-max class equals the label (classifiers).
    public let accuracy: Double?
    /// Mean cross-entropy (classifiers).
    public let crossEntropy: Double?
    /// Mean squared error over all target elements (regressors).
    public let meanSquaredError: Double?
}

/// Scores stored models on stored labelled data.
public enum Evaluation {
    /// Streams `data` and `labels` through the model stored under `model` (weights zero-copy; features scaled
    /// with the model's stored statistics when it was trained with feature scaling) and returns
    /// accuracy and mean cross-entropy for classifiers, mean squared error for regressors.
    public static func evaluate(store: TensorStore, model: String, data: String, labels: String, batchSize: Int = 4096) throws -> EvaluationResult {
        let snapshot = store.snapshot()
        let loaded = try LoadedModel(snapshot: snapshot, model: model)
        let config = loaded.config
        let stream = try BatchStream(snapshot: snapshot, features: data, labels: labels, task: config.task, batchSize: batchSize)
        guard stream.width == config.inputs else {
            throw ComputeError("model '\(model)' takes \(config.inputs) features; '\(data)' has \(stream.width)")
        }
        stream.scaler = loaded.scaler
        if config.task == .regression, stream.labelWidth != config.outputs {
            throw ComputeError("model '\(model)' predicts \(config.outputs) targets; '\(labels)' has \(stream.labelWidth)")
        }
        let workspace = Workspace(widths: config.widths, activation: config.spec.activation, capacity: batchSize, training: false)
        let predicted = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer { predicted.deallocate() }
        var lossSum = 0.0
        var correct = 0
        var rows = 0
        try loaded.withParameters { weights, biases in
            try stream.forEachBatch { batch in
                workspace.forward(input: batch.features.baseAddress!, rows: batch.rows, weights: weights, biases: biases)
                if let labels = batch.classes {
                    for i in 0..<batch.rows where labels[i] < 0 || Int(labels[i]) >= config.outputs {
                        throw ComputeError("label \(labels[i]) outside the model's \(config.outputs) classes")
                    }
                    Kernels.argmaxRows(workspace.last, rows: batch.rows, cols: config.outputs, into: predicted)
                    for i in 0..<batch.rows where predicted[i] == labels[i] { correct += 1 }
                }
                let loss = workspace.loss(
                    task: config.task, rows: batch.rows, classes: batch.classes?.baseAddress, targets: batch.targets?.baseAddress, gradient: false)
                lossSum += loss * Double(batch.rows)
                rows += batch.rows
            }
        }
        let mean = rows > 0 ? lossSum / Double(rows) : 0
        switch config.task {
        case .classification:
            return EvaluationResult(rows: rows, task: .classification, accuracy: rows > 0 ? Double(correct) / Double(rows) : 0, crossEntropy: mean, meanSquaredError: nil)
        case .regression:
            return EvaluationResult(rows: rows, task: .regression, accuracy: nil, crossEntropy: nil, meanSquaredError: mean)
        }
    }
}
