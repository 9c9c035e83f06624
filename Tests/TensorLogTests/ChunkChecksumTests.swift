import Foundation
import Testing
@testable import TensorLog

/// Payloads over 1 MiB carry one checksum per 1 MiB chunk (FORMAT.md §5.10): a row-range read
/// verifies only the chunks under its rows, every view and read is verified before its bytes are
/// handed out, and a mismatch names the key, segment and record.
@Suite("Chunk checksums")
struct ChunkChecksumTests {
    static let rows = 3584  // float32 [3584, 256] = 3.5 MiB: four chunks, the last half full
    static let rowBytes = 256 * 4

    func values() -> [Float] { (0..<(Self.rows * 256)).map { Float($0 % 997) } }

    /// A closed store holding `big` (raw, one block) and a small key; returns the big record's offset and payload start.
    func makeStore(_ directory: String) throws -> (record: Int, payload: Int, tableCount: Int) {
        let store = try TensorStore.open(at: directory, options: smallOptions(segmentSize: 64 << 20))
        try store.put("big", values(), shape: [Self.rows, 256])
        try store.put("small", [Float](repeating: 5, count: 8))
        var found: (Int, Int, Int)?
        _ = try store.records(inSegment: 1) { summary in
            if summary.header.key == "big" {
                found = (summary.offset, summary.offset + Int(summary.header.payloadOffset), summary.header.chunkTableCount)
            }
        }
        try store.close()
        return try #require(found)
    }

    func flip(_ path: String, at offset: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let byte = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
    }

    func open(_ directory: String) throws -> TensorStore {
        var options = smallOptions(segmentSize: 64 << 20)
        options.readOnly = true
        return try TensorStore.open(at: directory, options: options)
    }

    @Test("a large payload has one table entry per chunk and reads back whole and by rows")
    func roundTrip() throws {
        let directory = TemporaryDirectory()
        let (_, _, tableCount) = try makeStore(directory.store)
        #expect(tableCount == 4)
        let store = try open(directory.store)
        let snapshot = store.snapshot()
        #expect(try snapshot.read("big").values(as: Float.self) == values())
        let view = try snapshot.view("big", rows: 1000..<2000)
        #expect(try view.toArray(of: Float.self) == Array(values()[1000 * 256..<2000 * 256]))
        #expect(store.verify().isHealthy)
    }

    @Test("a flipped payload bit fails only reads that touch its chunk, with key, segment and offset")
    func damagedChunk() throws {
        let directory = TemporaryDirectory()
        let (record, payload, _) = try makeStore(directory.store)
        let damagedRow = 2600  // in chunk 2 (bytes 2 MiB to 3 MiB)
        try flip(directory.store + "/00000001.seg", at: payload + damagedRow * Self.rowBytes + 7)
        let store = try open(directory.store)
        let snapshot = store.snapshot()

        // Rows in chunks 0 and 1 are intact and verified on their own.
        #expect(try snapshot.read("big", rows: 0..<100).values(as: Float.self) == Array(values()[0..<100 * 256]))
        #expect(try snapshot.view("big", rows: 1100..<1200).toArray(of: Float.self) == Array(values()[1100 * 256..<1200 * 256]))

        for attempt in 0..<2 {  // the second time too: a failed chunk is never remembered as verified
            let error = #expect(throws: TensorLogError.self) { try snapshot.read("big", rows: damagedRow..<damagedRow + 1) }
            #expect(error?.code == .corruption(segment: 1, offset: record), "attempt \(attempt)")
            #expect(error?.message.contains("'big'") == true)
            #expect(error?.message.contains("chunk 2") == true)
        }
        #expect(throws: TensorLogError.self) { try snapshot.view("big") }
        #expect(throws: TensorLogError.self) { try snapshot.view("big", rows: 2500..<2700) }
        #expect(throws: TensorLogError.self) { try snapshot.read("big") }
        // An unverified view is an explicit opt-in; verifying it later fails the same way.
        let unverified = try snapshot.view("big", verify: false)
        #expect(throws: TensorLogError.self) { try unverified.verify() }
        #expect(throws: Never.self) { try unverified.rows(0..<10).verify() }

        let report = store.verify()
        #expect(report.problems.contains { $0.segment == 1 && $0.offset == record && $0.message.contains("chunk 2") })
    }

    @Test("a flipped bit in the chunk table fails every read of the payload")
    func damagedTable() throws {
        let directory = TemporaryDirectory()
        let (record, payload, _) = try makeStore(directory.store)
        try flip(directory.store + "/00000001.seg", at: payload - 3)
        let store = try open(directory.store)
        let error = #expect(throws: TensorLogError.self) { try store.snapshot().read("big", rows: 0..<1) }
        #expect(error?.code == .corruption(segment: 1, offset: record))
        #expect(error?.message.contains("table") == true)
        #expect(!store.verify().isHealthy)
    }

    @Test("compressed payloads over a chunk and compaction copies keep their tables")
    func compressedAndCompacted() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 8 << 20))
        var generator = SeededGenerator(seed: 3)
        let noise = (0..<(768 * 1024)).map { _ in Float.random(in: -1...1, using: &generator) }  // 3 MiB, barely compressible
        var options = WriteOptions()
        options.compression = .lz4
        options.blockBytes = 3 << 20
        try store.put("noise", noise, shape: [768, 1024], options: options)
        try store.put("raw", values(), shape: [Self.rows, 256])
        try store.put("raw", [Float](repeating: 1, count: 16))  // the first version is now dead
        _ = try store.compact(CompactionOptions(keepVersions: 1, full: true, deadFraction: 0))
        try store.close()

        let reopened = try open(directory.store)
        #expect(try reopened.snapshot().read("noise").values(as: Float.self) == noise)
        #expect(reopened.verify().isHealthy)
        var tables: [Int] = []
        for id in reopened.statistics().segments.map(\.id) {
            _ = try reopened.records(inSegment: id) { if $0.header.key == "noise" { tables.append($0.header.chunkTableCount) } }
        }
        #expect(tables.contains { $0 >= 3 }, "the compacted copy of a 3 MiB stored payload keeps its chunk table")
    }

    @Test("version 1 records never have a chunk table, whatever their size")
    func versionOneRecords() throws {
        let header = RecordHeader(
            kind: .put, sequence: 1, storedSize: 3 << 20, rawSize: 3 << 20, key: "k", dtype: .uint8, shape: [3 << 20], version: 1)
        #expect(header.chunkTableCount == 0)
        var current = header
        current.version = RecordHeader.formatVersion
        #expect(current.chunkTableCount == 3)
        #expect(current.payloadOffset(atFileOffset: 64) >= current.headerLength + 12)
    }
}
