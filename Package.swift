// swift-tools-version:6.1
import PackageDescription

// Targets are named by their layer, lowest first:
//   CLZ4, CCRC32C          C libraries (liblz4 through pkg-config; CRC32C with SSE4.2/ARMv8 CRC)
//   TensorLogFormat        the on-disk format: pure encoding and decoding, no I/O
//   TensorLogCompression   per-block codecs: LZ4 and byte-shuffle + LZ4
//   TensorLogSystem        system calls (with fault injection) and memory mapping
//   TensorLog              the store: segments, index, snapshots, recovery, compaction
//   TensorLogInterop       numpy .npy and .safetensors parsing and writing (untrusted bytes)
//   COpenBLAS              CBLAS from OpenBLAS through pkg-config
//   TensorLogCompute       training and inference kernels run against mapped blocks
//   tensorlog              the command line (dump, stat, import/export, verify, compact, train, infer)
let package = Package(
    name: "TensorLog",
    products: [
        .library(name: "TensorLog", targets: ["TensorLog"]),
        .library(name: "TensorLogFormat", targets: ["TensorLogFormat"]),
        .library(name: "TensorLogCompression", targets: ["TensorLogCompression"]),
        .library(name: "TensorLogInterop", targets: ["TensorLogInterop"]),
        .library(name: "TensorLogCompute", targets: ["TensorLogCompute"]),
        .executable(name: "tensorlog", targets: ["tensorlog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CCRC32C"),
        .target(name: "TensorLogFormat", dependencies: ["CCRC32C"]),
        .target(name: "TensorLogCompression", dependencies: ["CLZ4", "TensorLogFormat"]),
        .target(name: "TensorLogSystem"),
        .target(
            name: "TensorLog",
            dependencies: ["TensorLogFormat", "TensorLogCompression", "TensorLogSystem"]
        ),
        .target(name: "TensorLogInterop", dependencies: ["TensorLogFormat"]),
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "TensorLogCompute", dependencies: ["TensorLog", "COpenBLAS"]),
        .executableTarget(
            name: "tensorlog",
            dependencies: [
                "TensorLog", "TensorLogInterop", "TensorLogCompute",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "tensorlog-crash-writer",
            dependencies: ["TensorLog"],
            path: "Tests/CrashWriter"
        ),
        .target(name: "TensorLogTestSupport", path: "Tests/TensorLogTestSupport"),
        .testTarget(name: "TensorLogFormatTests", dependencies: ["TensorLogFormat", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogCompressionTests", dependencies: ["TensorLogCompression", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogInteropTests", dependencies: ["TensorLogInterop", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogComputeTests", dependencies: ["TensorLogCompute"]),
        .testTarget(name: "TensorLogCLITests", dependencies: ["TensorLog", "TensorLogInterop", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogTests", dependencies: ["TensorLog", "TensorLogSystem", "TensorLogTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
