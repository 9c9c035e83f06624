import Foundation
import TensorLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An LSTM forecaster of a stored time series [T, F]: one or more LSTM layers over a look-back
/// window, then a linear head predicting the target columns of the next `horizon` rows at once
/// (direct multi-step forecasting: the head has horizon x targets outputs).
public struct ForecasterSpec: Sendable, Equatable, Codable {
    /// How features are scaled before entering the network (statistics from the training part only).
    public typealias Scaling = FeatureScaling

    /// Hidden sizes of the stacked LSTM layers (at least one).
    public var hidden: [Int]
    /// Look-back window length in rows.
    public var window: Int
    /// Rows predicted from one window: rows t, t + 1, ..., t + horizon - 1 after a window ending before row t.
    /// Configurations stored before horizons existed decode as 1.
    public var horizon: Int
    /// Columns to predict (nil: all F, which also allows multi-step `forecast`).
    public var targetColumns: [Int]?
    /// Feature scaling.
    public var scaling: Scaling
    /// Fraction of the target rows, at the end of the series, held out for validation (chronological split).
    public var validationFraction: Double

    /// A forecaster specification; see the properties.
    public init(
        hidden: [Int] = [32], window: Int = 24, horizon: Int = 1, targetColumns: [Int]? = nil, scaling: Scaling = .standard,
        validationFraction: Double = 0.2
    ) {
        self.hidden = hidden
        self.window = window
        self.horizon = horizon
        self.targetColumns = targetColumns
        self.scaling = scaling
        self.validationFraction = validationFraction
    }

    enum CodingKeys: String, CodingKey { case hidden, window, horizon, targetColumns, scaling, validationFraction }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hidden = try container.decode([Int].self, forKey: .hidden)
        window = try container.decode(Int.self, forKey: .window)
        horizon = try container.decodeIfPresent(Int.self, forKey: .horizon) ?? 1
        targetColumns = try container.decodeIfPresent([Int].self, forKey: .targetColumns)
        scaling = try container.decode(Scaling.self, forKey: .scaling)
        validationFraction = try container.decode(Double.self, forKey: .validationFraction)
    }
}

/// What is stored in `<model>/config` for a forecaster.
public struct ForecasterConfig: Sendable, Equatable, Codable {
    /// Version of this JSON layout.
    public var formatVersion = 1
    /// Always "lstm" (tells forecaster configs from `ModelConfig`).
    public var kind = "lstm"
    /// Architecture, window, targets, scaling and split.
    public var spec: ForecasterSpec
    /// Feature columns F of the series.
    public var features: Int
    /// Target columns predicted.
    public var targets: [Int]
    /// Optimiser of the last run.
    public var optimizer: OptimizerSpec
    /// Seed of the last run.
    public var seed: UInt64
    /// Batch size (windows) of the last run.
    public var batchSize: Int
    /// Epochs trained so far.
    public var epochsCompleted: Int
    /// Optimiser updates so far.
    public var step: Int
    /// Key of the series trained on.
    public var series: String
    /// Rows of the series when training last ran, and the first row of the validation part: a window is a
    /// validation window when its last target row is at or after it (so no validation row is a training target).
    public var rows: Int
    public var validationStart: Int

    /// Rows predicted from one window (`spec.horizon`).
    public var horizon: Int { spec.horizon }
}

/// One forecaster training epoch.
public struct ForecastEpochReport: Sendable, Equatable {
    /// Epoch number (continues across resumes), from 1.
    public let epoch: Int
    /// Mean squared error on the training windows, in scaled units.
    public let loss: Double
    /// Mean squared error on the validation windows (nil when there are none), in scaled units.
    public let validationLoss: Double?
    /// The validation error per step ahead (`horizon` values, the first for the row right after the window;
    /// nil when there are no validation windows), in scaled units.
    public let validationLossPerStep: [Double]?
    /// Samples (training windows or rows) seen in the epoch.
    public let samples: Int
    /// Training throughput of the epoch.
    public let samplesPerSecond: Double
    /// Largest RssAnon sampled during the epoch, in bytes.
    public let peakRssAnonBytes: Int
    /// Store sequence of the epoch's checkpoint.
    public let checkpointSequence: UInt64
}

