import ArgumentParser
import Foundation
import TensorLog

/// The STORE argument every command but `demo` takes first.
struct StoreArgument: ParsableArguments {
    @Argument(
        help: "The store directory; for ls, get, import, export, stat, history, rm, train, infer and eval also the URL of a 'tensorlog serve' server (or give --remote URL, and --token-file PATH or TENSORLOG_TOKEN for its token).",
        completion: .directory)
    var store: String

    /// The server's URL when STORE names one.
    var remoteURL: String? { isRemote(store) ? store : nil }

    func validate() throws {
        guard !store.isEmpty else { throw ValidationError("the store path is empty") }
    }
}

/// `--json`, shared by the commands that can print JSON.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print JSON (documented in docs/CLI.md) instead of text.")
    var json = false
}

/// How a command opens its store.
enum StoreAccess {
    /// Read-only: no lock, nothing changed on disk; others may write meanwhile.
    case readOnly
    /// The writer: takes the lock; the store must exist.
    case write
    /// The writer, creating the store when the directory does not exist.
    case create
}

/// Opens a store the way the command line does: never creating one unless asked,
/// with automatic compaction off (the `compact` command does that explicitly) and
/// writes synced when the store is closed.
func openStore(_ path: String, _ access: StoreAccess) throws -> TensorStore {
    if isRemote(path) {
        throw CLIError("\(path) is a server URL; this command works on a local store directory")
    }
    var options = StoreOptions()
    options.create = access == .create
    options.readOnly = access == .readOnly
    options.autoCompactDeadFraction = nil
    options.durability = .none
    return try reporting { try TensorStore.open(at: path, options: options) }
}

/// The compaction threshold `stat` reports against (the library's default).
let defaultCompactionThreshold = StoreOptions().autoCompactDeadFraction ?? 0.5

/// Closes a writer (syncing every write), turning failures into `CLIError`.
func closeStore(_ store: TensorStore) throws {
    try reporting("closing \(store.directory)") { try store.close() }
}

/// Whether `path` is a directory, and whether it holds a store's MANIFEST.
func directoryState(_ path: String) -> (exists: Bool, isDirectory: Bool, isStore: Bool, isEmpty: Bool) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return (false, false, false, true) }
    guard isDirectory.boolValue else { return (true, false, false, false) }
    let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return (true, true, contents.contains("MANIFEST"), contents.isEmpty)
}

/// Checks a key the way the store does (1 to 1024 bytes of UTF-8, no NUL, Unicode NFC),
/// so that bad keys are refused before anything is written.
func checkKey(_ key: String, source: String? = nil) throws {
    let what = source.map { "\($0): " } ?? ""
    let length = key.utf8.count
    guard length > 0 else { throw CLIError("\(what)empty key") }
    guard length <= RecordHeader.maxKeyBytes else {
        throw CLIError("\(what)key of \(length) bytes exceeds the maximum of \(RecordHeader.maxKeyBytes)")
    }
    guard !key.utf8.contains(0) else { throw CLIError("\(what)key contains a NUL byte") }
    if !key.utf8.allSatisfy({ $0 < 0x80 }) {
        let normalized = key.precomposedStringWithCanonicalMapping
        guard normalized.utf8.elementsEqual(key.utf8) else {
            throw CLIError("\(what)key '\(key)' is not in Unicode normalization form C (NFC); the store needs '\(normalized)'")
        }
    }
}

/// Checks tensor metadata against the record format's limits.
func checkMetadata(_ metadata: [String: String], source: String) throws {
    var bytes = 0
    for (key, value) in metadata {
        guard key.utf8.count <= Int(UInt16.max) else {
            throw CLIError("\(source): metadata key of \(key.utf8.count) bytes exceeds the maximum of \(UInt16.max)")
        }
        bytes += 6 + key.utf8.count + value.utf8.count
    }
    guard bytes <= RecordHeader.maxMetadataBytes, metadata.count <= Int(UInt16.max) else {
        throw CLIError("\(source): metadata of \(bytes) bytes exceeds a tensor's maximum of \(RecordHeader.maxMetadataBytes)")
    }
}
