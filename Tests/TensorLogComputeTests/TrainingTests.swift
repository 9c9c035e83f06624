import Foundation
import Testing
import TensorLog
@testable import TensorLogCompute

@Suite("Training, checkpoints and inference")
struct TrainingTests {
    static let trueWeights: [Float] = [0.5, -1.25, 2, 0.75, -0.3]
    static let trueBias: Float = 0.4

    func writeRegression(_ store: TensorStore, rows: Int, options: WriteOptions = .init()) throws {
        var rng = Xoshiro256(seed: 77)
        let x = randomArray(rows * 5, rng: &rng)
        let y = (0..<rows).map { r in
            (0..<5).reduce(Self.trueBias) { $0 + x[r * 5 + $1] * Self.trueWeights[$1] } + (rng.nextUniform() - 0.5) * 0.01
        }
        try store.put("reg/x", x, shape: [rows, 5], options: options)
        try store.put("reg/y", y, shape: [rows], options: options)
    }

    func writeClassification(_ store: TensorStore, rows: Int = 1500, features: Int = 6, options: WriteOptions = .init(), half: Bool = false) throws {
        let (x, y) = separableProblem(rows: rows, features: features, classes: 3, seed: 5)
        if half {
            try store.put("cls/x", x.map { Float16($0) }, shape: [rows, features], options: options)
        } else {
            try store.put("cls/x", x, shape: [rows, features], options: options)
        }
        try store.put("cls/y", y.map { Int64($0) }, shape: [rows], options: options)
    }

    @Test("linear regression (squared loss) recovers the known weights and bias")
    func linearRegression() throws {
        let tmp = try TemporaryStore()
        try writeRegression(tmp.store, rows: 2000, options: WriteOptions(blockBytes: 300 * 20))
        var reports: [EpochReport] = []
        let summary = try Trainer.train(
            store: tmp.store, data: "reg/x", labels: "reg/y", model: ModelSpec(kind: .linear), optimizer: .sgd(learningRate: 0.05, momentum: 0.9),
            epochs: 15, batchSize: 32, seed: 1, saveAs: "lin", progress: { reports.append($0) })
        #expect(reports.count == 15 && reports.map(\.epoch) == Array(1...15))
        #expect(summary.finalLoss! < 1e-3)
        for report in reports {
            #expect(report.zeroCopyBatches > 0 && report.copiedBatches == 0 && report.peakRssAnonBytes > 0 && report.samples == 2000, "\(report)")
        }
        let w = try tmp.store.snapshot().read(ModelKeys.weight("lin", layer: 0)).values(as: Float.self)
        let b = try tmp.store.snapshot().read(ModelKeys.bias("lin", layer: 0)).values(as: Float.self)
        #expect(maxAbsDifference(w, Self.trueWeights) < 0.01, "\(w)")
        #expect(abs(b[0] - Self.trueBias) < 0.01)
        let evaluation = try Evaluation.evaluate(store: tmp.store, model: "lin", data: "reg/x", labels: "reg/y")
        #expect(evaluation.meanSquaredError! < 1e-4 && evaluation.accuracy == nil)
        #expect(try tmp.store.history(ModelKeys.weight("lin", layer: 0)).count == 15)
    }

