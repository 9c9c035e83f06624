import TensorLog

/// What one training epoch did.
public struct EpochReport: Sendable, Equatable {
    /// Epoch number, counted from the first epoch of the model (continues across resumes), starting at 1.
    public let epoch: Int
    /// Mean training loss over the epoch's batches (cross-entropy or squared error).
    public let loss: Double
    /// Rows trained on in the epoch.
    public let samples: Int
    /// Wall time of the epoch (excluding the checkpoint write).
    public let seconds: Double
    /// Training throughput.
    public let samplesPerSecond: Double
    /// Largest anonymous resident memory (RssAnon) sampled during the epoch, in bytes.
    public let peakRssAnonBytes: Int
    /// Batches served from mapped memory without a copy, and through the batch buffer.
    public let zeroCopyBatches: Int
    public let copiedBatches: Int
    /// Store sequence of this epoch's checkpoint.
    public let checkpointSequence: UInt64
}

/// The result of `Trainer.train`.
public struct TrainingSummary: Sendable {
    /// Key prefix the model is stored under.
    public let model: String
    /// The configuration stored with the last checkpoint.
    public let config: ModelConfig
    /// One report per epoch run in this call.
    public let epochs: [EpochReport]
    /// The last epoch's mean training loss.
    public var finalLoss: Double? { epochs.last?.loss }
}

