
/// Everything one training run needs, as the command line (`tensorlog train`) and the server
/// (`POST /v1/jobs`) take it: options left nil get the documented defaults.
/// `validate` checks the combination; `run` trains and checkpoints into the store.
public struct TrainingRequest: Codable, Sendable, Equatable {
    public enum Model: String, Codable, Sendable, CaseIterable { case linear, softmax, mlp, lstm }
    /// `none`, `standard` or `min-max` (as the command line spells them).
    public enum Scaling: String, Codable, Sendable, CaseIterable {
        case none, standard
        case minMax = "min-max"
    }
    public enum Activation: String, Codable, Sendable, CaseIterable { case relu, tanh }
    public enum Optimizer: String, Codable, Sendable, CaseIterable { case sgd, adam }
    /// How an epoch visits rows: contiguous batches in random order, rows shuffled within row blocks, or stored order.
    public enum Shuffle: String, Codable, Sendable, CaseIterable { case none, batches, rows }

    public var model: Model
    /// Key prefix the model is saved under.
    public var save: String
    public var data: String?
    public var labels: String?
    public var series: String?
    /// Hidden widths (mlp: default [128]; lstm: units per layer, default [64]).
    public var hidden: [Int]?
    public var activation: Activation?
    public var optimizer: Optimizer?
    /// Learning rate (default 0.001 for adam, 0.01 for sgd).
    public var lr: Float?
    public var momentum: Float?
    public var weightDecay: Float?
    public var epochs: Int?
    public var batchSize: Int?
    public var seed: UInt64?
    public var shuffle: Shuffle?
    /// Default: none for linear, softmax and mlp; standard for lstm.
    public var scaling: Scaling?
    public var resume: Bool?
    public var window: Int?
    public var horizon: Int?
    public var layers: Int?
    public var targetColumns: [Int]?
    public var validationFraction: Double?

    public init(model: Model, save: String) {
        self.model = model
        self.save = save
    }

    /// One epoch's figures, for either kind of model.
    public struct Progress: Codable, Sendable, Equatable {
        public var epoch: Int
        public var loss: Double
        /// The forecaster's validation loss (scaled units).
        public var validationLoss: Double?
        public var samples: Int
        public var seconds: Double
        public var samplesPerSecond: Double
        public var peakRssAnonBytes: Int
        /// The forecaster's validation loss for each step ahead (horizon > 1).
        public var validationLossPerStep: [Double]?

        public init(
            epoch: Int, loss: Double, validationLoss: Double? = nil, samples: Int, seconds: Double, samplesPerSecond: Double,
            peakRssAnonBytes: Int, validationLossPerStep: [Double]? = nil
        ) {
            self.epoch = epoch
            self.loss = loss
            self.validationLoss = validationLoss
            self.samples = samples
            self.seconds = seconds
            self.samplesPerSecond = samplesPerSecond
            self.peakRssAnonBytes = peakRssAnonBytes
            self.validationLossPerStep = validationLossPerStep
        }
    }

    public var effectiveEpochs: Int { epochs ?? 10 }
    public var effectiveBatchSize: Int { batchSize ?? 64 }

    public var hiddenWidths: [Int] {
        var widths = hidden ?? (model == .lstm ? [64] : model == .mlp ? [128] : [])
        if model == .lstm, let layers, widths.count == 1 { widths = Array(repeating: widths[0], count: layers) }
        return widths
    }

    /// Checks the combination of options. `name` spells an option in the caller's terms
    /// (`target_columns` becomes `--target-columns` on the command line).
    public func validate(name: (String) -> String = { $0 }) throws(InvalidTrainingRequest) {
        func fail(_ message: String) -> InvalidTrainingRequest { InvalidTrainingRequest(message: message) }
        guard effectiveEpochs >= 0 else { throw fail("\(name("epochs")) must be at least 0") }
        guard effectiveBatchSize > 0 else { throw fail("\(name("batch_size")) must be positive") }
        if let lr { guard lr > 0, lr.isFinite else { throw fail("\(name("lr")) must be positive") } }
        if let momentum { guard momentum >= 0, momentum < 1 else { throw fail("\(name("momentum")) must be in [0, 1)") } }
        if let weightDecay { guard weightDecay >= 0, weightDecay.isFinite else { throw fail("\(name("weight_decay")) must be at least 0") } }
        if let hidden { guard !hidden.isEmpty, hidden.allSatisfy({ $0 >= 1 }) else { throw fail("\(name("hidden")) widths must be at least 1") } }
        guard !save.isEmpty else { throw fail("\(name("save")) is empty") }
        if model == .lstm {
            guard series != nil else { throw fail("\(name("model")) lstm needs \(name("series"))") }
            guard data == nil, labels == nil else { throw fail("\(name("model")) lstm takes \(name("series")), not \(name("data"))/\(name("labels"))") }
            guard let window else { throw fail("\(name("model")) lstm needs \(name("window"))") }
            guard window > 0 else { throw fail("\(name("window")) must be positive") }
            if let horizon { guard horizon >= 1 else { throw fail("\(name("horizon")) must be at least 1") } }
            if let layers {
                guard layers >= 1 else { throw fail("\(name("layers")) must be at least 1") }
                let widths = hidden?.count ?? 1
                guard widths == 1 || widths == layers else { throw fail("\(name("hidden")) has \(widths) widths but \(name("layers")) is \(layers)") }
            }
            guard shuffle == nil || shuffle == .batches else {
                throw fail("\(name("shuffle")) is for \(name("model")) linear, softmax and mlp (the forecaster shuffles runs of windows)")
            }
            guard (0..<1).contains(validationFraction ?? 0.2) else { throw fail("\(name("validation_fraction")) must be in [0, 1)") }
            guard scaling != Scaling.none else {
                throw fail("\(name("scaling")) none is for \(name("model")) linear, softmax and mlp: the forecaster scales (standard or min-max)")
            }
            if let targetColumns { guard targetColumns.allSatisfy({ $0 >= 0 }) else { throw fail("\(name("target_columns")) must be at least 0") } }
        } else {
            guard series == nil else { throw fail("\(name("series")) is for \(name("model")) lstm; use \(name("data")) and \(name("labels"))") }
            guard data != nil, labels != nil else { throw fail("\(name("model")) \(model.rawValue) needs \(name("data")) and \(name("labels"))") }
            for (option, given) in [("window", window != nil), ("layers", layers != nil), ("target_columns", targetColumns != nil),
                                    ("horizon", horizon != nil), ("validation_fraction", validationFraction != nil)] where given {
                throw fail("\(name(option)) is for \(name("model")) lstm")
            }
            if model != .mlp, hidden != nil { throw fail("\(name("hidden")) is for \(name("model")) mlp or lstm") }
        }
    }
}

/// Why a `TrainingRequest` cannot run, naming the option.
public struct InvalidTrainingRequest: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
