// What both benchmark suites share: scratch stores, test data, and the smoke mode that
// scripts/bench-smoke (and so CI) runs them in.
@preconcurrency import Benchmark
import Foundation
import TensorLog

/// A scratch store under the temp directory, removed by `remove()`.
public struct ScratchStore: Sendable {
    public let path: String
    public let store: TensorStore

    public init(_ name: String, segmentSize: Int = 256 << 20, durability: Durability = .none) {
        path = NSTemporaryDirectory() + "tensorlog-bench-\(name)-\(UUID().uuidString.prefix(8))"
        var options = StoreOptions()
        options.segmentSize = segmentSize
        options.durability = durability
        options.autoCompactDeadFraction = nil
        store = try! TensorStore.open(at: path, options: options)
    }

    public func remove() {
        try? store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// `count` float32 values in a repeating ramp (compressible only by codecs that look for it).
public func floats(_ count: Int) -> [Float] { (0..<count).map { Float($0 % 4093) * 0.25 } }

/// Smoke mode (`TENSORLOG_BENCH_SMOKE=1`): every benchmark runs once or twice on small data, so a
/// whole suite finishes in seconds and CI sees at once when a benchmark no longer builds or runs.
/// The figures it prints mean nothing.
public enum Smoke {
    public static let enabled = ProcessInfo.processInfo.environment["TENSORLOG_BENCH_SMOKE"] == "1"

    /// `full` normally, `smoke` in smoke mode: for data sizes and key counts.
    public static func size<T>(_ full: T, smoke: T) -> T { enabled ? smoke : full }

    /// In smoke mode, caps every benchmark registered so far: no warm-up, at most two iterations
    /// within 100 ms, no inner repetitions (scaling factor one). Call it last in a suite's `benchmarks`.
    public static func limitRegisteredBenchmarks() {
        guard enabled else { return }
        for benchmark in Benchmark.benchmarks {
            benchmark.configuration.warmupIterations = 0
            benchmark.configuration.maxIterations = min(benchmark.configuration.maxIterations, 2)
            benchmark.configuration.maxDuration = .milliseconds(100)
            benchmark.configuration.scalingFactor = .one
        }
    }
}