/// The rows of a stored series, read in place: uncompressed blocks through zero-copy views (any numeric
/// dtype, converted row by row as it is gathered); a series with compressed blocks is decoded once into memory.
final class SeriesSource {
    let views: [TensorView]
    let starts: [Int]
    let owned: UnsafeMutableRawBufferPointer?
    let dtype: DType
    let rows: Int
    let width: Int
    let rowBytes: Int

    init(snapshot: Snapshot, key: String) throws {
        let info = try snapshot.info(key)
        guard info.shape.count == 2 || info.shape.count == 1 else { throw ComputeError("series '\(key)' must be [T, F] or [T]; it is \(info.shape)") }
        guard Convert.supportedFeatureTypes.contains(info.dtype) else { throw ComputeError("series '\(key)' is \(info.dtype)") }
        dtype = info.dtype
        rows = info.shape[0]
        rowBytes = try info.rowBytes()  // overflow-checked: a stored shape whose rows overflow is an error
        width = rowBytes / dtype.size
        guard width > 0 else { throw ComputeError("series '\(key)' has shape \(info.shape): rows of no values") }
        if let views = try? snapshot.blockViews(key) {
            self.views = views
            var starts: [Int] = []
            var start = 0
            for view in views {
                starts.append(start)
                start += view.shape.first ?? 0
            }
            self.starts = starts
            owned = nil
        } else {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, rows * rowBytes), alignment: 64)
            try snapshot.read(key, rows: 0..<rows, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<rows * rowBytes]))
            views = []
            starts = []
            owned = buffer
        }
    }

    deinit { owned?.deallocate() }

    var isZeroCopy: Bool { owned == nil }

    /// Converts row `t` to float32 into `destination` (F values).
    func row(_ t: Int, into destination: UnsafeMutablePointer<Float>) throws {
        if let owned {
            try Convert.toFloat(owned.baseAddress! + t * rowBytes, dtype: dtype, count: width, into: destination)
            return
        }
        var low = 0, high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= t { low = mid } else { high = mid - 1 }
        }
        let offset = (t - starts[low]) * rowBytes
        try views[low].withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            try Convert.toFloat(raw.baseAddress! + offset, dtype: dtype, count: width, into: destination)
        }
    }
}

/// Buffers and the forward/backward passes (backpropagation through time) of the stacked LSTM.
final class LSTMNetwork {
    let inputs: Int
    let hidden: [Int]
    let outputs: Int
    let window: Int
    let capacity: Int
    let params: ParameterSet
    let gradients: ParameterSet
    /// Per time step, the gathered scaled inputs [B, F].
    let xs: UnsafeMutablePointer<Float>
    /// Per layer: gates (post-activation i, f, g, o) W x [B, 4H]; cells and hidden states (W + 1) x [B, H]
    /// (index 0 is the zero initial state); tanh(c) W x [B, H].
    let gates: [UnsafeMutablePointer<Float>]
    let cells: [UnsafeMutablePointer<Float>]
    let states: [UnsafeMutablePointer<Float>]
    let tanhCells: [UnsafeMutablePointer<Float>]
    let prediction: UnsafeMutablePointer<Float>
    let outputGradient: UnsafeMutablePointer<Float>
    // Backward scratch.
    let dAbove: UnsafeMutablePointer<Float>
    let dBelow: UnsafeMutablePointer<Float>
    let dhNext: UnsafeMutablePointer<Float>
    let dcNext: UnsafeMutablePointer<Float>
    let dGates: UnsafeMutablePointer<Float>

    static func shapes(inputs: Int, hidden: [Int], outputs: Int) -> [[Int]] {
        var shapes: [[Int]] = []
        for (l, h) in hidden.enumerated() {
            let input = l == 0 ? inputs : hidden[l - 1]
            shapes += [[input, 4 * h], [h, 4 * h], [4 * h]]
        }
        return shapes + [[hidden.last!, outputs], [outputs]]
    }

    static func names(layers: Int, prefix: String) -> [String] {
        (0..<layers).flatMap { ["\(prefix)lstm\($0)/wx", "\(prefix)lstm\($0)/wh", "\(prefix)lstm\($0)/bias"] } + ["\(prefix)head/weight", "\(prefix)head/bias"]
    }

