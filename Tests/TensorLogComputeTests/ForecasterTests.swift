import Foundation
import Testing
import TensorLog
@testable import TensorLogCompute

@Suite("LSTM forecaster")
struct ForecasterTests {
    @Test("LSTM backpropagation through time matches finite differences for every parameter (two stacked layers)")
    func lstmGradientCheck() {
        let net = LSTMNetwork(inputs: 2, hidden: [3, 2], outputs: 2, window: 4, capacity: 3)
        var rng = Xoshiro256(seed: 12)
        net.initialize(rng: &rng)
        for buffer in net.params.buffers { for i in 0..<buffer.count { buffer[i] += (rng.nextUniform() - 0.5) * 0.4 } }
        for k in 0..<4 { for i in 0..<6 { net.input(k)[i] = rng.nextUniform() * 2 - 1 } }
        let target = randomArray(6, rng: &rng)
        func loss(gradient: Bool) -> Double {
            net.forward(rows: 3)
            if gradient { return Kernels.meanSquaredErrorGradient(net.prediction, target, count: 6, gradient: net.outputGradient) }
            return Kernels.meanSquaredError(net.prediction, target, count: 6)
        }
        _ = loss(gradient: true)
        net.backward(rows: 3)
        var worst = 0.0
        for p in 0..<net.params.count {
            for i in 0..<net.params.buffers[p].count {
                let saved = net.params.buffers[p][i]
                net.params.buffers[p][i] = saved + 1e-2
                let up = loss(gradient: false)
                net.params.buffers[p][i] = saved - 1e-2
                let down = loss(gradient: false)
                net.params.buffers[p][i] = saved
                let numeric = (up - down) / 2e-2
                worst = max(worst, abs(numeric - Double(net.gradients.buffers[p][i])) / max(1, abs(numeric)))
            }
        }
        #expect(worst < 1e-2, "worst relative error \(worst)")
    }

    /// A two-column series (sine and cosine with some amplitude drift), appended in pieces so it spans several blocks.
    func writeSeries(_ store: TensorStore, rows: Int, pieces: Int = 4, options: WriteOptions = .init(), half: Bool = false) throws {
        let values = (0..<rows).flatMap { t -> [Float] in
            let phase = Float(t) * 0.2
            return [sinf(phase) * 2 + 5, cosf(phase) + Float(t) * 0.001]
        }
        let per = rows / pieces
        for p in 0..<pieces {
            let count = p == pieces - 1 ? rows - per * p : per
            let slice = Array(values[per * p * 2..<(per * p + count) * 2])
            if p == 0 {
                if half { try store.put("s", slice.map { Float16($0) }, shape: [count, 2], options: options) }
                else { try store.put("s", slice, shape: [count, 2], options: options) }
            } else {
                if half { try store.append("s", slice.map { Float16($0) }, shape: [count, 2], options: WriteOptions(compression: options.compression)) }
                else { try store.append("s", slice, shape: [count, 2], options: WriteOptions(compression: options.compression)) }
            }
        }
    }

    @Test("an LSTM learns a periodic series from appended blocks: validation error falls, predictions track the series, multi-step forecast continues it")
    func learnsSeries() throws {
        let tmp = try TemporaryStore()
        try writeSeries(tmp.store, rows: 400)
        #expect(try tmp.store.snapshot().info("s").blockCount == 4)
        var reports: [ForecastEpochReport] = []
        let spec = ForecasterSpec(hidden: [16], window: 12, scaling: .standard, validationFraction: 0.2)
        let config = try Forecaster.train(
            store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.02), epochs: 25, batchSize: 16, seed: 3, saveAs: "f",
            progress: { reports.append($0) })
        #expect(config.validationStart == 400 - 78 && config.epochsCompleted == 25)
        #expect(reports.count == 25 && reports.allSatisfy { $0.peakRssAnonBytes > 0 && $0.samples == 400 - 78 - 12 })
        let firstValidation = reports.first!.validationLoss!, lastValidation = reports.last!.validationLoss!
        #expect(lastValidation < firstValidation / 5 && lastValidation < 0.02, "validation \(firstValidation) -> \(lastValidation)")

        let rows = try Forecaster.predict(store: tmp.store, model: "f", series: "s", output: "s/pred")
        #expect(rows == 388)
        let prediction = try tmp.store.snapshot().read("s/pred")
        #expect(prediction.shape == [388, 2])
        let predicted = try prediction.values(as: Float.self)
        let actual = try tmp.store.snapshot().read("s").values(as: Float.self)
        let error = (0..<388).map { abs(predicted[$0 * 2] - actual[($0 + 12) * 2]) }.max()!
        #expect(error < 0.4, "largest one-step error on the sine column \(error) (amplitude 2)")

