import ArgumentParser
import Foundation
import TensorLog
import TensorLogInterop

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a demo store and show what the commands see (start here).",
        discussion: """
            Builds a store in DIRECTORY (default ./demo-store; a previous store there is wiped, any other \
            non-empty directory is refused): writes example .npy and .safetensors files with TensorLog's \
            interop writers and imports them as `tensorlog import` does, streams a utilisation time series \
            in with appends, then shows get, dump (abridged) and stat, reads a tensor zero-copy, \
            overwrites, trains an LSTM forecaster on the series and writes its predictions back \
            (train, infer), compacts, verifies and exports. Takes a second or two.

            Example:
              tensorlog demo
              tensorlog demo /tmp/my-demo
            """
    )

    @Argument(help: "Where to build the demo store.", completion: .directory)
    var directory = "demo-store"

    /// Small segments so that the demo store has several, and compaction has something to do.
    static let segmentSize = 256 << 10

    func run() throws {
        let started = ContinuousClock.now
        try prepareDirectory()
        print("TensorLog demo: building a store in \(directory)")

        // 1. Example files, written through TensorLogInterop.
        let scratch = try ScratchDirectory()
        let files = try DemoData.writeFiles(in: scratch.path)
        section(1, "Example files written with TensorLogInterop (NPY.header, SafeTensors.header) in \(scratch.path)")
        for file in files {
            print("   \(file.name.padding(toLength: 19, withPad: " ", startingAt: 0)) \(file.summary)")
        }

        // 2. Import them with the code `tensorlog import` runs.
        var options = StoreOptions()
        options.segmentSize = Self.segmentSize
        options.autoCompactDeadFraction = nil
        options.durability = .none
        var store = try reporting { try TensorStore.open(at: directory, options: options) }
        section(2, "$ tensorlog import \(directory) \(files.map(\.name).joined(separator: " ")) --compress auto")
        let plan = try ImportPlan(
            files: files.map { scratch.path + "/" + $0.name }, settings: ImportPlan.Settings(compression: .auto))
        let results = try plan.run(on: store)
        Import.printResults(results, indent: "   ")

        // 3. A time series streamed in as rows arrive.
        section(3, "Streaming a utilisation time series: 1 put + 39 appends of 100 rows of [cpu, memory]")
        try reporting {
            try store.put("node1/utilisation", DemoData.utilisation(0..<100), shape: [100, 2],
                          options: WriteOptions(metadata: ["columns": "cpu,memory", "unit": "percent"]))
            for chunk in 1..<40 {
                try store.append("node1/utilisation", DemoData.utilisation(chunk * 100..<(chunk + 1) * 100), shape: [100, 2])
            }
        }
        let series = try reporting { try store.snapshot().info("node1/utilisation") }
        print("   node1/utilisation: \(series.dtype.name) \(formatShape(series.shape)) in \(series.blockCount) row blocks")
        try closeStore(store)
        try show(Get.self, [directory, "node1/utilisation", "--slice", "1998:2002"])
        try show(Get.self, [directory, "features"])

        // 4-5. What an operator sees.
        section(4, "$ tensorlog dump \(directory) --limit 3   (abridged: 3 records per segment)")
        try run(Dump.self, [directory, "--limit", "3"])
        section(5, "$ tensorlog stat \(directory)")
        try run(Stat.self, [directory])

        // 6. Zero-copy read.
        store = try reporting { try TensorStore.open(at: directory, options: options) }
        section(6, "Zero-copy read: model/w1 used in place, a pointer into the mapped segment file")
        let snapshot = store.snapshot()
        var sum: Float = 0
        var view: TensorView?
        let viewTime = try ContinuousClock().measure {
            let mapped = try reporting { try snapshot.view("model/w1") }
            sum = try mapped.withUnsafeBufferPointer(as: Float.self) { $0.reduce(0, +) }
            view = mapped
        }
        print("   summed \(view?.elementCount ?? 0) float32 values of \(formatShape(view?.shape ?? [])) in \(formatSeconds(viewTime)) "
            + "without copying them: sum = \(String(format: "%.4f", sum))")

        // 7. Overwrite and delete: old versions stay until compaction.
        section(7, "Overwriting model/w1 three times (a training loop's checkpoints) and deleting labels")
        let weights = try reporting { try snapshot.read("model/w1") }
        let values = try reporting { try weights.values(as: Float.self) }
        try reporting {
            for epoch in 1...3 {
                try store.put("model/w1", values.map { $0 * (1 - 0.1 * Float(epoch)) }, shape: weights.shape)
            }
            try store.delete("labels")
        }
        try closeStore(store)
        view = nil
        try show(History.self, [directory, "model/w1"])

        // 8-9. Train a forecaster on the streamed series and write its predictions back.
        let training = [directory, "--series", "node1/utilisation", "--model", "lstm", "--window", "12", "--hidden", "16",
                        "--lr", "0.01", "--epochs", "3", "--batch-size", "64", "--save", "models/util"]
        section(8, "Training an LSTM forecaster on node1/utilisation, batches read from the mapped blocks (a checkpoint per epoch)")
        try show(Train.self, training)
        section(9, "Predicting the next row of every 12-row window, written back to the store")
        try show(Infer.self, [directory, "--model", "models/util", "--series", "node1/utilisation", "--output", "node1/predicted"])

        // 10-11. Compact, verify.
        section(10, "$ tensorlog compact \(directory) --full   (drops the older checkpoints' versions)")
        try run(Compact.self, [directory, "--full"])
        section(11, "$ tensorlog verify \(directory)")
        try run(Verify.self, [directory])

        // 12. Export, byte-identical to what was imported.
        let exported = scratch.path + "/exported.safetensors"
        section(12, "$ tensorlog export \(directory) model/b1 model/w2 features --output \(exported)")
        try run(Export.self, [directory, "model/b1", "model/w2", "features", "--output", exported])
        try DemoData.checkExport(exported, originals: scratch.path)

        let elapsed = ContinuousClock.now - started
        print("")
        print("Demo finished in \(formatSeconds(elapsed)). Try:")
        print("   tensorlog ls \(directory)")
        print("   tensorlog ls \(directory) --prefix models/util/")
        print("   tensorlog get \(directory) features --slice 0:2")
        print("   tensorlog dump \(directory) --key model/w1 --hex 16")
        print("   tensorlog --help")
    }

    private func section(_ number: Int, _ title: String) {
        print("")
        print("\(number). \(title)")
    }

    /// Runs a command as the command line would, after printing its command line.
    private func show<C: ParsableCommand>(_ type: C.Type, _ arguments: [String]) throws {
        print("")
        print("$ tensorlog \(C._commandName) \(arguments.joined(separator: " "))")
        try run(C.self, arguments)
    }

    private func run<C: ParsableCommand>(_ type: C.Type, _ arguments: [String]) throws {
        var command = try C.parse(arguments)
        try command.run()
    }

    /// Wipes a previous demo store; refuses to touch anything that is not a store.
    private func prepareDirectory() throws {
        let state = directoryState(directory)
        guard state.exists else { return }
        guard state.isDirectory else { throw CLIError("\(directory) exists and is not a directory") }
        if state.isStore {
            do {
                try FileManager.default.removeItem(atPath: directory)
            } catch {
                throw CLIError("cannot remove the previous demo store \(directory): \(error.localizedDescription)")
            }
        } else if !state.isEmpty {
            throw CLIError("\(directory) is a non-empty directory that is not a TensorLog store; refusing to wipe it (pick another directory)")
        }
    }
}

