import ArgumentParser
import TensorLog

struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete keys (writes tombstones; compaction reclaims the space).",
        discussion: """
            Every key must exist; otherwise nothing is deleted. Several keys are deleted in one atomic \
            batch. Earlier versions stay on disk (see history) until compaction drops them.

            Example:
              tensorlog rm my-store model/old model/older
            """
    )

    @OptionGroup var target: StoreArgument
    @Argument(help: "The keys to delete.") var keys: [String] = []

    func validate() throws {
        guard !keys.isEmpty else { throw ValidationError("no keys to delete") }
    }

    func run() throws {
        var unique: [String] = []
        for key in keys where !unique.contains(key) { unique.append(key) }
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let keys = unique
            try remote {
                for key in keys { _ = try await client.info(key) }  // all must exist before any is deleted
                for key in keys { try await client.delete(key) }
            }
            print("deleted \(unique.count) key(s): \(unique.joined(separator: ", "))")
            return
        }
        let store = try openStore(target.store, .write)
        let snapshot = store.snapshot()
        for key in unique where !snapshot.contains(key) {
            throw CLIError("no tensor '\(key)' in \(target.store); nothing deleted")
        }
        try reporting {
            if unique.count == 1 {
                _ = try store.delete(unique[0])
            } else {
                _ = try store.write { batch in
                    for key in unique { batch.delete(key) }
                }
            }
        }
        try closeStore(store)
        print("deleted \(unique.count) key(s): \(unique.joined(separator: ", "))")
    }
}