        let future = try Forecaster.forecast(store: tmp.store, model: "f", series: "s", steps: 5)
        #expect(future.count == 5)
        for (k, row) in future.enumerated() {
            #expect(abs(row[0] - (sinf(Float(400 + k) * 0.2) * 2 + 5)) < 0.6)
        }
    }

    @Test("scaling statistics come from one pass over the training part only and are stored with the model")
    func scalingStatistics() throws {
        let tmp = try TemporaryStore()
        try writeSeries(tmp.store, rows: 120, pieces: 3)
        for scaling in ForecasterSpec.Scaling.allCases {
            let config = try Forecaster.train(
                store: tmp.store, series: "s", spec: ForecasterSpec(hidden: [4], window: 10, scaling: scaling, validationFraction: 0.25),
                optimizer: .sgd(learningRate: 0.01), epochs: 0, batchSize: 8, seed: 1, saveAs: "m-\(scaling)")
            #expect(config.validationStart == 120 - 28)
            let values = try tmp.store.snapshot().read("s").values(as: Float.self)
            let shift = try tmp.store.snapshot().read("m-\(scaling)/scaling/shift").values(as: Float.self)
            let scale = try tmp.store.snapshot().read("m-\(scaling)/scaling/scale").values(as: Float.self)
            for column in 0..<2 {
                let train = (0..<config.validationStart).map { Double(values[$0 * 2 + column]) }
                switch scaling {
                case .standard:
                    let mean = train.reduce(0, +) / Double(train.count)
                    let std = (train.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(train.count)).squareRoot()
                    #expect(abs(Double(shift[column]) - mean) < 1e-4 && abs(Double(scale[column]) - std) < 1e-4)
                case .minMax:
                    #expect(Double(shift[column]) == train.min()! && abs(Double(scale[column]) - (train.max()! - train.min()!)) < 1e-5)
                }
            }
        }
    }

    @Test("forecaster training is reproducible, resumable (n + m epochs equal n + m uninterrupted), and works on compressed float16 series")
    func reproducibleResumableCompressed() throws {
        let tmp = try TemporaryStore()
        try writeSeries(tmp.store, rows: 150, pieces: 3)
        let spec = ForecasterSpec(hidden: [6, 4], window: 8)
        func weights(_ model: String) throws -> [UInt32] {
            let snapshot = tmp.store.snapshot()
            return try LSTMNetwork.names(layers: 2, prefix: "\(model)/").flatMap { try snapshot.read($0).values(as: Float.self).map(\.bitPattern) }
        }
        _ = try Forecaster.train(store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 4, batchSize: 8, seed: 5, saveAs: "a")
        _ = try Forecaster.train(store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 2, batchSize: 8, seed: 5, saveAs: "b")
        _ = try Forecaster.train(store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 2, batchSize: 8, seed: 5, saveAs: "b", resume: true)
        _ = try Forecaster.train(store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 4, batchSize: 8, seed: 6, saveAs: "c")
        #expect(try weights("a") == weights("b"))
        #expect(try weights("a") != weights("c"))

        // The series grows; resuming trains on the longer series with the split moved and the scaling kept.
        let shiftBefore = try tmp.store.snapshot().read("b/scaling/shift")
        var more: [Float] = []
        for t in 150..<250 {
            let phase = Float(t) * 0.2
            more += [sinf(phase) * 2 + 5, cosf(phase)]
        }
        try tmp.store.append("s", more, shape: [100, 2])
        var grown: [ForecastEpochReport] = []
        let resumed = try Forecaster.train(
            store: tmp.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.01), epochs: 1, batchSize: 8, seed: 5, saveAs: "b", resume: true,
            progress: { grown.append($0) })
        #expect(resumed.rows == 250 && resumed.validationStart == 250 - 48 && resumed.epochsCompleted == 5)
        #expect(grown.map(\.samples) == [250 - 48 - 8] && grown[0].epoch == 5)
        #expect(try tmp.store.snapshot().read("b/scaling/shift") == shiftBefore)

        let compressed = try TemporaryStore()
        try writeSeries(compressed.store, rows: 150, pieces: 3, options: WriteOptions(compression: .shuffleLZ4), half: true)
        #expect(try compressed.store.snapshot().info("s").dtype == .float16)
        var reports: [ForecastEpochReport] = []
        _ = try Forecaster.train(
            store: compressed.store, series: "s", spec: spec, optimizer: .adam(learningRate: 0.02), epochs: 6, batchSize: 8, seed: 5, saveAs: "z",
            progress: { reports.append($0) })
        #expect(reports.allSatisfy { $0.loss.isFinite } && reports.last!.loss < reports.first!.loss)
    }
}
