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

    /// Bit patterns of everything a fixed tiny H = 1 run produces.
    func tinyRun(_ store: TensorStore, spec: ForecasterSpec) throws -> (losses: [UInt64], weights: UInt64, predictions: UInt64, forecast: [UInt32]) {
        var reports: [ForecastEpochReport] = []
        _ = try Forecaster.train(
            store: store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 2, batchSize: 8, seed: 7, saveAs: "tiny",
            progress: { reports.append($0) })
        let snapshot = store.snapshot()
        let weights = try LSTMNetwork.names(layers: spec.hidden.count, prefix: "tiny/").flatMap { try snapshot.read($0).values(as: Float.self) }
        try Forecaster.predict(store: store, model: "tiny", series: "s", output: "tiny-pred")
        let predicted = try store.snapshot().read("tiny-pred").values(as: Float.self)
        let forecast = spec.targetColumns == nil ? try Forecaster.forecast(store: store, model: "tiny", series: "s", steps: 3).flatMap { $0 } : []
        func checksum(_ values: [Float]) -> UInt64 {
            values.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1.bitPattern)) &* 1099511628211 }
        }
        return (reports.flatMap { [$0.loss.bitPattern, $0.validationLoss!.bitPattern] }, checksum(weights), checksum(predicted), forecast.map(\.bitPattern))
    }

    @Test("horizon 1 is bit-identical to the forecaster before horizons existed (losses, weights, predictions, forecast)")
    func horizonOneUnchanged() throws {
        let tmp = try TemporaryStore()
        try writeTrendSeries(tmp.store, rows: 80)
        // Recorded from the forecaster before `horizon` was added (commit c7ad1b9), same machine kernels.
        let run = try tinyRun(tmp.store, spec: ForecasterSpec(hidden: [4], window: 5))
        #expect(run.losses == [4606892217869038880, 4606548729670896785, 4605141643724453788, 4605024040766964949])
        #expect(run.weights == 7682388881892708500 && run.predictions == 10227598402002611393)
        #expect(run.forecast == [1051994273, 1025304437, 1051435156, 1031235742, 1050933199, 1031069995])
        let other = try TemporaryStore()
        try writeTrendSeries(other.store, rows: 80)
        let stacked = try tinyRun(other.store, spec: ForecasterSpec(hidden: [3, 2], window: 4, targetColumns: [1], scaling: .minMax))
        #expect(stacked.losses == [4598625019938512135, 4590890381943597658, 4594963482238477622, 4590330690738901828])
        #expect(stacked.weights == 10510751702941341240 && stacked.predictions == 17921722514254480411)
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
                    #expect(predicted[(i * 4 + step) * 2 + o] == scaler.unscale(y[step * 2 + o], column: column), "window \(i) step \(step)")
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
