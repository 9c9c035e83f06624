import Foundation
import Testing
@testable import TensorLog

/// Risk covered: a single flipped bit anywhere in a store's files (segment,
/// hint, manifest, lock) makes a read return wrong bytes without an error, or
/// makes a key silently disappear or revert while neither open nor verify()
/// reports damage. See BitFlipSweep.swift.
@Suite("Bit-flip sweep: every flipped bit is reported or harmless", .serialized)
struct BitFlipSweepTests {
    static func report(_ title: String, _ result: SweepResult) {
        print("\(title): \(result.summary)")
        for violation in result.violations { print("  VIOLATION \(violation)") }
    }

    @Test("Sampled bytes of every file of a small store", arguments: BitFlipSweep.Variant.allCases)
    func fastSubset(_ variant: BitFlipSweep.Variant) throws {
        let result = try BitFlipSweep.sweep(variant, bytesPerFile: 20, seed: 0xB17F11B)
        Self.report("bit-flip sweep (\(variant.rawValue), fast subset)", result)
        #expect(result.tried >= 100, "too few flips were tried")
        #expect(result.violations.isEmpty, "\(result.violations.count) violations, first: \(result.violations.first ?? "")")
    }

    /// The full sweep (scripts/sweep-bitflips): `TENSORLOG_SWEEP_BITFLIPS=all` flips one random bit of
    /// every byte (every bit of files up to 128 bytes); a number N samples N bytes per file.
    @Test("Full sweep (TENSORLOG_SWEEP_BITFLIPS)",
          .enabled(if: ProcessInfo.processInfo.environment["TENSORLOG_SWEEP_BITFLIPS"] != nil))
    func fullSweep() throws {
        let environment = ProcessInfo.processInfo.environment
        let setting = environment["TENSORLOG_SWEEP_BITFLIPS"] ?? "all"
        let seed = UInt64(environment["TENSORLOG_SWEEP_SEED"] ?? "") ?? 1
        var all = SweepResult()
        for variant in BitFlipSweep.Variant.allCases {
            let result = try BitFlipSweep.sweep(
                variant, bytesPerFile: Int(setting), seed: seed, progress: environment["TENSORLOG_SWEEP_PROGRESS"])
            Self.report("bit-flip sweep (\(variant.rawValue))", result)
            all.add(result)
        }
        print(all.summary)
        #expect(all.violations.isEmpty)
    }
}