/// A temporary directory removed when the demo ends.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "tensorlog-demo-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create \(path): \(error.localizedDescription)")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The demo's embedded data: deterministic, so every run prints the same values.
enum DemoData {
    struct File {
        var name: String
        var summary: String
    }

    /// SplitMix64: the same numbers on every run.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform(_ range: ClosedRange<Float>) -> Float {
            range.lowerBound + (range.upperBound - range.lowerBound) * Float(next() >> 40) / Float(1 << 24)
        }
    }

    static let samples = 4096, features = 64, hidden = 128

    /// A 2-layer model, a data set (smooth features: they compress) and its labels.
    static func writeFiles(in directory: String) throws -> [File] {
        var generator = Generator(state: 2024)
        let w1 = (0..<features * 4 * hidden).map { _ in generator.uniform(-0.1...0.1) }
        let b1 = (0..<hidden).map { Float($0 % 7) * 0.01 }
        let w2 = (0..<hidden * 10).map { _ in bfloat16Bits(generator.uniform(-0.5...0.5)) }
        var data = [Float](repeating: 0, count: samples * features)
        for row in 0..<samples {
            for column in 0..<features { data[row * features + column] = sin(Float(row) / 50) * cos(Float(column) / 10) }
        }
        let labels = (0..<samples).map { Int64($0 % 10) }

        let metadata = ["framework": "tensorlog-demo", "layers": "2"]
        let tensors: [(name: String, description: TensorDescription, bytes: [UInt8])] = [
            ("model/w1", TensorDescription(dtype: .float32, shape: [features * 4, hidden]), bytes(of: w1)),
            ("model/b1", TensorDescription(dtype: .float32, shape: [hidden]), bytes(of: b1)),
            ("model/w2", TensorDescription(dtype: .bfloat16, shape: [hidden, 10]), bytes(of: w2)),
        ]
        do {
            let (header, _) = try SafeTensors.header(for: tensors.map { ($0.name, $0.description) }, metadata: metadata)
            try write(header + tensors.flatMap(\.bytes), to: directory + "/model.safetensors")
            let featuresDescription = TensorDescription(dtype: .float32, shape: [samples, features])
            try write(try NPY.header(for: featuresDescription) + bytes(of: data), to: directory + "/features.npy")
            let labelsDescription = TensorDescription(dtype: .int64, shape: [samples])
            try write(try NPY.header(for: labelsDescription) + bytes(of: labels), to: directory + "/labels.npy")
        } catch let error as InteropError {
            throw CLIError("demo data: \(error.message)")
        }
        let modelBytes = tensors.reduce(0) { $0 + $1.bytes.count }
        return [
            File(name: "model.safetensors", summary: "3 tensors (float32, float32, bfloat16), \(formatBytes(modelBytes)), __metadata__ \(metadata.keys.sorted())"),
            File(name: "features.npy", summary: "float32 [\(samples), \(features)], \(formatBytes(data.count * 4)) (smooth: compresses)"),
            File(name: "labels.npy", summary: "int64 [\(samples)], \(formatBytes(labels.count * 8))"),
        ]
    }

    /// Rows `range` of a node's CPU and memory utilisation (percent).
    static func utilisation(_ range: Range<Int>) -> [Float] {
        var generator = Generator(state: UInt64(range.lowerBound))
        return range.flatMap { t -> [Float] in
            let cpu = 50 + 30 * sin(Float(t) / 60) + generator.uniform(-5...5)
            let memory = 40 + 10 * sin(Float(t) / 400) + generator.uniform(-2...2)
            return [cpu, memory]
        }
    }

    /// Checks that exported tensors are byte-identical to the files they were imported from.
    static func checkExport(_ path: String, originals directory: String) throws {
        let exported = try MappedFile(path: path)
        let model = try MappedFile(path: directory + "/model.safetensors")
        let features = try MappedFile(path: directory + "/features.npy")
        do {
            let parsed = try SafeTensors.parse(exported.bytes)
            let original = try SafeTensors.parse(model.bytes)
            let originalFeatures = try NPY.parse(features.bytes)
            var identical = 0
            for entry in parsed.entries {
                let source: UnsafeRawBufferPointer
                if entry.name == "features" {
                    source = UnsafeRawBufferPointer(rebasing: features.bytes[originalFeatures.dataRange])
                } else if let match = original.entries.first(where: { $0.name == entry.name }) {
                    source = UnsafeRawBufferPointer(rebasing: model.bytes[match.dataRange])
                } else {
                    continue
                }
                let copy = UnsafeRawBufferPointer(rebasing: exported.bytes[entry.dataRange])
                guard copy.elementsEqual(source) else { throw CLIError("demo: exported '\(entry.name)' differs from the imported bytes") }
                identical += 1
            }
            print("   \(identical) tensors byte-identical to the imported files; __metadata__ \(parsed.metadata.keys.sorted())")
        } catch let error as InteropError {
            throw CLIError("demo: \(error.message)")
        }
    }

    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    static func bytes<T>(of values: [T]) -> [UInt8] {
        values.withUnsafeBytes { [UInt8]($0) }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CLIError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
