import Foundation
import Testing
import TensorLogFormat
@testable import TensorLogInterop

/// Interop with the real Python libraries: numpy, safetensors (PyPI) and ml_dtypes.
/// These tests FAIL (never skip) when python3 or a package is missing.
/// `TENSORLOG_PYTHON` may name the interpreter; otherwise `python3` is looked up on PATH.
@Suite("Python interop")
struct PythonInteropTests {
    // MARK: Reading files the Python libraries wrote

    struct ReferenceManifest: Decodable {
        struct NPYEntry: Decodable {
            var file: String
            var dtype: String?
            var shape: [Int]?
            var raw: String?
            var override: String?
            var error: String?
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
        var npy: [NPYEntry]
        var safetensors: [SafeTensorsFile]
    }

    func makeReference(in dir: TemporaryDirectory) throws -> ReferenceManifest {
        try runPython(PythonScripts.makeReference, named: "make_reference.py", arguments: [dir.url.path], in: dir)
        let data = try Data(contentsOf: dir.url.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(ReferenceManifest.self, from: data)
    }

    @Test("numpy-written .npy files (every dtype, versions 1.0/2.0/3.0, 0-d, empty, odd shapes) parse to numpy's dtype, shape and bytes")
    func readNumpyWrittenNPY() throws {
        let dir = try TemporaryDirectory()
        let manifest = try makeReference(in: dir)
        #expect(manifest.npy.count > 200)
        var dtypesSeen = Set<DType>()
        for entry in manifest.npy {
            let bytes = try dir.read(entry.file)
            let override = try entry.override.map { name in try #require(DType(name: name), "unknown dtype \(name)") }
            if let word = entry.error {
                guard let error = npyError(bytes) else {
                    Issue.record("\(entry.file): expected an error mentioning '\(word)', but it parsed")
                    continue
                }
                #expect(error.message.contains(word), "\(entry.file): \(error)")
                continue
            }
            let (description, range) = try NPY.parse(bytes, dtype: override)
            let dtype = try #require(DType(name: entry.dtype ?? ""), "\(entry.file): unknown dtype \(entry.dtype ?? "nil")")
            dtypesSeen.insert(dtype)
            #expect(description == TensorDescription(dtype: dtype, shape: entry.shape ?? [-1]), "\(entry.file)")
            #expect(Array(bytes[range]) == (try dir.read(entry.raw ?? "")), "\(entry.file): data bytes differ")
        }
        #expect(dtypesSeen == Set(DType.allCases))
    }

    @Test("safetensors-written files (every dtype incl. BF16 and F8, 0-d, empty, unicode names, metadata) parse to the same tensors and bytes")
    func readSafetensorsWritten() throws {
        let dir = try TemporaryDirectory()
        let manifest = try makeReference(in: dir)
        #expect(manifest.safetensors.count >= 4)
        var dtypesSeen = Set<DType>()
        for file in manifest.safetensors {
            let bytes = try dir.read(file.file)
            let parsed = try SafeTensors.parse(bytes)
            #expect(parsed.metadata == file.metadata, "\(file.file)")
            #expect(Set(parsed.entries.map(\.name)) == Set(file.tensors.map(\.name)), "\(file.file)")
            #expect(parsed.entries.count == file.tensors.count)
            for tensor in file.tensors {
                guard let entry = parsed.entries.first(where: { $0.name == tensor.name }) else { continue }
                let dtype = try #require(DType(name: tensor.dtype), "unknown dtype \(tensor.dtype)")
                dtypesSeen.insert(dtype)
                #expect(entry.description == TensorDescription(dtype: dtype, shape: tensor.shape), "\(file.file): \(tensor.name)")
                #expect(Array(bytes[entry.dataRange]) == (try dir.read(tensor.raw)), "\(file.file): \(tensor.name): bytes differ")
            }
        }
        #expect(dtypesSeen == Set(DType.allCases))
    }

    // MARK: Files Swift wrote, loaded by the Python libraries

    struct SwiftManifest: Encodable {
        struct NPYEntry: Encodable {
            var file: String
            var dtype: String
            var shape: [Int]
            var raw: String
        }
        struct SafeTensorsFile: Encodable {
            var file: String
            var load: String
            var metadata: [String: String]
            var tensors: [ReferenceManifest.Tensor]
        }
        var npy: [NPYEntry] = []
        var safetensors: [SafeTensorsFile] = []
    }

    @Test("files written with NPY.header and SafeTensors.header load in numpy.load and safetensors with the same dtype, shape and values")
    func pythonLoadsSwiftWritten() throws {
        let dir = try TemporaryDirectory()
        var manifest = SwiftManifest()
        var counter: UInt64 = 0

        for dtype in DType.allCases {
            for shape in sampleShapes {
                counter += 1
                let description = TensorDescription(dtype: dtype, shape: shape)
                let (file, data) = try npyFile(description, seed: counter)
                let name = "\(dtype.name)_\(counter)"
                try dir.write(file, to: name + ".npy")
                try dir.write(data, to: name + ".bin")
                manifest.npy.append(.init(file: name + ".npy", dtype: dtype.name, shape: shape, raw: name + ".bin"))
            }
        }

        func writeSafeTensors(
            _ fileName: String, load: String, metadata: [String: String],
            _ tensors: [(name: String, description: TensorDescription)]
        ) throws {
            let (header, ranges) = try SafeTensors.header(for: tensors, metadata: metadata)
            var file = header
            var entries: [ReferenceManifest.Tensor] = []
            for (index, tensor) in tensors.enumerated() {
                counter += 1
                let data = sampleData(tensor.description.dtype, count: tensor.description.byteCount!, seed: counter)
                #expect(ranges[index] == (file.count - header.count)..<(file.count - header.count + data.count))
                file += data
                let raw = "st_\(counter).bin"
                try dir.write(data, to: raw)
                entries.append(.init(name: tensor.name, dtype: tensor.description.dtype.name, shape: tensor.description.shape, raw: raw))
            }
            try dir.write(file, to: fileName)
            manifest.safetensors.append(.init(file: fileName, load: load, metadata: metadata, tensors: entries))
        }

        var all: [(name: String, description: TensorDescription)] = []
        for (i, dtype) in DType.allCases.enumerated() {
            all.append(("t.\(dtype.name)", TensorDescription(dtype: dtype, shape: sampleShapes[1 + i % (sampleShapes.count - 1)])))
            all.append(("scalar.\(dtype.name)", TensorDescription(dtype: dtype, shape: [])))
            all.append(("empty.\(dtype.name)", TensorDescription(dtype: dtype, shape: [3, 0])))
        }
        all.append(("naïve ünïcode 名前 🎉", TensorDescription(dtype: .float32, shape: [2, 2])))
        all.append(("quote\"back\\slash/\n\ttab\u{1}", TensorDescription(dtype: .int8, shape: [3])))
        let metadata = ["format": "np", "note": "ünï \"quoted\"\n\ttab\u{1f}\\", "": "empty key"]
        // safetensors.numpy.load_file cannot build float8 arrays: that file is checked with safetensors.deserialize.
        let noFloat8 = all.filter { $0.description.dtype != .float8E4M3 && $0.description.dtype != .float8E5M2 }
        try writeSafeTensors("common.safetensors", load: "load_file", metadata: metadata, noFloat8)
        try writeSafeTensors("all.safetensors", load: "deserialize", metadata: [:], all)
        try writeSafeTensors("none.safetensors", load: "load_file", metadata: [:], [])
        try writeSafeTensors("allempty.safetensors", load: "deserialize", metadata: ["a": "b"],
                             [("a", .init(dtype: .float8E5M2, shape: [0])), ("b", .init(dtype: .int64, shape: [0, 5]))])

        let encoder = JSONEncoder()
        try dir.write(Array(try encoder.encode(manifest)), to: "manifest.json")
        let output = try runPython(PythonScripts.checkSwiftWritten, named: "check_swift.py", arguments: [dir.url.path], in: dir)
        let expectedChecks = manifest.npy.count + manifest.safetensors.reduce(0) { $0 + $1.tensors.count }
        #expect(output.contains("checked \(expectedChecks) tensors, 0 failures"), "\(output)")
    }
}

// MARK: - Support

/// A fresh directory under the system temporary directory, removed on deinit.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tensorlog-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: url.appendingPathComponent(name)))
    }

    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: url.appendingPathComponent(name))
    }
}

/// Runs a script in the test's temporary directory (see TensorLogTestSupport's runPython).
@discardableResult
func runPython(_ script: String, named name: String, arguments: [String], in dir: TemporaryDirectory) throws -> String {
    try runPython(script, named: name, arguments: arguments, directory: dir.url.path)
}

