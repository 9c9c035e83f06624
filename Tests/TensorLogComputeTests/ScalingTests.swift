import Foundation
import Testing
import TensorLog
@testable import TensorLogCompute

/// Mean and population standard deviation (1 for a constant column), or minimum and range (1 for a
/// constant column), of every column of row-major `values`, in plain Double loops.
func referenceScaling(_ values: [Double], width: Int, _ scaling: FeatureScaling) -> (shift: [Double], scale: [Double]) {
    let rows = values.count / width
    var shift: [Double] = [], scale: [Double] = []
    for j in 0..<width {
        let column = (0..<rows).map { values[$0 * width + j] }
        switch scaling {
        case .standard:
            let mean = column.reduce(0, +) / Double(rows)
            let std = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rows)).squareRoot()
            shift.append(mean)
            scale.append(std > 1e-12 ? std : 1)
        case .minMax:
            shift.append(column.min()!)
            scale.append(column.max()! > column.min()! ? column.max()! - column.min()! : 1)
        }
    }
    return (shift, scale)
}

/// (x - shift) / scale of row-major `values` with the given per-column statistics, in float32 as the model applies it.
func scaleByHand(_ values: [Float], _ statistics: (shift: [Double], scale: [Double])) -> [Float] {
    let width = statistics.shift.count
    var scaled: [Float] = []
    for (i, x) in values.enumerated() {
        let shift = Float(statistics.shift[i % width]), scale = Float(statistics.scale[i % width])
        scaled.append((x - shift) / scale)
    }
    return scaled
}

/// Plain forward pass of a stored MLP (relu hidden layers) on row-major `x`: the raw outputs [rows, outputs].
func referenceForward(_ x: [Float], rows: Int, widths: [Int], parameters p: [[Float]]) -> [Float] {
    var a = x
    for l in 0..<widths.count - 1 {
        a = referenceMatmul(a, p[2 * l], m: rows, n: widths[l + 1], k: widths[l], transposeA: false, transposeB: false)
        for i in a.indices {
            a[i] += p[2 * l + 1][i % widths[l + 1]]
            if l < widths.count - 2 { a[i] = max(0, a[i]) }
        }
    }
    return a
}

func argmaxRows(_ values: [Float], columns: Int) -> [Int32] {
    stride(from: 0, to: values.count, by: columns).map { start in
        let row = values[start..<start + columns]
        return Int32(row.firstIndex(of: row.max()!)! - start)
    }
}

/// Rows whose two largest values are closer than `margin`. There, the same sums rounded in another order
/// (OpenBLAS picks kernels by CPU, thread count and batch size) may pick the other class, so argmax
/// comparisons between differently computed logits leave these rows out (a few 1e-6 apart for these sizes).
func nearTies(_ values: [Float], columns: Int, margin: Float = 1e-4) -> Set<Int> {
    Set(stride(from: 0, to: values.count, by: columns).enumerated().compactMap { row, start in
        let sorted = values[start..<start + columns].sorted(by: >)
        return sorted.count > 1 && sorted[0] - sorted[1] < margin ? row : nil
    })
}

@Suite("Feature scaling of linear, softmax and MLP models")
struct ScalingTests {
    /// The separable problem's features as uint8 pixels 0...255 (column 2 also offset, so columns differ in
    /// location and spread) plus a constant column; labels uint8.
    func writePixels(_ store: TensorStore, rows: Int = 1200, options: WriteOptions = .init()) throws -> [UInt8] {
        let (x, y) = separableProblem(rows: rows, features: 6, classes: 3, seed: 5)
        var pixels: [UInt8] = []
        for r in 0..<rows {
            for j in 0..<6 {
                let v = (x[r * 6 + j] + 1) * (j == 2 ? 40 : 127.5) + (j == 2 ? 150 : 0)
                pixels.append(UInt8(v))
            }
            pixels.append(7)
        }
        try store.put("px/x", pixels, shape: [rows, 7], options: options)
        try store.put("px/y", y.map { UInt8($0) }, shape: [rows], options: options)
        return pixels
    }

