import Foundation
import Testing
@testable import TensorLog

/// Damage inside data that was synced is corruption to report, never a torn tail to cut: the
/// reproduction of the trust issue (a flipped bit in a zero tensor, no hint files, later writes
/// silently deleted by the hole rule), the SYNCED file's rules, and salvage.
@Suite("Synced data: damage is reported, never cut")
struct SyncedDataTests {
    /// A store holding `a` (zeros, float32 [8192, 16]) then random `b` and `c` ([4096, 16]), each
    /// synced before the next, closed; then its hint files are removed, as a kill -9 before the
    /// close would leave it. Returns the values and where `a`'s payload lies in segment 1.
    func makeStore(_ directory: String) throws -> (b: [Float], c: [Float], aPayload: Range<Int>) {
        var options = smallOptions(segmentSize: 256 << 20, durability: .everyWrite)
        options.autoCompactDeadFraction = nil
        let store = try TensorStore.open(at: directory, options: options)
        var generator = SeededGenerator(seed: 11)
        try store.put("a", [Float](repeating: 0, count: 8192 * 16), shape: [8192, 16])
        let b = (0..<4096 * 16).map { _ in Float.random(in: -1...1, using: &generator) }
        let c = (0..<4096 * 16).map { _ in Float.random(in: -1...1, using: &generator) }
        try store.put("b", b, shape: [4096, 16])
        try store.put("c", c, shape: [4096, 16])
        var payload: Range<Int>?
        _ = try store.records(inSegment: 1) { summary in
            if summary.header.key == "a" {
                let start = summary.offset + Int(summary.header.payloadOffset)
                payload = start..<start + Int(summary.header.storedSize)
            }
        }
        try store.close()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".hint") {
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
        return (b, c, try #require(payload))
    }

    func flipBit(_ path: String, at offset: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data([byte[0] ^ 0x10]))
    }

