import Foundation
import Testing
@testable import TensorLog

/// Found by Fuzz/ segment-recovery (Fuzz/crashes/segment-recovery/crash-1b8d5c10...): a segment whose last
/// record carries sequence number 2^64 - 1 opens fine, and the next put trapped on `sequence += 1`
/// (arithmetic overflow) in TensorStore.write. Expected: an error that says so, the store left as it was.
@Suite("Regression: sequence numbers at 2^64 - 1")
struct SequenceExhaustedTests {
    @Test("a put into a store whose last sequence is UInt64.max is refused, not a trap, and writes nothing")
    func putAfterMaximumSequence() throws {
        let directory = RegressionStore.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let record = RegressionStore.put("k", sequence: UInt64.max)
        try RegressionStore.write(directory + "/store", segmentBody: RegressionStore.segmentBody([record]))
        let store = try TensorStore.open(at: directory + "/store", options: RegressionStore.options)
        defer { try? store.close() }
        #expect(store.sequence == UInt64.max)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory + "/store/00000001.seg"))

        #expect(throws: TensorLogError.self) { try store.put("new", [Float(1)]) }
        #expect(throws: TensorLogError.self) {
            try store.write { batch in try batch.put("a", [Float(1)]) }
        }
        #expect(!store.snapshot().contains("new"))
        #expect(try store.snapshot().read("k").values(as: Float.self).count == 1)
        let after = try Data(contentsOf: URL(fileURLWithPath: directory + "/store/00000001.seg"))
        #expect(after.prefix(before.count) == before)
    }

    @Test("one sequence number short of the maximum still takes a single put")
    func lastNumberIsUsable() throws {
        let directory = RegressionStore.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let record = RegressionStore.put("k", sequence: UInt64.max - 1)
        try RegressionStore.write(directory + "/store", segmentBody: RegressionStore.segmentBody([record]))
        let store = try TensorStore.open(at: directory + "/store", options: RegressionStore.options)
        defer { try? store.close() }
        #expect(try store.put("last", [Float(2)]) == UInt64.max)
        #expect(throws: TensorLogError.self) { try store.put("beyond", [Float(3)]) }
    }
}