    init(inputs: Int, hidden: [Int], outputs: Int, window: Int, capacity: Int) {
        self.inputs = inputs
        self.hidden = hidden
        self.outputs = outputs
        self.window = window
        self.capacity = capacity
        let shapes = LSTMNetwork.shapes(inputs: inputs, hidden: hidden, outputs: outputs)
        params = ParameterSet(shapes: shapes)
        gradients = ParameterSet(shapes: shapes)
        func zeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        xs = zeroed(window * capacity * inputs)
        gates = hidden.map { zeroed(window * capacity * 4 * $0) }
        cells = hidden.map { zeroed((window + 1) * capacity * $0) }
        states = hidden.map { zeroed((window + 1) * capacity * $0) }
        tanhCells = hidden.map { zeroed(window * capacity * $0) }
        prediction = zeroed(capacity * outputs)
        outputGradient = zeroed(capacity * outputs)
        let widest = max(hidden.max()!, inputs)
        dAbove = zeroed(window * capacity * widest)
        dBelow = zeroed(window * capacity * widest)
        dhNext = zeroed(capacity * widest)
        dcNext = zeroed(capacity * widest)
        dGates = zeroed(capacity * 4 * hidden.max()!)
    }

    deinit {
        for p in [xs, prediction, outputGradient, dAbove, dBelow, dhNext, dcNext, dGates] { p.deallocate() }
        for list in [gates, cells, states, tanhCells] { for p in list { p.deallocate() } }
    }

    /// Xavier-uniform weights, zero biases except the forget gate's (1), as is usual for LSTMs.
    func initialize(rng: inout Xoshiro256) {
        for (i, shape) in params.shapes.enumerated() {
            let buffer = params.buffers[i]
            if shape.count == 2 {
                let limit = (6 / Float(shape[0] + shape[1] / (i < 3 * hidden.count ? 4 : 1))).squareRoot()
                for j in 0..<buffer.count { buffer[j] = (rng.nextUniform() * 2 - 1) * limit }
            } else {
                buffer.update(repeating: 0)
                if i < 3 * hidden.count {
                    let h = shape[0] / 4
                    for j in h..<2 * h { buffer[j] = 1 }
                }
            }
        }
    }

    func input(_ t: Int) -> UnsafeMutablePointer<Float> { xs + t * capacity * inputs }

    /// Runs the network on the `rows` windows gathered in `xs`; returns predictions [rows, outputs].
    @discardableResult
    func forward(rows: Int) -> UnsafeMutablePointer<Float> {
        for (l, h) in hidden.enumerated() {
            let inWidth = l == 0 ? inputs : hidden[l - 1]
            let wx = UnsafePointer(params.buffers[3 * l].baseAddress!), wh = UnsafePointer(params.buffers[3 * l + 1].baseAddress!)
            let bias = UnsafePointer(params.buffers[3 * l + 2].baseAddress!)
            states[l].update(repeating: 0, count: rows * h)
            cells[l].update(repeating: 0, count: rows * h)
            for t in 0..<window {
                let x: UnsafePointer<Float> = l == 0 ? UnsafePointer(input(t)) : UnsafePointer(states[l - 1] + (t + 1) * capacity * inWidth)
                let a = gates[l] + t * capacity * 4 * h
                let hPrev = states[l] + t * capacity * h, hNow = states[l] + (t + 1) * capacity * h
                let cPrev = cells[l] + t * capacity * h, cNow = cells[l] + (t + 1) * capacity * h
                let tc = tanhCells[l] + t * capacity * h
                Kernels.gemm(m: rows, n: 4 * h, k: inWidth, a: x, lda: inWidth, b: wx, ldb: 4 * h, c: a, ldc: 4 * h)
                Kernels.gemm(m: rows, n: 4 * h, k: h, a: hPrev, lda: h, b: wh, ldb: 4 * h, beta: 1, c: a, ldc: 4 * h)
                Kernels.addBias(a, rows: rows, cols: 4 * h, bias: bias)
                for r in 0..<rows {
                    let g = a + r * 4 * h
                    Kernels.sigmoid(g, count: 2 * h)
                    Kernels.tanh(g + 2 * h, count: h)
                    Kernels.sigmoid(g + 3 * h, count: h)
                    for j in 0..<h {
                        let c = g[h + j] * cPrev[r * h + j] + g[j] * g[2 * h + j]
                        cNow[r * h + j] = c
                        let tanhC = tanhf(c)
                        tc[r * h + j] = tanhC
                        hNow[r * h + j] = g[3 * h + j] * tanhC
                    }
                }
            }
        }
        let top = hidden.count - 1, h = hidden[top]
        let last = states[top] + window * capacity * h
        Kernels.gemm(m: rows, n: outputs, k: h, a: last, lda: h, b: params.buffers[3 * hidden.count].baseAddress!, ldb: outputs, c: prediction, ldc: outputs)
        Kernels.addBias(prediction, rows: rows, cols: outputs, bias: params.buffers[3 * hidden.count + 1].baseAddress!)
        return prediction
    }

