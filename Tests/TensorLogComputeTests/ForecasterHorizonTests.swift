import Foundation
import Testing
import TensorLog
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
