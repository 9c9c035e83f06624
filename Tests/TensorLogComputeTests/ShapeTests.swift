import Foundation
import Testing
import TensorLog
import TensorLogTestSupport
@testable import TensorLogCompute

/// Risk covered: a data set with no rows but wide rows, with rows of no values, or whose rows overflow
/// (a store written by an older version or a hostile file) traps the compute layer on an overflowing
/// product, makes it allocate by shape (batch buffers of batch size x width), or loops over empty rows.
@Suite("Compute on degenerate and overflowing shapes: errors, not traps or allocations by shape")
struct ComputeShapeTests {
    func expectRefused(_ what: String, mentioning words: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(what) succeeded")
        } catch {
            #expect("\(error)".contains(words), "\(what): \(error)")
        }
    }

    @Test("no rows of 2^40 values, 2^40 rows of none: train, fit scaling, infer and forecast refuse them")
    func degenerate() throws {
        let tmp = try TemporaryStore()
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        try tmp.store.put("wide", dtype: .float32, shape: [0, 1 << 40], bytes: none)  // 4 TiB per row: a batch buffer would not fit
        try tmp.store.put("empty-rows", dtype: .float32, shape: [1 << 40, 0], bytes: none)
        try tmp.store.put("labels", [Int64]())
        func train(_ data: String, scaling: FeatureScaling? = nil) throws {
            _ = try Trainer.train(
                store: tmp.store, data: data, labels: data == "wide" ? "labels" : data, model: ModelSpec(kind: .linear), optimizer: .adam(), epochs: 1,
                batchSize: 4096, seed: 1, scaling: scaling, saveAs: "m")
        }
        expectRefused("training on no rows", mentioning: "no rows") { try train("wide") }
        expectRefused("training with scaling on no rows", mentioning: "no rows") { try train("wide", scaling: .standard) }
        expectRefused("scaling statistics of no rows", mentioning: "no rows") {
            _ = try FeatureScaler.fit(snapshot: tmp.store.snapshot(), features: "wide", scaling: .standard)
        }
        expectRefused("training on rows of no values", mentioning: "rows of no values") { try train("empty-rows") }
        expectRefused("a batch stream over rows of no values", mentioning: "rows of no values") {
            _ = try BatchStream(snapshot: tmp.store.snapshot(), features: "empty-rows", batchSize: 8)
        }
        expectRefused("forecasting from rows of no values", mentioning: "rows of no values") {
            _ = try Forecaster.train(
                store: tmp.store, series: "empty-rows", spec: ForecasterSpec(hidden: [2], window: 2), optimizer: .adam(), epochs: 1, batchSize: 2,
                seed: 1, saveAs: "f")
        }
        // A stream over no rows of wide rows allocates nothing by width.
        let stream = try BatchStream(snapshot: tmp.store.snapshot(), features: "wide", batchSize: 4096)
        var batches = 0
        try stream.forEachBatch { _ in batches += 1 }
        #expect(stream.width == 1 << 40 && stream.rowCount == 0 && batches == 0)
    }

    @Test("a stored tensor whose rows overflow: every entry point reports it by key")
    func overflowingRows() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tlc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try HostileStore.writeEmptyTensor(path, key: "z", dtype: .float64, shape: [0, 1 << 62])
        var options = StoreOptions()
        options.create = false
        let store = try TensorStore.open(at: path, options: options)
        defer { try? store.close() }
        try store.put("y", [Int64]())
        expectRefused("a batch stream", mentioning: "cannot be read") { _ = try BatchStream(snapshot: store.snapshot(), features: "z", batchSize: 8) }
        expectRefused("a batch stream's labels", mentioning: "cannot be read") {
            try store.put("x", [Float](), shape: [0, 3])
            _ = try BatchStream(snapshot: store.snapshot(), features: "x", labels: "z", task: .regression, batchSize: 8)
        }
        expectRefused("training", mentioning: "cannot be read") {
            _ = try Trainer.train(
                store: store, data: "z", labels: "y", model: ModelSpec(kind: .linear), optimizer: .adam(), epochs: 1, batchSize: 8, seed: 1, saveAs: "m")
        }
        expectRefused("a forecaster", mentioning: "cannot be read") {
            _ = try Forecaster.train(
                store: store, series: "z", spec: ForecasterSpec(hidden: [2], window: 2), optimizer: .adam(), epochs: 1, batchSize: 2, seed: 1, saveAs: "f")
        }
    }

    @Test("predicting for rows sent in memory checks their byte count without overflowing")
    func inMemoryShape() throws {
        let tmp = try TemporaryStore()
        let (x, y) = separableProblem(rows: 60, features: 4, classes: 3, seed: 2)
        try tmp.store.put("x", x, shape: [60, 4])
        try tmp.store.put("y", y)
        _ = try Trainer.train(
            store: tmp.store, data: "x", labels: "y", model: ModelSpec(kind: .softmax), optimizer: .adam(), epochs: 1, batchSize: 8, seed: 1, saveAs: "m")
        expectRefused("rows whose byte count overflows", mentioning: "bytes do not hold") {
            _ = try Inference.predict(store: tmp.store, model: "m", dtype: .float32, shape: [1 << 62, 4], bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }
}