    /// Backpropagation through time from `outputGradient` (d loss / d prediction) into `gradients`.
    func backward(rows: Int) {
        for buffer in gradients.buffers { buffer.update(repeating: 0) }
        let top = hidden.count - 1
        let headW = params.buffers[3 * hidden.count].baseAddress!
        let topH = hidden[top]
        let last = states[top] + window * capacity * topH
        Kernels.gemm(transposeA: true, m: topH, n: outputs, k: rows, a: last, lda: topH, b: outputGradient, ldb: outputs,
                     c: gradients.buffers[3 * hidden.count].baseAddress!, ldc: outputs)
        Kernels.sumColumns(outputGradient, rows: rows, cols: outputs, into: gradients.buffers[3 * hidden.count + 1].baseAddress!)
        // d loss / d h of the top layer: only the last step feeds the head.
        var above = dAbove, below = dBelow
        above.update(repeating: 0, count: window * capacity * topH)
        Kernels.gemm(transposeB: true, m: rows, n: topH, k: outputs, a: outputGradient, lda: outputs, b: headW, ldb: outputs,
                     c: above + (window - 1) * capacity * topH, ldc: topH)
        for l in stride(from: top, through: 0, by: -1) {
            let h = hidden[l]
            let inWidth = l == 0 ? inputs : hidden[l - 1]
            let wx = params.buffers[3 * l].baseAddress!, wh = params.buffers[3 * l + 1].baseAddress!
            let gwx = gradients.buffers[3 * l].baseAddress!, gwh = gradients.buffers[3 * l + 1].baseAddress!
            let gb = gradients.buffers[3 * l + 2].baseAddress!
            dhNext.update(repeating: 0, count: rows * h)
            dcNext.update(repeating: 0, count: rows * h)
            for t in stride(from: window - 1, through: 0, by: -1) {
                let a = gates[l] + t * capacity * 4 * h
                let cPrev = cells[l] + t * capacity * h
                let tc = tanhCells[l] + t * capacity * h
                let dh = above + t * capacity * h
                for r in 0..<rows {
                    let g = a + r * 4 * h, d = dGates + r * 4 * h
                    for j in 0..<h {
                        let k = r * h + j
                        let grad = dh[k] + dhNext[k]
                        let i = g[j], f = g[h + j], cand = g[2 * h + j], o = g[3 * h + j]
                        let dc = dcNext[k] + grad * o * (1 - tc[k] * tc[k])
                        d[j] = dc * cand * i * (1 - i)
                        d[h + j] = dc * cPrev[k] * f * (1 - f)
                        d[2 * h + j] = dc * i * (1 - cand * cand)
                        d[3 * h + j] = grad * tc[k] * o * (1 - o)
                        dcNext[k] = dc * f
                    }
                }
                let x: UnsafePointer<Float> = l == 0 ? UnsafePointer(input(t)) : UnsafePointer(states[l - 1] + (t + 1) * capacity * inWidth)
                let hPrev = states[l] + t * capacity * h
                Kernels.gemm(transposeA: true, m: inWidth, n: 4 * h, k: rows, a: x, lda: inWidth, b: dGates, ldb: 4 * h, beta: 1, c: gwx, ldc: 4 * h)
                Kernels.gemm(transposeA: true, m: h, n: 4 * h, k: rows, a: hPrev, lda: h, b: dGates, ldb: 4 * h, beta: 1, c: gwh, ldc: 4 * h)
                for r in 0..<rows {
                    let d = dGates + r * 4 * h
                    for j in 0..<4 * h { gb[j] += d[j] }
                }
                Kernels.gemm(transposeB: true, m: rows, n: h, k: 4 * h, a: dGates, lda: 4 * h, b: wh, ldb: 4 * h, c: dhNext, ldc: h)
                if l > 0 {
                    Kernels.gemm(transposeB: true, m: rows, n: inWidth, k: 4 * h, a: dGates, lda: 4 * h, b: wx, ldb: 4 * h,
                                 c: below + t * capacity * inWidth, ldc: inWidth)
                }
            }
            swap(&above, &below)
        }
    }
}

