import ArgumentParser
import Foundation
import TensorLog

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export tensors to a .npy file (one key) or a .safetensors file (any number).",
        discussion: """
            The format follows the --output extension. The bytes are exactly the stored values, so numpy \
            (numpy.load) and the safetensors package read back what was imported. bfloat16 and float8 \
            tensors are written to .npy as numpy's untyped '<V2' / '<V1' (view them with the ml_dtypes \
            type); .safetensors names them BF16, F8_E4M3, F8_E5M2. Tensor metadata becomes the \
            .safetensors __metadata__ (merged; the first key listed wins a conflict). The file is written \
            under a temporary name and renamed when complete, so a failed export leaves no partial file. \
            Every block is checksum-verified as it is read.

            Examples:
              tensorlog export my-store model/w1 --output w1.npy
              tensorlog export my-store model/w1 model/b1 --output model.safetensors --strip-prefix model/
            """
    )

    @OptionGroup var target: StoreArgument
    @Argument(help: "The keys to export.") var keys: [String] = []
    @Option(name: [.short, .long], help: "The file to write (.npy or .safetensors).", completion: .file())
    var output: String
    @Option(help: "Remove this from the start of each key to name the tensors in a .safetensors file.")
    var stripPrefix = ""

    func validate() throws {
        guard !keys.isEmpty else { throw ValidationError("no keys to export") }
        guard !output.isEmpty else { throw ValidationError("--output is empty") }
    }

    func run() throws {
        if directoryState(output).isDirectory { throw CLIError("--output \(output) is a directory") }
        let format = try Exporter.format(of: output)
        if format == .npy, keys.count != 1 {
            throw CLIError("a .npy file holds one tensor; \(keys.count) keys given (export them to a .safetensors file)")
        }
        var seen = Set<String>()
        for key in keys where !seen.insert(key).inserted {
            throw CLIError("key '\(key)' is listed twice")
        }
        let names = keys.map { $0.hasPrefix(stripPrefix) ? String($0.dropFirst(stripPrefix.count)) : $0 }
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let (keys, output) = (keys, output)
            let bytes = try remote {
                if format == .npy { return try await client.download(keys[0], to: output, format: "npy") }
                // The tensors' metadata merged into __metadata__, the first key listed winning, as a local export does.
                var metadata: [String: String] = [:]
                for key in keys { metadata.merge(try await client.info(key).metadata) { first, _ in first } }
                return try await client.downloadSafetensors(keys, names: names, metadata: metadata, to: output)
            }
            print("exported \(keys.count) tensor(s) from \(url) to \(output) (\(formatBytes(bytes)))")
            return
        }
        let store = try openStore(target.store, .readOnly)
        let snapshot = store.snapshot()
        let bytes = try Exporter.export(snapshot, keys: keys, names: names, to: output, format: format)
        print("exported \(keys.count) tensor(s) to \(output) (\(formatBytes(bytes)))")
    }
}
