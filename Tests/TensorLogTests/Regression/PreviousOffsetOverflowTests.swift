import Foundation
import Testing
@testable import TensorLog

/// Found by Fuzz/ segment-recovery (Fuzz/crashes/segment-recovery/crash-99f5e4d7...).
///
/// A record's `previous_offset` is a u64 that RecordHeader.decode does not range-check
/// (only "previous_offset without previous_segment" is refused). versionChain
/// (Sources/TensorLog/TensorStore+History.swift, `let offset = Int(pointer.offset)`)
/// converts it with a trapping `Int(_:)`, so `history(key)` — and everything else that walks
/// the chain: `read(_:version:)`, compaction keeping more than one version — crashes the
/// process ("Not enough bits to represent the passed value") on a record whose
/// previous_offset is 2^63 or more and whose previous_segment names a live segment.
/// Expected: a corruption error (or the walk ending there), never a trap.
@Suite("Regression: previous_offset above Int.max")
struct PreviousOffsetOverflowTests {
    static let hugeOffset: UInt64 = 1 << 63

    func makeStore(_ directory: String) throws {
        let record = RegressionStore.put("k", sequence: 1, previous: RecordPointer(segment: 1, offset: Self.hugeOffset))
        try RegressionStore.write(directory, segmentBody: RegressionStore.segmentBody([record]))
    }

    @Test("history() of a key whose record points at offset 2^63 does not trap")
    func historyDoesNotTrap() throws {
        let directory = RegressionStore.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try makeStore(directory + "/store")
        let store = try TensorStore.open(at: directory + "/store", options: RegressionStore.options)
        defer { try? store.close() }
        #expect(try store.snapshot().read("k").bytes == [0, 0, 0x80, 0x3F])
        // Traps today in versionChain (TensorStore+History.swift: Int(pointer.offset)).
        let versions = try? store.history("k")
        #expect(versions == nil || versions?.first?.sequence == 1)
    }

    @Test("read(_:version:) of such a key does not trap")
    func readVersionDoesNotTrap() throws {
        let directory = RegressionStore.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try makeStore(directory + "/store")
        let store = try TensorStore.open(at: directory + "/store", options: RegressionStore.options)
        defer { try? store.close() }
        _ = try? store.read("k", version: 1)
    }
}
