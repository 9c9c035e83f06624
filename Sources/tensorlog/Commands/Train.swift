import ArgumentParser
import Foundation
import TensorLog
import TensorLogCompute

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on data in the store and save it (checkpointed every epoch) in the same store.",
        discussion: """
            Classifiers and regressors (--model linear, softmax, mlp) train on features --data [N, D] and \
            --labels [N] (integer classes; float targets [N] or [N, K] for regression). Batches are read \
            straight from the mapped blocks, so memory stays flat whatever the data size. \
            --model lstm trains a one-step-ahead forecaster of a stored series --series [T, F] over \
            look-back windows of --window rows, with the last --validation-fraction of the series held out \
            (chronological split; shuffling stays on the training side).

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
    @Option(help: ArgumentHelp("SGD momentum, 0 to 1 (excluded).", valueName: "m")) var momentum: Float = 0.9
    @Option(help: ArgumentHelp("L2 weight decay on weights (not biases).", valueName: "w")) var weightDecay: Float = 0
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
    @Option(help: ArgumentHelp("lstm: rows ahead to predict (only 1, the next row, is supported).", valueName: "rows")) var horizon = 1
    @Option(help: ArgumentHelp("lstm: stacked LSTM layers (each --hidden wide when --hidden has one width).", valueName: "n")) var layers: Int?
    @Option(help: ArgumentHelp("lstm: columns to predict, comma-separated (default: all).", valueName: "columns")) var targetColumns: String?
    @Option(help: ArgumentHelp("lstm: fraction of the series, at its end, held out for validation.", valueName: "fraction"))
    var validationFraction = 0.2
    @Option(help: ArgumentHelp(
        "Feature scaling: none, standard ((x - mean) / std) or min-max, with statistics of the training data stored with the model and applied by infer and eval (default: none; lstm: standard, of the training part).",
        valueName: "name"))
    var scaling: ScalingChoice?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be at least 0") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let learningRate { guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--lr must be positive") } }
        guard momentum >= 0, momentum < 1 else { throw ValidationError("--momentum must be in [0, 1)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be at least 0") }
        let widths = try hiddenWidths()
        if model == .lstm {
            guard series != nil else { throw ValidationError("--model lstm needs --series") }
            guard data == nil, labels == nil else { throw ValidationError("--model lstm takes --series, not --data/--labels") }
            guard let window else { throw ValidationError("--model lstm needs --window") }
            guard window > 0 else { throw ValidationError("--window must be positive") }
            guard horizon == 1 else { throw ValidationError("--horizon \(horizon) is not supported: the forecaster predicts the next row (--horizon 1)") }
            if let layers {
                guard layers >= 1 else { throw ValidationError("--layers must be at least 1") }
                guard widths.count == 1 || widths.count == layers else {
                    throw ValidationError("--hidden has \(widths.count) widths but --layers is \(layers)")
                }
            }
            guard shuffle == .batches else { throw ValidationError("--shuffle is for --model linear, softmax and mlp (the forecaster shuffles runs of windows)") }
            guard (0..<1).contains(validationFraction) else { throw ValidationError("--validation-fraction must be in [0, 1)") }
            guard scaling != ScalingChoice.none else { throw ValidationError("--scaling none is for --model linear, softmax and mlp: the forecaster scales (standard or min-max)") }
            _ = try columns()
        } else {
            guard series == nil else { throw ValidationError("--series is for --model lstm; use --data and --labels") }
            guard data != nil, labels != nil else { throw ValidationError("--model \(model.rawValue) needs --data and --labels") }
            for (name, given) in [("--window", window != nil), ("--layers", layers != nil), ("--target-columns", targetColumns != nil)] where given {
                throw ValidationError("\(name) is for --model lstm")
            }
            if model != .mlp, hidden != nil { throw ValidationError("--hidden is for --model mlp or lstm") }
        }
    }

    func hiddenWidths() throws -> [Int] {
        guard let hidden else { return model == .lstm ? [64] : model == .mlp ? [128] : [] }
        return try parseIntegerList(hidden, option: "--hidden", minimum: 1)
    }

    func columns() throws -> [Int]? {
        guard let targetColumns else { return nil }
        return try parseIntegerList(targetColumns, option: "--target-columns", minimum: 0)
    }

    var optimizerSpec: OptimizerSpec {
        let rate = learningRate ?? (optimizer == .adam ? 1e-3 : 1e-2)
        return optimizer == .adam
            ? .adam(learningRate: rate, weightDecay: weightDecay)
            : .sgd(learningRate: rate, momentum: momentum, weightDecay: weightDecay)
    }

    func run() throws {
        for key in [data, labels, series, save].compactMap({ $0 }) { try checkKey(key) }
        let store = try openStore(target.store, .write)
        if model == .lstm { try trainForecaster(store) } else { try trainNetwork(store) }
        try closeStore(store)
    }

    private func trainNetwork(_ store: TensorStore) throws {
        let spec = ModelSpec(kind: ModelSpec.Kind(rawValue: model.rawValue)!, hidden: try hiddenWidths(), activation: activation == .relu ? .relu : .tanh)
        var epochsJSON: [JSON] = []
        let summary = try computing {
            try Trainer.train(
                store: store, data: data!, labels: labels!, model: spec, optimizer: optimizerSpec, epochs: epochs,
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
        var widths = try hiddenWidths()
        if let layers, widths.count == 1 { widths = Array(repeating: widths[0], count: layers) }
        let spec = ForecasterSpec(
            hidden: widths, window: window!, targetColumns: try columns(),
            scaling: scaling?.featureScaling ?? .standard, validationFraction: validationFraction)
        var epochsJSON: [JSON] = []
        let config = try computing {
            try Forecaster.train(
                store: store, series: series!, spec: spec, optimizer: optimizerSpec, epochs: epochs, batchSize: batchSize,
                seed: seed, saveAs: save, resume: resume
            ) { report in
                let seconds = report.samplesPerSecond > 0 ? Double(report.samples) / report.samplesPerSecond : 0
                if output.json {
                    epochsJSON.append(.object([
                        ("epoch", .int(report.epoch)), ("loss", .double(report.loss)),
                        ("validation_loss", report.validationLoss.map(JSON.double) ?? .null), ("samples", .int(report.samples)),
                        ("seconds", .double(seconds)), ("samples_per_second", .double(report.samplesPerSecond)),
                        ("peak_rss_anon_bytes", .int(report.peakRssAnonBytes)),
                    ]))
                } else {
                    print(Self.epochLine(
                        epoch: report.epoch, loss: report.loss, validation: report.validationLoss,
                        samplesPerSecond: report.samplesPerSecond, peak: report.peakRssAnonBytes, seconds: seconds))
                    fflush(nil)
                }
            }
        }
        if output.json {
            printJSON(.object([
                ("model", .string(save)), ("kind", .string("lstm")), ("task", .string("forecast")),
                ("hidden", .ints(config.spec.hidden)), ("window", .int(config.spec.window)), ("targets", .ints(config.targets)),
                ("rows", .int(config.rows)), ("validation_start", .int(config.validationStart)),
                ("epochs_completed", .int(config.epochsCompleted)), ("epochs", .array(epochsJSON)),
            ]))
        } else {
            let hidden = config.spec.hidden.map(String.init).joined(separator: ",")
            print("saved lstm (hidden \(hidden), window \(config.spec.window), targets \(config.targets)) as '\(save)' after epoch \(config.epochsCompleted); "
                + "training rows \(config.spec.window)..<\(config.validationStart), validation rows \(config.validationStart)..<\(config.rows)")
        }
    }

    static func epochLine(epoch: Int, loss: Double, validation: Double?, samplesPerSecond: Double, peak: Int, seconds: Double) -> String {
        var line = "epoch \(epoch): loss " + String(format: "%.6f", loss)
        if let validation { line += ", validation loss " + String(format: "%.6f", validation) }
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

/// What kind of model `<model>/config` describes: "lstm" for a forecaster, else the ModelConfig's kind.
func storedModelKind(_ snapshot: Snapshot, model: String) throws -> String {
    let key = ModelKeys.config(model)
    guard snapshot.contains(key) else { throw CLIError("no model '\(model)' in the store (missing \(key))") }
    let bytes = try reporting { try snapshot.read(key).values(as: UInt8.self) }
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
        throw CLIError("\(key) is not a model configuration")
    }
    if let kind = object["kind"] as? String { return kind }
    if let spec = object["spec"] as? [String: Any], let kind = spec["kind"] as? String { return kind }
    throw CLIError("\(key) is not a model configuration")
}
