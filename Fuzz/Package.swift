// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for TensorLog's parsers of untrusted bytes (see Fuzz/README.md).
// Build with Fuzz/build.sh (coverage instrumentation + AddressSanitizer); run with
// Fuzz/run.sh TARGET SECONDS or Fuzz/run-all.sh SECONDS.
//
// The root package is named explicitly because the checkout folder's name differs
// between machines.
let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("record-header", [.product(name: "TensorLogFormat", package: "TensorLog")]),
    ("hint-file", [.product(name: "TensorLogFormat", package: "TensorLog")]),
    ("manifest", [.product(name: "TensorLogFormat", package: "TensorLog")]),
    ("segment-recovery", [
        .product(name: "TensorLog", package: "TensorLog"),
        .product(name: "TensorLogFormat", package: "TensorLog"),
    ]),
    ("lz4-block", [
        .product(name: "TensorLogCompression", package: "TensorLog"),
        .product(name: "TensorLogFormat", package: "TensorLog"),
    ]),
    ("shuffle-lz4-block", [
        .product(name: "TensorLogCompression", package: "TensorLog"),
        .product(name: "TensorLogFormat", package: "TensorLog"),
    ]),
    ("npy", [
        .product(name: "TensorLogInterop", package: "TensorLog"),
        .product(name: "TensorLogFormat", package: "TensorLog"),
    ]),
    ("safetensors", [
        .product(name: "TensorLogInterop", package: "TensorLog"),
        .product(name: "TensorLogFormat", package: "TensorLog"),
    ]),
]

let package = Package(
    name: "TensorLogFuzz",
    dependencies: [
        .package(name: "TensorLog", path: ".."),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver (see FuzzSupport's runLibFuzzer).
        .target(name: "CFuzzerDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "TensorLogFormat", package: "TensorLog"),
                .product(name: "TensorLogCompression", package: "TensorLog"),
            ]
        ),
        // Writes the seed corpus (Fuzz/Corpus/<target>/) with the library's own encoders.
        .executableTarget(
            name: "gen-corpus",
            dependencies: [
                "FuzzSupport",
                .product(name: "TensorLog", package: "TensorLog"),
                .product(name: "TensorLogFormat", package: "TensorLog"),
                .product(name: "TensorLogCompression", package: "TensorLog"),
                .product(name: "TensorLogInterop", package: "TensorLog"),
            ]
        ),
    ] + fuzzTargets.map { target in
        .executableTarget(name: target.name, dependencies: ["FuzzSupport"] + target.dependencies)
    },
    swiftLanguageModes: [.v6]
)
