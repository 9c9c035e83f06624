import ArgumentParser
import TensorLog

struct Salvage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild a damaged store from every record that passes its checks; move the damaged bytes aside.",
        discussion: """
            For a store that open refuses because damage sits in the middle of acknowledged data (verify \
            reports it, exit 1). Every record whose header and payload checksums pass is kept, in new \
            segment files; the damaged bytes are copied into STORE/damaged/ for inspection; a batch that \
            lost a member to the damage is dropped whole, so batches stay all or nothing. Keys whose \
            latest records were damaged read as their last intact version afterwards (or are gone): the \
            report lists them. A healthy store is left untouched. Takes the writer lock.

            Examples:
              tensorlog verify my-store || tensorlog salvage my-store
              tensorlog salvage my-store --json
            """
    )

    @OptionGroup var target: StoreArgument
    @OptionGroup var output: JSONOption

    func run() throws {
        if isRemote(target.store) {
            throw CLIError("\(target.store) is a server URL; salvage works on a local store directory")
        }
        let report = try reporting { try TensorStore.salvage(at: target.store) }
        if output.json {
            printJSON(.object([
                ("store", .string(target.store)),
                ("rebuilt", .bool(report.rebuilt)),
                ("records_kept", .int(report.recordsKept)),
                ("records_dropped", .int(report.recordsDropped)),
                ("keys_affected", .array(report.keysAffected.map { .string($0) })),
                ("damaged", .array(report.damagedSpans.map {
                    .object([
                        ("segment", .uint($0.segment)), ("offset", .int($0.offset)), ("bytes", .int($0.length)),
                        ("reason", .string($0.reason)), ("file", .string($0.file)),
                    ])
                })),
            ]))
            return
        }
        guard report.rebuilt else {
            print("nothing to salvage: every record of \(target.store) passes its checks")
            return
        }
        for span in report.damagedSpans {
            print("segment \(span.segment) offset \(span.offset): \(span.length) damaged byte(s) (\(span.reason)) moved to \(span.file)")
        }
        print("kept \(report.recordsKept) intact record(s); dropped \(report.recordsDropped) record(s) of batches that lost a member")
        if !report.keysAffected.isEmpty {
            print("keys affected (now at their last intact version, or gone): " + report.keysAffected.joined(separator: ", "))
        }
    }
}
