import Foundation
import Testing
@testable import TensorLog

/// Copies a store directory (without its lock file) so each damaged variant starts from the same bytes.
func copyStore(_ source: String, to destination: String) throws {
    let manager = FileManager.default
    try? manager.removeItem(atPath: destination)
    try manager.createDirectory(atPath: destination, withIntermediateDirectories: true)
    // Plain read and write: FileManager.copyItem has trapped here ("Not enough bits") on this platform.
    for name in try manager.contentsOfDirectory(atPath: source) where name != "LOCK" {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: source + "/" + name))
        try bytes.write(to: URL(fileURLWithPath: destination + "/" + name))
    }
}

/// Makes a cleanly closed single-segment store look like one whose writer died: a clean
/// close leaves a hint for the active segment's synced prefix, a crash does not.
func forgetCleanClose(_ directory: String) throws {
    let segment = try segmentFiles(directory).last!
    try? FileManager.default.removeItem(atPath: directory + "/" + segment.replacingOccurrences(of: ".seg", with: ".hint"))
}

func segmentFiles(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()
}

/// Every value in a store, read with checksum verification.
func contents(_ store: TensorStore) throws -> [String: Tensor] {
    let snapshot = store.snapshot()
    var result: [String: Tensor] = [:]
    for key in snapshot.keys() { result[key] = try snapshot.read(key) }
    return result
}

@Suite("Recovery: torn tails are cut, corruption is detected, nothing acknowledged is lost")
struct RecoveryTests {
    @Test("a last record torn at every byte offset recovers to the state before it")
    func tornTailAtEveryOffset() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        try store.put("a", [Float](repeating: 1.5, count: 50), shape: [50])
        try store.put("b", [Int16](repeating: 7, count: 30), shape: [3, 10])
        try store.sync()
        let mark = try syncedMark(directory.store)
        let segment = directory.store + "/" + (try segmentFiles(directory.store)).last!
        let before = fileSize(segment)
        let expected = try contents(store)
        try store.put("a", [Float](repeating: 2.5, count: 70), shape: [70], options: WriteOptions(metadata: ["epoch": "2"]))
        try store.close()
        let after = fileSize(segment)
        #expect(after > before)

