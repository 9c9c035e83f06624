// swift-tools-version:6.1
import PackageDescription

// The benchmark suite lives in its own package so the root build stays free of
// package-benchmark's dependencies. Run from this folder:
//   swift package benchmark                      (all suites: EngineBenchmarks, ComputeBenchmarks)
//   ../scripts/bench-smoke                       (everything built, every benchmark run briefly on small data: CI)
//   swift run -c release engine-baselines        (TensorLog against dd and anonymous memory, side by side)
let package = Package(
    name: "TensorLogBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "TensorLog", path: ".."),
    ],
    targets: [
        // Scratch stores, test data and the smoke mode (TENSORLOG_BENCH_SMOKE=1), for both suites.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "TensorLog", package: "TensorLog"),
            ],
            path: "Sources/BenchmarkSupport"
        ),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "TensorLog", package: "TensorLog"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "ComputeBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "TensorLog", package: "TensorLog"),
                .product(name: "TensorLogCompute", package: "TensorLog"),
            ],
            path: "Benchmarks/ComputeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .target(name: "FloatSum", path: "Sources/FloatSum"),
        .executableTarget(
            name: "engine-baselines",
            dependencies: ["FloatSum", .product(name: "TensorLog", package: "TensorLog")],
            path: "Sources/engine-baselines"
        ),
        .executableTarget(
            name: "compare-tensorlog",
            dependencies: ["FloatSum", .product(name: "TensorLog", package: "TensorLog")],
            path: "Sources/compare-tensorlog"
        ),
    ],
    swiftLanguageModes: [.v6]
)
