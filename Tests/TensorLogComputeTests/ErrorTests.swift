import Foundation
import Testing
import TensorLog
@testable import TensorLogCompute

@Suite("Refusals and store settings")
struct ErrorTests {
    @Test("bad inputs are refused with a ComputeError or TensorLogError, not a crash")
    func refusals() throws {
        let tmp = try TemporaryStore()
        try tmp.store.put("x", [Float](repeating: 0, count: 20), shape: [10, 2])
        try tmp.store.put("short", [Int32](repeating: 0, count: 9))
        try tmp.store.put("flags", [Bool](repeating: true, count: 20), shape: [10, 2])
        try tmp.store.put("floats", [Float](repeating: 0.5, count: 10))
        try tmp.store.put("negative", [Int32](repeating: -1, count: 10))
        func train(_ data: String, _ labels: String, _ spec: ModelSpec = ModelSpec(kind: .softmax), batch: Int = 4) throws {
            _ = try Trainer.train(store: tmp.store, data: data, labels: labels, model: spec, optimizer: .adam(), epochs: 1, batchSize: batch, seed: 1, saveAs: "m")
        }
        #expect(throws: ComputeError.self) { try train("x", "short") }
        #expect(throws: ComputeError.self) { try train("flags", "negative") }
        #expect(throws: ComputeError.self) { try train("x", "floats") }  // softmax needs classes
        #expect(throws: ComputeError.self) { try train("x", "negative") }
        #expect(throws: ComputeError.self) { try train("x", "floats", ModelSpec(kind: .linear), batch: 0) }
        #expect(throws: TensorLogError.self) { try train("missing", "floats", ModelSpec(kind: .linear)) }
        #expect(throws: ComputeError.self) { try Evaluation.evaluate(store: tmp.store, model: "nothing", data: "x", labels: "floats") }
        #expect(throws: ComputeError.self) {
            try Forecaster.train(store: tmp.store, series: "x", spec: ForecasterSpec(hidden: [2], window: 20), optimizer: .adam(), epochs: 1, batchSize: 2, seed: 1, saveAs: "f")
        }
        #expect(throws: ComputeError.self) {
            try Forecaster.train(store: tmp.store, series: "x", spec: ForecasterSpec(hidden: [2], window: 2, targetColumns: [5]), optimizer: .adam(), epochs: 1, batchSize: 2, seed: 1, saveAs: "f")
        }
    }

    @Test("checkpoints stay uncompressed (so inference maps them) even when the store compresses by default")
    func checkpointsUncompressed() throws {
        var options = StoreOptions()
        options.compression = .shuffleLZ4
        let tmp = try TemporaryStore(options: options)
        let (x, y) = separableProblem(rows: 300, features: 4, classes: 3, seed: 2)
        try tmp.store.put("x", x, shape: [300, 4])
        try tmp.store.put("y", y)
        #expect(try tmp.store.snapshot().info("x").codecs != [.none])
        _ = try Trainer.train(
            store: tmp.store, data: "x", labels: "y", model: ModelSpec(kind: .mlp, hidden: [6]), optimizer: .adam(learningRate: 0.02),
            epochs: 3, batchSize: 30, seed: 1, saveAs: "m")
        #expect(try tmp.store.snapshot().info(ModelKeys.weight("m", layer: 0)).codecs == [.none])
        let summary = try Inference.predict(store: tmp.store, model: "m", data: "x", output: "p")
        #expect(summary.zeroCopyWeights && summary.rows == 300)
        #expect(try tmp.store.snapshot().info("p").codecs == [.none])
    }
}
