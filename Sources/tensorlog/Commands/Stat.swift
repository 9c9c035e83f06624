import ArgumentParser
import Foundation
import TensorLog

struct Stat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how much a store holds and how much of it is garbage.",
        discussion: """
            Keys, latest sequence number, segments, bytes on disk (live and dead), the compression ratio \
            of the live data, and whether compaction is due (a sealed segment at least half dead).

            Examples:
              tensorlog stat my-store
              tensorlog stat my-store --json
            """
    )

    @OptionGroup var target: StoreArgument
    @OptionGroup var output: JSONOption

    func run() throws {
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let summary = try remote { try await client.stat() }
            if output.json { return try printAPIJSON(summary) }
            print("server       \(url)")
            print("keys         \(summary.keys)")
            print("sequence     \(summary.sequence)")
            print("segments     \(summary.segments)")
            print("on disk      \(formatBytes(summary.totalBytes)): \(formatBytes(summary.deadBytes)) dead")
            print("live data    \(formatBytes(summary.rawBytes)) raw, \(formatBytes(summary.storedBytes)) stored: compression \(String(format: "%.2f", summary.compressionRatio))x")
            return
        }
        let store = try openStore(target.store, .readOnly)
        let stats = store.statistics()
        let live = stats.segments.reduce(0) { $0 + $1.liveBytes }
        let dead = stats.segments.reduce(0) { $0 + $1.deadBytes }
        let recovery = store.recovery
        if output.json {
            var members: [(String, JSON)] = [
                ("store", .string(target.store)),
                ("keys", .int(stats.keys)),
                ("sequence", .uint(stats.sequence)),
                ("segment_count", .int(stats.segments.count)),
                ("total_bytes", .int(stats.totalBytes)),
                ("live_bytes", .int(live)),
                ("dead_bytes", .int(dead)),
                ("reclaimable_bytes", .int(stats.sealedDeadBytes)),
                ("stored_bytes", .int(stats.storedBytes)),
                ("raw_bytes", .int(stats.rawBytes)),
                ("compression_ratio", .double(stats.compressionRatio)),
                ("compaction_due", .bool(stats.compactionDue)),
                ("compaction_threshold", .double(defaultCompactionThreshold)),
                ("torn_tail_bytes", .int(recovery.truncatedBytes)),
            ]
            members.append(("segments", .array(stats.segments.map { segment in
                .object([
                    ("id", .uint(segment.id)),
                    ("file", .string(segmentFileName(segment.id))),
                    ("bytes", .int(segment.bytes)),
                    ("live_bytes", .int(segment.liveBytes)),
                    ("dead_bytes", .int(segment.deadBytes)),
                    ("sealed", .bool(segment.sealed)),
                ])
            })))
            printJSON(.object(members))
            return
        }
        let sealed = stats.segments.filter(\.sealed).count
        print("store        \(target.store)")
        print("keys         \(stats.keys)")
        print("sequence     \(stats.sequence)")
        print("segments     \(stats.segments.count) (\(sealed) sealed, \(stats.segments.count - sealed) active)")
        print("on disk      \(formatBytes(stats.totalBytes)): \(formatBytes(live)) live, \(formatBytes(dead)) dead (\(formatBytes(stats.sealedDeadBytes)) reclaimable now)")
        print("live data    \(formatBytes(stats.rawBytes)) raw, \(formatBytes(stats.storedBytes)) stored: compression \(String(format: "%.2f", stats.compressionRatio))x")
        let threshold = Int(defaultCompactionThreshold * 100)
        print("compaction   \(stats.compactionDue ? "due (a sealed segment is at least \(threshold)% dead): run tensorlog compact" : "not due")")
        if recovery.truncatedBytes > 0, let at = recovery.truncatedAt {
            print("torn tail    \(recovery.truncatedBytes) bytes at segment \(at.segment) offset \(at.offset) (an unfinished write; the next writer's open cuts it)")
        }
        var table = TextTable(["SEGMENT", "FILE", "SIZE", "LIVE", "DEAD", "STATE"], rightAligned: [0, 2, 3, 4])
        for segment in stats.segments {
            table.add([
                String(segment.id), segmentFileName(segment.id), formatBytes(segment.bytes), formatBytes(segment.liveBytes),
                formatBytes(segment.deadBytes), segment.sealed ? "sealed" : "active",
            ])
        }
        print("")
        print(table.render())
    }
}
