import Foundation
import Testing
@testable import TensorLog

/// Found by Fuzz/ segment-recovery (input: Fuzz/crashes/segment-recovery/crash-7af6ae02...,
/// a put record with row_start 0xF8FF000000000000 and a valid header CRC).
///
/// A record's `row_start` is a u64 that RecordHeader.decode does not range-check (and does
/// not require to be 0 for a put). Replay converts it with a trapping `Int(_:)` in
/// `BlockRef.init` (Sources/TensorLog/Segment.swift: `self.rowStart = Int(header.rowStart)`,
/// called from Replay.apply), so TensorStore.open crashes the process ("Not enough bits to
/// represent the passed value") on a store whose active segment holds such a record.
/// Below Int.max, a row_start near it makes `rowStart + rows` overflow where snapshots
/// compute block row ranges (Snapshot.swift: info(), view(rows:), read(rows:)).
/// Expected: open reports corruption (or rejects the record), never a trap.
@Suite("Regression: row_start above Int.max")
struct RowStartOverflowTests {
    static func store(rowStart: UInt64) throws -> String {
        let directory = RegressionStore.temporaryDirectory()
        var record = RegressionStore.put("k", sequence: 1)
        record.header.rowStart = rowStart
        try RegressionStore.write(directory + "/store", segmentBody: RegressionStore.segmentBody([record]))
        return directory
    }

    @Test("open of a store holding a put with row_start 2^63 does not trap")
    func openDoesNotTrap() throws {
        let directory = try Self.store(rowStart: 1 << 63)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Traps today in BlockRef.init (Segment.swift: Int(header.rowStart)).
        let store = try? TensorStore.open(at: directory + "/store", options: RegressionStore.options)
        if let store {
            _ = try? store.snapshot().read("k")
            try? store.close()
        }
    }

    @Test("reads of a put with row_start Int.max do not trap")
    func readsDoNotTrap() throws {
        let directory = try Self.store(rowStart: UInt64(Int.max))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let store = try? TensorStore.open(at: directory + "/store", options: RegressionStore.options) else { return }
        defer { try? store.close() }
        let snapshot = store.snapshot()
        _ = try? snapshot.info("k")
        _ = try? snapshot.read("k")
        _ = try? snapshot.view("k", rows: 0..<1)
        _ = store.verify()
    }
}
