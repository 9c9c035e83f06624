import ArgumentParser
import Foundation
import TensorLog
import TensorLogAPI
import TensorLogCompute

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on data in the store and save it (checkpointed every epoch) in the same store.",
        discussion: """
            Classifiers and regressors (--model linear, softmax, mlp) train on features --data [N, D] and \
            --labels [N] (integer classes; float targets [N] or [N, K] for regression). Batches are read \
            straight from the mapped blocks, so memory stays flat whatever the data size. \
            --model lstm trains a forecaster of a stored series --series [T, F]: from look-back windows of \
            --window rows it predicts the next --horizon rows (default 1) of the target columns at once, with \
            the last --validation-fraction of the windows (by their last target row) held out (chronological \
            split; shuffling stays on the training side).

            Each epoch prints one line: mean training loss (cross-entropy or squared error; for lstm also \
            the validation loss, in scaled units), samples per second, and the peak anonymous resident \
            memory (RssAnon, which excludes the mapped store) of the epoch. The model is saved under \
            --save after every epoch (config, weights, optimiser state); --resume continues it.

            Examples:
              tensorlog train my-store --data digits/x --labels digits/y --model mlp --hidden 256,128 \\
                  --optimizer adam --lr 0.001 --epochs 20 --batch-size 64 --save models/digits
              tensorlog train my-store --data digits/x --labels digits/y --model mlp --hidden 256,128 \\
                  --epochs 5 --resume --save models/digits
              tensorlog train my-store --series node1/utilisation --model lstm --window 6 --hidden 64 \\
                  --target-columns 0,1 --epochs 100 --save models/util
              tensorlog train my-store --series node1/utilisation --model lstm --window 24 --horizon 6 \\
                  --target-columns 0 --save models/util6
            """
    )

    enum ModelKind: String, ExpressibleByArgument, CaseIterable {
        case linear, softmax, mlp, lstm
    }

    enum ActivationChoice: String, ExpressibleByArgument, CaseIterable {
        case relu, tanh
    }

    enum OptimizerChoice: String, ExpressibleByArgument, CaseIterable {
        case sgd, adam
    }

    enum ShuffleChoice: String, ExpressibleByArgument, CaseIterable {
        case none, batches, rows
    }

    enum ScalingChoice: String, ExpressibleByArgument, CaseIterable {
        case none, standard
        case minMax = "min-max"

        var featureScaling: FeatureScaling? {
            switch self {
            case .none: nil
            case .standard: .standard
            case .minMax: .minMax
            }
        }
    }

    @OptionGroup var target: StoreArgument
    @Option(help: ArgumentHelp("Key of the features [N, D].", valueName: "key")) var data: String?
    @Option(help: ArgumentHelp("Key of the labels [N] (integer classes) or targets [N] / [N, K].", valueName: "key")) var labels: String?
    @Option(help: ArgumentHelp("Key of the time series [T, F] (--model lstm).", valueName: "key")) var series: String?
    @Option(help: ArgumentHelp("linear, softmax, mlp or lstm.", valueName: "kind")) var model: ModelKind
    @Option(help: ArgumentHelp(
        "Hidden layer widths, comma-separated (mlp: default 128; lstm: units per layer, default 64).", valueName: "widths"))
    var hidden: String?
    @Option(help: ArgumentHelp("Hidden activation of an mlp: relu or tanh.", valueName: "name")) var activation: ActivationChoice = .relu
    @Option(help: ArgumentHelp("sgd (with momentum) or adam.", valueName: "name")) var optimizer: OptimizerChoice = .adam
    @Option(name: .customLong("lr"), help: ArgumentHelp("Learning rate (default 0.001 for adam, 0.01 for sgd).", valueName: "rate"))
    var learningRate: Float?
    @Option(help: ArgumentHelp("SGD momentum, 0 to 1 (excluded; default 0.9).", valueName: "m")) var momentum: Float?
    @Option(help: ArgumentHelp("L2 weight decay on weights (not biases; default 0).", valueName: "w")) var weightDecay: Float?
    @Option(help: ArgumentHelp("Epochs to run (with --resume: more epochs).", valueName: "n")) var epochs = 10
    @Option(help: ArgumentHelp("Rows (or windows) per mini-batch.", valueName: "n")) var batchSize = 64
    @Option(help: ArgumentHelp("Seed of initialisation and shuffling; the same seed gives the same model.", valueName: "n"))
    var seed: UInt64 = 0
    @Option(help: ArgumentHelp(
        "How an epoch visits the rows: batches (contiguous batches in random order; zero-copy for float32), rows (rows shuffled within each row block; batches copied) or none.",
        valueName: "mode"))
    var shuffle: ShuffleChoice = .batches
    @Flag(help: "Continue the model saved under --save (weights, optimiser state, epoch count) if there is one.") var resume = false
    @Option(help: ArgumentHelp("Key prefix to save the model under (<prefix>/config, <prefix>/layer0/weight, ...).", valueName: "model"))
    var save: String
    @Option(help: ArgumentHelp("lstm: look-back window in rows.", valueName: "rows")) var window: Int?
    @Option(help: ArgumentHelp("lstm: rows predicted at once from each window (default 1, the next row).", valueName: "rows")) var horizon: Int?
    @Option(help: ArgumentHelp("lstm: stacked LSTM layers (each --hidden wide when --hidden has one width).", valueName: "n")) var layers: Int?
    @Option(help: ArgumentHelp("lstm: columns to predict, comma-separated (default: all).", valueName: "columns")) var targetColumns: String?
    @Option(help: ArgumentHelp("lstm: fraction of the series, at its end, held out for validation (default 0.2).", valueName: "fraction"))
    var validationFraction: Double?
    @Option(help: ArgumentHelp(
        "Feature scaling: none, standard ((x - mean) / std) or min-max, with statistics of the training data stored with the model and applied by infer and eval (default: none; lstm: standard, of the training part).",
        valueName: "name"))
    var scaling: ScalingChoice?
    @OptionGroup var output: JSONOption

    func validate() throws {
        let request = try request()
        do {
            try request.validate { "--" + $0.replacingOccurrences(of: "_", with: "-") }
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The options as the request a server's job (or the library) takes; its `validate` holds the rules.
    func request() throws -> TrainingRequest {
        var request = TrainingRequest(model: TrainingRequest.Model(rawValue: model.rawValue)!, save: save)
        request.data = data
        request.labels = labels
        request.series = series
        request.hidden = hidden == nil ? nil : try hiddenWidths()
        request.activation = TrainingRequest.Activation(rawValue: activation.rawValue)
        request.optimizer = TrainingRequest.Optimizer(rawValue: optimizer.rawValue)
        request.lr = learningRate
        request.momentum = momentum
        request.weightDecay = weightDecay
        request.epochs = epochs
        request.batchSize = batchSize
        request.seed = seed
        request.shuffle = model == .lstm && shuffle == .batches ? nil : TrainingRequest.Shuffle(rawValue: shuffle.rawValue)
        request.scaling = scaling.flatMap { TrainingRequest.Scaling(rawValue: $0.rawValue) }
        request.resume = resume
        request.window = window
        request.horizon = horizon
        request.layers = layers
        request.targetColumns = try columns()
        request.validationFraction = validationFraction
        return request
    }

    func hiddenWidths() throws -> [Int] {
        guard let hidden else { return model == .lstm ? [64] : model == .mlp ? [128] : [] }
        return try parseIntegerList(hidden, option: "--hidden", minimum: 1)
    }

    func columns() throws -> [Int]? {
        guard let targetColumns else { return nil }
        return try parseIntegerList(targetColumns, option: "--target-columns", minimum: 0)
    }

    func run() throws {
        for key in [data, labels, series, save].compactMap({ $0 }) { try checkKey(key) }
        if let url = target.remoteURL { return try trainRemotely(url) }
        let store = try openStore(target.store, .write)
        if model == .lstm { try trainForecaster(store) } else { try trainNetwork(store) }
        try closeStore(store)
    }

    private func trainNetwork(_ store: TensorStore) throws {
        let request = try request()
        let spec = ModelSpec(kind: ModelSpec.Kind(rawValue: model.rawValue)!, hidden: request.hiddenWidths, activation: activation == .relu ? .relu : .tanh)
        var epochsJSON: [JSON] = []
        let summary = try computing {
            try Trainer.train(
                store: store, data: data!, labels: labels!, model: spec, optimizer: request.optimizerSpec, epochs: epochs,
                batchSize: batchSize, seed: seed, shuffle: ShuffleMode(rawValue: shuffle.rawValue)!, scaling: scaling?.featureScaling,
                saveAs: save, resume: resume
            ) { report in
                if output.json {
                    epochsJSON.append(.object([
                        ("epoch", .int(report.epoch)), ("loss", .double(report.loss)), ("samples", .int(report.samples)),
                        ("seconds", .double(report.seconds)), ("samples_per_second", .double(report.samplesPerSecond)),
                        ("peak_rss_anon_bytes", .int(report.peakRssAnonBytes)),
                        ("zero_copy_batches", .int(report.zeroCopyBatches)), ("copied_batches", .int(report.copiedBatches)),
                    ]))
                } else {
                    print(Self.epochLine(
                        epoch: report.epoch, loss: report.loss, validation: nil, samplesPerSecond: report.samplesPerSecond,
                        peak: report.peakRssAnonBytes, seconds: report.seconds))
                    fflush(nil)
                }
            }
        }
        let config = summary.config
        let shape = config.widths.map(String.init).joined(separator: "-")
        if output.json {
            printJSON(.object([
                ("model", .string(save)), ("kind", .string(config.spec.kind.rawValue)), ("task", .string(config.task.rawValue)),
                ("widths", .ints(config.widths)), ("scaling", .string(Self.scalingName(config.scaling))),
                ("epochs_completed", .int(config.epochsCompleted)),
                ("parameters", .int(Self.parameterCount(config.widths))), ("epochs", .array(epochsJSON)),
            ]))
        } else {
            let scaled = config.scaling.map { ", \(Self.scalingName($0)) scaling" } ?? ""
            print("saved \(config.spec.kind.rawValue) \(shape) (\(config.task.rawValue)\(scaled)) as '\(save)' after epoch \(config.epochsCompleted)")
        }
    }

    private func trainForecaster(_ store: TensorStore) throws {
        let request = try request()
        let spec = ForecasterSpec(
            hidden: request.hiddenWidths, window: window!, horizon: horizon ?? 1, targetColumns: try columns(),
            scaling: scaling?.featureScaling ?? .standard, validationFraction: validationFraction ?? 0.2)
        var epochsJSON: [JSON] = []
        let config = try computing {
            try Forecaster.train(
                store: store, series: series!, spec: spec, optimizer: request.optimizerSpec, epochs: epochs, batchSize: batchSize,
                seed: seed, saveAs: save, resume: resume
            ) { report in
                let seconds = report.samplesPerSecond > 0 ? Double(report.samples) / report.samplesPerSecond : 0
                let perStep = spec.horizon > 1 ? report.validationLossPerStep : nil
                if output.json {
                    var fields: [(String, JSON)] = [
                        ("epoch", .int(report.epoch)), ("loss", .double(report.loss)),
                        ("validation_loss", report.validationLoss.map(JSON.double) ?? .null), ("samples", .int(report.samples)),
                        ("seconds", .double(seconds)), ("samples_per_second", .double(report.samplesPerSecond)),
                        ("peak_rss_anon_bytes", .int(report.peakRssAnonBytes)),
                    ]
                    if spec.horizon > 1 { fields.insert(("validation_loss_per_step", perStep.map { .array($0.map(JSON.double)) } ?? .null), at: 3) }
                    epochsJSON.append(.object(fields))
                } else {
                    print(Self.epochLine(
                        epoch: report.epoch, loss: report.loss, validation: report.validationLoss, validationPerStep: perStep,
                        samplesPerSecond: report.samplesPerSecond, peak: report.peakRssAnonBytes, seconds: seconds))
                    fflush(nil)
                }
            }
        }
        if output.json {
            printJSON(.object([
                ("model", .string(save)), ("kind", .string("lstm")), ("task", .string("forecast")),
                ("hidden", .ints(config.spec.hidden)), ("window", .int(config.spec.window)), ("horizon", .int(config.horizon)),
                ("targets", .ints(config.targets)),
                ("rows", .int(config.rows)), ("validation_start", .int(config.validationStart)),
                ("epochs_completed", .int(config.epochsCompleted)), ("epochs", .array(epochsJSON)),
            ]))
        } else {
            let hidden = config.spec.hidden.map(String.init).joined(separator: ",")
            let horizon = config.horizon == 1 ? "" : ", horizon \(config.horizon)"
            print("saved lstm (hidden \(hidden), window \(config.spec.window)\(horizon), targets \(config.targets)) as '\(save)' after epoch \(config.epochsCompleted); "
                + "training rows \(config.spec.window)..<\(config.validationStart), validation rows \(config.validationStart)..<\(config.rows)")
        }
    }

    /// Runs the training as a job on the server, printing its epochs as they finish.
    private func trainRemotely(_ url: String) throws {
        let client = try remoteClient(url)
        let request = try request()
        let json = output.json
        let job = try remote { () -> JobStatus in
            let started = try await client.startTraining(request)
            if !json { print("started \(started.id) on \(url)"); fflush(nil) }
            return try await client.follow(started.id) { report in
                guard !json else { return }
                print(Self.epochLine(
                    epoch: report.epoch, loss: report.loss, validation: report.validationLoss, samplesPerSecond: report.samplesPerSecond,
                    peak: report.peakRssAnonBytes, seconds: report.seconds) + " (on the server)")
                fflush(nil)
            }
        }
        if json { try printAPIJSON(job) }
        switch job.state {
        case .succeeded:
            if !json { print("saved \(request.model.rawValue) model as '\(save)' on \(url) after epoch \(job.result?["epochs_completed"] ?? "?")") }
        case .cancelled, .failed, .running:
            throw CLIError("job \(job.id) \(job.state.rawValue): \(job.error ?? "no reason given")")
        }
    }

    static func epochLine(
        epoch: Int, loss: Double, validation: Double?, validationPerStep: [Double]? = nil, samplesPerSecond: Double, peak: Int, seconds: Double
    ) -> String {
        var line = "epoch \(epoch): loss " + String(format: "%.6f", loss)
        if let validation { line += ", validation loss " + String(format: "%.6f", validation) }
        if let validationPerStep { line += " (per step " + validationPerStep.map { String(format: "%.6f", $0) }.joined(separator: " ") + ")" }
        line += ", " + String(format: "%.0f", samplesPerSecond) + " samples/s, peak RssAnon " + formatBytes(peak)
        line += ", " + String(format: "%.2f s", seconds)
        return line
    }

    /// `none`, `standard`, `min-max`: as --scaling spells it.
    static func scalingName(_ scaling: FeatureScaling?) -> String {
        switch scaling {
        case nil: ScalingChoice.none.rawValue
        case .standard: ScalingChoice.standard.rawValue
        case .minMax: ScalingChoice.minMax.rawValue
        }
    }

    static func parameterCount(_ widths: [Int]) -> Int {
        zip(widths, widths.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }
}


/// `256,128` -> [256, 128]; every value at least `minimum`.
func parseIntegerList(_ text: String, option: String, minimum: Int) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    var values: [Int] = []
    for part in parts {
        guard let value = Int(part), value >= minimum else {
            throw ValidationError("\(option) takes comma-separated integers of at least \(minimum), like 256,128; got '\(text)'")
        }
        values.append(value)
    }
    return values
}

/// Runs `body`, turning compute errors (bad shapes, labels, models) and store errors into `CLIError`s.
func computing<R>(_ body: () throws -> R) throws -> R {
    do {
        return try reporting(nil, body)
    } catch let error as ComputeError {
        throw CLIError(error.message)
    }
}

/// What kind of model `<model>/config` describes: "lstm" for a forecaster, else the network's kind.
func storedModelKind(_ snapshot: Snapshot, model: String) throws -> String {
    do {
        return try reporting { try StoredModel.kind(snapshot, model: model) }
    } catch let error as ComputeError {
        throw CLIError(error.message)
    }
}
