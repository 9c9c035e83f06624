import ArgumentParser
import TensorLog
import TensorLogAPI

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the versions of a key still on disk, newest first.",
        discussion: """
            Each version: its sequence number, whether it is a put or a deletion, dtype, shape, row blocks \
            and where its first record is. Versions that compaction dropped are gone.

            Examples:
              tensorlog history my-store model/w1
              tensorlog history my-store model/w1 --json
            """
    )

    @OptionGroup var target: StoreArgument
    @Argument(help: "The key.") var key: String
    @OptionGroup var output: JSONOption

    func run() throws {
        let versions: [VersionSummary]
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let key = key
            versions = try remote { try await client.history(key).versions }
        } else {
            let store = try openStore(target.store, .readOnly)
            versions = try reporting { try store.history(key) }.map {
                VersionSummary(
                    sequence: $0.sequence, deleted: $0.isDeletion, dtype: $0.dtype?.name, shape: $0.shape, blocks: $0.blockCount,
                    segment: $0.location.segment, offset: UInt64($0.location.offset))
            }
        }
        let latest = versions.first?.sequence
        if output.json {
            printJSON(.array(versions.map { version in
                .object([
                    ("sequence", .uint(version.sequence)),
                    ("kind", .string(version.deleted ? "delete" : "put")),
                    ("dtype", version.dtype.map { .string($0) } ?? .null),
                    ("shape", version.deleted ? .null : .ints(version.shape)),
                    ("blocks", .int(version.blocks)),
                    ("segment", .uint(version.segment)),
                    ("offset", .uint(version.offset)),
                    ("latest", .bool(version.sequence == latest)),
                ])
            }))
            return
        }
        print("\(key): \(versions.count) version(s) on disk, newest first")
        var table = TextTable(["SEQ", "KIND", "DTYPE", "SHAPE", "BLOCKS", "SEGMENT", "OFFSET", ""], rightAligned: [0, 4, 5, 6])
        for version in versions {
            table.add([
                String(version.sequence), version.deleted ? "delete" : "put", version.dtype ?? "-",
                version.deleted ? "-" : formatShape(version.shape), String(version.blocks),
                String(version.segment), String(version.offset),
                version.sequence == latest ? (version.deleted ? "(latest: deleted)" : "(latest)") : "",
            ])
        }
        print(table.render())
    }
}
