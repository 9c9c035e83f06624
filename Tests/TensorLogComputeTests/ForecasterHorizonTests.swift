import Foundation
import Testing
import TensorLog
import TensorLogAPI
@testable import TensorLogCompute

@Suite("LSTM forecaster, multi-step horizon")
struct ForecasterHorizonTests {
    /// Two columns: a sine plus a linear trend, and a cosine.
    func writeTrendSeries(_ store: TensorStore, rows: Int) throws {
        let values = (0..<rows).flatMap { t -> [Float] in
            let phase = Float(t) * 0.3
            return [sinf(phase) * 2 + Float(t) * 0.01, cosf(phase)]
        }
        try store.put("s", Array(values[0..<rows]), shape: [rows / 2, 2])
        try store.append("s", Array(values[rows..<2 * rows]), shape: [rows - rows / 2, 2])
    }

    /// Bit patterns of everything a fixed tiny run produces (losses, weights, predictions, forecast).
    struct RunBits: Equatable {
        var losses: [UInt64]
        var weights: [UInt32]
        var predictions: [UInt32]
        var forecast: [UInt32]
    }

    func tinyRun(_ store: TensorStore, spec: ForecasterSpec) throws -> (bits: RunBits, reports: [ForecastEpochReport]) {
        var reports: [ForecastEpochReport] = []
        _ = try Forecaster.train(
            store: store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 2, batchSize: 8, seed: 7, saveAs: "tiny",
            progress: { reports.append($0) })
        let snapshot = store.snapshot()
        let weights = try LSTMNetwork.names(layers: spec.hidden.count, prefix: "tiny/").flatMap { try snapshot.read($0).values(as: Float.self) }
        try Forecaster.predict(store: store, model: "tiny", series: "s", output: "tiny-pred")
        let predicted = try store.snapshot().read("tiny-pred").values(as: Float.self)
        let forecast = spec.targetColumns == nil ? try Forecaster.forecast(store: store, model: "tiny", series: "s", steps: 3).flatMap { $0 } : []
        let bits = RunBits(
            losses: reports.flatMap { [$0.loss.bitPattern, $0.validationLoss?.bitPattern ?? 0] }, weights: weights.map(\.bitPattern),
            predictions: predicted.map(\.bitPattern), forecast: forecast.map(\.bitPattern))
        return (bits, reports)
    }

    /// Runs the stored model over rows `first..<first + window` of `series` (already scaled) with batch size 1; scaled outputs.
    func forward(_ net: LSTMNetwork, rows: [[Float]], outputs: Int) -> [Float] {
        for (k, row) in rows.enumerated() {
            let x = net.input(k)
            for (j, value) in row.enumerated() { x[j] = value }
        }
        let y = net.forward(rows: 1)
        return (0..<outputs).map { y[$0] }
    }

    // Nothing here is compared with numbers recorded on another machine (OpenBLAS picks kernels by CPU and
    // thread count): two runs of this process, or the model's outputs recomputed by hand in this process.
    @Test("horizon 1 is the one-step forecaster: one validation step, [T - window] x targets predictions of row window + i, forecasts fed back a row at a time; one seed gives bit-identical runs", arguments: [
        ForecasterSpec(hidden: [4], window: 5),
        ForecasterSpec(hidden: [3, 2], window: 4, targetColumns: [1], scaling: .minMax),
    ])
    func horizonOne(spec: ForecasterSpec) throws {
        let tmp = try TemporaryStore(), other = try TemporaryStore()
        try writeTrendSeries(tmp.store, rows: 80)
        try writeTrendSeries(other.store, rows: 80)
        let (run, reports) = try tinyRun(tmp.store, spec: spec)
        let (again, _) = try tinyRun(other.store, spec: spec)
        #expect(run == again, "two runs with seed 7 on the same series differ")
        // One step: its validation error is the validation loss (summed apart, in float32 and in double: a few float32 roundings).
        #expect(reports.count == 2 && reports.allSatisfy { report in
            guard let total = report.validationLoss, let steps = report.validationLossPerStep, steps.count == 1 else { return false }
            return report.loss.isFinite && abs(steps[0] - total) <= 1e-5 * total
        })

        let snapshot = tmp.store.snapshot()
        let (config, net, scaler) = try Forecaster.open(snapshot, model: "tiny", batchSize: 1)
        #expect(config.horizon == 1)
        let targets = config.targets, window = spec.window
        let windows = 80 - window
        let prediction = try snapshot.read("tiny-pred")
        #expect(prediction.shape == (targets.count == 1 ? [windows] : [windows, targets.count]))
        let predicted = try prediction.values(as: Float.self)
        let series = try snapshot.read("s").values(as: Float.self)
        let scaled: [[Float]] = (0..<80).map { t in
            var row = [series[t * 2], series[t * 2 + 1]]
            row.withUnsafeMutableBufferPointer { scaler.apply($0.baseAddress!, rows: 1, into: $0.baseAddress!) }
            return row
        }
        // predict ran 256 windows per pass, this one: the sums may round differently (float32, a few dozen
        // terms per output), far below what a window off by one row changes (the series moves ~0.3 a row).
        for i in [0, windows / 2, windows - 1] {
            let y = forward(net, rows: Array(scaled[i..<i + window]), outputs: targets.count)
            for (o, column) in targets.enumerated() {
                let expected = scaler.unscale(y[o], column: column), got = predicted[i * targets.count + o]
                #expect(abs(got - expected) <= 1e-4 * (1 + abs(expected)), "window \(i) column \(column): \(got) vs \(expected)")
            }
        }
        // A model of every column forecasts one row per pass and feeds it back (same batch size 1 as forecast: exact).
        guard spec.targetColumns == nil else { return }
        var history = Array(scaled.suffix(window))
        var expected: [Float] = []
        for _ in 0..<3 {
            let next = forward(net, rows: history, outputs: 2)
            expected += zip(next, targets).map { scaler.unscale($0, column: $1) }
            history = Array(history.dropFirst()) + [next]
        }
        #expect(run.forecast == expected.map(\.bitPattern))
    }
}

