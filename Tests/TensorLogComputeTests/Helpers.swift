import Foundation
import TensorLog
@testable import TensorLogCompute

/// A store in a fresh temporary directory, removed when the test ends.
final class TemporaryStore {
    let path: String
    let store: TensorStore

    init(options: StoreOptions = .init()) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tlc-\(UUID().uuidString)").path
        store = try TensorStore.open(at: path, options: options)
    }

    deinit {
        try? store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Naive row-major matrix product C = op(A) op(B).
func referenceMatmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var total: Double = 0
            for p in 0..<k {
                let x = transposeA ? a[p * m + i] : a[i * k + p]
                let y = transposeB ? b[j * k + p] : b[p * n + j]
                total += Double(x) * Double(y)
            }
            c[i * n + j] = Float(total)
        }
    }
    return c
}

func randomArray(_ count: Int, rng: inout Xoshiro256, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in (rng.nextUniform() * 2 - 1) * scale }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// A linearly separable 3-class problem: class = argmax of x W* (+ margin), features in [-1, 1].
func separableProblem(rows: Int, features: Int, classes: Int, seed: UInt64) -> (x: [Float], y: [Int32]) {
    var rng = Xoshiro256(seed: seed)
    let w = randomArray(features * classes, rng: &rng)
    var x: [Float] = []
    var y: [Int32] = []
    while y.count < rows {
        let row = randomArray(features, rng: &rng)
        var scores = [Float](repeating: 0, count: classes)
        for c in 0..<classes { for f in 0..<features { scores[c] += row[f] * w[f * classes + c] } }
        let sorted = scores.sorted(by: >)
        guard sorted[0] - sorted[1] > 0.2 else { continue }  // keep a margin
        x += row
        y.append(Int32(scores.firstIndex(of: sorted[0])!))
    }
    return (x, y)
}

/// Stored parameters of a model, as arrays.
func storedParameters(_ store: TensorStore, model: String, layers: Int) throws -> [[Float]] {
    let snapshot = store.snapshot()
    return try (0..<layers).flatMap { l in
        [try snapshot.read(ModelKeys.weight(model, layer: l)).values(as: Float.self),
         try snapshot.read(ModelKeys.bias(model, layer: l)).values(as: Float.self)]
    }
}
