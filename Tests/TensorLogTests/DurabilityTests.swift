import Foundation
import Testing
@testable import TensorLog

/// Risk covered: with group commit, writes followed by silence stay unsynced
/// (and so lost by a crash) for as long as no other write comes.
@Suite("Durability modes")
struct DurabilityTests {
    @Test("group commit fsyncs an idle store's pending writes after the interval")
    func groupCommitFlushesWhenIdle() throws {
        let directory = TemporaryDirectory()
        var options = smallOptions(durability: .groupCommit(bytes: 1 << 30, milliseconds: 50))
        options.segmentSize = 1 << 20
        let store = try TensorStore.open(at: directory.store, options: options)
        try store.put("a", [Float](repeating: 1, count: 100))
        #expect(store.writerLock.withLock { store.unsyncedBytes } > 0, "the write should wait for the interval")
        var waited = 0
        while store.writerLock.withLock({ store.unsyncedBytes }) > 0, waited < 100 {
            Thread.sleep(forTimeInterval: 0.02)
            waited += 1
        }
        #expect(store.writerLock.withLock { store.unsyncedBytes } == 0, "no fsync after \(waited * 20) ms idle")
    }

    @Test("every-write durability leaves nothing unsynced when put returns")
    func everyWriteSyncs() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(durability: .everyWrite))
        try store.put("a", [Float(1)])
        #expect(store.writerLock.withLock { store.unsyncedBytes } == 0)
        try store.put("b", [Float(2)], options: WriteOptions(durability: Durability.none))
        #expect(store.writerLock.withLock { store.unsyncedBytes } > 0, "a per-write override applies")
    }
}
