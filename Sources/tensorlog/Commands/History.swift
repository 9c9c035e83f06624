import ArgumentParser
import TensorLog

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
        let store = try openStore(target.store, .readOnly)
        let versions = try reporting { try store.history(key) }
        let latest = versions.first?.sequence
        if output.json {
            printJSON(.array(versions.map { version in
                .object([
                    ("sequence", .uint(version.sequence)),
                    ("kind", .string(version.isDeletion ? "delete" : "put")),
                    ("dtype", version.dtype.map { .string($0.name) } ?? .null),
                    ("shape", version.isDeletion ? .null : .ints(version.shape)),
                    ("blocks", .int(version.blockCount)),
                    ("segment", .uint(version.location.segment)),
                    ("offset", .uint(version.location.offset)),
                    ("latest", .bool(version.sequence == latest)),
                ])
            }))
            return
        }
        print("\(key): \(versions.count) version(s) on disk, newest first")
        var table = TextTable(["SEQ", "KIND", "DTYPE", "SHAPE", "BLOCKS", "SEGMENT", "OFFSET", ""], rightAligned: [0, 4, 5, 6])
        for version in versions {
            table.add([
                String(version.sequence), version.isDeletion ? "delete" : "put", version.dtype?.name ?? "-",
                version.isDeletion ? "-" : formatShape(version.shape), String(version.blockCount),
                String(version.location.segment), String(version.location.offset),
                version.sequence == latest ? (version.isDeletion ? "(latest: deleted)" : "(latest)") : "",
            ])
        }
        print(table.render())
    }
}
