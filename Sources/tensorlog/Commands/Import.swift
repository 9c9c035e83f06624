import ArgumentParser
import Foundation
import TensorLog
import TensorLogInterop

extension Compression: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "none": self = .none
        case "lz4": self = .lz4
        case "shuffle-lz4": self = .shuffleLZ4
        case "auto": self = .auto
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["none", "lz4", "shuffle-lz4", "auto"] }

    /// The spelling the command line and the server's `compression` parameter use.
    var argumentName: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        case .shuffleLZ4: "shuffle-lz4"
        case .auto: "auto"
        }
    }
}

extension DType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.name) }
}

/// A byte size: `1048576`, `512K`, `64M`, `2G` (powers of 1024).
struct ByteSize: ExpressibleByArgument {
    var bytes: Int

    init?(argument: String) {
        let text = argument.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text)
        var multiplier = 1
        if let last = digits.last, let found = multipliers[last] {
            multiplier = found
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self.bytes = bytes
    }

    init(bytes: Int) { self.bytes = bytes }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import .npy and .safetensors files into a store (creating it if needed).",
        discussion: """
            A .npy file becomes one tensor keyed by its file name without the extension (or --key, for a \
            single file). A .safetensors file imports every tensor, keyed by its name; its __metadata__ is \
            kept as each tensor's metadata. --prefix is put before every key. Files are mapped read-only \
            and tensors are written from the mapping.

            Atomicity: a .npy file is one put; all tensors of a .safetensors file go in one atomic batch \
            (all or nothing, also across a crash) when its data is at most --batch-limit; a larger file is \
            imported one tensor at a time straight from the mapping, since a batch holds a copy of every \
            tensor in memory. Every file is parsed and checked before anything is written, so bad input \
            leaves the store as it was (and a store that did not exist is not created).

            ml_dtypes saves float8_e4m3fn as the untyped '<V1': give --dtype float8_e4m3fn for such files.

            Examples:
              tensorlog import my-store weights.npy bias.npy
              tensorlog import my-store model.safetensors --prefix model/ --compress auto
              tensorlog import my-store scale.npy --key model/scale --dtype float8_e4m3fn
            """
    )

    @OptionGroup var target: StoreArgument
    @Argument(help: "The .npy and .safetensors files to import.", completion: .file(extensions: ["npy", "safetensors"]))
    var files: [String] = []
    @Option(help: "The key of a single .npy file (default: its file name without extension).") var key: String?
    @Option(help: "Put this before every key (e.g. model/).") var prefix = ""
    @Option(help: ArgumentHelp("Compression of the stored blocks: none, lz4, shuffle-lz4 or auto (raw unless it saves 10%).", valueName: "codec"))
    var compress: Compression = .none
    @Option(help: ArgumentHelp("Element type of .npy files whose header does not say it (e.g. float8_e4m3fn for '<V1').", valueName: "dtype"))
    var dtype: DType?
    @Option(help: ArgumentHelp("Largest .safetensors data section imported as one atomic batch (e.g. 512M, 2G).", valueName: "size"))
    var batchLimit = ByteSize(bytes: 1 << 30)

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("no files to import") }
        if let key, files.count != 1 { throw ValidationError("--key \(key) needs exactly one file; \(files.count) given") }
    }

    func run() throws {
        let settings = ImportPlan.Settings(key: key, prefix: prefix, compression: compress, dtype: dtype, batchLimit: batchLimit.bytes)
        if let url = target.remoteURL { return try importRemotely(url, settings: settings) }
        let state = directoryState(target.store)
        let create = !state.exists || (state.isDirectory && state.isEmpty)
        if state.exists, !state.isStore, !create {
            throw CLIError(state.isDirectory
                ? "\(target.store) is not a TensorLog store (no MANIFEST)"
                : "\(target.store) exists and is not a directory")
        }
        let plan = try ImportPlan(files: files, settings: settings)
        let store = try openStore(target.store, create ? .create : .write)
        let progress = ProgressBar("import", total: plan.totalBytes)
        let results = try plan.run(on: store, progress: progress)
        progress.finish()
        try closeStore(store)
        if create { print("created store \(target.store)") }
        Self.printResults(results)
    }

    /// Sends each tensor to the server as its own put, streamed from the mapped file
    /// (so a .safetensors file is not one atomic batch over the network).
    private func importRemotely(_ url: String, settings: ImportPlan.Settings) throws {
        let client = try remoteClient(url)
        let plan = try ImportPlan(files: files, settings: settings)
        let codec = compress.argumentName
        let uploads = plan.groups.flatMap { group in
            group.items.map { (key: $0.key, path: group.path, range: $0.range, description: $0.description, metadata: $0.metadata) }
        }
        try remote {
            for upload in uploads {
                try await client.put(
                    upload.key, file: upload.path, dataRange: upload.range, description: upload.description, metadata: upload.metadata,
                    compression: codec)
            }
        }
        Self.printResults(plan.groups.map { ImportPlan.GroupResult(group: $0, atomicBatch: false) }, oneByOne: " one put each over the network")
        print("sent \(uploads.count) tensor(s) to \(url)")
    }

    static func printResults(
        _ results: [ImportPlan.GroupResult], indent: String = "", oneByOne: String = " one by one (larger than --batch-limit)"
    ) {
        for result in results {
            let group = result.group
            let name = (group.path as NSString).lastPathComponent
            switch group.format {
            case .npy:
                let item = group.items[0]
                print("\(indent)\(name) -> \(item.key): \(item.description.dtype.name) \(formatShape(item.description.shape)), \(formatBytes(item.range.count))")
            case .safetensors:
                let how = group.items.count <= 1 ? "" : result.atomicBatch ? " in one atomic batch" : oneByOne
                let metadata = group.metadata.isEmpty ? "" : ", \(group.metadata.count) metadata entr\(group.metadata.count == 1 ? "y" : "ies")"
                print("\(indent)\(name): \(group.items.count) tensor(s), \(formatBytes(group.dataBytes))\(how)\(metadata)")
                for item in group.items {
                    print("\(indent)  -> \(item.key): \(item.description.dtype.name) \(formatShape(item.description.shape))")
                }
            }
        }
    }
}
