import Dispatch
import Foundation
import Synchronization
import Testing
@testable import TensorLog
import TensorLogSystem

/// Risk covered: compacted segments stay on disk for as long as the store is open once a snapshot
/// has pinned them (until some key happened to be rewritten), filling the disk.
@Suite("Store lifecycle: retired segments go with the last snapshot that read them")
struct RetiredSegmentTests {
    @Test("after a compaction, the victim files a snapshot kept are deleted when the last such snapshot is released, with no further write")
    func retiredFilesGoWithLastSnapshot() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 4096))
        let first = [Float](repeating: 1, count: 600), second = [Float](repeating: 3, count: 600)
        try store.put("a", first)
        try store.put("b", [Float](repeating: 2, count: 600))
        var one: Snapshot? = store.snapshot()
        var two: Snapshot? = store.snapshot()  // same sequence: the pin is counted twice
        try store.put("a", second)  // the first "a" is now read only by the two snapshots
        let report = try store.compact(CompactionOptions(full: true))
        let victims = report.compactedSegments.flatMap { [Segment.path(directory.store, $0), Segment.hintPath(directory.store, $0)] }
        let onDisk = { victims.filter { FileManager.default.fileExists(atPath: $0) } }
        #expect(!report.compactedSegments.isEmpty)
        #expect(!onDisk().isEmpty, "the segment holding the first 'a' should stay while snapshots read it")
        #expect(try one!.read("a").values(as: Float.self) == first)
        one = nil
        #expect(!onDisk().isEmpty, "a second snapshot still reads the first 'a'")
        #expect(try two!.read("a").values(as: Float.self) == first)
        two = nil
        #expect(onDisk().isEmpty, "left on disk: \(onDisk())")
        #expect(try store.snapshot().read("a").values(as: Float.self) == second)
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 4096))
        #expect(try reopened.snapshot().read("a").values(as: Float.self) == second)
        #expect(reopened.verify().isHealthy)
        try reopened.close()
    }
}

/// What the close-during-compaction test's rule saw, shared with the compaction thread.
private final class CompactionProbe: @unchecked Sendable {
    private let lock = Lock()
    private var compactionThread: pthread_t?
    private var closeReturned = false
    private var compactionRunningAtClose = false
    private var callsAfterClose: [String] = []
    let entered = DispatchSemaphore(value: 0)
    let proceed = DispatchSemaphore(value: 0)

    /// A system call on the store from a thread other than the test's: the automatic compaction's.
    /// Its first segment creation (outside the writer lock) waits for `proceed`.
    func call(_ call: SystemCall, _ path: String) {
        let block = lock.withLock { () -> Bool in
            if closeReturned { callsAfterClose.append("\(call) \(path)") }
            guard compactionThread == nil, call == .open, path.hasSuffix(".seg") else { return false }
            compactionThread = pthread_self()
            return true
        }
        if block {
            entered.signal()
            proceed.wait()
        }
    }

    /// Called right after close returned, with whether the automatic compaction was still running then.
    func closed(compactionRunning: Bool) {
        lock.withLock {
            closeReturned = true
            compactionRunningAtClose = compactionRunning
        }
    }
    var wasRunningAtClose: Bool { lock.withLock { compactionRunningAtClose } }
    var afterClose: [String] { lock.withLock { callsAfterClose } }
}

extension FaultInjectionTests {
    @Test("close waits for a running automatic compaction: it makes no system call after close returns")
    func closeWaitsForAutoCompaction() throws {
        let base = TemporaryDirectory("autocompact")
        var options = smallOptions(segmentSize: 4096)
        options.autoCompactDeadFraction = 0.5
        let store = try TensorStore.open(at: base.store, options: options)
        let testThread = pthread_self()
        let probe = CompactionProbe()
        let rule: FaultInjection.Rule = { call, path in
            if path.hasPrefix(base.path), pthread_equal(pthread_self(), testThread) == 0 { probe.call(call, path) }
            return nil
        }
        try FaultInjection.with(rule) {
            // Overwrite one key beside live ones until a roll-over finds a mostly dead segment and starts a compaction.
            var index = 0, entered = false
            while !entered, index < 10_000 {
                try store.put("overwritten", [Float](repeating: Float(index), count: 300))
                try store.put("live/\(index)", [Float(index)])
                index += 1
                entered = probe.entered.wait(timeout: .now()) == .success
            }
            guard entered || probe.entered.wait(timeout: .now() + 120) == .success else {
                Issue.record("no automatic compaction created a segment")
                probe.proceed.signal()
                return
            }
            // The compaction is inside its copy (compaction lock held, writer lock free): close now.
            let done = DispatchSemaphore(value: 0)
            Thread {
                try? store.close()
                probe.closed(compactionRunning: store.autoCompactionRunning.load(ordering: .acquiring))
                done.signal()
            }.start()
            // Give a close that does not wait the chance to return (with the fix it cannot, however long this is).
            Thread.sleep(forTimeInterval: 0.2)
            probe.proceed.signal()
            #expect(done.wait(timeout: .now() + 120) == .success, "close did not return")
            // Keep the rule until the compaction thread is done, so that it sees any call made after close.
            for _ in 0..<12_000 where store.autoCompactionRunning.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(!probe.wasRunningAtClose, "close returned while the automatic compaction was running")
        #expect(probe.afterClose.isEmpty, "the compaction went on after close returned: \(probe.afterClose.prefix(5))")
        let reopened = try TensorStore.open(at: base.store, options: smallOptions(segmentSize: 4096))
        #expect(reopened.verify().isHealthy, "\(reopened.verify().problems.prefix(3))")
        #expect(reopened.snapshot().contains("overwritten") && reopened.snapshot().contains("live/0"))
        try reopened.close()
    }

    @Test("creating a store fsyncs the directory that holds it; if that fsync fails, so does the open")
    func creationSyncsParent() throws {
        let base = TemporaryDirectory("parent")
        let synced = FaultInjection.Counter()
        let parent = base.path
        let store = try FaultInjection.with({ call, path in
            if call == .fsync, path == parent { _ = synced.next() }
            return nil
        }) {
            try TensorStore.open(at: parent + "/store", options: smallOptions())
        }
        try store.close()
        #expect(synced.count == 1, "the parent directory was fsynced \(synced.count) times")
        #expect(FileSystem.parentDirectory(of: parent + "/store/") == parent && FileSystem.parentDirectory(of: "store") == ".")

        do {
            _ = try FaultInjection.with({ call, path in call == .fsync && path == parent ? .fail(errno: EIO) : nil }) {
                try TensorStore.open(at: parent + "/other", options: smallOptions())
            }
            Issue.record("the open succeeded although the parent directory's fsync failed")
        } catch let error as TensorLogError {
            #expect(error.code == .io(errno: EIO), "\(error)")
        }
    }
}
