import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// A store made through the command line: `a` (float32 [2, 3]), `b` (int64 [4]), `s` (0-d float64),
/// and a safetensors file `m.safetensors` with metadata imported under `model/`.
func makeFixture(_ directory: TemporaryDirectory) throws {
    try directory.write(try npyBytes(dtype: .float32, shape: [2, 3], data: bytes(of: [Float](arrayLiteral: 1, 2.5, -3, 4, 5, 6))), to: "a.npy")
    try directory.write(try npyBytes(dtype: .int64, shape: [4], data: bytes(of: [Int64](arrayLiteral: 10, -20, 30, 40))), to: "b.npy")
    try directory.write(try npyBytes(dtype: .float64, shape: [], data: bytes(of: [Double](arrayLiteral: 0.5))), to: "s.npy")
    let tensors: [(name: String, description: TensorDescription)] = [
        ("w", TensorDescription(dtype: .float32, shape: [2, 2])), ("bias", TensorDescription(dtype: .int8, shape: [3])),
    ]
    let (header, _) = try SafeTensors.header(for: tensors, metadata: ["source": "fixture"])
    try directory.write(header + bytes(of: [Float](arrayLiteral: 1, 2, 3, 4)) + [1, 2, 3], to: "m.safetensors")
    try succeed("init", directory.store)
    try succeed("import", directory.store, directory.file("a.npy"), directory.file("b.npy"), directory.file("s.npy"))
    try succeed("import", directory.store, directory.file("m.safetensors"), "--prefix", "model/", "--compress", "lz4")
}

@Suite("Commands: what each command prints")
struct CommandTests {
    @Test("init creates an empty store that ls, stat and verify accept; a second init is refused")
    func initEmptyStore() throws {
        let directory = TemporaryDirectory()
        let created = try succeed("init", directory.store)
        #expect(created.stdout.contains("created"))
        #expect(FileManager.default.fileExists(atPath: directory.store + "/MANIFEST"))
        #expect(try listing(directory.store).isEmpty)
        let stat = try #require(try succeed("stat", directory.store, "--json").json() as? [String: Any])
        #expect(stat["keys"] as? Int == 0)
        #expect(stat["sequence"] as? Int == 0)
        try succeed("verify", directory.store)
        expectFailure(try tensorlog("init", directory.store), status: 2, mentioning: ["already"])
    }

    @Test("ls --json lists every key with numpy dtype names, shapes as int arrays, sizes, codecs and metadata")
    func lsJSON() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let entries = try listing(directory.store)
        #expect(entries.map { $0["key"] as? String } == ["a", "b", "model/bias", "model/w", "s"])
        let byKey = Dictionary(uniqueKeysWithValues: entries.map { ($0["key"] as! String, $0) })
        #expect(byKey["a"]?["dtype"] as? String == "float32")
        #expect(byKey["a"]?["shape"] as? [Int] == [2, 3])
        #expect(byKey["a"]?["raw_bytes"] as? Int == 24)
        #expect(byKey["a"]?["codecs"] as? [String] == ["none"])
        #expect(byKey["b"]?["dtype"] as? String == "int64")
        #expect(byKey["s"]?["shape"] as? [Int] == [])
        #expect(byKey["model/bias"]?["dtype"] as? String == "int8")
        #expect((byKey["model/w"]?["metadata"] as? [String: String]) == ["source": "fixture"])
        #expect(byKey["model/w"]?["stored_bytes"] is Int)