/// Trains models on data sets stored in a `TensorStore`, streaming mini-batches
/// from the mapped row blocks and checkpointing into the same store.
public enum Trainer {
    /// Trains `model` on features `data` [N, D] and `labels` [N] (integer classes, or float targets
    /// [N] / [N, K] for regression) and stores it under `saveAs` after every epoch (a new version each time).
    ///
    /// - `model.kind`: `.linear` needs float targets (integer labels are used as numbers), `.softmax`
    ///   integer classes, `.mlp` either (classifier for integer labels, regressor for floats).
    /// - `epochs`: epochs to run in this call; with `resume`, numbering continues after the checkpoint's.
    /// - `seed`: initialisation and shuffling; the same seed gives bit-identical weights.
    /// - `resume`: continue from the checkpoint under `saveAs` (weights, optimiser state, step count)
    ///   when one exists; its model spec must equal `model`. Optimiser settings, batch size and seed come from the arguments.
    ///   Training n epochs and resuming for m more equals training n + m epochs in one call.
    /// - `shuffle`: `.batches` (default) keeps zero-copy batches for float32 uncompressed data.
    /// - `scaling`: feature scaling (nil: none). Its statistics come from one streaming pass over `data`
    ///   before the first epoch, are stored with the model (`<model>/scaling/`) and are applied by
    ///   `Inference` and `Evaluation`; batches are then scaled copies. A resumed model keeps the statistics
    ///   it was trained with, and `scaling` must equal the checkpoint's.
    /// - `control`: checked before every batch; a requested stop throws `TrainingStopped`, leaving
    ///   the last epoch's checkpoint.
    /// - `progress`: called after each epoch's checkpoint is written.
    public static func train(
        store: TensorStore, data: String, labels: String, model: ModelSpec, optimizer: OptimizerSpec,
        epochs: Int, batchSize: Int, seed: UInt64, shuffle: ShuffleMode = .batches, scaling: FeatureScaling? = nil, saveAs: String,
        resume: Bool = false, control: TrainingControl? = nil, progress: (EpochReport) -> Void = { _ in }
    ) throws -> TrainingSummary {
        guard epochs >= 0 else { throw ComputeError("epochs must be >= 0") }
        guard model.hidden.allSatisfy({ $0 > 0 }) else { throw ComputeError("hidden layer widths must be positive") }
        let snapshot = store.snapshot()
        let task: Task? = switch model.kind {
        case .linear: .regression
        case .softmax: .classification
        case .mlp: nil
        }
        let stream = try BatchStream(snapshot: snapshot, features: data, labels: labels, task: task, batchSize: batchSize)
        let resolvedTask = stream.task!
        // Every row has values (BatchStream checks); with none, the buffers sized by the batch would not be bounded by stored bytes.
        guard stream.rowCount > 0 else { throw ComputeError("features '\(data)' have no rows to train on") }

        var config: ModelConfig
        let params: ParameterSet
        let state: OptimizerState
        let scaler: FeatureScaler?
        let existing = resume && store.snapshot().contains(ModelKeys.config(saveAs))
        if existing {
            let current = store.snapshot()
            config = try Checkpoint.loadConfig(current, model: saveAs)
            guard config.spec == model else {
                throw ComputeError("checkpoint '\(saveAs)' is a \(config.spec) model; asked to resume as \(model)")
            }
            guard config.inputs == stream.width, config.task == resolvedTask else {
                throw ComputeError("checkpoint '\(saveAs)' takes \(config.inputs) features for \(config.task); data has \(stream.width) for \(resolvedTask)")
            }
            if resolvedTask == .classification {
                let classes = try classCount(snapshot, labels: labels)
                guard classes <= config.outputs else { throw ComputeError("labels reach class \(classes - 1); model has \(config.outputs) classes") }
            }
            guard config.scaling == scaling else {
                throw ComputeError(
                    "checkpoint '\(saveAs)' was trained with \(config.scaling?.rawValue ?? "no") feature scaling; asked to resume with \(scaling?.rawValue ?? "none")")
            }
            scaler = try config.scaling.map { _ in try FeatureScaler.load(current, model: saveAs, width: config.inputs) }
            params = ParameterSet(widths: config.widths)
            try Checkpoint.load(current, names: ModelKeys.parameters(saveAs, layers: config.widths.count - 1), into: params)
            state = OptimizerState(kind: optimizer.kind, widths: config.widths)
            if config.optimizer.kind == optimizer.kind {
                for (prefix, slot) in zip(ModelKeys.optimizerState(saveAs, kind: optimizer.kind), state.slots) {
                    try Checkpoint.load(current, names: ParameterSet.names(layers: config.widths.count - 1, prefix: prefix), into: slot)
                }
            } else {
                config.step = 0
            }
            config.optimizer = optimizer
            config.seed = seed
            config.batchSize = batchSize
        } else {
            let outputs = resolvedTask == .classification ? try classCount(snapshot, labels: labels) : stream.labelWidth
            guard outputs > 0 else { throw ComputeError("no classes in '\(labels)'") }
            config = ModelConfig(
                spec: model, task: resolvedTask, inputs: stream.width, outputs: outputs, optimizer: optimizer, seed: seed,
                batchSize: batchSize, epochsCompleted: 0, step: 0, data: data, labels: labels, scaling: scaling)
            scaler = try scaling.map { try FeatureScaler.fit(snapshot: snapshot, features: data, scaling: $0) }
            params = ParameterSet(widths: config.widths)
            var rng = Xoshiro256(seed: seed, stream: UInt64.max)
            params.initialize(config: config, rng: &rng)
            state = OptimizerState(kind: optimizer.kind, widths: config.widths)
        }

        stream.scaler = scaler
        let workspace = Workspace(widths: config.widths, activation: model.activation, capacity: batchSize, training: true)
        let gradients = ParameterSet(widths: config.widths)
        let layers = config.widths.count - 1
        let weights = (0..<layers).map { UnsafePointer(params.weight($0).baseAddress!) }
        let biases = (0..<layers).map { UnsafePointer(params.bias($0).baseAddress!) }
        var reports: [EpochReport] = []
        let clock = ContinuousClock()

        for _ in 0..<epochs {
            let epoch = config.epochsCompleted
            let zeroBefore = stream.zeroCopyBatches, copiedBefore = stream.copiedBatches
            stream.memory = PeakMemoryTracker()
            stream.memory.sample()
            var lossSum = 0.0
            var samples = 0
            var step = config.step
            let start = clock.now
            try stream.forEachBatch(epoch: epoch, seed: seed, shuffle: shuffle) { batch in
                try control?.check(epochsCompleted: epoch)
                workspace.forward(input: batch.features.baseAddress!, rows: batch.rows, weights: weights, biases: biases)
                let loss = workspace.loss(
                    task: resolvedTask, rows: batch.rows, classes: batch.classes?.baseAddress, targets: batch.targets?.baseAddress, gradient: true)
                workspace.backward(input: batch.features.baseAddress!, rows: batch.rows, weights: weights, gradients: gradients)
                step += 1
                state.step(params, gradients: gradients, spec: optimizer, step: step)
                lossSum += loss * Double(batch.rows)
                samples += batch.rows
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            config.step = step
            config.epochsCompleted = epoch + 1
            let sequence = try Checkpoint.save(store: store, model: saveAs, config: config, params: params, scaler: scaler, optimizer: state)
            stream.memory.sample()
            let report = EpochReport(
                epoch: epoch + 1, loss: samples > 0 ? lossSum / Double(samples) : 0, samples: samples, seconds: seconds,
                samplesPerSecond: seconds > 0 ? Double(samples) / seconds : 0, peakRssAnonBytes: stream.memory.peakRssAnonBytes,
                zeroCopyBatches: stream.zeroCopyBatches - zeroBefore, copiedBatches: stream.copiedBatches - copiedBefore,
                checkpointSequence: sequence)
            reports.append(report)
            progress(report)
        }
        if epochs == 0 && !existing {
            try Checkpoint.save(store: store, model: saveAs, config: config, params: params, scaler: scaler, optimizer: state)
        }
        return TrainingSummary(model: saveAs, config: config, epochs: reports)
    }

    /// 1 + the largest class label, read in one streaming pass; negative labels are rejected.
    static func classCount(_ snapshot: Snapshot, labels: String) throws -> Int {
        let info = try snapshot.info(labels)
        let n = info.shape.first ?? 0
        let step = 65_536
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: step * info.dtype.size, alignment: 64)
        let classes = UnsafeMutablePointer<Int32>.allocate(capacity: step)
        defer { raw.deallocate(); classes.deallocate() }
        var top: Int32 = -1
        var start = 0
        while start < n {
            let count = min(step, n - start)
            try snapshot.read(labels, rows: start..<start + count, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<count * info.dtype.size]))
            try Convert.toClassIndices(raw.baseAddress!, dtype: info.dtype, count: count, into: classes)
            for i in 0..<count {
                guard classes[i] >= 0 else { throw ComputeError("negative class label \(classes[i]) at row \(start + i)") }
                top = max(top, classes[i])
            }
            start += count
        }
        return Int(top) + 1
    }
}
