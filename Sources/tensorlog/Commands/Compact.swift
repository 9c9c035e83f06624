import ArgumentParser
import TensorLog

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reclaim dead bytes by rewriting the live records of mostly-dead segments.",
        discussion: """
            By default, rewrites sealed segments at least --dead-fraction dead. --full seals the active \
            segment and rewrites every sealed segment, dropping tombstones. --keep-versions N keeps the N \
            latest versions of each key (history). A crash at any point loses nothing.

            Examples:
              tensorlog compact my-store
              tensorlog compact my-store --full --keep-versions 2
            """
    )

    @OptionGroup var target: StoreArgument
    @Flag(help: "Compact every sealed segment (after sealing the active one) and drop tombstones.") var full = false
    @Option(help: ArgumentHelp("Keep this many latest versions of each key (at least 1).", valueName: "N")) var keepVersions = 1
    @Option(help: ArgumentHelp("Compact segments whose dead fraction is at least this (0 to 1).", valueName: "fraction"))
    var deadFraction = 0.5

    func validate() throws {
        guard keepVersions >= 1 else { throw ValidationError("--keep-versions must be at least 1") }
        guard (0...1).contains(deadFraction) else { throw ValidationError("--dead-fraction must be between 0 and 1") }
    }

    func run() throws {
        let store = try openStore(target.store, .write)
        let report = try withSpinner("compacting") {
            try reporting { try store.compact(CompactionOptions(keepVersions: keepVersions, full: full, deadFraction: deadFraction)) }
        }
        try closeStore(store)
        Self.printReport(report, deadFraction: deadFraction, full: full)
    }

    static func printReport(_ report: CompactionReport, deadFraction: Double, full: Bool, indent: String = "") {
        guard !report.compactedSegments.isEmpty else {
            print(indent + (full
                ? "nothing to compact: no sealed segment holds records"
                : "nothing to compact: no sealed segment is at least \(Int(deadFraction * 100))% dead (--full compacts every segment)"))
            return
        }
        let before = report.compactedSegments.map(String.init).joined(separator: ", ")
        let after = report.newSegments.map(String.init).joined(separator: ", ")
        print(indent + "compacted segment(s) \(before) into \(after.isEmpty ? "none" : after): "
            + "\(formatBytes(report.bytesBefore)) -> \(formatBytes(report.bytesAfter)), "
            + "\(report.recordsCopied) record(s) copied, \(report.tombstonesDropped) tombstone(s) dropped")
    }
}
