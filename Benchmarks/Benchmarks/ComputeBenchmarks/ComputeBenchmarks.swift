// The compute layer's benchmarks (package-benchmark). Run from Benchmarks/:
//   swift package benchmark --target ComputeBenchmarks
// For MLPs 64-128-10, 784-256-10 and 784-1024-1024-10 with batches of 256 rows: a training step and an
// inference batch; and samples per second of a full training epoch over 60,000 x 784 float32 rows
// streamed from a store. With TENSORLOG_BENCH_SMOKE=1 (scripts/bench-smoke) every benchmark runs
// briefly and the epoch covers 2,048 rows.
import Benchmark
import BenchmarkSupport
import Foundation
import TensorLog
import TensorLogCompute

/// A scratch store with features "x" [rows, width] float32 (values in [0, 1)) and labels "y" [rows]
/// int32 in 10 classes, and a model "model" trained on them for `epochs` epochs (0: just initialised).
final class ComputeFixture: @unchecked Sendable {
    static let classes = 10
    let scratch: ScratchStore
    let rows: Int
    let width: Int
    let spec: ModelSpec
    let optimizer = OptimizerSpec.sgd(learningRate: 0.01)
    /// The features, kept in memory only when `keepFeatures` (for in-memory inference).
    let features: [Float]
    /// Trainer calls so far (see `timedEpoch`).
    var trainingRuns = 0

    init(name: String, rows: Int, width: Int, hidden: [Int], segmentSize: Int = 64 << 20, keepFeatures: Bool) throws {
        scratch = ScratchStore(name, segmentSize: segmentSize)
        self.rows = rows
        self.width = width
        spec = ModelSpec(kind: .mlp, hidden: hidden)
        let values = (0..<rows * width).map { Float(($0 &* 7919) % 1009) / 1009 }
        try scratch.store.put("x", values, shape: [rows, width])
        try scratch.store.put("y", (0..<rows).map { Int32($0 % Self.classes) }, shape: [rows])
        features = keepFeatures ? values : []
        _ = try train(epochs: 0)
    }

    /// Trains "model" for `epochs` more epochs, resuming from its checkpoint.
    func train(epochs: Int) throws -> TrainingSummary {
        trainingRuns += 1
        return try Trainer.train(
            store: scratch.store, data: "x", labels: "y", model: spec, optimizer: optimizer, epochs: epochs,
            batchSize: batchSize, seed: 1, saveAs: "model", resume: true)
    }

    /// One more epoch, and only the Trainer call on `benchmark`'s clock. Every checkpoint is a new version
    /// of the model's tensors: every 8 runs the old ones are compacted away first, off the clock.
    func timedEpoch(_ benchmark: Benchmark) throws -> EpochReport {
        if trainingRuns % 8 == 0 { _ = try scratch.store.compact(CompactionOptions(deadFraction: 0.3)) }
        benchmark.startMeasurement()
        let summary = try train(epochs: 1)
        benchmark.stopMeasurement()
        return summary.epochs[0]
    }
}

/// Holds a benchmark's fixture from its setup to its teardown.
final class FixtureSlot: @unchecked Sendable {
    var fixture: ComputeFixture?

    func setUp(_ make: @escaping () throws -> ComputeFixture) -> Benchmark.BenchmarkSetupHook {
        { self.fixture = try make() }
    }

    var tearDown: Benchmark.BenchmarkTeardownHook {
        {
            self.fixture?.scratch.remove()
            self.fixture = nil
        }
    }
}

let batchSize = 256

let benchmarks: @Sendable () -> Void = {
    /// Trainer's own timing of the epoch loop (forward, backward, update; no checkpoint load or write).
    let stepMetric = BenchmarkMetric.custom("training step (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    /// Trainer's own samples per second of the epoch loop.
    let samplesMetric = BenchmarkMetric.custom("samples/s", polarity: .prefersLarger, useScalingFactor: false)
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .peakMemoryResident]
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(3), maxIterations: 1000)

    for (inputs, hidden) in [(64, [128]), (784, [256]), (784, [1024, 1024])] {
        let label = "MLP " + ([inputs] + hidden + [ComputeFixture.classes]).map(String.init).joined(separator: "-") + ", batch \(batchSize)"

        // The public API has no single-step call: a training step is timed as one epoch over a data set of exactly
        // one batch. The wall clock therefore also counts loading the checkpoint and writing the new one; the
        // "training step" metric is the Trainer's own time for the batch (forward, backward, SGD update).
        let training = FixtureSlot()
        Benchmark(
            "training step, \(label)", configuration: .init(metrics: metrics + [stepMetric]),
            closure: { benchmark in
                let report = try training.fixture!.timedEpoch(benchmark)
                benchmark.measurement(stepMetric, Int((report.seconds * 1e6).rounded()))
            },
            setup: training.setUp { try ComputeFixture(name: "step", rows: batchSize, width: inputs, hidden: hidden, keepFeatures: false) },
            teardown: training.tearDown)

        // Predictions for 256 rows held in memory (Inference.predict's in-memory overload; weights from the mapped checkpoint).
        let inference = FixtureSlot()
        Benchmark(
            "inference batch, \(label)",
            closure: { benchmark in
                let fixture = inference.fixture!
                benchmark.startMeasurement()
                let predictions = try fixture.features.withUnsafeBytes { bytes in
                    try Inference.predict(
                        store: fixture.scratch.store, model: "model", dtype: .float32, shape: [batchSize, inputs], bytes: bytes,
                        batchSize: batchSize)
                }
                benchmark.stopMeasurement()
                blackHole(predictions)
            },
            setup: inference.setUp { try ComputeFixture(name: "infer", rows: batchSize, width: inputs, hidden: hidden, keepFeatures: true) },
            teardown: inference.tearDown)
    }

    // One epoch (shuffled batches, zero-copy from the mapped rows) per iteration; wall clock includes the checkpoint write.
    let (epochRows, epochLabel) = Smoke.size((60_000, "60,000"), smoke: (2_048, "2,048"))
    let epoch = FixtureSlot()
    Benchmark(
        "training epoch over \(epochLabel) x 784 float32 rows from the store, MLP 784-256-10, batch \(batchSize)",
        configuration: .init(metrics: metrics + [samplesMetric], maxDuration: .seconds(5), maxIterations: 10),
        closure: { benchmark in
            let report = try epoch.fixture!.timedEpoch(benchmark)
            precondition(report.samples == epochRows)
            benchmark.measurement(samplesMetric, Int(report.samplesPerSecond.rounded()))
        },
        setup: epoch.setUp {
            try ComputeFixture(name: "epoch", rows: epochRows, width: 784, hidden: [256], segmentSize: 512 << 20, keepFeatures: false)
        },
        teardown: epoch.tearDown)

    Smoke.limitRegisteredBenchmarks()
}
