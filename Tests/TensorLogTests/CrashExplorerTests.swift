import Foundation
import Testing
@testable import TensorLog
import TensorLogSystem

/// Risk covered: some crash state the file-system rules allow (unsynced writes
/// lost, reordered, torn at 512-byte sectors or zeroed; unsynced directory
/// changes lost) loses an acknowledged and fsynced write, brings back an older
/// value, shows half a batch, fails to open, or opens with damage that
/// verify() reports. See CrashExplorer.swift for the model.
@Suite("Crash-state explorer: every crash state the fsync rules allow opens and keeps what was promised", .serialized)
struct CrashExplorerTests {
    static func report(_ title: String, _ result: ExplorationResult) {
        print("\(title): states tried: \(result.statesTried), violations: \(result.violations.count) (trace of \(result.workloadOps) ops: \(result.traceSummary))")
        for violation in result.violations { print("  VIOLATION \(violation)") }
    }

    @Test("A bounded sample of crash states of each workload", arguments: CrashWorkload.allCases)
    func fastSubset(_ workload: CrashWorkload) throws {
        let result = try CrashExplorer.explore(workload, writes: 27, budget: 150, extraVariants: 6, seed: 0xC0FFEE)
        Self.report("crash explorer (\(workload.rawValue), fast subset)", result)
        #expect(result.statesTried >= 80, "too few distinct crash states were tried")
        #expect(result.violations.isEmpty, "\(result.violations.count) violations, first: \(result.violations.first ?? "")")
    }

    /// The long exploration: `TENSORLOG_EXPLORE_STATES=N` states over all workloads (scripts/explore-crashes).
    @Test("Long exploration (TENSORLOG_EXPLORE_STATES)",
          .enabled(if: ProcessInfo.processInfo.environment["TENSORLOG_EXPLORE_STATES"] != nil))
    func longExploration() throws {
        let environment = ProcessInfo.processInfo.environment
        let total = Int(environment["TENSORLOG_EXPLORE_STATES"] ?? "") ?? 5000
        let seed = UInt64(environment["TENSORLOG_EXPLORE_SEED"] ?? "") ?? 1
        var all = ExplorationResult()
        for workload in CrashWorkload.allCases {
            let result = try CrashExplorer.explore(
                workload, writes: 60, budget: max(1, total / CrashWorkload.allCases.count), extraVariants: 12, seed: seed)
            Self.report("crash explorer (\(workload.rawValue))", result)
            all.statesTried += result.statesTried
            all.violations += result.violations
        }
        print("states tried: \(all.statesTried), violations: \(all.violations.count)")
        #expect(all.violations.isEmpty)
    }
}

/// The smallest crash state the explorer finds that today's recovery refuses:
/// one unsynced pwrite holding several records (an atomic batch), torn so that
/// one 512-byte sector of the first record's payload never reached the disk
/// while the later records did. Nothing of it was fsynced, so it is a torn
/// tail: open must cut it and succeed, not fail with "corruption".
@Suite("Crash explorer: minimal reproductions")
struct CrashExplorerReproductionTests {
    @Test("A lost sector inside an unsynced multi-record write is a torn tail")
    func lostSectorInUnsyncedBatch() throws {
        let temporary = TemporaryDirectory()
        let store = try TensorStore.open(at: temporary.store, options: smallOptions(durability: .none))
        try store.put("synced", taggedTensor(1, rows: 4), options: WriteOptions(durability: .everyWrite))
        let x = taggedTensor(2, rows: 64) // 4 KiB payload
        try store.write { batch in
            batch.put("x", x)
            batch.put("y", taggedTensor(3, rows: 4))
        }
        // The crash: the files as the page cache holds them (the batch never fsynced), copied
        // while the writer is still open, with one sector inside x's payload lost.
        let crashed = temporary.path + "/crashed"
        try FileManager.default.copyItem(atPath: temporary.store, toPath: crashed)
        withExtendedLifetime(store) {}
        let path = crashed + "/00000001.seg"
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let payload = try #require(bytes.firstRange(of: x.bytes)).lowerBound
        let sector = (payload + 511) / 512 * 512
        #expect(sector + 512 <= payload + x.bytes.count)
        bytes.replaceSubrange(sector..<sector + 512, with: [UInt8](repeating: 0, count: 512))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reopened = try TensorStore.open(at: crashed, options: smallOptions())
        #expect(try reopened.snapshot().read("synced") == taggedTensor(1, rows: 4))
        #expect(reopened.verify().isHealthy)
    }
}
