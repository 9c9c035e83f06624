import Foundation
import Testing
@testable import TensorLog
import TensorLogFormat

/// Risk covered: a write encodes its small records into one buffer and writes
/// them with one pwrite (`RecordBuffer`). A record placed at the wrong offset,
/// a wrong padding or payload offset, a run that straddles a roll-over, or a
/// batch payload that is not copied before its tensor goes away would store
/// wrong bytes; a torn run must lose the whole batch and nothing before it;
/// readers must never find an index entry whose bytes are not yet in the file.
@Suite("Bulk writes: records coalesced into one write")
struct BulkWriteTests {
    /// A value that names its key and version: [tag, tag, ...] of a length derived from `index`.
    static func value(_ tag: Int, index: Int) -> [Int64] {
        [Int64](repeating: Int64(tag), count: 1 + (index * 37) % 300)
    }

    static func segmentFile(_ store: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: store).filter { $0.hasSuffix(".seg") }.sorted()
        return store + "/" + names.last!
    }

    @Test("a batch of many small puts, with large, compressed, repeated and deleted keys, across roll-overs, survives reopen byte-exact")
    func batchSurvivesReopen() throws {
        let directory = TemporaryDirectory()
        let options = smallOptions(segmentSize: 96 << 10)
        var generator = SeededGenerator(seed: 11)
        var expected: [String: Tensor] = [:]
        do {
            let store = try TensorStore.open(at: directory.store, options: options)
            try store.put("gone", [Float(1), 2])
            try store.put("kept", [Int16(5)])
            expected["kept"] = try Tensor([Int16(5)])
            var operations: [(String, Tensor, WriteOptions)] = []
            for index in 0..<700 {
                let count = [0, 1, 63, 64, 65, 1000, 1024, 3000][index % 8] + index % 5
                let tensor = try Tensor(dtype: .uint8, shape: [count], bytes: randomBytes(count, &generator))
                var writeOptions = WriteOptions()
                if index % 50 == 7 { writeOptions.compression = .lz4 }
                if index % 90 == 3 { writeOptions.metadata = ["note": "record \(index)"] }
                operations.append(("k/\(index % 650)", tensor, writeOptions))  // keys 0..<50 are written twice
            }
            // Larger than what is buffered (written from the tensor's memory), and a multi-block tensor.
            let large = try Tensor(dtype: .uint8, shape: [100_000], bytes: randomBytes(100_000, &generator))
            operations.insert(("large", large, WriteOptions()), at: 300)
            let rows = try Tensor(dtype: .float32, shape: [64, 32], bytes: randomBytes(64 * 32 * 4, &generator))
            operations.insert(("rows", rows, WriteOptions(blockBytes: 1000)), at: 500)
            try store.write { batch in
                for (key, tensor, writeOptions) in operations { batch.put(key, tensor, options: writeOptions) }
                batch.delete("gone")
            }
            for (key, tensor, writeOptions) in operations {
                var stored = tensor
                stored.metadata = writeOptions.metadata
                expected[key] = stored
            }
            try Self.check(store, expected, absent: ["gone"])
            // The first writes of keys written twice are the previous versions.
            #expect(try store.history("k/3").count == 2)
            try store.close()
        }
        let reopened = try TensorStore.open(at: directory.store, options: options)
        #expect(reopened.recovery.truncatedBytes == 0)
        #expect(reopened.statistics().segments.count > 3, "the batch should have rolled segments over")
        try Self.check(reopened, expected, absent: ["gone"])
        #expect(try reopened.history("k/3").count == 2)
        let report = reopened.verify()
        #expect(report.isHealthy, "\(report.problems)")
    }

    static func check(_ store: TensorStore, _ expected: [String: Tensor], absent: [String]) throws {
        let snapshot = store.snapshot()
        #expect(Set(snapshot.keys()) == Set(expected.keys))
        for (key, tensor) in expected {
            let stored = try snapshot.read(key)
            #expect(stored.bytes == tensor.bytes, "'\(key)' bytes differ")
            #expect(stored.shape == tensor.shape && stored.dtype == tensor.dtype, "'\(key)' shape or dtype differs")
            #expect(try snapshot.info(key).metadata == tensor.metadata, "'\(key)' metadata differs")
        }
        for key in absent { #expect(!snapshot.contains(key)) }
    }

    @Test("a batch torn anywhere (cut short, or a page never written back) loses the whole batch and nothing before it")
    func tornBatchLosesOnlyTheBatch() throws {
        let directory = TemporaryDirectory()
        let options = smallOptions(segmentSize: 1 << 20)
        var before: [String: [Int64]] = [:]
        let store = try TensorStore.open(at: directory.store, options: options)
        for index in 0..<20 {
            before["before/\(index)"] = Self.value(index, index: index)
            try store.put("before/\(index)", Self.value(index, index: index))
        }
        try store.close()
        let segment = try Self.segmentFile(directory.store)
        let hint = segment.replacingOccurrences(of: ".seg", with: ".hint")
        let hintAfterFirstClose = try Data(contentsOf: URL(fileURLWithPath: hint))
        let markAfterFirstClose = try syncedMark(directory.store)
        let start = fileSize(segment)

        let writer = try TensorStore.open(at: directory.store, options: options)
        try writer.write { batch in
            for index in 0..<40 { try batch.put("batch/\(index)", Self.value(1000 + index, index: index)) }
            batch.delete("before/0")
        }
        try writer.close()
        let end = fileSize(segment)
        #expect(end - start > 8 * 4096)
        let whole = try Data(contentsOf: URL(fileURLWithPath: segment))

        /// Opens a copy of the store whose active segment is `bytes` and checks what survived.
        func reopen(_ bytes: Data, label: String) throws -> Bool {
            let copy = TemporaryDirectory("torn")
            try FileManager.default.copyItem(atPath: directory.store, toPath: copy.store)
            let copiedSegment = copy.store + "/" + (segment as NSString).lastPathComponent
            try bytes.write(to: URL(fileURLWithPath: copiedSegment))
            try hintAfterFirstClose.write(to: URL(fileURLWithPath: copy.store + "/" + (hint as NSString).lastPathComponent))
            try restoreSyncedMark(markAfterFirstClose, in: copy.store)
            let opened = try TensorStore.open(at: copy.store, options: options)
            let snapshot = opened.snapshot()
            let batchKeys = snapshot.keys(prefix: "batch/")
            let committed = batchKeys.count == 40 && !snapshot.contains("before/0")
            #expect(batchKeys.isEmpty || committed, "\(label): part of the batch survived (\(batchKeys.count) of 40 keys)")
            for (key, values) in before where key != "before/0" || !committed {
                #expect(try snapshot.read(key).values(as: Int64.self) == values, "\(label): '\(key)' lost or changed")
            }
            try opened.close()
            return committed
        }

        for cut in stride(from: start + 1, to: end, by: 211) {
            #expect(try !reopen(whole.prefix(cut), label: "cut at \(cut)"))
        }
        #expect(try !reopen(whole.prefix(end - 1), label: "last byte missing"))
        // A page of the batch the kernel never wrote back, with the rest (commit included) on disk.
        for page in stride(from: (start + 4095) / 4096 * 4096, to: end - 4096, by: 4096) {
            var holed = whole
            holed.replaceSubrange(page..<page + 4096, with: Data(count: 4096))
            #expect(try !reopen(holed, label: "zero page at \(page)"))
        }
        #expect(try reopen(whole, label: "whole"), "the whole batch should be committed")
    }

    @Test("readers racing bulk writes never find a key whose bytes are not yet in the file")
    func readersNeverSeeUnwrittenBytes() async throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 256 << 10))
        let rounds = 60
        let perRound = 120

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for round in 0..<rounds {
                    if round % 2 == 0 {
                        try store.write { batch in
                            for index in 0..<perRound {
                                try batch.put("r\(round)/\(index)", Self.value(round * 1000 + index, index: index))
                            }
                        }
                    } else {
                        for index in 0..<perRound {
                            try store.put("r\(round)/\(index)", Self.value(round * 1000 + index, index: index))
                        }
                    }
                }
                return 0
            }
            for _ in 0..<3 {
                group.addTask {
                    var checked = 0
                    var done = false
                    let deadline = Date().addingTimeInterval(120)  // the writer failing must not hang the test
                    while !done, Date() < deadline {
                        let snapshot = store.snapshot()
                        let keys = snapshot.keys()
                        done = keys.count == rounds * perRound
                        for key in keys.suffix(200) {
                            let parts = key.dropFirst().split(separator: "/")
                            let round = Int(parts[0])!, index = Int(parts[1])!
                            let values = Self.value(round * 1000 + index, index: index)
                            #expect(try snapshot.view(key).toArray(of: Int64.self) == values, "'\(key)' read wrong through the mapping")
                            // The same bytes must already be in the file, not only in the mapping's page cache view.
                            let block = try snapshot.version(key).head
                            let end = block.payloadStart + block.storedSize
                            let handle = try #require(FileHandle(forReadingAtPath: block.segment.path))
                            try handle.seek(toOffset: UInt64(block.payloadStart))
                            let onFile = try handle.read(upToCount: block.storedSize) ?? Data()
                            try handle.close()
                            #expect(fileSize(block.segment.path) >= end, "'\(key)' points past the end of its file")
                            #expect(onFile == values.withUnsafeBytes { Data($0) }, "'\(key)' bytes not in the file")
                            checked += 1
                        }
                    }
                    return checked
                }
            }
            var total = 0
            for try await checked in group { total += checked }
            #expect(total > 0)
        }
        try store.close()
    }
}
