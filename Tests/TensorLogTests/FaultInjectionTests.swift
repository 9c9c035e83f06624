import Foundation
import Testing
@testable import TensorLog
import TensorLogSystem

/// Risk covered: a failing system call (full disk, I/O error, torn write,
/// failed fsync, rename or unlink) at any point of a write, batch, roll-over
/// or compaction crashes the process, loses an acknowledged write, returns
/// half-written data, or leaves a store that does not reopen.
@Suite("Fault injection: every failing system call surfaces and loses nothing", .serialized)
struct FaultInjectionTests {
    typealias State = [String: Tensor]

    /// A workload touching every write path, with each step's resulting state.
    static func workload(_ store: TensorStore, states: inout [State]) throws {
        var state = states.last ?? [:]
        func record(_ key: String, _ tensor: Tensor?) {
            state[key] = tensor
            states.append(state)
        }
        let durable = WriteOptions(durability: .everyWrite)
        let small = try Tensor((0..<40).map { Float($0) }, shape: [4, 10])
        try store.put("small", small, options: durable)
        record("small", small)
        // Larger than a block: a multi-record atomic batch that rolls segments over.
        let large = try Tensor((0..<3000).map { Int32($0) }, shape: [300, 10])
        try store.put("large", large, options: WriteOptions(durability: .everyWrite, blockBytes: 2000))
        record("large", large)
        let rows = try Tensor((0..<20).map { Float(100 + $0) }, shape: [2, 10])
        _ = try rows.bytes.withUnsafeBytes { try store.append("small", dtype: .float32, shape: [2, 10], bytes: $0, options: durable) }
        var grown = small
        grown.shape[0] += 2
        grown.bytes += rows.bytes
        record("small", grown)
        let compressed = try Tensor([Int64](repeating: 5, count: 500))
        try store.put("zeros", compressed, options: WriteOptions(durability: .everyWrite, compression: .lz4))
        record("zeros", compressed)
        try store.write(options: durable) { batch in
            batch.delete("zeros")
            batch.put("batch", try Tensor([UInt8](repeating: 7, count: 100)))
        }
        state["zeros"] = nil
        record("batch", try Tensor([UInt8](repeating: 7, count: 100)))
        try store.delete("large", options: durable)
        record("large", nil)
        try store.compact(CompactionOptions(full: true))
        states.append(state)
        try store.put("after", try Tensor([Double(1), 2]), options: durable)
        record("after", try Tensor([Double(1), 2]))
    }

    static let calls: Set<SystemCall> = [.pwrite, .fsync, .ftruncate, .rename, .open, .mmap, .unlink]

    @Test("each system call of the workload fails in turn", arguments: [
        Fault.fail(errno: ENOSPC), Fault.fail(errno: EIO), Fault.partialWrite(bytes: 10, errno: ENOSPC),
    ])
    func everyFailurePoint(fault: Fault) throws {
        let base = TemporaryDirectory("faults")
        // Count the failure points with a rule that never fires.
        let counter = FaultInjection.Counter()
        // The states the whole workload passes through, to know what a failed step would have produced.
        var reference: [State] = [[:]]
        do {
            let store = try TensorStore.open(at: base.path + "/count", options: smallOptions(segmentSize: 4096))
            try FaultInjection.with(FaultInjection.failNth(-1, of: Self.calls, with: fault, counter: counter, pathContains: base.path)) {
                try Self.workload(store, states: &reference)
            }
            try store.close()
        }
        let points = counter.count
        #expect(points > 40, "the workload should make many system calls")
        var failures = 0
        for point in 0..<points {
            let path = base.path + "/run\(point)"
            var states: [State] = [[:]]
            var failed: TensorLogError?
            let store = try TensorStore.open(at: path, options: smallOptions(segmentSize: 4096))
            let rule = FaultInjection.failNth(point, of: Self.calls, with: fault, counter: FaultInjection.Counter(), pathContains: path)
            FaultInjection.with(rule) {
                do {
                    try Self.workload(store, states: &states)
                } catch let error as TensorLogError {
                    failed = error
                } catch {
                    Issue.record("point \(point): error of an unexpected type: \(error)")
                }
            }
            guard let failed else { continue }  // the failed call was one the engine may ignore (cleanup)
            failures += 1
            #expect(!failed.message.isEmpty)
            // The live store still serves the last acknowledged state (reads are never half-written).
            let last = states.last!
            if let live = try? contents(store) { #expect(live == last, "point \(point): live store differs after \(failed)") }
            try? store.close()
            // Reopening finds the last acknowledged state, or the failed operation's, whole.
            let reopened = try TensorStore.open(at: path, options: smallOptions(segmentSize: 4096))
            let found = try contents(reopened)
            let failedStep = states.count < reference.count ? reference[states.count] : last
            #expect(found == last || found == failedStep,
                    "point \(point) (\(failed)): reopened store holds neither the acknowledged state nor the failed step's")
            #expect(reopened.verify().isHealthy, "point \(point): \(reopened.verify().problems.prefix(3))")
            // And it takes writes again.
            try reopened.put("again", [Float(1)])
            try reopened.close()
        }
        #expect(failures > points / 2, "most failure points should surface as errors (\(failures) of \(points))")
    }
}