extension ForecasterHorizonTests {
    @Test("horizon 3 on a sine plus trend: the split is by last target row, and each step ahead beats repeating the last value")
    func horizonThreeBeatsPersistence() throws {
        let tmp = try TemporaryStore()
        let rows = 400, window = 12, horizon = 3
        try writeTrendSeries(tmp.store, rows: rows)
        var reports: [ForecastEpochReport] = []
        let spec = ForecasterSpec(hidden: [16], window: window, horizon: horizon, validationFraction: 0.2)
        let config = try Forecaster.train(
            store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.02), epochs: 20, batchSize: 16, seed: 3, saveAs: "h3",
            progress: { reports.append($0) })
        // 386 windows (last target rows 14...399); the last round(0.2 x 386) = 77 are validation windows.
        let validationStart = rows - 77
        #expect(config.horizon == 3 && config.validationStart == validationStart)
        // Training windows' last target rows are 14..<323: no training target is a validation row.
        #expect(reports.allSatisfy { $0.samples == validationStart - (window + horizon - 1) })
        let perStep = try #require(reports.last?.validationLossPerStep)
        #expect(perStep.count == horizon)
        let mean = perStep.reduce(0, +) / Double(horizon)
        #expect(abs(mean - reports.last!.validationLoss!) < 1e-9 * max(1, mean))

