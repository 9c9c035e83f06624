import ArgumentParser
import TensorLog
import TensorLogAPI
import TensorLogServer

struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the keys of a store: dtype, shape, sizes, codecs.",
        discussion: """
            One line per key, sorted: dtype (numpy's name), shape, stored and raw sizes, codecs of its row \
            blocks, block count and the sequence number of its version.

            Examples:
              tensorlog ls my-store
              tensorlog ls my-store --prefix model/ --json
            """
    )

    @OptionGroup var target: StoreArgument
    @Option(help: "Only keys starting with this.") var prefix = ""
    @OptionGroup var output: JSONOption

    func run() throws {
        let summaries: [TensorSummary]
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let prefix = prefix
            summaries = try remote { try await client.listAll(prefix: prefix) }
        } else {
            let store = try openStore(target.store, .readOnly)
            let snapshot = store.snapshot()
            summaries = try snapshot.keys(prefix: prefix).map { key in TensorSummary(try reporting { try snapshot.info(key) }) }
        }
        if output.json {
            printJSON(.array(summaries.map(Self.json)))
            return
        }
        guard !summaries.isEmpty else { return }
        var table = TextTable(["KEY", "DTYPE", "SHAPE", "STORED", "RAW", "CODEC", "BLOCKS", "VERSION"], rightAligned: [3, 4, 6, 7])
        for summary in summaries {
            table.add([
                summary.key, summary.dtype, formatShape(summary.shape), formatBytes(summary.storedBytes), formatBytes(summary.rawBytes),
                summary.codecs.joined(separator: ","), String(summary.blocks), String(summary.version),
            ])
        }
        print(table.render())
    }

    static func json(_ summary: TensorSummary) -> JSON {
        .object([
            ("key", .string(summary.key)),
            ("dtype", .string(summary.dtype)),
            ("shape", .ints(summary.shape)),
            ("stored_bytes", .int(summary.storedBytes)),
            ("raw_bytes", .int(summary.rawBytes)),
            ("codecs", .strings(summary.codecs)),
            ("blocks", .int(summary.blocks)),
            ("version", .uint(summary.version)),
            ("metadata", .dictionary(summary.metadata)),
        ])
    }
}
