import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// Runs a command that must fail with one stderr line and leave the store exactly as it was
/// (same `ls --json`, same file bytes apart from LOCK).
func expectRefused(
    _ arguments: [String], store: String, status: Int32 = 2, mentioning words: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let listingBefore = try listingText(store)
    let filesBefore = storeFiles(store)
    let result = try tensorlog(arguments)
    expectFailure(result, status: status, mentioning: words, sourceLocation: sourceLocation)
    #expect(try listingText(store) == listingBefore, "ls --json changed after: tensorlog \(arguments)", sourceLocation: sourceLocation)
    #expect(storeFiles(store) == filesBefore, "store files changed after: tensorlog \(arguments)", sourceLocation: sourceLocation)
}

@Suite("Errors: one clear stderr line, a non-zero exit, and the store left as it was")
struct ErrorTests {
    @Test("every command on a missing store fails without creating it (init and import excepted)", arguments: [
        ["ls"], ["stat"], ["dump"], ["get", "k"], ["history", "k"], ["verify"], ["export", "k", "--output", "OUT.npy"],
        ["rm", "k"], ["compact"],
    ])
    func missingStore(_ command: [String]) throws {
        let directory = TemporaryDirectory()
        let missing = directory.file("nope")
        var arguments = [command[0], missing] + command.dropFirst()
        arguments = arguments.map { $0 == "OUT.npy" ? directory.file("out.npy") : $0 }
        expectFailure(try tensorlog(arguments), status: 2, mentioning: ["no store", missing])
        #expect(!FileManager.default.fileExists(atPath: missing), "\(command[0]) created the store")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.npy")))
    }

