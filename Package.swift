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
//   TensorLogAPI           the JSON bodies of the HTTP API, shared by server and client (no dependencies)
//   TensorLogServer        the store over HTTP (Hummingbird): tensors, row appends, training jobs, inference
//   TensorLogClient        a Swift client of that server (AsyncHTTPClient)
//   tensorlog              the command line (dump, stat, import/export, verify, compact, train, infer, serve)
let package = Package(
    name: "TensorLog",
    products: [
        .library(name: "TensorLog", targets: ["TensorLog"]),
        .library(name: "TensorLogFormat", targets: ["TensorLogFormat"]),
        .library(name: "TensorLogCompression", targets: ["TensorLogCompression"]),
        .library(name: "TensorLogInterop", targets: ["TensorLogInterop"]),
        .library(name: "TensorLogCompute", targets: ["TensorLogCompute"]),
        .library(name: "TensorLogServer", targets: ["TensorLogServer"]),
        .library(name: "TensorLogClient", targets: ["TensorLogClient"]),
        .library(name: "TensorLogAPI", targets: ["TensorLogAPI"]),
        .executable(name: "tensorlog", targets: ["tensorlog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
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
        .target(name: "TensorLogAPI"),
        .target(name: "TensorLogCompute", dependencies: ["TensorLog", "TensorLogAPI", "COpenBLAS"]),
        .target(
            name: "TensorLogServer",
            dependencies: [
                "TensorLog", "TensorLogInterop", "TensorLogCompute", "TensorLogAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "TensorLogClient",
            dependencies: [
                "TensorLogAPI", "TensorLogFormat", "TensorLogInterop",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "tensorlog",
            dependencies: [
                "TensorLog", "TensorLogInterop", "TensorLogCompute", "TensorLogAPI", "TensorLogServer", "TensorLogClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "tensorlog-crash-writer",
            dependencies: ["TensorLog"],
            path: "Tests/CrashWriter"
        ),
        .target(name: "TensorLogTestSupport", dependencies: ["TensorLogFormat"], path: "Tests/TensorLogTestSupport"),
        .testTarget(name: "TensorLogFormatTests", dependencies: ["TensorLogFormat", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogCompressionTests", dependencies: ["TensorLogCompression", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogInteropTests", dependencies: ["TensorLogInterop", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogComputeTests", dependencies: ["TensorLogCompute", "TensorLogTestSupport"]),
        .testTarget(name: "TensorLogCLITests", dependencies: ["TensorLog", "TensorLogInterop", "TensorLogTestSupport"]),
        .testTarget(
            name: "TensorLogServerTests",
            dependencies: [
                "TensorLog", "TensorLogAPI", "TensorLogInterop", "TensorLogServer", "TensorLogClient", "TensorLogTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "TensorLogTests", dependencies: ["TensorLog", "TensorLogSystem", "TensorLogTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