    @Test("scaling statistics of uint8 (compressed), float16 and appended float32 features equal a plain computation over every row")
    func statisticsMatchReference() throws {
        enum Encoding: CaseIterable { case uint8, float16, float32 }
        for encoding in Encoding.allCases {
            let tmp = try TemporaryStore()
            var rng = Xoshiro256(seed: 21)
            let rows = 1000, width = 5
            let decoded: [Double]
            switch encoding {
            case .uint8:
                let pixels = try writePixels(tmp.store, rows: rows, options: WriteOptions(compression: .lz4, blockBytes: 700))
                try tmp.store.put("data/x", pixels, shape: [rows, 7], options: WriteOptions(compression: .lz4, blockBytes: 700))
                decoded = pixels.map(Double.init)
            case .float16:
                let values = randomArray(rows * width, rng: &rng, scale: 30).enumerated().map { Float16($1 + Float($0 % width) * 100) }
                try tmp.store.put("data/x", values, shape: [rows, width], options: WriteOptions(blockBytes: 1000))
                decoded = values.map { Double(Float($0)) }
            case .float32:
                // Rows arrive in several appends of different sizes (blocks of unequal rows), 1e3 offsets test cancellation.
                var all: [Float] = []
                for piece in [300, 1, 499, 200] {
                    let values = randomArray(piece * width, rng: &rng, scale: 2).map { $0 + 1000 }
                    if all.isEmpty {
                        try tmp.store.put("data/x", values, shape: [piece, width])
                    } else {
                        try tmp.store.append("data/x", values, shape: [piece, width])
                    }
                    all += values
                }
                decoded = all.map(Double.init)
            }
            let columns = encoding == .uint8 ? 7 : width
            try tmp.store.put("data/y", (0..<rows).map { Int32($0 % 2) }, shape: [rows])
            for scaling in FeatureScaling.allCases {
                let summary = try Trainer.train(
                    store: tmp.store, data: "data/x", labels: "data/y", model: ModelSpec(kind: .softmax), optimizer: .adam(),
                    epochs: 0, batchSize: 64, seed: 1, scaling: scaling, saveAs: "m")
                #expect(summary.config.scaling == scaling)
                let snapshot = tmp.store.snapshot()
                let shift = try snapshot.read("m/scaling/shift"), scale = try snapshot.read("m/scaling/scale")
                #expect(shift.shape == [columns] && scale.shape == [columns] && shift.dtype == .float32)
                let reference = referenceScaling(decoded, width: columns, scaling)
                let (s, c) = (try shift.values(as: Float.self), try scale.values(as: Float.self))
                for j in 0..<columns {
                    let tolerance = 1e-6 * max(1, abs(reference.shift[j]))
                    #expect(abs(Double(s[j]) - reference.shift[j]) <= tolerance, "\(encoding) \(scaling) column \(j): shift \(s[j]) vs \(reference.shift[j])")
                    #expect(abs(Double(c[j]) - reference.scale[j]) <= 1e-6 * reference.scale[j],
                            "\(encoding) \(scaling) column \(j): scale \(c[j]) vs \(reference.scale[j])")
                }
            }
        }
    }

    @Test("a model trained with scaling predicts through infer and eval what scaling by hand and a plain forward pass give")
    func predictionsApplyStoredScaling() throws {
        let tmp = try TemporaryStore()
        let pixels = try writePixels(tmp.store, options: WriteOptions(compression: .auto, blockBytes: 256 * 7))
        let labels = try tmp.store.snapshot().read("px/y").values(as: UInt8.self).map(Int32.init)
        let rows = labels.count
        var reports: [EpochReport] = []
        let summary = try Trainer.train(
            store: tmp.store, data: "px/x", labels: "px/y", model: ModelSpec(kind: .mlp, hidden: [8]), optimizer: .adam(learningRate: 0.02),
            epochs: 10, batchSize: 50, seed: 4, shuffle: .rows, scaling: .standard, saveAs: "m", progress: { reports.append($0) })
        #expect(reports.last!.loss < reports.first!.loss)

        // Scale by hand with statistics computed here, then a plain forward pass over the stored weights.
        let reference = referenceScaling(pixels.map(Double.init), width: 7, .standard)
        let scaled = scaleByHand(pixels.map(Float.init), reference)
        let parameters = try storedParameters(tmp.store, model: "m", layers: 2)
        let logits = referenceForward(scaled, rows: rows, widths: summary.config.widths, parameters: parameters)

        let prediction = try Inference.predict(store: tmp.store, model: "m", data: "px/x", output: "pred", batchSize: 128)
        #expect(prediction.rows == rows && prediction.zeroCopyWeights)
        _ = try Inference.predict(store: tmp.store, model: "m", data: "px/x", output: "prob", batchSize: 100, probabilities: true)
        let snapshot = tmp.store.snapshot()
        let predicted = try snapshot.read("pred").values(as: Int32.self)
        let probabilities = try snapshot.read("prob").values(as: Float.self)
        var referenceProbabilities = logits
        Kernels.softmaxRows(&referenceProbabilities, rows: rows, cols: 3)
        #expect(maxAbsDifference(probabilities, referenceProbabilities) < 1e-4)
        let ties = nearTies(logits, columns: 3), referenceClasses = argmaxRows(logits, columns: 3)
        #expect(predicted.indices.allSatisfy { ties.contains($0) || predicted[$0] == referenceClasses[$0] }, "\(ties.count) near ties")

        let evaluation = try Evaluation.evaluate(store: tmp.store, model: "m", data: "px/x", labels: "px/y", batchSize: 77)
        let accuracy = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(rows)
        #expect(abs(evaluation.accuracy! - accuracy) <= Double(ties.count) / Double(rows) + 1e-12)  // other batch sizes
        #expect(accuracy > 0.93, "accuracy \(accuracy)")
        // The same weights on the unscaled pixels predict something else: the stored scaling is what makes them work.
        let unscaled = argmaxRows(referenceForward(pixels.map(Float.init), rows: rows, widths: summary.config.widths, parameters: parameters), columns: 3)
        #expect(unscaled != predicted)
    }

    @Test("a linear regressor with min-max scaling on zero-copy float32 data predicts what min-max scaling by hand gives")
    func minMaxRegression() throws {
        let tmp = try TemporaryStore()
        var rng = Xoshiro256(seed: 8)
        let rows = 400
        // Columns of different spreads and offsets; the target is linear in them.
        let spreads: [Float] = [50, 100, 150], weights: [Float] = [0.02, -0.01, 0.005]
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<rows {
            let row = (0..<3).map { j in (rng.nextUniform() * 2 - 1) * spreads[j] + 20 }
            x += row
            y.append((0..<3).reduce(Float(1)) { $0 + weights[$1] * row[$1] })
        }
        try tmp.store.put("x", x, shape: [rows, 3], options: WriteOptions(blockBytes: 100 * 12))
        try tmp.store.put("y", y, shape: [rows])
        var reports: [EpochReport] = []
        _ = try Trainer.train(
            store: tmp.store, data: "x", labels: "y", model: ModelSpec(kind: .linear), optimizer: .adam(learningRate: 0.05),
            epochs: 40, batchSize: 20, seed: 1, scaling: .minMax, saveAs: "lin", progress: { reports.append($0) })
        // Scaled batches are copies: none is served from the mapped block.
        #expect(reports.allSatisfy { $0.zeroCopyBatches == 0 && $0.copiedBatches == 20 })
        let reference = referenceScaling(x.map(Double.init), width: 3, .minMax)
        let scaled = scaleByHand(x, reference)
        let parameters = try storedParameters(tmp.store, model: "lin", layers: 1)
        let expected = referenceForward(scaled, rows: rows, widths: [3, 1], parameters: parameters)
        _ = try Inference.predict(store: tmp.store, model: "lin", data: "x", output: "yhat")
        let predicted = try tmp.store.snapshot().read("yhat").values(as: Float.self)
        #expect(maxAbsDifference(predicted, expected) < 1e-4)
        let evaluation = try Evaluation.evaluate(store: tmp.store, model: "lin", data: "x", labels: "y")
        let squaredErrors = zip(predicted, y).map { Double($0 - $1) * Double($0 - $1) }
        let mse = squaredErrors.reduce(0, +) / Double(rows)
        #expect(abs(evaluation.meanSquaredError! - mse) < 1e-6 * max(1, mse))
        #expect(mse < 0.05, "mse \(mse)")
    }

    @Test("a model without scaling stores no scaling and loads as before; retraining without scaling drops the statistics; resume must keep the scaling")
    func withoutScaling() throws {
        let tmp = try TemporaryStore()
        let pixels = try writePixels(tmp.store, rows: 300)
        func configObject(_ model: String) throws -> [String: Any] {
            let bytes = try tmp.store.snapshot().read(ModelKeys.config(model)).values(as: UInt8.self)
            return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        }
        func train(_ scaling: FeatureScaling?, epochs: Int = 2, resume: Bool = false) throws -> TrainingSummary {
            try Trainer.train(
                store: tmp.store, data: "px/x", labels: "px/y", model: ModelSpec(kind: .softmax), optimizer: .adam(learningRate: 0.01),
                epochs: epochs, batchSize: 32, seed: 2, scaling: scaling, saveAs: "m", resume: resume)
        }
        _ = try train(.standard)
        #expect(try configObject("m")["scaling"] as? String == "standard")
        #expect(tmp.store.snapshot().contains("m/scaling/shift") && tmp.store.snapshot().contains("m/scaling/scale"))

        // Retrained without scaling: the config has no scaling member (the layout of models saved before scaling
        // existed) and the statistics are deleted with the checkpoint that replaces them.
        let summary = try train(nil)
        #expect(summary.config.scaling == nil)
        #expect(try configObject("m")["scaling"] == nil)
        #expect(tmp.store.snapshot().keys(prefix: "m/scaling/").isEmpty)
        _ = try Inference.predict(store: tmp.store, model: "m", data: "px/x", output: "pred")
        let parameters = try storedParameters(tmp.store, model: "m", layers: 1)
        let plain = argmaxRows(referenceForward(pixels.map(Float.init), rows: 300, widths: summary.config.widths, parameters: parameters), columns: 3)
        #expect(try tmp.store.snapshot().read("pred").values(as: Int32.self) == plain)
        #expect(try Evaluation.evaluate(store: tmp.store, model: "m", data: "px/x", labels: "px/y").rows == 300)

        // Resuming needs the checkpoint's scaling.
        #expect(throws: ComputeError.self) { try train(.minMax, epochs: 1, resume: true) }
        _ = try train(.minMax)
        let shift = try tmp.store.snapshot().read("m/scaling/shift")
        #expect(throws: ComputeError.self) { try train(nil, epochs: 1, resume: true) }
        let resumed = try train(.minMax, epochs: 1, resume: true)
        #expect(resumed.config.epochsCompleted == 3 && resumed.config.scaling == .minMax)
        #expect(try tmp.store.snapshot().read("m/scaling/shift") == shift)

        // A config that says scaling without its statistics is refused, naming the missing key.
        _ = try tmp.store.delete("m/scaling/scale")
        do {
            _ = try Inference.predict(store: tmp.store, model: "m", data: "px/x", output: "pred")
            Issue.record("predicted without the scaling statistics")
        } catch let error as ComputeError {
            #expect(error.message.contains("m/scaling/scale"), "\(error.message)")
        }
    }
}
