import TensorLog
import TensorLogAPI

extension TrainingRequest {
    /// What a finished run saved.
    public enum Outcome: Sendable {
        case network(TrainingSummary)
        case forecaster(ForecasterConfig)

        public var epochsCompleted: Int {
            switch self {
            case .network(let summary): summary.config.epochsCompleted
            case .forecaster(let config): config.epochsCompleted
            }
        }
    }

    public var optimizerSpec: OptimizerSpec {
        let kind: OptimizerSpec.Kind = optimizer == .sgd ? .sgd : .adam
        let rate = lr ?? (kind == .adam ? 1e-3 : 1e-2)
        return kind == .adam
            ? .adam(learningRate: rate, weightDecay: weightDecay ?? 0)
            : .sgd(learningRate: rate, momentum: momentum ?? 0.9, weightDecay: weightDecay ?? 0)
    }

    var featureScaling: FeatureScaling? {
        guard let scaling else { return nil }
        return switch scaling {
        case .none: nil
        case .standard: .standard
        case .minMax: .minMax
        }
    }

    /// Validates, then trains, checkpointing into `store` after every epoch. `control` can stop
    /// the run before any batch (it then throws `TrainingStopped`).
    public func run(store: TensorStore, control: TrainingControl? = nil, progress: (Progress) -> Void = { _ in }) throws -> Outcome {
        do { try validate() } catch { throw ComputeError(error.message) }
        if model == .lstm {
            let spec = ForecasterSpec(
                hidden: hiddenWidths, window: window!, horizon: horizon ?? 1, targetColumns: targetColumns,
                scaling: featureScaling ?? .standard, validationFraction: validationFraction ?? 0.2)
            let config = try Forecaster.train(
                store: store, series: series!, spec: spec, optimizer: optimizerSpec, epochs: effectiveEpochs,
                batchSize: effectiveBatchSize, seed: seed ?? 0, saveAs: save, resume: resume ?? false, control: control
            ) { report in
                let seconds = report.samplesPerSecond > 0 ? Double(report.samples) / report.samplesPerSecond : 0
                progress(Progress(
                    epoch: report.epoch, loss: report.loss, validationLoss: report.validationLoss, samples: report.samples,
                    seconds: seconds, samplesPerSecond: report.samplesPerSecond, peakRssAnonBytes: report.peakRssAnonBytes,
                    validationLossPerStep: report.validationLossPerStep))
            }
            return .forecaster(config)
        }
        let spec = ModelSpec(kind: ModelSpec.Kind(rawValue: model.rawValue)!, hidden: hiddenWidths, activation: activation == .tanh ? .tanh : .relu)
        let summary = try Trainer.train(
            store: store, data: data!, labels: labels!, model: spec, optimizer: optimizerSpec, epochs: effectiveEpochs,
            batchSize: effectiveBatchSize, seed: seed ?? 0, shuffle: ShuffleMode(rawValue: (shuffle ?? .batches).rawValue)!, scaling: featureScaling,
            saveAs: save, resume: resume ?? false, control: control
        ) { report in
            progress(Progress(
                epoch: report.epoch, loss: report.loss, validationLoss: nil, samples: report.samples, seconds: report.seconds,
                samplesPerSecond: report.samplesPerSecond, peakRssAnonBytes: report.peakRssAnonBytes))
        }
        return .network(summary)
    }
}
