import ArgumentParser
import TensorLog

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read every record and check every checksum; exit 1 if anything is damaged.",
        discussion: """
            Checks each live segment's header, every record's header and payload checksums, that padding \
            is zero, and that each hint file matches its segment. Prints each problem with its segment and \
            offset. Exit status 0: healthy; 1: damage found (also when the store does not even open \
            because of corrupt bytes); 2: other errors (no such store...). Opens read-only, so it can run \
            beside a writer.

            Examples:
              tensorlog verify my-store
              tensorlog verify my-store --json
            """
    )

    @OptionGroup var target: StoreArgument
    @OptionGroup var output: JSONOption

    func run() throws {
        let store = try openStore(target.store, .readOnly)
        let progress = ProgressBar("verify", total: store.statistics().totalBytes)
        let report = store.verify { done, _ in progress.update(done) }
        progress.finish()
        let recovery = store.recovery
        if output.json {
            printJSON(.object([
                ("store", .string(target.store)),
                ("healthy", .bool(report.isHealthy)),
                ("segments_checked", .int(report.segmentsChecked)),
                ("records_checked", .int(report.recordsChecked)),
                ("bytes_checked", .int(report.bytesChecked)),
                ("torn_tail_bytes", .int(recovery.truncatedBytes)),
                ("problems", .array(report.problems.map {
                    .object([("segment", .uint($0.segment)), ("offset", .int($0.offset)), ("message", .string($0.message))])
                })),
            ]))
        } else {
            for problem in report.problems {
                print("segment \(problem.segment) offset \(problem.offset): \(problem.message)")
            }
            if recovery.truncatedBytes > 0, let at = recovery.truncatedAt {
                print("note: the active segment ends in a torn write of \(recovery.truncatedBytes) bytes at segment \(at.segment) offset \(at.offset) "
                    + "(\(recovery.truncationReason ?? "incomplete record")); it is not damage: the next writer's open cuts it")
            }
            print("checked \(report.segmentsChecked) segment(s), \(report.recordsChecked) record(s), \(formatBytes(report.bytesChecked)): "
                + (report.isHealthy ? "healthy" : "\(report.problems.count) problem(s)"))
        }
        if !report.isHealthy {
            printErrorLine("\(target.store) is damaged: \(report.problems.count) problem(s) found")
            throw ExitWithStatus(status: ExitStatus.damage)
        }
    }
}