    @Test("softmax regression and MLPs (relu, tanh; SGD and Adam with weight decay) reach high accuracy on a separable problem")
    func classifiersLearn() throws {
        let tmp = try TemporaryStore()
        try writeClassification(tmp.store, options: WriteOptions(blockBytes: 256 * 24))
        let cases: [(String, ModelSpec, OptimizerSpec)] = [
            ("softmax", ModelSpec(kind: .softmax), .sgd(learningRate: 0.5, momentum: 0.9)),
            ("mlp-relu", ModelSpec(kind: .mlp, hidden: [16, 8], activation: .relu), .adam(learningRate: 0.01, weightDecay: 1e-4)),
            ("mlp-tanh", ModelSpec(kind: .mlp, hidden: [12], activation: .tanh), .sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)),
        ]
        for (name, spec, optimizer) in cases {
            let summary = try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: spec, optimizer: optimizer,
                epochs: 12, batchSize: 32, seed: 3, saveAs: name)
            #expect(summary.config.outputs == 3 && summary.config.task == .classification)
            #expect(summary.epochs.last!.loss < summary.epochs.first!.loss)
            let result = try Evaluation.evaluate(store: tmp.store, model: name, data: "cls/x", labels: "cls/y", batchSize: 100)
            #expect(result.accuracy! > 0.95, "\(name): accuracy \(result.accuracy!)")
            #expect(result.crossEntropy! < 0.3 && result.rows == 1500)
        }
    }

    @Test("compressed float32, lz4 and raw float16, bfloat16 and uint8 (standard-scaled) data sets train through the reusable batch buffer")
    func compressedAndConvertedTrain() throws {
        enum Encoding { case float32, float16, bfloat16, uint8 }
        let cases: [(WriteOptions, Encoding)] = [
            (WriteOptions(compression: .shuffleLZ4, blockBytes: 200 * 24), .float32), (WriteOptions(compression: .lz4, blockBytes: 4096), .float16),
            (WriteOptions(), .float16), (WriteOptions(blockBytes: 3000), .bfloat16), (WriteOptions(compression: .auto), .uint8),
        ]
        for (options, encoding) in cases {
            let tmp = try TemporaryStore()
            let (x, y) = separableProblem(rows: 1500, features: 6, classes: 3, seed: 5)
            switch encoding {
            case .float32: try tmp.store.put("cls/x", x, shape: [1500, 6], options: options)
            case .float16: try tmp.store.put("cls/x", x.map { Float16($0) }, shape: [1500, 6], options: options)
            case .bfloat16:
                let bits = x.map { UInt16($0.bitPattern >> 16) }  // truncation: exact in the stored bfloat16
                _ = try bits.withUnsafeBytes { try tmp.store.put("cls/x", dtype: .bfloat16, shape: [1500, 6], bytes: $0, options: options) }
            case .uint8: try tmp.store.put("cls/x", x.map { UInt8(($0 + 1) * 127.5) }, shape: [1500, 6], options: options)
            }
            try tmp.store.put("cls/y", y.map { UInt8($0) }, shape: [1500], options: options)
            var reports: [EpochReport] = []
            _ = try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: ModelSpec(kind: .mlp, hidden: [8]), optimizer: .adam(learningRate: 0.02),
                epochs: 10, batchSize: 50, seed: 4, shuffle: .rows, scaling: encoding == .uint8 ? .standard : nil, saveAs: "m",
                progress: { reports.append($0) })
            #expect(reports.allSatisfy { $0.zeroCopyBatches == 0 && $0.copiedBatches > 0 })
            let result = try Evaluation.evaluate(store: tmp.store, model: "m", data: "cls/x", labels: "cls/y")
            // uint8 features are pixels 0...255: standard scaling (stored with the model, applied by eval) as users of raw pixels do.
            #expect(result.accuracy! > 0.93, "\(options) \(encoding): \(result.accuracy!)")
        }
    }

    @Test("same seed gives bit-identical weights; a different seed gives different ones")
    func reproducible() throws {
        let tmp = try TemporaryStore()
        try writeClassification(tmp.store, rows: 400, options: WriteOptions(blockBytes: 100 * 24))
        func run(_ seed: UInt64, _ name: String) throws -> [[Float]] {
            _ = try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: ModelSpec(kind: .mlp, hidden: [8], activation: .relu),
                optimizer: .adam(learningRate: 0.01), epochs: 3, batchSize: 16, seed: seed, saveAs: name)
            return try storedParameters(tmp.store, model: name, layers: 2)
        }
        let a = try run(7, "a"), b = try run(7, "b"), c = try run(8, "c")
        #expect(a.map { $0.map(\.bitPattern) } == b.map { $0.map(\.bitPattern) })
        #expect(a != c)
    }

    @Test("training n epochs then resuming for m more equals n + m uninterrupted epochs (weights, optimiser state, step)")
    func resumeEqualsUninterrupted() throws {
        let tmp = try TemporaryStore()
        try writeClassification(tmp.store, rows: 400, options: WriteOptions(blockBytes: 100 * 24))
        for optimizer in [OptimizerSpec.adam(learningRate: 0.01, weightDecay: 1e-3), .sgd(learningRate: 0.05, momentum: 0.9)] {
            let spec = ModelSpec(kind: .mlp, hidden: [8], activation: .tanh)
            let whole = try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: spec, optimizer: optimizer, epochs: 4, batchSize: 16, seed: 9, saveAs: "whole")
            _ = try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: spec, optimizer: optimizer, epochs: 2, batchSize: 16, seed: 9, saveAs: "part")
            var resumedEpochs: [Int] = []
            let resumed = try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: spec, optimizer: optimizer, epochs: 2, batchSize: 16, seed: 9,
                saveAs: "part", resume: true, progress: { resumedEpochs.append($0.epoch) })
            #expect(resumedEpochs == [3, 4])
            #expect(resumed.config.epochsCompleted == 4 && resumed.config.step == whole.config.step)
            #expect(resumed.epochs.map(\.loss) == Array(whole.epochs.map(\.loss).suffix(2)))
            let w1 = try storedParameters(tmp.store, model: "whole", layers: 2), w2 = try storedParameters(tmp.store, model: "part", layers: 2)
            #expect(w1.map { $0.map(\.bitPattern) } == w2.map { $0.map(\.bitPattern) })
            let snapshot = tmp.store.snapshot()
            for prefix in ModelKeys.optimizerState("whole", kind: optimizer.kind) {
                let key = prefix + "layer1/weight"
                #expect(try snapshot.read(key) == snapshot.read(key.replacingOccurrences(of: "whole/", with: "part/")))
            }
        }
        #expect(throws: ComputeError.self) {
            try Trainer.train(
                store: tmp.store, data: "cls/x", labels: "cls/y", model: ModelSpec(kind: .softmax), optimizer: .adam(), epochs: 1, batchSize: 16,
                seed: 9, saveAs: "part", resume: true)
        }
    }

    @Test("inference reads the weights zero-copy and writes predictions (classes, probabilities, regression values) that read back correctly")
    func inferenceWritesPredictions() throws {
        let tmp = try TemporaryStore()
        try writeClassification(tmp.store, rows: 600, options: WriteOptions(blockBytes: 128 * 24))
        try writeRegression(tmp.store, rows: 300)
        _ = try Trainer.train(
            store: tmp.store, data: "cls/x", labels: "cls/y", model: ModelSpec(kind: .mlp, hidden: [10], activation: .relu),
            optimizer: .adam(learningRate: 0.02), epochs: 8, batchSize: 32, seed: 2, saveAs: "net")
        // Several writes (put + appends) of the predictions.
        let summary = try Inference.predict(store: tmp.store, model: "net", data: "cls/x", output: "pred", batchSize: 64, probabilities: false, flushRows: 100)
        #expect(summary.rows == 600 && summary.zeroCopyWeights && summary.rowsPerSecond > 0)
        let snapshot = tmp.store.snapshot()
        let info = try snapshot.info("pred")
        #expect(info.dtype == .int32 && info.shape == [600] && info.blockCount == 5)  // flushes of 128 rows (two batches of 64)
        let predicted = try snapshot.read("pred").values(as: Int32.self)

        // Reference forward pass with plain loops over the stored weights.
        let p = try storedParameters(tmp.store, model: "net", layers: 2)
        let x = try snapshot.read("cls/x").values(as: Float.self)
        var hidden = referenceMatmul(x, p[0], m: 600, n: 10, k: 6, transposeA: false, transposeB: false)
        for i in hidden.indices { hidden[i] = max(0, hidden[i] + p[1][i % 10]) }
        var logits = referenceMatmul(hidden, p[2], m: 600, n: 3, k: 10, transposeA: false, transposeB: false)
        for i in logits.indices { logits[i] += p[3][i % 3] }
        // BLAS and these loops round the sums differently: rows whose top two logits nearly tie may go either way.
        let ties = nearTies(logits, columns: 3)
        var disagreements = 0
        for r in 0..<600 where !ties.contains(r) {
            let row = Array(logits[r * 3..<r * 3 + 3])
            if Int32(row.firstIndex(of: row.max()!)!) != predicted[r] { disagreements += 1 }
        }
        #expect(disagreements == 0, "\(ties.count) near ties left out")
        let labels = try snapshot.read("cls/y").values(as: Int64.self)
        let accuracy = Double(zip(predicted, labels).filter { Int64($0) == $1 }.count) / 600
        let evaluation = try Evaluation.evaluate(store: tmp.store, model: "net", data: "cls/x", labels: "cls/y")
        #expect(abs(accuracy - evaluation.accuracy!) <= Double(ties.count) / 600 + 1e-12 && accuracy > 0.9)

        _ = try Inference.predict(store: tmp.store, model: "net", data: "cls/x", output: "prob", probabilities: true)
        let probabilities = try tmp.store.snapshot().read("prob")
        #expect(probabilities.shape == [600, 3])
        let values = try probabilities.values(as: Float.self)
        for r in 0..<600 { #expect(abs(values[r * 3] + values[r * 3 + 1] + values[r * 3 + 2] - 1) < 1e-5) }

        _ = try Trainer.train(
            store: tmp.store, data: "reg/x", labels: "reg/y", model: ModelSpec(kind: .linear), optimizer: .adam(learningRate: 0.05),
            epochs: 30, batchSize: 16, seed: 1, saveAs: "lin")
        _ = try Inference.predict(store: tmp.store, model: "lin", data: "reg/x", output: "reg/pred")
        let regression = try tmp.store.snapshot().read("reg/pred")
        #expect(regression.shape == [300] && regression.dtype == .float32)
        let targets = try tmp.store.snapshot().read("reg/y").values(as: Float.self)
        #expect(maxAbsDifference(try regression.values(as: Float.self), targets) < 0.05)
        #expect(throws: ComputeError.self) { try Inference.predict(store: tmp.store, model: "missing", data: "reg/x", output: "o") }
        #expect(throws: ComputeError.self) { try Inference.predict(store: tmp.store, model: "lin", data: "cls/x", output: "o") }
    }

    @Test("retraining a name with a smaller model or another optimiser deletes the old layers and state, and nothing of other models")
    func staleKeysDeleted() throws {
        let tmp = try TemporaryStore()
        try writeClassification(tmp.store, rows: 200)
        try tmp.store.put("m/notes", [UInt8](repeating: 1, count: 3))
        try tmp.store.put("m/sub/layer0/weight", [Float](repeating: 1, count: 3))
        _ = try Trainer.train(
            store: tmp.store, data: "cls/x", labels: "cls/y", model: ModelSpec(kind: .mlp, hidden: [8, 8]), optimizer: .sgd(learningRate: 0.1),
            epochs: 1, batchSize: 50, seed: 1, saveAs: "m")
        #expect(tmp.store.snapshot().contains("m/layer2/weight") && tmp.store.snapshot().contains("m/optimizer/velocity/layer2/bias"))
        _ = try Trainer.train(
            store: tmp.store, data: "cls/x", labels: "cls/y", model: ModelSpec(kind: .softmax), optimizer: .adam(), epochs: 1, batchSize: 50, seed: 1, saveAs: "m")
        #expect(tmp.store.snapshot().keys(prefix: "m/") == [
            "m/config", "m/layer0/bias", "m/layer0/weight", "m/notes", "m/optimizer/m/layer0/bias", "m/optimizer/m/layer0/weight",
            "m/optimizer/v/layer0/bias", "m/optimizer/v/layer0/weight", "m/sub/layer0/weight",
        ])
        #expect(ModelKeys.isCheckpointKey("m/lstm12/wx", model: "m") && ModelKeys.isCheckpointKey("m/scaling/shift", model: "m"))
        #expect(!ModelKeys.isCheckpointKey("m/layerx/weight", model: "m") && !ModelKeys.isCheckpointKey("mm/layer0/weight", model: "m"))
    }

    @Test("streaming a data set several times larger than the resident-memory growth: peak RssAnon stays flat")
    func memoryStaysFlat() throws {
        let tmp = try TemporaryStore()
        let rows = 1 << 18, width = 32  // 32 MiB of float32
        try tmp.store.put("big/y", [Float](repeating: 1, count: rows), shape: [rows])
        let piece = rows / 8
        var rng = Xoshiro256(seed: 1)
        try tmp.store.put("big/x", randomArray(piece * width, rng: &rng), shape: [piece, width])
        for _ in 1..<8 { try tmp.store.append("big/x", randomArray(piece * width, rng: &rng), shape: [piece, width]) }
        var baseline = PeakMemoryTracker()
        baseline.sample()
        #expect(baseline.peakRssAnonBytes > 1 << 20)
        var reports: [EpochReport] = []
        _ = try Trainer.train(
            store: tmp.store, data: "big/x", labels: "big/y", model: ModelSpec(kind: .linear), optimizer: .sgd(learningRate: 0.01),
            epochs: 1, batchSize: 2048, seed: 1, saveAs: "big/model", progress: { reports.append($0) })
        let growth = reports[0].peakRssAnonBytes - baseline.peakRssAnonBytes
        #expect(reports[0].zeroCopyBatches == 128 && reports[0].copiedBatches == 0)
        #expect(growth < 12 << 20, "RssAnon grew by \(growth) bytes while streaming 32 MiB")
    }
}
