import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// Interop with the real Python libraries (numpy, safetensors from PyPI, ml_dtypes), through the
/// built binary. These tests FAIL, never skip, when Python or a package is missing.
@Suite("Interop: import and export round-trip through numpy, safetensors and ml_dtypes")
struct InteropTests {
    struct Manifest: Decodable {
        struct NPY: Decodable {
            var file: String
            var key: String
            var dtype: String
            var shape: [Int]
        }
        struct Tensor: Codable {
            var name: String
            var dtype: String
            var shape: [Int]
            var raw: String
        }
        struct SafeTensorsFile: Decodable {
            var file: String
            var metadata: [String: String]
            var tensors: [Tensor]
        }
        var npy: [NPY]
        var safetensors: [SafeTensorsFile]
    }

    struct Check: Encodable {
        struct NPY: Encodable {
            var file: String
            var dtype: String
            var shape: [Int]
            var raw: String
        }
        struct SafeTensorsFile: Encodable {
            var file: String
            var metadata: [String: String]
            var tensors: [Manifest.Tensor]
            var load_file: Bool
        }
        var npy: [NPY] = []
        var safetensors: [SafeTensorsFile] = []
    }

    func runCheck(_ check: Check, in directory: TemporaryDirectory) throws {
        try Data(try JSONEncoder().encode(check)).write(to: URL(fileURLWithPath: directory.file("check.json")))
        let output = try runPython(CLIPythonScripts.checkExports, arguments: [directory.path], in: directory)
        let expected = check.npy.count + check.safetensors.reduce(0) { $0 + $1.tensors.count }
        #expect(output.contains("checked \(expected) tensors, 0 failures"), "\(output)")
    }