        let prefixed = try #require(try succeed("ls", directory.store, "--prefix", "model/", "--json").json() as? [[String: Any]])
        #expect(prefixed.map { $0["key"] as? String } == ["model/bias", "model/w"])
        let text = try succeed("ls", directory.store).stdout
        #expect(text.contains("KEY") && text.contains("float32") && text.contains("[2, 3]"))
        #expect(text.split(separator: "\n").count == 6)
    }

    @Test("stat --json reports keys, sequence, segments, live/dead bytes, compression and whether compaction is due")
    func statJSON() throws {
        let directory = TemporaryDirectory()
        // Written through the library with tiny segments, then mostly overwritten: compaction is due.
        let store = try TensorStore.open(at: directory.store, options: smallStoreOptions(segmentSize: 8192))
        for round in 0..<6 {
            try store.put("w", [Float](repeating: Float(round), count: 1024), shape: [32, 32])
        }
        try store.close()
        let stat = try #require(try succeed("stat", directory.store, "--json").json() as? [String: Any])
        #expect(stat["keys"] as? Int == 1)
        #expect(stat["sequence"] as? Int == 6)
        let segments = try #require(stat["segments"] as? [[String: Any]])
        #expect(segments.count == stat["segment_count"] as? Int)
        #expect(segments.count >= 3)
        #expect(segments.last?["sealed"] as? Bool == false)
        #expect(segments.first?["file"] as? String == "00000001.seg")
        let total = try #require(stat["total_bytes"] as? Int)
        #expect(total == segments.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) })
        #expect((stat["dead_bytes"] as? Int ?? 0) > 4096 * 4)
        #expect(stat["compaction_due"] as? Bool == true)
        #expect(stat["compression_ratio"] as? Double == 1.0)
        #expect(stat["raw_bytes"] as? Int == 4096)
        let text = try succeed("stat", directory.store).stdout
        #expect(text.contains("compaction   due"))

        try succeed("compact", directory.store)
        let after = try #require(try succeed("stat", directory.store, "--json").json() as? [String: Any])
        #expect(after["compaction_due"] as? Bool == false)
        #expect((after["total_bytes"] as? Int ?? .max) < total)
    }

    @Test("dump --json shows every record with kind, key, dtype, shape, codec, sizes, checksum and liveness; filters work")
    func dumpJSON() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try succeed("rm", directory.store, "b")
        let dump = try #require(try succeed("dump", directory.store, "--json", "--hex", "4").json() as? [String: Any])
        #expect(dump["sequence"] as? Int == 7)
        let segments = try #require(dump["segments"] as? [[String: Any]])
        #expect(segments.count == 1)
        #expect(segments[0]["sealed"] as? Bool == false)
        #expect((segments[0]["problems"] as? [Any])?.isEmpty == true)
        let records = try #require(segments[0]["records"] as? [[String: Any]])
        #expect(records.map { $0["kind"] as? String } == ["put", "put", "put", "put", "put", "commit", "delete"])
        #expect(records.map { $0["sequence"] as? Int } == [1, 2, 3, 4, 5, 6, 7])
        let a = records[0]
        #expect(a["key"] as? String == "a")
        #expect(a["dtype"] as? String == "float32")
        #expect(a["shape"] as? [Int] == [2, 3])
        #expect(a["codec"] as? String == "none")
        #expect(a["stored_bytes"] as? Int == 24)
        #expect(a["raw_bytes"] as? Int == 24)
        #expect(a["checksum"] as? String == "ok")
        #expect(a["live"] as? Bool == true)
        #expect(a["offset"] as? Int == 64)
        #expect(a["payload_hex"] as? String == "0000803f")  // 1.0f, little endian
        #expect(a["batch"] is NSNull)
        #expect(records[1]["live"] as? Bool == false, "b was deleted: its put is dead")
        #expect(records[3]["codec"] as? String == "lz4" || records[3]["codec"] as? String == "none")
        #expect(records[3]["batch"] as? Int == 4, "the safetensors file went in one batch")
        #expect((records[3]["metadata"] as? [String: String]) == ["source": "fixture"])
        #expect(records[5]["dtype"] is NSNull)
        #expect(records[6]["key"] as? String == "b")

        let onlyB = try #require(try succeed("dump", directory.store, "--json", "--key", "b").json() as? [String: Any])
        let bRecords = ((onlyB["segments"] as? [[String: Any]])?.first?["records"] as? [[String: Any]]) ?? []
        #expect(bRecords.map { $0["kind"] as? String } == ["put", "delete"])
        let limited = try #require(try succeed("dump", directory.store, "--json", "--limit", "2", "--segment", "1").json() as? [String: Any])
        let limitedSegment = try #require((limited["segments"] as? [[String: Any]])?.first)
        #expect((limitedSegment["records"] as? [Any])?.count == 2)
        #expect(limitedSegment["records_matched"] as? Int == 7)

        let text = try succeed("dump", directory.store, "--hex", "4").stdout
        #expect(text.contains("segment 1 (00000001.seg)"))
        #expect(text.contains("payload: 00 00 80 3f"))
        #expect(text.contains("delete"))
        let headers = try succeed("dump", directory.store, "--headers-only", "--json").json() as? [String: Any]
        let unchecked = ((headers?["segments"] as? [[String: Any]])?.first?["records"] as? [[String: Any]])?.first
        #expect(unchecked?["checksum"] as? String == "unchecked")
    }

    @Test("dump walks several segments and --segment picks one")
    func dumpSegments() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallStoreOptions(segmentSize: 8192))
        for index in 0..<8 { try store.put("t\(index)", [Int32](repeating: Int32(index), count: 512)) }
        try store.close()
        let dump = try #require(try succeed("dump", directory.store, "--json").json() as? [String: Any])
        let segments = try #require(dump["segments"] as? [[String: Any]])
        #expect(segments.count >= 3)
        let total = segments.reduce(0) { $0 + (($1["records"] as? [Any])?.count ?? 0) }
        #expect(total == 8)
        let second = try #require(segments[1]["id"] as? Int)
        let one = try #require(try succeed("dump", directory.store, "--json", "--segment", String(second)).json() as? [String: Any])
        #expect((one["segments"] as? [[String: Any]])?.map { $0["id"] as? Int } == [second])
    }

    @Test("get prints values numpy-style, with a header line; --slice selects rows, negative bounds count from the end")
    func getValues() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        #expect(try succeed("get", directory.store, "a").stdout == "a: float32 [2, 3]\n[[ 1.   2.5 -3. ]\n [ 4.   5.   6. ]]\n")
        #expect(try succeed("get", directory.store, "b").stdout == "b: int64 [4]\n[ 10 -20  30  40]\n")
        #expect(try succeed("get", directory.store, "s").stdout == "s: float64 []\n0.5\n")
        let sliced = try succeed("get", directory.store, "a", "--slice", "-1:").stdout
        #expect(sliced == "a[-1:]: float32 [1, 3], rows 1..<2 of [2, 3]\n[[4. 5. 6.]]\n")
        #expect(try succeed("get", directory.store, "b", "--slice", ":2").stdout.hasSuffix("[ 10 -20]\n"))
        #expect(try succeed("get", directory.store, "b", "--slice", "2:2").stdout.hasSuffix("[]\n"))
        #expect(try succeed("get", directory.store, "model/bias").stdout.hasSuffix("[1 2 3]\n"))
    }

    @Test("get summarises a large tensor with '...' and reads only the printed rows, across row blocks")
    func getSummarised() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallStoreOptions())
        try store.put("series", (0..<100).map { Int32($0) }, shape: [50, 2])
        for chunk in 1..<20 { try store.append("series", (0..<100).map { Int32(chunk * 100 + $0) }, shape: [50, 2]) }
        try store.close()
        let output = try succeed("get", directory.store, "series").stdout
        #expect(output == """
            series: int32 [1000, 2]
            [[   0    1]
             [   2    3]
             [   4    5]
             ...
             [1994 1995]
             [1996 1997]
             [1998 1999]]

            """)
        let full = try succeed("get", directory.store, "series", "--full").stdout
        #expect(full.split(separator: "\n").count == 1001)
    }

    @Test("rm deletes keys (several in one batch); history shows the deletion; compaction then drops them")
    func rmAndHistory() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try succeed("import", directory.store, directory.file("a.npy"))  // a second version of a
        let history = try #require(try succeed("history", directory.store, "a", "--json").json() as? [[String: Any]])
        #expect(history.map { $0["sequence"] as? Int } == [7, 1])
        #expect(history.map { $0["kind"] as? String } == ["put", "put"])
        #expect(history.map { $0["latest"] as? Bool } == [true, false])
        #expect(history[0]["dtype"] as? String == "float32")
        #expect(history[0]["shape"] as? [Int] == [2, 3])
        #expect(history[0]["segment"] as? Int == 1)
        #expect(history[0]["blocks"] as? Int == 1)

        let removed = try succeed("rm", directory.store, "a", "b")
        #expect(removed.stdout.contains("deleted 2 key(s)"))
        #expect(try listing(directory.store).map { $0["key"] as? String } == ["model/bias", "model/w", "s"])
        let afterRm = try #require(try succeed("history", directory.store, "a", "--json").json() as? [[String: Any]])
        #expect(afterRm.map { $0["kind"] as? String } == ["delete", "put", "put"])
        #expect(afterRm.first?["dtype"] is NSNull)
        #expect(try succeed("history", directory.store, "a").stdout.contains("(latest: deleted)"))

        try succeed("compact", directory.store, "--full")
        expectFailure(try tensorlog("history", directory.store, "a"), status: 2, mentioning: ["'a'"])
        #expect(try listing(directory.store).count == 3)
    }

    @Test("compact reclaims dead bytes; --keep-versions keeps history; nothing to do is reported, not an error")
    func compact() throws {
        let directory = TemporaryDirectory()
        var store = try TensorStore.open(at: directory.store, options: smallStoreOptions(segmentSize: 16384))
        try store.put("w", [Float](repeating: 0, count: 2048))
        try store.close()
        let nothing = try succeed("compact", directory.store)
        #expect(nothing.stdout.contains("nothing to compact"))
        store = try TensorStore.open(at: directory.store, options: smallStoreOptions(segmentSize: 16384))
        for round in 1..<5 { try store.put("w", [Float](repeating: Float(round), count: 2048)) }
        try store.close()
        let kept = try succeed("compact", directory.store, "--full", "--keep-versions", "2")
        #expect(kept.stdout.contains("compacted segment(s)"))
        let history = try #require(try succeed("history", directory.store, "w", "--json").json() as? [[String: Any]])
        #expect(history.count == 2)
        try succeed("compact", directory.store, "--full")
        let one = try #require(try succeed("history", directory.store, "w", "--json").json() as? [[String: Any]])
        #expect(one.count == 1)
        #expect(try succeed("get", directory.store, "w", "--slice", "0:3").stdout.hasSuffix("[4. 4. 4.]\n"))
        try succeed("verify", directory.store)
    }

    @Test("verify prints a healthy summary and exits 0; --json reports counts")
    func verifyHealthy() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let text = try succeed("verify", directory.store)
        #expect(text.stdout.contains("healthy"))
        let report = try #require(try succeed("verify", directory.store, "--json").json() as? [String: Any])
        #expect(report["healthy"] as? Bool == true)
        #expect(report["records_checked"] as? Int == 6)
        #expect((report["problems"] as? [Any])?.isEmpty == true)
    }

    @Test("import creates a missing store; a .safetensors file above --batch-limit is imported tensor by tensor, below it in one batch")
    func importBatchLimit() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let fresh = directory.file("fresh")
        let imported = try succeed("import", fresh, directory.file("m.safetensors"), "--batch-limit", "0")
        #expect(imported.stdout.contains("created store"))
        #expect(imported.stdout.contains("one by one"))
        let dump = try #require(try succeed("dump", fresh, "--json").json() as? [String: Any])
        let records = ((dump["segments"] as? [[String: Any]])?.first?["records"] as? [[String: Any]]) ?? []
        #expect(records.map { $0["kind"] as? String } == ["put", "put"])
        #expect(records.allSatisfy { $0["batch"] is NSNull })
        let batched = try succeed("import", fresh, directory.file("m.safetensors"), "--batch-limit", "1K", "--prefix", "again/")
        #expect(batched.stdout.contains("in one atomic batch"))
        #expect(try listing(fresh).map { $0["key"] as? String } == ["again/bias", "again/w", "bias", "w"])
        expectFailure(try tensorlog("import", fresh, directory.file("m.safetensors"), "--batch-limit", "lots"), status: 64, mentioning: ["--batch-limit"])
    }

    @Test("every command's --help explains it with an example")
    func help() throws {
        for command in ["init", "import", "export", "ls", "get", "stat", "dump", "history", "rm", "compact", "verify", "demo"] {
            let result = try tensorlog(command, "--help")
            #expect(result.status == 0, "\(command): \(result)")
            #expect(result.stdout.contains("Example"), "\(command) --help has no example")
            #expect(result.stdout.contains("USAGE"), "\(command)")
        }
        let root = try tensorlog("--help")
        #expect(root.status == 0 && root.stdout.contains("SUBCOMMANDS"))
    }

    @Test("successful commands print nothing on stderr (no progress bar when stderr is not a terminal)")
    func quietStderr() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)  // succeed() checks stderr is empty for init and import
        try succeed("export", directory.store, "a", "--output", directory.file("out.npy"))
        try succeed("verify", directory.store)
        try succeed("compact", directory.store, "--full")
    }
}