/// Trains LSTM forecasters on stored series and writes forecasts back to the store.
///
/// Model keys: `<model>/config` (ForecasterConfig JSON), `<model>/lstm<l>/wx` [in, 4H], `/wh` [H, 4H],
/// `/bias` [4H] (gate order i, f, g, o), `<model>/head/weight` [H, targets], `/bias`,
/// `<model>/scaling/shift` and `/scale` [F], and the optimiser state under `<model>/optimizer/...`.
public enum Forecaster {
    /// Trains on the windows of `series` [T, F] (any numeric dtype; rows may have been appended): from the
    /// `window` rows before row t, predict the target columns of rows t..<t + horizon (squared loss over all
    /// of them). A window is used only when all its target rows exist.
    ///
    /// Windows are never materialised: each batch gathers its rows, time step by time step, straight
    /// from the mapped blocks (scaling applied on the way). Scaling statistics come from one streaming
    /// pass over the training part; the last `validationFraction` of the windows, by their last target row,
    /// is the validation set (chronological split: no validation row is a training target). Training batches are runs of consecutive windows, visited in an order
    /// reproducible from `seed`. A checkpoint is written after every epoch; `resume` continues one
    /// (keeping its scaling statistics and split).
    public static func train(
        store: TensorStore, series: String, spec: ForecasterSpec, optimizer: OptimizerSpec, epochs: Int, batchSize: Int,
        seed: UInt64, saveAs: String, resume: Bool = false, control: TrainingControl? = nil,
        progress: (ForecastEpochReport) -> Void = { _ in }
    ) throws -> ForecasterConfig {
        guard !spec.hidden.isEmpty, spec.hidden.allSatisfy({ $0 > 0 }), spec.window > 0, spec.horizon > 0, batchSize > 0 else {
            throw ComputeError("forecaster needs at least one positive hidden size, a positive window, horizon and batch size")
        }
        let snapshot = store.snapshot()
        let source = try SeriesSource(snapshot: snapshot, key: series)
        let targets = spec.targetColumns ?? Array(0..<source.width)
        guard !targets.isEmpty, targets.allSatisfy({ $0 >= 0 && $0 < source.width }) else {
            throw ComputeError("target columns \(targets) outside the series' \(source.width) columns")
        }
        let horizon = spec.horizon
        guard source.rows - spec.window > horizon else {
            let needs = horizon == 1 ? "window is \(spec.window)" : "window \(spec.window) and horizon \(horizon) need more than \(spec.window + horizon)"
            throw ComputeError("series '\(series)' has \(source.rows) rows; \(needs)")
        }
        let outputs = horizon * targets.count

        let net = LSTMNetwork(inputs: source.width, hidden: spec.hidden, outputs: outputs, window: spec.window, capacity: batchSize)
        let state = OptimizerState(kind: optimizer.kind, shapes: net.params.shapes)
        let scaler: FeatureScaler
        var config: ForecasterConfig
        let existing = resume && snapshot.contains(ModelKeys.config(saveAs))
        if existing {
            config = try loadConfig(snapshot, model: saveAs)
            guard config.spec == spec, config.features == source.width else {
                throw ComputeError("checkpoint '\(saveAs)' is \(config.spec) over \(config.features) columns; asked for \(spec) over \(source.width)")
            }
            let names = LSTMNetwork.names(layers: spec.hidden.count, prefix: "\(saveAs)/")
            try Checkpoint.load(snapshot, names: names, into: net.params)
            if config.optimizer.kind == optimizer.kind {
                for (prefix, slot) in zip(ModelKeys.optimizerState(saveAs, kind: optimizer.kind), state.slots) {
                    try Checkpoint.load(snapshot, names: LSTMNetwork.names(layers: spec.hidden.count, prefix: prefix), into: slot)
                }
            } else {
                config.step = 0
            }
            scaler = try FeatureScaler.load(snapshot, model: saveAs, width: source.width)
            // The series may have grown since: the split moves with it (scaling statistics stay those trained with).
            config.validationStart = validationStart(rows: source.rows, spec: spec)
            config.optimizer = optimizer
            config.batchSize = batchSize
            config.seed = seed
            config.rows = source.rows
        } else {
            let validationStart = validationStart(rows: source.rows, spec: spec)
            scaler = try statistics(source, rows: validationStart, scaling: spec.scaling)
            config = ForecasterConfig(
                spec: spec, features: source.width, targets: targets, optimizer: optimizer, seed: seed, batchSize: batchSize,
                epochsCompleted: 0, step: 0, series: series, rows: source.rows, validationStart: validationStart)
            var rng = Xoshiro256(seed: seed, stream: UInt64.max)
            net.initialize(rng: &rng)
        }

        // Windows are identified by their last target row; the first window's is window + horizon - 1.
        let trainTargets = Array(spec.window + horizon - 1..<config.validationStart)
        let validationTargets = Array(config.validationStart..<source.rows)
        let rowBuffer = UnsafeMutablePointer<Float>.allocate(capacity: source.width)
        defer { rowBuffer.deallocate() }
        let targetBuffer = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * outputs)
        defer { targetBuffer.deallocate() }

