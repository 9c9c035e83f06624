import Foundation
import Testing
import TensorLog

/// The dump --json record of `key` (its first record).
func dumpRecord(_ store: String, key: String) throws -> [String: Any] {
    let dump = try #require(try succeed("dump", store, "--json", "--key", key).json() as? [String: Any])
    let segments = try #require(dump["segments"] as? [[String: Any]])
    let firsts = segments.compactMap { segment -> [String: Any]? in (segment["records"] as? [[String: Any]])?.first }
    return try #require(firsts.first)
}

@Suite("Damage: verify and every reader report corrupt bytes with exit 1")
struct VerifyTests {
    @Test("a flipped payload byte in a sealed segment: verify exits 1 naming segment and offset; dump, get and export exit 1; other keys still read")
    func flippedPayloadByte() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try succeed("compact", directory.store, "--full")  // seals the records into a compacted segment
        let record = try dumpRecord(directory.store, key: "a")
        let segment = try #require(record["segment"] as? Int)
        let offset = try #require(record["offset"] as? Int)
        let payload = try #require(record["payload_offset"] as? Int)
        try flipByte(directory.store + "/" + String(format: "%08d.seg", segment), at: payload + 2)

        let verify = try tensorlog("verify", directory.store)
        expectFailure(verify, status: 1, mentioning: ["damaged", "problem"])
        #expect(verify.stdout.contains("segment \(segment) offset \(offset): payload checksum mismatch"), "\(verify)")
        let json = try tensorlog("verify", directory.store, "--json")
        #expect(json.status == 1)
        let report = try #require(try json.json() as? [String: Any])
        #expect(report["healthy"] as? Bool == false)
        let problems = try #require(report["problems"] as? [[String: Any]])
        // TensorStore.verify() also reports "hint file: entries differ" for the segment (the
        // mismatching record is left out of the entries it compares with the hint file).
        let payloadProblems = problems.filter { ($0["message"] as? String ?? "").contains("payload checksum mismatch") }
        #expect(payloadProblems.count == 1, "\(problems)")
        #expect(payloadProblems.first?["segment"] as? Int == segment)
        #expect(payloadProblems.first?["offset"] as? Int == offset)

        let dump = try tensorlog("dump", directory.store, "--json", "--segment", String(segment))
        expectFailure(dump, status: 1, mentioning: ["checksum"])
        let records = ((try dump.json() as? [String: Any])?["segments"] as? [[String: Any]])?.first?["records"] as? [[String: Any]] ?? []
        #expect(records.filter { $0["checksum"] as? String == "mismatch" }.map { $0["key"] as? String } == ["a"])
        #expect(records.count > 3)

        expectFailure(try tensorlog("get", directory.store, "a"), status: 1, mentioning: ["checksum", "segment \(segment)"])
        expectFailure(try tensorlog("export", directory.store, "a", "--output", directory.file("a_out.npy")), status: 1, mentioning: ["checksum"])
        #expect(!directory.contents().contains { $0.contains("a_out") })
        try succeed("get", directory.store, "b")
        try succeed("ls", directory.store)
    }

    @Test("after a crash, a flipped payload byte mid active segment keeps the store from opening: verify and readers exit 1 with segment and offset")
    func damagedActiveSegmentAfterCrash() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let record = try dumpRecord(directory.store, key: "a")
        let payload = try #require(record["payload_offset"] as? Int)
        // A writer that died left no hint for the active segment, so open checks every payload in it.
        try FileManager.default.removeItem(atPath: directory.store + "/00000001.hint")
        try flipByte(directory.store + "/00000001.seg", at: payload + 2)
        for command in [["verify"], ["dump"], ["ls"], ["get", "b"]] {
            expectFailure(try tensorlog([command[0], directory.store] + command.dropFirst()), status: 1,
                          mentioning: ["segment 1 at offset \(record["offset"] as? Int ?? -1)", "checksum"])
        }
    }

    @Test("after a clean close, a flipped payload byte in the active segment is found by verify and by reading it")
    func damagedActiveSegmentAfterCleanClose() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        let record = try dumpRecord(directory.store, key: "a")
        let payload = try #require(record["payload_offset"] as? Int)
        try flipByte(directory.store + "/00000001.seg", at: payload + 2)
        // Open trusts the synced prefix (it does not read every payload); checks that read the bytes find the damage.
        let verify = try tensorlog("verify", directory.store)
        expectFailure(verify, status: 1, mentioning: ["damaged"])
        #expect(verify.stdout.contains("segment 1 offset \(record["offset"] as? Int ?? -1): payload checksum mismatch"), "\(verify)")
        expectFailure(try tensorlog("get", directory.store, "a"), status: 1, mentioning: ["checksum", "segment 1"])
        try succeed("get", directory.store, "b")
        try succeed("ls", directory.store)
    }

    @Test("damage in a sealed segment (read through its hint file at open) is found by verify")
    func damagedSealedSegment() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallStoreOptions(segmentSize: 8192))
        for index in 0..<6 { try store.put("t\(index)", [Int32](repeating: Int32(index), count: 1024)) }
        try store.close()
        let record = try dumpRecord(directory.store, key: "t0")
        let segment = try #require(record["segment"] as? Int)
        let stat = try #require(try succeed("stat", directory.store, "--json").json() as? [String: Any])
        let sealed = (stat["segments"] as? [[String: Any]])?.first { $0["id"] as? Int == segment }?["sealed"] as? Bool
        #expect(sealed == true)
        try flipByte(directory.store + "/" + String(format: "%08d.seg", segment), at: try #require(record["payload_offset"] as? Int) + 100)
        let verify = try tensorlog("verify", directory.store)
        expectFailure(verify, status: 1)
        #expect(verify.stdout.contains("segment \(segment) offset \(record["offset"] as? Int ?? -1): payload checksum mismatch"), "\(verify)")
    }

    @Test("a store that fails to open with a corruption error (damaged MANIFEST) is damage: exit 1 with the error")
    func corruptManifest() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        try flipByte(directory.store + "/MANIFEST", at: 20)
        expectFailure(try tensorlog("verify", directory.store), status: 1, mentioning: ["MANIFEST"])
        expectFailure(try tensorlog("ls", directory.store), status: 1, mentioning: ["MANIFEST"])
    }

    @Test("a torn tail (an unfinished last write) is not damage: verify notes it and exits 0")
    func tornTail() throws {
        let directory = TemporaryDirectory()
        try makeFixture(directory)
        // A torn tail is what a writer that died leaves: no hint for the active segment's prefix, and a
        // SYNCED mark from before its last write (which had not been synced).
        try FileManager.default.removeItem(atPath: directory.store + "/00000001.hint")
        let dump = try #require(try succeed("dump", directory.store, "--segment", "1", "--json").json() as? [String: Any])
        let records = ((dump["segments"] as? [[String: Any]])?.first?["records"] as? [[String: Any]]) ?? []
        let lastOffset = try #require(records.compactMap { $0["offset"] as? Int }.max())
        try Data(SyncedMark(segmentID: 1, syncedLength: UInt64(lastOffset)).encoded())
            .write(to: URL(fileURLWithPath: directory.store + "/SYNCED"))
        let path = directory.store + "/00000001.seg"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size - 3))
        try handle.close()
        let verify = try succeed("verify", directory.store)
        #expect(verify.stdout.contains("torn write"), "\(verify)")
        #expect(verify.stdout.contains("healthy"))
        let stat = try #require(try succeed("stat", directory.store, "--json").json() as? [String: Any])
        #expect((stat["torn_tail_bytes"] as? Int ?? 0) > 0)
    }
}
