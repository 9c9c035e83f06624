import TensorLog

/// How features are scaled before they enter a model: a feature x becomes (x - shift) / scale per column.
/// The statistics come from one streaming pass over the training data and are stored with the model
/// as `<model>/scaling/shift` and `<model>/scaling/scale` (float32 [D]), so inference and evaluation
/// apply exactly what training used.
public enum FeatureScaling: String, Sendable, Codable, CaseIterable {
    /// (x - mean) / standard deviation (population, as scikit-learn's StandardScaler; 1 for a constant column).
    case standard
    /// (x - min) / (max - min) (1 for a constant column).
    case minMax
}

/// Per-column count, mean and sum of squared deviations (in Double), minimum and maximum of row-major
/// float32 rows, accumulated batch by batch (Chan et al.'s pairwise merge; one row at a time it is Welford's update).
struct ScalingStatistics {
    let width: Int
    private(set) var rows = 0
    private(set) var mean: [Double]
    private(set) var m2: [Double]
    private(set) var low: [Float]
    private(set) var high: [Float]
    private var batchMean: [Double]
    private var batchM2: [Double]

    init(width: Int) {
        self.width = width
        mean = Array(repeating: 0, count: width)
        m2 = Array(repeating: 0, count: width)
        low = Array(repeating: .infinity, count: width)
        high = Array(repeating: -.infinity, count: width)
        batchMean = Array(repeating: 0, count: width)
        batchM2 = Array(repeating: 0, count: width)
    }

    /// Adds `count` rows of `width` values at `values`.
    mutating func add(rows count: Int, _ values: UnsafePointer<Float>) {
        guard count > 0 else { return }
        let width = self.width
        batchMean.withUnsafeMutableBufferPointer { bm in
            batchM2.withUnsafeMutableBufferPointer { bv in
                low.withUnsafeMutableBufferPointer { lo in
                    high.withUnsafeMutableBufferPointer { hi in
                        bm.update(repeating: 0)
                        bv.update(repeating: 0)
                        for r in 0..<count {
                            let row = values + r * width
                            for j in 0..<width {
                                let x = row[j]
                                bm[j] += Double(x)
                                lo[j] = Swift.min(lo[j], x)
                                hi[j] = Swift.max(hi[j], x)
                            }
                        }
                        for j in 0..<width { bm[j] /= Double(count) }
                        for r in 0..<count {
                            let row = values + r * width
                            for j in 0..<width {
                                let d = Double(row[j]) - bm[j]
                                bv[j] += d * d
                            }
                        }
                    }
                }
            }
        }
        let before = Double(rows), added = Double(count), total = before + added
        for j in 0..<width {
            let delta = batchMean[j] - mean[j]
            mean[j] += delta * added / total
            m2[j] += batchM2[j] + delta * delta * before * added / total
        }
        rows += count
    }

    /// The shift and scale of `scaling` for the rows added so far.
    func scaler(_ scaling: FeatureScaling) -> FeatureScaler {
        var shift = [Float](repeating: 0, count: width), scale = [Float](repeating: 1, count: width)
        for j in 0..<width where rows > 0 {
            switch scaling {
            case .standard:
                let std = (m2[j] / Double(rows)).squareRoot()
                shift[j] = Float(mean[j])
                scale[j] = std > 1e-12 ? Float(std) : 1
            case .minMax:
                shift[j] = low[j]
                scale[j] = high[j] - low[j] > 0 ? high[j] - low[j] : 1
            }
        }
        return FeatureScaler(shift: shift, scale: scale)
    }
}

/// Per-column shift and scale, applied as (x - shift) / scale; stored under `<model>/scaling/`.
struct FeatureScaler: Equatable {
    let shift: [Float]
    let scale: [Float]

    var width: Int { shift.count }

    static func shiftKey(_ model: String) -> String { "\(model)/scaling/shift" }
    static func scaleKey(_ model: String) -> String { "\(model)/scaling/scale" }

    /// Statistics of every row of `features` [N, D...] (any supported dtype, compressed or not) in one pass
    /// through a `BatchStream` in stored order: float32 uncompressed blocks are read in place, others a
    /// batch of about 1 MiB at a time, so memory stays flat.
    static func fit(snapshot: Snapshot, features: String, scaling: FeatureScaling) throws -> FeatureScaler {
        let info = try snapshot.info(features)
        let width = try info.rowElements()
        let stream = try BatchStream(snapshot: snapshot, features: features, batchSize: Swift.max(1, (256 << 10) / Swift.max(width, 1)))
        // Statistics take memory by width: only for rows that exist (stored bytes bound the width then).
        guard stream.rowCount > 0 else { throw ComputeError("features '\(features)' have no rows to compute scaling statistics from") }
        var statistics = ScalingStatistics(width: stream.width)
        try stream.forEachBatch { batch in statistics.add(rows: batch.rows, batch.features.baseAddress!) }
        return statistics.scaler(scaling)
    }

    /// Reads `<model>/scaling/shift` and `/scale`, which must hold `width` values each.
    static func load(_ snapshot: Snapshot, model: String, width: Int) throws -> FeatureScaler {
        var loaded: [[Float]] = []
        for key in [shiftKey(model), scaleKey(model)] {
            guard snapshot.contains(key) else { throw ComputeError("model '\(model)' was trained with feature scaling but \(key) is missing") }
            let values = try snapshot.read(key).values(as: Float.self)
            guard values.count == width else { throw ComputeError("\(key) has \(values.count) values; expected \(width)") }
            loaded.append(values)
        }
        return FeatureScaler(shift: loaded[0], scale: loaded[1])
    }

    /// Puts the shift and scale tensors into `batch`; returns their keys.
    func put(into batch: inout Batch, model: String) throws -> [String] {
        try batch.put(Self.shiftKey(model), shift, options: Checkpoint.uncompressed)
        try batch.put(Self.scaleKey(model), scale, options: Checkpoint.uncompressed)
        return [Self.shiftKey(model), Self.scaleKey(model)]
    }

    /// Writes (x - shift) / scale of `rows` rows at `source` to `destination` (which may be `source`).
    func apply(_ source: UnsafePointer<Float>, rows: Int, into destination: UnsafeMutablePointer<Float>) {
        let width = self.width
        shift.withUnsafeBufferPointer { shift in
            scale.withUnsafeBufferPointer { scale in
                for r in 0..<rows {
                    let x = source + r * width, y = destination + r * width
                    for j in 0..<width { y[j] = (x[j] - shift[j]) / scale[j] }
                }
            }
        }
    }

    /// Back to the data's units: `value` * scale + shift of `column`.
    func unscale(_ value: Float, column: Int) -> Float { value * scale[column] + shift[column] }
}
