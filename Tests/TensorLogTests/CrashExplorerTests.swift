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
        let result = try CrashExplorer.explore(workload, writes: 27, budget: 100, extraVariants: 3, seed: 0xC0FFEE)
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