    @Test("a directory that is not a store is refused by every command, and nothing is written into it")
    func notAStore() throws {
        let directory = TemporaryDirectory()
        let plain = directory.file("plain")
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: plain + "/notes.txt"))
        try directory.write(try npyBytes(dtype: .int8, shape: [2], data: [1, 2]), to: "x.npy")
        for arguments in [["ls", plain], ["stat", plain], ["rm", plain, "k"], ["compact", plain], ["verify", plain],
                          ["import", plain, directory.file("x.npy")], ["init", plain]] {
            expectFailure(try tensorlog(arguments), status: 2, mentioning: [plain])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain) == ["notes.txt"])
    }

    @Test("unknown keys: get, history, export, rm and dump --key fail and change nothing")
    func unknownKey() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let store = directory.store
        try expectRefused(["get", store, "missing"], store: store, mentioning: ["'missing'"])
        try expectRefused(["history", store, "missing"], store: store, mentioning: ["'missing'"])
        try expectRefused(["dump", store, "--key", "missing"], store: store, mentioning: ["'missing'"])
        try expectRefused(["rm", store, "a", "missing"], store: store, mentioning: ["'missing'", "nothing deleted"])
        try expectRefused(["export", store, "a", "missing", "--output", directory.file("out.safetensors")], store: store, mentioning: ["'missing'"])
        #expect(!directory.contents().contains { $0.contains("out.safetensors") }, "export left a file: \(directory.contents())")
    }

    @Test("malformed, truncated and lying .npy files are refused before anything is written")
    func badNPY() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let good = try npyBytes(dtype: .float32, shape: [4, 4], data: [UInt8](repeating: 1, count: 64))
        try directory.write([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x58] + good.dropFirst(6), to: "badmagic.npy")
        try directory.write(Array(good.dropLast(5)), to: "truncated.npy")
        try directory.write(good + [0, 0, 0, 0], to: "trailing.npy")
        var lyingLength = good
        lyingLength[8] = 0xFF
        lyingLength[9] = 0x7F
        try directory.write(lyingLength, to: "headerlength.npy")
        try directory.write(Array(good.prefix(5)), to: "short.npy")
        try directory.write([], to: "empty.npy")
        let header = "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }"
        var unsigned: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count), 0]
        unsigned += Array(header.utf8) + [1, 0, 2, 0]
        try directory.write(unsigned, to: "uint16.npy")
        let void = try npyBytes(dtype: .float8E4M3, shape: [3], data: [1, 2, 3])  // '<V1': needs --dtype
        try directory.write(void, to: "e4m3.npy")

        let cases: [(String, [String])] = [
            ("badmagic.npy", ["badmagic.npy", "magic"]), ("truncated.npy", ["truncated.npy", "truncated"]),
            ("trailing.npy", ["trailing bytes"]), ("headerlength.npy", ["header length"]), ("short.npy", ["too short"]),
            ("empty.npy", ["empty.npy"]), ("uint16.npy", ["unsigned"]), ("e4m3.npy", ["--dtype"]),
        ]
        for (file, words) in cases {
            // With a good file first: the good one must not be imported either.
            try expectRefused(["import", directory.store, directory.file("a.npy"), directory.file(file), "--prefix", "new/"],
                              store: directory.store, mentioning: words)
        }
        // A store that does not exist yet is not created by a failed import.
        let fresh = directory.file("fresh")
        expectFailure(try tensorlog("import", fresh, directory.file("truncated.npy")), status: 2, mentioning: ["truncated"])
        #expect(!FileManager.default.fileExists(atPath: fresh))
        // The e4m3 file imports with --dtype; a wrong-sized --dtype is refused.
        try expectRefused(["import", directory.store, directory.file("e4m3.npy"), "--dtype", "float16"], store: directory.store, mentioning: ["float16"])
        try succeed("import", directory.store, directory.file("e4m3.npy"), "--dtype", "float8_e4m3fn")
    }

    @Test("safetensors files whose header lies (length, offsets, overlap, holes), unsupported dtypes or non-NFC names are refused")
    func badSafeTensors() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        func raw(_ json: String, data: Int) -> [UInt8] {
            let text = Array(json.utf8)
            return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) } + text + [UInt8](repeating: 7, count: data)
        }
        let files: [(String, [UInt8], [String])] = [
            ("length.safetensors", Array(raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: 4).prefix(20)), ["header length"]),
            ("offsets.safetensors", raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 4), ["exceed"]),
            ("size.safetensors", raw(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8), ["needs 12 bytes"]),
            ("overlap.safetensors", raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8), ["overlap"]),
            ("hole.safetensors", raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8), ["belong to no tensor"]),
            ("dtype.safetensors", raw(#"{"a":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}}"#, data: 4), ["not supported"]),
            ("json.safetensors", raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, data: 4), ["json.safetensors"]),
            ("nfd.safetensors", raw(#"{"cafe\#u{301}":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, data: 1), ["NFC"]),
        ]
        for (name, bytes, words) in files {
            try directory.write(bytes, to: name)
            try expectRefused(["import", directory.store, directory.file(name)], store: directory.store, mentioning: [name] + words)
        }
        try directory.write(raw(#"{"__metadata__":{"k":"v"}}"#, data: 0), to: "none.safetensors")
        try succeed("import", directory.store, directory.file("none.safetensors"))
    }

    @Test("import refuses unknown file types, --key with several files, --dtype for safetensors, and clashing keys")
    func badImportArguments() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try directory.write([1, 2, 3], to: "data.bin")
        try FileManager.default.createDirectory(atPath: directory.file("sub"), withIntermediateDirectories: true)
        try directory.write(try directory.read("a.npy"), to: "sub/a.npy")
        let store = directory.store
        try expectRefused(["import", store, directory.file("data.bin")], store: store, mentioning: ["unsupported file type"])
        try expectRefused(["import", store, directory.file("nothere.npy")], store: store, mentioning: ["nothere.npy", "No such file"])
        try expectRefused(["import", store, directory.file("a.npy"), directory.file("b.npy"), "--key", "x"], store: store, status: 64, mentioning: ["--key"])
        try expectRefused(["import", store, directory.file("m.safetensors"), "--dtype", "float32"], store: store, mentioning: ["--dtype"])
        try expectRefused(["import", store, directory.file("a.npy"), directory.file("sub/a.npy")], store: store, mentioning: ["'a'", "--prefix"])
        try expectRefused(["import", store, directory.file("a.npy"), "--compress", "zstd"], store: store, status: 64, mentioning: ["zstd"])
        try expectRefused(["import", store, directory.file("a.npy"), "--dtype", "float128"], store: store, status: 64, mentioning: ["float128"])
        try expectRefused(["import", store], store: store, status: 64, mentioning: ["no files"])
        try expectRefused(["import", store, directory.file("a.npy"), "--key", ""], store: store, mentioning: ["empty key"])
    }

    @Test("wrong --slice values: bad syntax is a usage error, out-of-bounds and 0-d slices are errors")
    func badSlice() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let store = directory.store
        for bad in ["abc", "1", "1:2:3", "x:2", "1.5:2"] {
            try expectRefused(["get", store, "a", "--slice", bad], store: store, status: 64, mentioning: ["--slice"])
        }
        try expectRefused(["get", store, "a", "--slice", "0:3"], store: store, mentioning: ["out of bounds", "2 rows"])
        try expectRefused(["get", store, "a", "--slice", "2:1"], store: store, mentioning: ["out of bounds"])
        try expectRefused(["get", store, "a", "--slice", "-3:"], store: store, mentioning: ["out of bounds"])
        try expectRefused(["get", store, "s", "--slice", "0:1"], store: store, mentioning: ["0-d"])
    }

    @Test("bad options and arguments are usage errors (exit 64) with one line")
    func usageErrors() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let store = directory.store
        try expectRefused(["compact", store, "--keep-versions", "0"], store: store, status: 64, mentioning: ["--keep-versions"])
        try expectRefused(["compact", store, "--dead-fraction", "2"], store: store, status: 64, mentioning: ["--dead-fraction"])
        try expectRefused(["dump", store, "--hex", "-1"], store: store, status: 64, mentioning: ["--hex"])
        try expectRefused(["dump", store, "--segment", "99"], store: store, mentioning: ["no segment 99"])
        try expectRefused(["ls", store, "--bogus"], store: store, status: 64, mentioning: ["--bogus"])
        try expectRefused(["rm", store], store: store, status: 64)
        try expectRefused(["frobnicate", store], store: store, status: 64)
        expectFailure(try tensorlog("get", store), status: 64, mentioning: ["<key>"])
    }

    @Test("export refuses bad output names and too many keys for .npy, leaving no file behind")
    func badExport() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let store = directory.store
        try expectRefused(["export", store, "a", "--output", directory.file("out.txt")], store: store, mentioning: [".npy"])
        try expectRefused(["export", store, "a", "b", "--output", directory.file("out.npy")], store: store, mentioning: ["one tensor"])
        try expectRefused(["export", store, "a", "a", "--output", directory.file("out.safetensors")], store: store, mentioning: ["twice"])
        try expectRefused(["export", store, "a", "--output", directory.file("no/such/dir/out.npy")], store: store, mentioning: ["out.npy"])
        try expectRefused(["export", store, "a", "--output", directory.path], store: store, mentioning: ["directory"])
        try expectRefused(["export", store, "--output", directory.file("x.npy")], store: store, status: 64)
        let leftovers = directory.contents().filter { $0.hasPrefix("out") || $0.hasPrefix(".out") || $0.hasPrefix("x.") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        // An existing file is replaced only by a complete export.
        try directory.write([1, 2, 3], to: "keep.npy")
        try expectRefused(["export", store, "missing", "--output", directory.file("keep.npy")], store: store, mentioning: ["missing"])
        #expect(try directory.read("keep.npy") == [1, 2, 3])
    }

    @Test("a store locked by another writer: write commands fail with the pid, read commands still work")
    func lockedStore() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let writer = try TensorStore.open(at: directory.store, options: smallStoreOptions())
        defer { try? writer.close() }
        let pid = String(ProcessInfo.processInfo.processIdentifier)
        expectFailure(try tensorlog("rm", directory.store, "a"), status: 2, mentioning: ["locked", pid])
        expectFailure(try tensorlog("compact", directory.store), status: 2, mentioning: ["locked"])
        expectFailure(try tensorlog("import", directory.store, directory.file("a.npy"), "--key", "z"), status: 2, mentioning: ["locked"])
        try succeed("ls", directory.store)
        try succeed("verify", directory.store)
    }

    @Test("init refuses an existing store and a non-empty directory")
    func badInit() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try expectRefused(["init", directory.store], store: directory.store, mentioning: ["already"])
        try directory.write([1], to: "file")
        expectFailure(try tensorlog("init", directory.file("file")), status: 2, mentioning: ["not a directory"])
    }
}
