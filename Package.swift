// swift-tools-version:6.1
import PackageDescription

// Targets are named by their layer, lowest first:
//   CLZ4, CCRC32C          C libraries (liblz4 through pkg-config; CRC32C with SSE4.2/ARMv8 CRC)
//   TensorLogFormat        the on-disk format: pure encoding and decoding, no I/O
//   TensorLogCompression   per-block codecs: LZ4 and byte-shuffle + LZ4
//   TensorLogSystem        system calls (with fault injection) and memory mapping
//   TensorLog              the store: segments, index, snapshots, recovery, compaction
//   TensorLogInterop       numpy .npy and .safetensors parsing and writing (untrusted bytes)
let package = Package(
    name: "TensorLog",
    products: [
        .library(name: "TensorLog", targets: ["TensorLog"]),
        .library(name: "TensorLogFormat", targets: ["TensorLogFormat"]),
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
        .executableTarget(name: "tensorlog-demo", dependencies: ["TensorLog"]),
        .executableTarget(
            name: "tensorlog-crash-writer",
            dependencies: ["TensorLog"],
            path: "Tests/CrashWriter"
        ),
        .testTarget(name: "TensorLogFormatTests", dependencies: ["TensorLogFormat"]),
        .testTarget(name: "TensorLogCompressionTests", dependencies: ["TensorLogCompression"]),
        .testTarget(name: "TensorLogInteropTests", dependencies: ["TensorLogInterop"]),
        .testTarget(name: "TensorLogTests", dependencies: ["TensorLog", "TensorLogSystem"]),
    ],
    swiftLanguageModes: [.v6]
)
