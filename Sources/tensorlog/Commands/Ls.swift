import ArgumentParser
import TensorLog

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
        let store = try openStore(target.store, .readOnly)
        let snapshot = store.snapshot()
        let infos = try snapshot.keys(prefix: prefix).map { key in try reporting { try snapshot.info(key) } }
        if output.json {
            printJSON(.array(infos.map(Self.json)))
            return
        }
        guard !infos.isEmpty else { return }
        var table = TextTable(["KEY", "DTYPE", "SHAPE", "STORED", "RAW", "CODEC", "BLOCKS", "VERSION"], rightAligned: [3, 4, 6, 7])
        for info in infos {
            table.add([
                info.key, info.dtype.name, formatShape(info.shape), formatBytes(info.storedBytes), formatBytes(info.rawBytes),
                info.codecs.map(\.name).joined(separator: ","), String(info.blockCount), String(info.version),
            ])
        }
        print(table.render())
    }

    static func json(_ info: TensorInfo) -> JSON {
        .object([
            ("key", .string(info.key)),
            ("dtype", .string(info.dtype.name)),
            ("shape", .ints(info.shape)),
            ("stored_bytes", .int(info.storedBytes)),
            ("raw_bytes", .int(info.rawBytes)),
            ("codecs", .strings(info.codecs.map(\.name))),
            ("blocks", .int(info.blockCount)),
            ("version", .uint(info.version)),
            ("metadata", .dictionary(info.metadata)),
        ])
    }
}