    @Test("numpy/safetensors-written files (every dtype incl. float16, bfloat16, float8; 0-d, empty, odd shapes) import with their dtype and shape and export byte-identical")
    func roundTripPythonFiles() throws {
        let directory = TemporaryDirectory()
        try runPython(CLIPythonScripts.makeFiles, arguments: [directory.path], in: directory)
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory.file("manifest.json"))))
        let store = directory.store

        // Import: float8_e4m3fn .npy files need --dtype (ml_dtypes saves them as '<V1'), one at a time with --key.
        let plain = manifest.npy.filter { $0.dtype != "float8_e4m3fn" }
        try succeed(["import", store] + plain.map { directory.file($0.file) } + ["--compress", "auto"])
        for entry in manifest.npy where entry.dtype == "float8_e4m3fn" {
            try succeed("import", store, directory.file(entry.file), "--key", entry.key, "--dtype", "float8_e4m3fn")
        }
        for (index, file) in manifest.safetensors.enumerated() {
            try succeed("import", store, directory.file(file.file), "--prefix", "st\(index)/", "--compress", index == 0 ? "shuffle-lz4" : "none")
        }

        // ls --json agrees with numpy on every dtype and shape, and keeps __metadata__.
        let listed = Dictionary(uniqueKeysWithValues: try listing(store).map { ($0["key"] as! String, $0) })
        #expect(listed.count == manifest.npy.count + manifest.safetensors.reduce(0) { $0 + $1.tensors.count })
        var dtypes = Set<String>()
        for entry in manifest.npy {
            let item = try #require(listed[entry.key], "\(entry.key) not imported")
            #expect(item["dtype"] as? String == entry.dtype, "\(entry.key)")
            #expect(item["shape"] as? [Int] == entry.shape, "\(entry.key)")
            dtypes.insert(entry.dtype)
        }
        #expect(dtypes == Set(DType.allCases.map(\.name)))
        for (index, file) in manifest.safetensors.enumerated() {
            for tensor in file.tensors {
                let item = try #require(listed["st\(index)/" + tensor.name], "\(tensor.name) not imported")
                #expect(item["dtype"] as? String == tensor.dtype, "\(tensor.name)")
                #expect(item["shape"] as? [Int] == tensor.shape, "\(tensor.name)")
                #expect((item["metadata"] as? [String: String]) == file.metadata, "\(tensor.name)")
            }
        }

        // Export every tensor again and let numpy / safetensors check the bytes.
        var check = Check()
        for entry in manifest.npy {
            let output = "out_" + entry.file
            try succeed("export", store, entry.key, "--output", directory.file(output))
            check.npy.append(.init(file: output, dtype: entry.dtype, shape: entry.shape, raw: entry.file + ".raw"))
        }
        for (index, file) in manifest.safetensors.enumerated() {
            let output = "out_" + file.file
            let keys = file.tensors.map { "st\(index)/" + $0.name }
            try succeed(["export", store] + keys + ["--output", directory.file(output), "--strip-prefix", "st\(index)/"])
            let hasFloat8 = file.tensors.contains { $0.dtype.hasPrefix("float8") }
            check.safetensors.append(.init(file: output, metadata: file.metadata, tensors: file.tensors, load_file: !hasFloat8))
        }
        try runCheck(check, in: directory)
    }

    @Test("a store written through the library (row blocks from appends, lz4 and shuffle-lz4 blocks, every dtype) exports files numpy and safetensors load exactly")
    func exportLibraryWritten() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallStoreOptions(segmentSize: 1 << 20))
        var check = Check()
        var generator = SplitMix64(seed: 99)
        var tensors: [Manifest.Tensor] = []
        let compressions: [Compression] = [.none, .lz4, .shuffleLZ4, .auto]
        for (index, dtype) in DType.allCases.enumerated() {
            for (shapeIndex, shape) in [[], [0], [5], [3, 4], [2, 0, 3], [4, 1, 3, 2]].enumerated() {
                let count = shape.reduce(1, *) * dtype.size
                var data = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if dtype == .bool { data = data.map { $0 & 1 } }
                let key = "lib/\(dtype.name)/\(shapeIndex)"
                let compression = compressions[(index + shapeIndex) % compressions.count]
                try data.withUnsafeBytes {
                    _ = try store.put(key, dtype: dtype, shape: shape, bytes: $0, options: WriteOptions(compression: compression))
                }
                let raw = "lib_\(dtype.name)_\(shapeIndex).raw"
                try directory.write(data, to: raw)
                let output = "lib_\(dtype.name)_\(shapeIndex).npy"
                check.npy.append(.init(file: output, dtype: dtype.name, shape: shape, raw: raw))
                tensors.append(.init(name: key, dtype: dtype.name, shape: shape, raw: raw))
            }
        }
        // A tensor grown by appends, in compressed row blocks of 1 KiB: export gathers and decodes across blocks.
        var series: [Float] = []
        try store.put("lib/series", (0..<300).map { Float($0) }, shape: [100, 3], options: WriteOptions(compression: .shuffleLZ4, blockBytes: 1024))
        series += (0..<300).map { Float($0) }
        for chunk in 1..<30 {
            let rows = (0..<300).map { Float(chunk * 300 + $0) * 0.5 }
            try store.append("lib/series", rows, shape: [100, 3], options: WriteOptions(compression: chunk % 2 == 0 ? Compression.lz4 : Compression.none))
            series += rows
        }
        try directory.write(bytes(of: series), to: "series.raw")
        check.npy.append(.init(file: "series.npy", dtype: "float32", shape: [3000, 3], raw: "series.raw"))
        tensors.append(.init(name: "lib/series", dtype: "float32", shape: [3000, 3], raw: "series.raw"))
        try store.put("lib/meta", [Int16](arrayLiteral: 1, 2), options: WriteOptions(metadata: ["source": "swift", "ünï": "✓"]))
        try directory.write(bytes(of: [Int16](arrayLiteral: 1, 2)), to: "meta.raw")
        tensors.append(.init(name: "lib/meta", dtype: "int16", shape: [2], raw: "meta.raw"))
        try store.close()

        for entry in check.npy {
            let key = entry.file == "series.npy" ? "lib/series" : tensors.first { $0.raw == entry.raw }!.name
            try succeed("export", directory.store, key, "--output", directory.file(entry.file))
        }
        try succeed(["export", directory.store] + tensors.map(\.name) + ["--output", directory.file("all.safetensors")])
        check.safetensors.append(.init(file: "all.safetensors", metadata: ["source": "swift", "ünï": "✓"], tensors: tensors, load_file: false))
        try runCheck(check, in: directory)
    }

    @Test("get prints exactly what numpy's print(array) shows (float32/64/16, ints, bools, nan/inf, scientific, summarised, wrapped, sliced, 0-d; bfloat16 and float8 as float32)")
    func getMatchesNumpy() throws {
        struct Case: Decodable {
            var file: String
            var key: String
            var dtype: String
            var expected: String
            var slice: String?
        }
        let directory = TemporaryDirectory()
        try runPython(CLIPythonScripts.makePrintCases, arguments: [directory.path], in: directory)
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: directory.file("cases.json"))))
        #expect(cases.count > 20)
        let files = cases.filter { $0.dtype != "float8_e4m3fn" }.map { directory.file($0.file) }
        try succeed(["import", directory.store] + Array(Set(files)).sorted())
        for testCase in cases where testCase.dtype == "float8_e4m3fn" {
            try succeed("import", directory.store, directory.file(testCase.file), "--key", testCase.key, "--dtype", "float8_e4m3fn")
        }
        #expect(Set(cases.map(\.dtype)) == Set(DType.allCases.map(\.name)), "every dtype is printed")
        for testCase in cases {
            let arguments = ["get", directory.store, testCase.key] + (testCase.slice.map { ["--slice=\($0)"] } ?? [])
            let result = try tensorlog(arguments)
            #expect(result.status == 0, "\(testCase.key): \(result)")
            let printed = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            let values = printed.count > 1 ? String(printed[1]) : ""
            #expect(values == testCase.expected + "\n", "\(testCase.key) (\(testCase.dtype)):\n--- tensorlog\n\(values)--- numpy\n\(testCase.expected)")
        }
    }
}