    /// Every file of the directory (recursively) with its bytes.
    func contents(_ directory: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for name in try FileManager.default.subpathsOfDirectory(atPath: directory) {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue, name != "LOCK" { result[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)) }
        }
        return result
    }

    func corruptionOffset(_ error: TensorLogError) -> (segment: UInt64, offset: Int)? {
        if case .corruption(let segment, let offset) = error.code { return (segment, offset) }
        return nil
    }

    @Test("a flipped bit in a synced zero tensor: open refuses and changes nothing, verify's open reports where, later keys survive")
    func flippedBitInSyncedZeros() throws {
        let directory = TemporaryDirectory()
        let (b, c, payload) = try makeStore(directory.store)
        try flipBit(directory.store + "/00000001.seg", at: payload.lowerBound + payload.count / 2)
        let before = try contents(directory.store)

        let writerError = #expect(throws: TensorLogError.self) {
            try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 256 << 20))
        }
        let readerError = #expect(throws: TensorLogError.self) {
            var options = smallOptions(segmentSize: 256 << 20)
            options.readOnly = true
            return try TensorStore.open(at: directory.store, options: options)
        }
        for error in [writerError, readerError] {
            let place = try #require(error.flatMap(corruptionOffset))
            #expect(place.segment == 1)
            #expect(place.offset < payload.upperBound)
            #expect(error?.message.contains("salvage") == true)
        }
        #expect(try contents(directory.store) == before, "a refused open must change no file")

        // Salvage keeps every intact record and moves the damaged bytes aside.
        let report = try TensorStore.salvage(at: directory.store)
        #expect(report.rebuilt)
        #expect(report.damagedSpans.count == 1)
        #expect(report.keysAffected == ["a"])
        let span = try #require(report.damagedSpans.first)
        #expect(FileManager.default.fileExists(atPath: directory.store + "/" + span.file))
        #expect(fileSize(directory.store + "/" + span.file) == span.length)

        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 256 << 20))
        defer { try? store.close() }
        let snapshot = store.snapshot()
        #expect(!snapshot.contains("a"))
        #expect(try snapshot.read("b").values(as: Float.self) == b)
        #expect(try snapshot.read("c").values(as: Float.self) == c)
        #expect(store.verify().isHealthy)
        try store.put("d", [Float(1)])
        #expect(try snapshot.read("c").values(as: Float.self) == c)
    }

    @Test("without a SYNCED file, a zero page inside damage followed by records is corruption too")
    func noSyncedFileNoHoleRule() throws {
        let directory = TemporaryDirectory()
        let (_, _, payload) = try makeStore(directory.store)
        try FileManager.default.removeItem(atPath: directory.store + "/SYNCED")
        try flipBit(directory.store + "/00000001.seg", at: payload.lowerBound + payload.count / 2)
        #expect(throws: TensorLogError.self) {
            try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 256 << 20))
        }
    }

    @Test("a segment shorter than its synced length is corruption, not an empty tail")
    func segmentShorterThanSynced() throws {
        let directory = TemporaryDirectory()
        let (_, _, payload) = try makeStore(directory.store)
        try FileHandle(forUpdatingAtPath: directory.store + "/00000001.seg")!.truncate(atOffset: UInt64(payload.upperBound))
        let error = #expect(throws: TensorLogError.self) {
            try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 256 << 20))
        }
        #expect(error?.message.contains("synced") == true)
    }

    @Test("damage past the synced end is still a torn tail: cut, and its sequences never handed out again")
    func tornTailPastSyncedEnd() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        try store.put("kept", [Float](repeating: 1, count: 16))
        try store.sync()
        let syncedLength = fileSize(directory.store + "/00000001.seg")
        let torn = try store.put("torn", [Float](repeating: 2, count: 4096))  // not synced
        let segmentBytes = try Data(contentsOf: URL(fileURLWithPath: directory.store + "/00000001.seg"))
        let mark = try Data(contentsOf: URL(fileURLWithPath: directory.store + "/SYNCED"))
        try store.close()
        // The state a crash leaves: the last record half written, SYNCED as of the last sync.
        let cutAt = syncedLength + (segmentBytes.count - syncedLength) / 2
        try segmentBytes.prefix(cutAt).write(to: URL(fileURLWithPath: directory.store + "/00000001.seg"))
        try mark.write(to: URL(fileURLWithPath: directory.store + "/SYNCED"))
        try? FileManager.default.removeItem(atPath: directory.store + "/00000001.hint")

        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        #expect(reopened.recovery.truncatedBytes == cutAt - syncedLength)
        #expect(reopened.snapshot().contains("kept"))
        #expect(!reopened.snapshot().contains("torn"))
        #expect(reopened.sequence >= torn, "the torn record's sequence must not be handed out again")
        let next = try reopened.put("after", [Float(3)])
        #expect(next > torn)
        try reopened.close()
        // ... and not after another reopen either (the floor is on disk).
        let again = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        defer { try? again.close() }
        #expect(again.sequence >= next)
    }

    @Test("SYNCED follows the synced length of the active segment, and a damaged SYNCED is ignored")
    func syncedMarkFollowsSyncs() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20, durability: .everyWrite))
        try store.put("x", [Float](repeating: 1, count: 100))
        let mark = try #require(TensorStore.readSyncedMark(directory.store))
        #expect(mark.segmentID == 1)
        #expect(Int(mark.syncedLength) == fileSize(directory.store + "/00000001.seg"))
        try store.close()
        try flipBit(directory.store + "/SYNCED", at: 17)
        #expect(TensorStore.readSyncedMark(directory.store) == nil)
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        defer { try? reopened.close() }
        #expect(try reopened.snapshot().read("x").values(as: Float.self) == [Float](repeating: 1, count: 100))
        #expect(TensorStore.readSyncedMark(directory.store) != nil, "a writer's open rewrites the mark")
    }
}
