import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// A .npy file whose header is written by hand (the interop writer refuses shapes whose rows overflow).
func handMadeNPY(descr: String, shape: [Int]) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
    while (10 + header.count + 1) % 64 != 0 { header.append(UInt8(ascii: " ")) }
    header.append(UInt8(ascii: "\n"))
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
}

/// A .safetensors file with one tensor of no bytes, its JSON written by hand.
func handMadeSafeTensors(name: String, dtype: String, shape: [Int]) -> [UInt8] {
    let json = Array(#"{"\#(name)":{"dtype":"\#(dtype)","shape":[\#(shape.map(String.init).joined(separator: ","))],"data_offsets":[0,0]}}"#.utf8)
    return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
}

/// Risk covered: a tensor with no elements but huge other dimensions crashes `get` (an allocation by
/// shape, an overflowing product) or makes it use memory in proportion to the shape, and a shape whose
/// rows overflow gets into the store through an import.
@Suite("Shapes: zero-size tensors print and export; shapes whose rows overflow are refused or reported")
struct ShapeTests {
    @Test("numpy's zero-size arrays with huge dimensions import, print [], slice, export and load back in numpy")
    func hugeEmptyArrays() throws {
        let directory = TemporaryDirectory()
        let cases = ["wide": "(0, 2**40)", "tall": "(2**40, 0)", "deep": "(1, 0, 2**59)", "edge": "(0, 2**59)", "plain": "(0, 16)"]
        let dtypes = ["wide": "float64", "tall": "int8", "deep": "float64", "edge": "float64", "plain": "float32"]
        try runPython("""
            import os, sys
            try:
                import numpy as np
            except ImportError:
                sys.exit(3)
            os.chdir(sys.argv[1])
            \(cases.map { "np.save('\($0.key).npy', np.zeros(\($0.value), dtype='\(dtypes[$0.key]!)'))" }.joined(separator: "\n"))
            """, arguments: [directory.path], in: directory)
        try succeed("init", directory.store)
        for key in cases.keys.sorted() {
            try succeed("import", directory.store, directory.file(key + ".npy"), "--key", key)
            let printed = try succeed("get", directory.store, key)
            #expect(printed.stdout.hasSuffix("\n[]\n"), "get \(key): \(printed.stdout)")
            let sliced = try succeed("get", directory.store, key, "--slice", "0:0")
            #expect(sliced.stdout.hasSuffix("\n[]\n"), "get \(key) --slice 0:0: \(sliced.stdout)")
            try succeed("export", directory.store, key, "--output", directory.file(key + "-out.npy"))
        }
        let loaded = try runPython("""
            import os, sys
            import numpy as np
            os.chdir(sys.argv[1])
            for key in \(cases.keys.sorted()):
                a = np.load(key + '-out.npy')
                print(key, a.dtype, a.shape, a.size)
            """, arguments: [directory.path], in: directory)
        let expected = [
            "deep float64 (1, 0, \(1 << 59)) 0", "edge float64 (0, \(1 << 59)) 0", "plain float32 (0, 16) 0",
            "tall int8 (\(1 << 40), 0) 0", "wide float64 (0, \(1 << 40)) 0",
        ]
        #expect(loaded.split(separator: "\n").map(String.init) == expected, "\(loaded)")
    }

    @Test("printing a zero-size tensor does not allocate by its shape: (0, 10**8) float32 prints [] in far less than 800 MB")
    func printingIsSmall() throws {
        let directory = TemporaryDirectory()
        try directory.write(try npyBytes(dtype: .float32, shape: [0, 100_000_000], data: []), to: "z.npy")
        try succeed("import", directory.store, directory.file("z.npy"), "--key", "z")
        // The peak resident memory of the child, from the kernel: an index per printed column (8 bytes x 10^8)
        // would be 800 MB; a printer that allocates nothing by shape stays at the process's own size.
        let report = try runPython("""
            import resource, subprocess, sys
            done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
            print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(done.stdout.splitlines()[-1:]))
            """, arguments: [tensorlogPath, "get", directory.store, "z"], in: directory)
        let fields = report.split(separator: " ", maxSplits: 2).map(String.init)
        #expect(fields.count == 3 && fields[0] == "0" && fields[2].hasPrefix("['[]']"), "\(report)")
        let peakKiB = Int(fields.count > 1 ? fields[1] : "") ?? .max
        #expect(peakKiB < 200 << 10, "get used \(peakKiB) KiB at its peak")
    }

    @Test("import refuses .npy and .safetensors shapes whose rows overflow, and leaves the store as it was", arguments: [
        ("<f8", "F64", [0, 1 << 62]), ("|i1", "I8", [0, 1 << 62, 2]), ("<f4", "F32", [0, 1 << 61]), ("<i2", "I16", [1, 0, 1 << 62, 4]),
    ])
    func importRefuses(descr: String, safetensorsType: String, shape: [Int]) throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try directory.write(handMadeNPY(descr: descr, shape: shape), to: "z.npy")
        try directory.write(handMadeSafeTensors(name: "z", dtype: safetensorsType, shape: shape), to: "z.safetensors")
        try expectRefused(["import", directory.store, directory.file("z.npy"), "--key", "z"], store: directory.store, mentioning: ["64-bit integer"])
        try expectRefused(["import", directory.store, directory.file("z.safetensors")], store: directory.store, mentioning: ["64-bit integer"])
    }

    @Test("a store that already holds such a tensor (old or hostile): ls shows it; get, export, train and infer fail with one clear line")
    func alreadyStored() throws {
        let directory = TemporaryDirectory()
        try HostileStore.writeEmptyTensor(directory.store, key: "z", dtype: .float64, shape: [0, 1 << 62])
        let listed = try listing(directory.store)
        #expect(listed.count == 1 && listed.first?["shape"] as? [Int] == [0, 1 << 62], "\(listed)")
        for arguments in [
            ["get", directory.store, "z"], ["get", directory.store, "z", "--slice", "0:0"],
            ["export", directory.store, "z", "--output", directory.file("z.npy")],
            ["export", directory.store, "z", "--output", directory.file("z.safetensors")],
            ["train", directory.store, "--data", "z", "--labels", "z", "--model", "linear", "--save", "m"],
        ] {
            expectFailure(try tensorlog(arguments), status: 2, mentioning: ["'z'", "64-bit integer"])
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("z.npy")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("z.safetensors")))
    }
}
