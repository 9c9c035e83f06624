import Foundation
import Testing
@testable import TensorLog

/// Found by Benchmarks/serve/stream.py: the server streamed a 2 GiB tensor at 0.06 GB/s because
/// `Snapshot.read(_:rows:into:)` checksummed the whole block (up to a segment, 256 MiB) for every
/// piece of it read. A snapshot now verifies each block once; these tests pin what that keeps.
@Suite("Regression: row pieces of a large block")
struct PieceReadChecksumTests {
    /// A store holding one raw float32 tensor [rows, 256] in a single block; returns where its record starts.
    func makeStore(_ directory: String, rows: Int) throws -> (TensorStore, recordOffset: Int) {
        var options = StoreOptions()
        options.durability = .none
        options.autoCompactDeadFraction = nil
        let store = try TensorStore.open(at: directory, options: options)
        let values = (0..<(rows * 256)).map { Float($0 % 1000) }
        try store.put("big", values, shape: [rows, 256])
        try store.sync()
        var offset: Int?
        _ = try store.records(inSegment: 1) { summary in
            if summary.header.key == "big" { offset = summary.offset }
        }
        return (store, try #require(offset))
    }

    @Test("reading a block piece by piece returns every row, and a store opened anew still detects a flipped payload byte")
    func piecesAndFreshSnapshots() throws {
        let directory = RegressionStore.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rows = 4096
        let (store, recordOffset) = try makeStore(directory, rows: rows)
        defer { try? store.close() }

        let snapshot = store.snapshot()
        var gathered: [Float] = []
        for start in stride(from: 0, to: rows, by: 100) {
            gathered += try snapshot.read("big", rows: start..<min(start + 100, rows)).values(as: Float.self)
        }
        #expect(gathered == (0..<(rows * 256)).map { Float($0 % 1000) })

        // Close (a clean close leaves the prefix hint, so the reopen below does not scan the payload),
        // then flip a byte in the middle of the payload (it starts within a page of the record), on disk:
        // the shared file mapping shows it.
        let info = try snapshot.info("big")
        #expect(info.blockCount == 1)
        try store.close()
        let handle = try #require(FileHandle(forUpdatingAtPath: directory + "/00000001.seg"))
        let target = UInt64(recordOffset + 8192 + rows * 256 * 4 / 2)
        try handle.seek(toOffset: target)
        let original = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: target)
        try handle.write(contentsOf: Data([original[0] ^ 0xFF]))
        try handle.close()

        // Chunks are verified once per open store: a store opened anew has verified nothing yet, so its
        // first read of the damaged chunk fails, while rows in other chunks still read.
        var options = StoreOptions()
        options.readOnly = true
        let reopened = try TensorStore.open(at: directory, options: options)
        let middle = rows / 2
        #expect(throws: TensorLogError.self) { try reopened.snapshot().read("big", rows: middle..<middle + 1) }
        #expect(try reopened.snapshot().read("big", rows: 0..<1).values(as: Float.self) == (0..<256).map { Float($0 % 1000) })
    }
}