        /// Gathers the windows whose last target rows are `lasts` into the network's inputs, and their scaled
        /// targets [B, horizon, targets].
        func gather(_ lasts: ArraySlice<Int>) throws {
            for (b, last) in lasts.enumerated() {
                let first = last - horizon + 1
                for k in 0..<spec.window {
                    let x = net.input(k) + b * source.width
                    try source.row(first - spec.window + k, into: x)
                    scaler.apply(x, rows: 1, into: x)
                }
                for step in 0..<horizon {
                    try source.row(first + step, into: rowBuffer)
                    scaler.apply(rowBuffer, rows: 1, into: rowBuffer)
                    let y = targetBuffer + b * outputs + step * targets.count
                    for (o, column) in targets.enumerated() { y[o] = rowBuffer[column] }
                }
            }
        }

        let clock = ContinuousClock()
        for _ in 0..<epochs {
            var memory = PeakMemoryTracker()
            memory.sample()
            let epoch = config.epochsCompleted
            var rng = Xoshiro256(seed: seed, stream: UInt64(epoch))
            var starts = Array(stride(from: 0, to: trainTargets.count, by: batchSize))
            rng.shuffle(&starts)
            var lossSum = 0.0, samples = 0
            var step = config.step
            let begin = clock.now
            for start in starts {
                try control?.check(epochsCompleted: epoch)
                let ends = trainTargets[start..<min(start + batchSize, trainTargets.count)]
                try gather(ends)
                net.forward(rows: ends.count)
                let loss = Kernels.meanSquaredErrorGradient(net.prediction, targetBuffer, count: ends.count * outputs, gradient: net.outputGradient)
                net.backward(rows: ends.count)
                step += 1
                state.step(net.params, gradients: net.gradients, spec: optimizer, step: step)
                lossSum += loss * Double(ends.count)
                samples += ends.count
            }
            let elapsed = (clock.now - begin) / .seconds(1)
            var validationSum = 0.0
            var stepSums = [Double](repeating: 0, count: horizon)
            for start in stride(from: 0, to: validationTargets.count, by: batchSize) {
                let ends = validationTargets[start..<min(start + batchSize, validationTargets.count)]
                try gather(ends)
                net.forward(rows: ends.count)
                validationSum += Kernels.meanSquaredError(net.prediction, targetBuffer, count: ends.count * outputs) * Double(ends.count)
                for b in 0..<ends.count {
                    for step in 0..<horizon {
                        let offset = b * outputs + step * targets.count
                        for o in 0..<targets.count {
                            let difference = Double(net.prediction[offset + o] - targetBuffer[offset + o])
                            stepSums[step] += difference * difference
                        }
                    }
                }
            }
            memory.sample()
            config.step = step
            config.epochsCompleted = epoch + 1
            let sequence = try save(store: store, model: saveAs, config: config, net: net, state: state, scaler: scaler)
            progress(ForecastEpochReport(
                epoch: epoch + 1, loss: samples > 0 ? lossSum / Double(samples) : 0,
                validationLoss: validationTargets.isEmpty ? nil : validationSum / Double(validationTargets.count),
                validationLossPerStep: validationTargets.isEmpty ? nil : stepSums.map { $0 / Double(validationTargets.count * targets.count) },
                samples: samples, samplesPerSecond: elapsed > 0 ? Double(samples) / elapsed : 0,
                peakRssAnonBytes: memory.peakRssAnonBytes, checkpointSequence: sequence))
        }
        if epochs == 0 && !existing {
            try save(store: store, model: saveAs, config: config, net: net, state: state, scaler: scaler)
        }
        return config
    }

    /// Predictions for every window of `series` that has all its target rows, unscaled, written to `output`
    /// as float32. Horizon 1: [T - window, targets] ([T - window] for one target); row i predicts series row
    /// window + i. Horizon H > 1: [T - window - H + 1, H, targets]; entry [i, s] predicts series row
    /// window + i + s. Returns the rows (windows) written.
    @discardableResult
    public static func predict(store: TensorStore, model: String, series: String, output: String, batchSize: Int = 256) throws -> Int {
        let snapshot = store.snapshot()
        let (config, net, scaler) = try open(snapshot, model: model, batchSize: batchSize)
        let source = try SeriesSource(snapshot: snapshot, key: series)
        guard source.width == config.features else { throw ComputeError("model '\(model)' takes \(config.features) columns; '\(series)' has \(source.width)") }
        let window = config.spec.window, horizon = config.horizon
        guard source.rows - window >= horizon else {
            throw ComputeError(horizon == 1 ? "series '\(series)' is shorter than the window"
                : "series '\(series)' has \(source.rows) rows; window \(window) and horizon \(horizon) need at least \(window + horizon)")
        }
        let windows = source.rows - window - horizon + 1
        let outputs = horizon * config.targets.count
        var out: [Float] = []
        out.reserveCapacity(windows * outputs)
        var start = 0
        while start < windows {
            let count = min(batchSize, windows - start)
            for b in 0..<count {
                for k in 0..<window {
                    let x = net.input(k) + b * source.width
                    try source.row(start + b + k, into: x)
                    scaler.apply(x, rows: 1, into: x)
                }
            }
            let y = net.forward(rows: count)
            for b in 0..<count {
                for step in 0..<horizon {
                    let row = y + b * outputs + step * config.targets.count
                    for (o, column) in config.targets.enumerated() { out.append(scaler.unscale(row[o], column: column)) }
                }
            }
            start += count
        }
        let shape = horizon > 1 ? [windows, horizon, config.targets.count]
            : config.targets.count == 1 ? [windows] : [windows, config.targets.count]
        try store.put(output, out, shape: shape, options: Checkpoint.uncompressed)
        return windows
    }

    /// Forecasts `steps` rows past the end of `series`, unscaled. The model predicts `horizon` rows per pass;
    /// when it predicts every column, each block of `horizon` rows is fed back as input for the next pass
    /// (so any number of steps works). A model of only some columns cannot feed its predictions back: it
    /// forecasts at most `horizon` steps (an error otherwise), and its rows hold the target columns only.
    public static func forecast(store: TensorStore, model: String, series: String, steps: Int) throws -> [[Float]] {
        let snapshot = store.snapshot()
        let (config, net, scaler) = try open(snapshot, model: model, batchSize: 1)
        let horizon = config.horizon, targets = config.targets
        let everyColumn = targets == Array(0..<config.features)
        guard everyColumn || steps <= horizon else {
            throw ComputeError(
                "model '\(model)' predicts columns \(targets) of \(config.features), \(horizon) row\(horizon == 1 ? "" : "s") ahead: "
                    + "forecasting \(steps) steps needs a model of every column (its predictions are fed back) or steps <= \(horizon)")
        }
        let source = try SeriesSource(snapshot: snapshot, key: series)
        let window = config.spec.window, width = config.features
        guard source.rows >= window, source.width == width else { throw ComputeError("series '\(series)' does not fit model '\(model)'") }
        var history = [Float](repeating: 0, count: window * width)  // scaled, oldest first
        try history.withUnsafeMutableBufferPointer { buffer in
            for k in 0..<window {
                let x = buffer.baseAddress! + k * width
                try source.row(source.rows - window + k, into: x)
                scaler.apply(x, rows: 1, into: x)
            }
        }
        var result: [[Float]] = []
        while result.count < steps {
            for k in 0..<window { for j in 0..<width { net.input(k)[j] = history[k * width + j] } }
            let y = net.forward(rows: 1)
            for step in 0..<horizon {
                let next = (0..<targets.count).map { y[step * targets.count + $0] }
                if result.count < steps { result.append(zip(next, targets).map { scaler.unscale($0, column: $1) }) }
                if everyColumn {
                    history.removeFirst(width)
                    history += next
                }
            }
        }
        return result
    }

    /// First row of the validation part: the windows (identified by their last target row, window + horizon - 1
    /// up to T - 1) whose last target row is at or after it are the last `validationFraction` of all windows,
    /// leaving at least one training window.
    static func validationStart(rows: Int, spec: ForecasterSpec) -> Int {
        let windows = rows - spec.window - spec.horizon + 1
        let validation = Int((Double(windows) * spec.validationFraction).rounded())
        return rows - min(max(validation, 0), windows - 1)
    }

    // MARK: Storage

    static func open(_ snapshot: Snapshot, model: String, batchSize: Int) throws -> (ForecasterConfig, LSTMNetwork, FeatureScaler) {
        let config = try loadConfig(snapshot, model: model)
        let net = LSTMNetwork(
            inputs: config.features, hidden: config.spec.hidden, outputs: config.horizon * config.targets.count, window: config.spec.window,
            capacity: batchSize)
        try Checkpoint.load(snapshot, names: LSTMNetwork.names(layers: config.spec.hidden.count, prefix: "\(model)/"), into: net.params)
        return (config, net, try FeatureScaler.load(snapshot, model: model, width: config.features))
    }

    static func loadConfig(_ snapshot: Snapshot, model: String) throws -> ForecasterConfig {
        let key = ModelKeys.config(model)
        guard snapshot.contains(key) else { throw ComputeError("no model '\(model)' in the store (missing \(key))") }
        let bytes = try snapshot.read(key).values(as: UInt8.self)
        do {
            return try JSONDecoder().decode(ForecasterConfig.self, from: Data(bytes))
        } catch {
            throw ComputeError("\(key) is not a forecaster configuration: \(error)")
        }
    }

    @discardableResult
    static func save(
        store: TensorStore, model: String, config: ForecasterConfig, net: LSTMNetwork, state: OptimizerState,
        scaler: FeatureScaler
    ) throws -> UInt64 {
        let json = try JSONEncoder().encode(config)
        let layers = config.spec.hidden.count
        let snapshot = store.snapshot()
        return try store.write { batch in
            batch.put(ModelKeys.config(model), try Tensor([UInt8](json), metadata: ["tensorlog.kind": "forecaster-config"]), options: Checkpoint.uncompressed)
            var written = Set(try scaler.put(into: &batch, model: model))
            var sets: [(String, ParameterSet)] = [("\(model)/", net.params)]
            for (prefix, slot) in zip(ModelKeys.optimizerState(model, kind: state.kind), state.slots) { sets.append((prefix, slot)) }
            for (prefix, set) in sets {
                for (name, buffer, shape) in zip3(LSTMNetwork.names(layers: layers, prefix: prefix), set.buffers, set.shapes) {
                    try batch.put(name, Array(buffer), shape: shape, options: Checkpoint.uncompressed)
                    written.insert(name)
                }
            }
            ModelKeys.deleteStale(&batch, snapshot: snapshot, model: model, keeping: written)
        }
    }

    /// One streaming pass over rows 0..<rows of the series: mean and standard deviation, or min and range.
    static func statistics(_ source: SeriesSource, rows: Int, scaling: FeatureScaling) throws -> FeatureScaler {
        let row = UnsafeMutablePointer<Float>.allocate(capacity: source.width)
        defer { row.deallocate() }
        var statistics = ScalingStatistics(width: source.width)
        for t in 0..<rows {
            try source.row(t, into: row)
            statistics.add(rows: 1, row)
        }
        return statistics.scaler(scaling)
    }
}

extension ForecasterSpec: CustomStringConvertible {
    /// `lstm [64] window 6 targets [0, 1] standard scaling, validation 0.2` (and `horizon H` after the window when H > 1): for messages.
    public var description: String {
        "lstm \(hidden) window \(window)\(horizon == 1 ? "" : " horizon \(horizon)") targets \(targetColumns.map { "\($0)" } ?? "all") \(scaling.rawValue) scaling, validation \(validationFraction)"
    }
}