        let damaged = directory.path + "/damaged"
        for cut in before..<after {
            try copyStore(directory.store, to: damaged)
            let handle = try #require(FileHandle(forWritingAtPath: damaged + "/" + (segment as NSString).lastPathComponent))
            try handle.truncate(atOffset: UInt64(cut))
            try handle.close()
            try restoreSyncedMark(mark, in: damaged)  // the crash came before any later sync
            let reopened = try TensorStore.open(at: damaged, options: smallOptions(segmentSize: 1 << 20))
            #expect(try contents(reopened) == expected, "cut at \(cut)")
            #expect(reopened.recovery.truncatedBytes == cut - before, "cut at \(cut)")
            // A write after recovery lands cleanly and survives another reopen.
            try reopened.put("c", [UInt8(1), 2, 3])
            try reopened.close()
            let again = try TensorStore.open(at: damaged, options: smallOptions(segmentSize: 1 << 20))
            #expect(again.recovery.truncatedBytes == 0)
            #expect(try again.snapshot().read("c").values(as: UInt8.self) == [1, 2, 3])
            try again.close()
        }
    }

    @Test("garbage appended after the last record is cut off as a torn tail")
    func garbageTail() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        try store.put("a", [Float(1), 2])
        try store.close()
        let segment = directory.store + "/" + (try segmentFiles(directory.store)).last!
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((0..<300).map { UInt8($0 % 251) }))
        try handle.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions())
        #expect(reopened.recovery.truncatedBytes == 300)
        #expect(try reopened.snapshot().read("a").values(as: Float.self) == [1, 2])
    }

    @Test("a corrupted record in the middle of the active segment is reported, not cut away with the writes after it")
    func midSegmentCorruptionIsNotTruncated() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        try store.put("a", [Float](repeating: 1, count: 100))
        try store.put("b", [Float](repeating: 2, count: 100))
        try store.close()
        try forgetCleanClose(directory.store)
        let segment = directory.store + "/" + (try segmentFiles(directory.store)).last!
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: segment)))
        bytes[64 + 200] ^= 0xFF  // inside the first record's payload
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        let error = #expect(throws: TensorLogError.self) { try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20)) }
        guard case .corruption(let segmentID, let offset) = error?.code else {
            Issue.record("expected a corruption error, got \(String(describing: error))")
            return
        }
        #expect(segmentID == 1 && offset == 64)
        #expect(fileSize(segment) == bytes.count, "open must not truncate away later records")
    }

    @Test("after a clean close, open trusts the synced prefix and checks only what was written after it")
    func activePrefixHint() throws {
        let directory = TemporaryDirectory()
        let options = smallOptions(segmentSize: 1 << 20)
        do {
            let store = try TensorStore.open(at: directory.store, options: options)
            try store.put("a", [Float](repeating: 1, count: 1000))
            try store.close()
        }
        let segment = directory.store + "/" + (try segmentFiles(directory.store)).last!
        let prefix = fileSize(segment)
        #expect(FileManager.default.fileExists(atPath: segment.replacingOccurrences(of: ".seg", with: ".hint")))
        // Writes after the reopen, then a crash that tears the last of them.
        let crashed = directory.path + "/crashed"
        do {
            let store = try TensorStore.open(at: directory.store, options: options)
            try store.put("b", [Float](repeating: 2, count: 1000))
            try store.put("c", [Float](repeating: 3, count: 1000))
            try copyStore(directory.store, to: crashed)  // not synced: SYNCED still names the prefix
            try store.close()
        }
        let crashedSegment = crashed + "/" + (segment as NSString).lastPathComponent
        let handle = try #require(FileHandle(forWritingAtPath: crashedSegment))
        try handle.truncate(atOffset: UInt64(fileSize(crashedSegment) - 100))
        try handle.close()
        let recovered = try TensorStore.open(at: crashed, options: options)
        #expect(recovered.recovery.truncatedBytes > 0)
        #expect(recovered.snapshot().keys() == ["a", "b"])
        // The prefix's payloads are not read at open: damage there is found by reading or verifying.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: segment)))
        bytes[prefix - 200] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        let reopened = try TensorStore.open(at: directory.store, options: options)
        #expect(throws: TensorLogError.self) { try reopened.snapshot().read("a") }
        #expect(!reopened.verify().isHealthy)
    }

    @Test("a page never written back (zeros) inside the tail is a torn tail even with whole records after it")
    func zeroPageHoleIsTornTail() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        try store.put("a", [Float(1), 2])
        try store.sync()
        let mark = try syncedMark(directory.store)
        let segment = directory.store + "/" + (try segmentFiles(directory.store)).last!
        let before = fileSize(segment)
        try store.put("big", [Float](repeating: 3, count: 4096))  // 16 KiB: spans several pages
        try store.put("after", [Float(4)])
        try store.close()
        try forgetCleanClose(directory.store)
        try restoreSyncedMark(mark, in: directory.store)  // the crash came before any later sync
        // Zero one page-aligned page inside big's payload, as unordered writeback leaves it after a crash.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: segment)))
        let page = alignUp(before + 4096, to: 4096)
        for index in page..<page + 4096 { bytes[index] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        #expect(reopened.recovery.truncatedAt?.offset == before)
        #expect(reopened.snapshot().keys() == ["a"])
    }

    @Test("flipping any byte of any store file is detected by open or verify, and never returns wrong data")
    func everyByteFlipIsDetected() throws {
        let directory = TemporaryDirectory()
        // Every state the store passed through: a damaged tail may only take it back to one of them.
        var states: [[String: Tensor]] = []
        do {
            let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 4096))
            try store.put("x", (0..<1000).map { Float($0) }, shape: [100, 10])
            states.append(try contents(store))
            try store.put("y", [Int64](repeating: 9, count: 20), options: WriteOptions(compression: .lz4))
            states.append(try contents(store))
            try store.put("x", (0..<100).map { Float(-$0) }, shape: [10, 10])
            states.append(try contents(store))
            try store.write { batch in
                try batch.put("z", [UInt8](repeating: 3, count: 64))
                batch.delete("y")
            }
            states.append(try contents(store))
            try store.close()
        }
        let expected = try contents(try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 4096)))
        #expect(expected == states.last)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.store).filter { $0 != "LOCK" }.sorted()
        #expect(files.contains { $0.hasSuffix(".hint") }, "the store should have sealed segments")
        let damaged = directory.path + "/damaged"
        var flips = 0, undetected: [String] = []
        for name in files {
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory.store + "/" + name)))
            for position in original.indices {
                try copyStore(directory.store, to: damaged)
                var bytes = original
                bytes[position] ^= 0x5A
                try Data(bytes).write(to: URL(fileURLWithPath: damaged + "/" + name))
                flips += 1
                var options = smallOptions(segmentSize: 4096)
                options.readOnly = true
                guard let store = try? TensorStore.open(at: damaged, options: options) else { continue }
                // If it opened, every read either fails with an error or returns the right value; when open
                // cut a damaged tail, "right" means the value of an earlier state of the store.
                let snapshot = store.snapshot()
                let allowed = store.recovery.truncatedBytes > 0 ? states : [expected]
                for key in snapshot.keys() {
                    if let value = try? snapshot.read(key) {
                        #expect(allowed.contains { $0[key] == value }, "\(name) byte \(position): wrong data for '\(key)'")
                    }
                }
                if store.recovery.truncatedBytes == 0, store.verify().isHealthy, (try? contents(store)) == expected {
                    undetected.append("\(name)@\(position)")
                }
            }
        }
        #expect(flips > 1000)
        #expect(undetected.isEmpty, "\(undetected.count) undetected flips: \(undetected.prefix(20))")
    }
}