        let windows = try Forecaster.predict(store: tmp.store, model: "h3", series: "s", output: "p")
        #expect(windows == rows - window - horizon + 1)
        let prediction = try tmp.store.snapshot().read("p")
        #expect(prediction.shape == [windows, horizon, 2])
        let predicted = try prediction.values(as: Float.self)
        let actual = try tmp.store.snapshot().read("s").values(as: Float.self)
        // Windows whose first target row is in the validation part: entry [i, s] predicts row window + i + s.
        for step in 0..<horizon {
            var model = 0.0, persistence = 0.0, count = 0
            for i in (validationStart - window)..<windows {
                let row = window + i + step, last = window + i - 1
                for column in 0..<2 {
                    let truth = Double(actual[row * 2 + column])
                    model += pow(Double(predicted[(i * horizon + step) * 2 + column]) - truth, 2)
                    persistence += pow(Double(actual[last * 2 + column]) - truth, 2)
                    count += 1
                }
            }
            #expect(count > 0 && model < persistence / 4, "step \(step + 1): model MSE \(model / Double(count)), last value \(persistence / Double(count))")
        }
    }

    @Test("predict's entry [i, s] is the model's output for the window of rows i..<i + window, step s, computed by hand")
    func predictionsAlign() throws {
        let tmp = try TemporaryStore()
        try writeTrendSeries(tmp.store, rows: 60)
        let spec = ForecasterSpec(hidden: [5], window: 6, horizon: 4, targetColumns: [1, 0], scaling: .minMax)
        _ = try Forecaster.train(store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 2, batchSize: 8, seed: 1, saveAs: "m")
        let windows = try Forecaster.predict(store: tmp.store, model: "m", series: "s", output: "p", batchSize: 7)
        #expect(windows == 60 - 6 - 4 + 1)
        let prediction = try tmp.store.snapshot().read("p")
        #expect(prediction.shape == [windows, 4, 2])
        let predicted = try prediction.values(as: Float.self)
        let series = try tmp.store.snapshot().read("s").values(as: Float.self)

        let (config, net, scaler) = try Forecaster.open(tmp.store.snapshot(), model: "m", batchSize: 1)
        for i in [0, 20, windows - 1] {
            for k in 0..<6 {
                let x = net.input(k)
                for j in 0..<2 { x[j] = series[(i + k) * 2 + j] }
                scaler.apply(x, rows: 1, into: x)
            }
            let y = net.forward(rows: 1)
            for step in 0..<4 {
                for (o, column) in config.targets.enumerated() {
                    // predict ran 7 windows per pass, this 1: sums may round differently (see horizonOne).
                    let expected = scaler.unscale(y[step * 2 + o], column: column), got = predicted[(i * 4 + step) * 2 + o]
                    #expect(abs(got - expected) <= 1e-4 * (1 + abs(expected)), "window \(i) step \(step): \(got) vs \(expected)")
                }
            }
        }
    }

    @Test("forecast feeds back blocks of horizon rows for a model of every column; a model of some columns forecasts at most its horizon")
    func forecastBlocks() throws {
        let tmp = try TemporaryStore()
        try writeTrendSeries(tmp.store, rows: 60)
        _ = try Forecaster.train(
            store: tmp.store, series: "s", spec: ForecasterSpec(hidden: [4], window: 5, horizon: 3), optimizer: .adam(), epochs: 1, batchSize: 8,
            seed: 2, saveAs: "all")
        let seven = try Forecaster.forecast(store: tmp.store, model: "all", series: "s", steps: 7)
        #expect(seven.count == 7 && seven.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isFinite) })
        // The first block is one pass over the last window; later blocks continue from it.
        let three = try Forecaster.forecast(store: tmp.store, model: "all", series: "s", steps: 3)
        #expect(Array(seven.prefix(3)) == three)

        _ = try Forecaster.train(
            store: tmp.store, series: "s", spec: ForecasterSpec(hidden: [4], window: 5, horizon: 3, targetColumns: [1]), optimizer: .adam(),
            epochs: 1, batchSize: 8, seed: 2, saveAs: "some")
        let two = try Forecaster.forecast(store: tmp.store, model: "some", series: "s", steps: 2)
        #expect(two.count == 2 && two.allSatisfy { $0.count == 1 })
        #expect(throws: ComputeError.self) { try Forecaster.forecast(store: tmp.store, model: "some", series: "s", steps: 4) }
        do {
            _ = try Forecaster.forecast(store: tmp.store, model: "some", series: "s", steps: 4)
        } catch {
            #expect("\(error)".contains("steps <= 3"), "\(error)")
        }
    }

    @Test("a model whose stored config predates horizons (no horizon key) loads as horizon 1, predicts and resumes")
    func oldConfigLoads() throws {
        let tmp = try TemporaryStore()
        try writeTrendSeries(tmp.store, rows: 80)
        let spec = ForecasterSpec(hidden: [4], window: 5)
        _ = try Forecaster.train(store: tmp.store, series: "s", spec: spec, optimizer: .adam(), epochs: 1, batchSize: 8, seed: 4, saveAs: "old")
        try Forecaster.predict(store: tmp.store, model: "old", series: "s", output: "before")

        // Rewrite the config as the forecaster wrote it before horizons existed.
        let key = ModelKeys.config("old")
        var json = try JSONSerialization.jsonObject(with: Data(try tmp.store.snapshot().read(key).values(as: UInt8.self))) as! [String: Any]
        var specJSON = json["spec"] as! [String: Any]
        #expect(specJSON.removeValue(forKey: "horizon") as? Int == 1)
        json["spec"] = specJSON
        let bytes = [UInt8](try JSONSerialization.data(withJSONObject: json))
        #expect(!String(decoding: bytes, as: UTF8.self).contains("horizon"))
        try tmp.store.put(key, try Tensor(bytes, metadata: ["tensorlog.kind": "forecaster-config"]), options: Checkpoint.uncompressed)

        let config = try Forecaster.loadConfig(tmp.store.snapshot(), model: "old")
        #expect(config.horizon == 1 && config.spec == spec)
        try Forecaster.predict(store: tmp.store, model: "old", series: "s", output: "after")
        #expect(try tmp.store.snapshot().read("after") == tmp.store.snapshot().read("before"))
        #expect(try tmp.store.snapshot().read("after").shape == [75, 2])
        let resumed = try Forecaster.train(
            store: tmp.store, series: "s", spec: spec, optimizer: .adam(), epochs: 1, batchSize: 8, seed: 4, saveAs: "old", resume: true)
        #expect(resumed.epochsCompleted == 2)
    }

    @Test("horizon: at least 1, any value for lstm; too long for the series is an error naming window and horizon")
    func horizonValidation() throws {
        var request = TrainingRequest(model: .lstm, save: "m")
        request.series = "s"
        request.window = 4
        request.horizon = 5
        #expect(throws: Never.self) { try request.validate() }
        request.horizon = 0
        #expect(throws: InvalidTrainingRequest.self) { try request.validate() }

        let tmp = try TemporaryStore()
        try writeTrendSeries(tmp.store, rows: 20)
        do {
            _ = try Forecaster.train(
                store: tmp.store, series: "s", spec: ForecasterSpec(hidden: [2], window: 10, horizon: 10), optimizer: .adam(), epochs: 1,
                batchSize: 2, seed: 1, saveAs: "f")
            Issue.record("a 20-row series trained with window 10 and horizon 10")
        } catch {
            #expect("\(error)".contains("horizon 10"), "\(error)")
        }
    }
}