@Suite("Bad input at the edges: refused with a clear error, store unchanged")
struct EdgeTests {
    @Test("a second writer gets 'locked by pid'; read-only opens work beside the writer")
    func secondWriterIsRefused() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        try store.put("a", [Float(1)])
        try store.sync()
        let error = #expect(throws: TensorLogError.self) { try TensorStore.open(at: directory.store, options: smallOptions()) }
        #expect(error?.code == .locked(pid: getpid()))
        #expect(error?.message.contains("locked by pid \(getpid())") == true)
        var readOnly = smallOptions()
        readOnly.readOnly = true
        let reader = try TensorStore.open(at: directory.store, options: readOnly)
        #expect(try reader.snapshot().read("a").values(as: Float.self) == [1])
        #expect(throws: TensorLogError.self) { try reader.put("b", [Float(2)]) }
    }

    @Test("a directory that is not a store, or a missing one, is refused when not creating")
    func notAStore() throws {
        let directory = TemporaryDirectory()
        var options = smallOptions()
        options.create = false
        #expect(throws: TensorLogError.self) { try TensorStore.open(at: directory.path + "/missing", options: options) }
        _ = FileManager.default.createFile(atPath: directory.path + "/notes.txt", contents: Data("hello".utf8))
        let error = #expect(throws: TensorLogError.self) { try TensorStore.open(at: directory.path, options: options) }
        #expect(error?.code == .notFound)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["notes.txt"])
    }

    @Test("a store written by a newer format version is refused as unsupported")
    func newerFormatVersion() throws {
        let directory = TemporaryDirectory()
        try TensorStore.open(at: directory.store, options: smallOptions()).close()
        let path = directory.store + "/MANIFEST"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[10] = UInt8(SegmentHeader.readVersion + 1)  // a read version newer than this reader
        let crc = bytes[0..<bytes.count - 4].withUnsafeBytes { CRC32C.mask(CRC32C.checksum($0)) }
        withUnsafeBytes(of: crc.littleEndian) { for index in 0..<4 { bytes[bytes.count - 4 + index] = $0[index] } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: TensorLogError.self) { try TensorStore.open(at: directory.store, options: smallOptions()) }
        #expect(error?.code == .unsupportedFormatVersion)
    }

    @Test("bad keys, shapes, dtypes and ranges are refused and change nothing")
    func badArguments() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        try store.put("w", [Float](repeating: 1, count: 6), shape: [2, 3])
        let sequence = store.sequence
        #expect(throws: TensorLogError.self) { try store.put("", [Float(1)]) }
        #expect(throws: TensorLogError.self) { try store.put(String(repeating: "k", count: 1025), [Float(1)]) }
        #expect(throws: TensorLogError.self) { try store.put("bad", [Float](repeating: 1, count: 5), shape: [2, 3]) }
        #expect(throws: TensorLogError.self) { try store.put("bad", [Float](repeating: 1, count: 6), shape: [-2, -3]) }
        #expect(throws: TensorLogError.self) { try store.delete("nothing") }
        let snapshot = store.snapshot()
        #expect(throws: TensorLogError.self) { try snapshot.view("w").withUnsafeBufferPointer(as: Int32.self) { _ in 0 } }
        #expect(throws: TensorLogError.self) { try snapshot.read("w", rows: 1..<3) }
        #expect(throws: TensorLogError.self) { try snapshot.view("w", rows: -1..<1) }
        #expect(throws: TensorLogError.self) { try snapshot.read("nothing") }
        #expect(store.sequence == sequence)
        #expect(snapshot.keys() == ["w"])
    }
}
