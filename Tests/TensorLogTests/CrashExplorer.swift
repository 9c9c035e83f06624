import Foundation
@testable import TensorLog
import TensorLogSystem
import Synchronization
import TensorLogTestSupport

// A crash-state explorer in the manner of ALICE / CrashMonkey: a workload runs
// against a real store while every state-changing file-system call is recorded
// (OperationRecording); from the trace, the states a crash could leave on disk
// are built (what fsync and directory fsync made durable, plus subsets, torn
// sectors and zeroed pages of what was not), written out as real directories,
// opened, verified and read, and checked against what was acknowledged.

// MARK: - Trace

/// The operations of one workload, in the order they happened, with the writes it made.
final class CrashTrace: @unchecked Sendable {
    struct Op {
        let operation: RecordedOperation
        /// Made by the workload's own thread (not a background compaction or flusher).
        let workloadThread: Bool
    }

    /// One acknowledged write of the workload.
    struct Write {
        let index: Int
        let label: String
        let durability: String
        /// Keys it changes and each key's value after it (nil: deleted).
        let effects: [(key: String, value: Tensor?)]
        let isBatch: Bool
        /// ops.count when it started and when it returned.
        let beginOp: Int
        var ackOp: Int
    }

    let directory: String
    private let lock = NSLock()
    private(set) var ops: [Op] = []
    private(set) var writes: [Write] = []
    /// Files in the directory before the workload started (all durable): name -> (inode, bytes).
    private(set) var initialFiles: [String: (inode: UInt64, bytes: [UInt8])] = [:]
    private var workloadThread: pthread_t = pthread_self()

    init(directory: String) {
        self.directory = directory
    }

    var opCount: Int { lock.withLock { ops.count } }

    func observe(_ operation: RecordedOperation) {
        let paths: [String] = switch operation {
        case .create(let path, _), .write(let path, _, _, _), .sync(let path, _), .truncate(let path, _, _),
             .unlink(let path), .mkdir(let path), .syncDirectory(let path):
            [path]
        case .rename(let from, let to): [from, to]
        }
        guard paths.contains(where: { $0 == directory || $0.hasPrefix(directory + "/") }) else { return }
        let mine = pthread_equal(pthread_self(), workloadThread) != 0
        lock.withLock { ops.append(Op(operation: operation, workloadThread: mine)) }
    }

    /// Runs `body` (the workload) with recording on; files already in the directory are the initial state.
    func record(_ body: () throws -> Void) throws {
        workloadThread = pthread_self()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, let data = FileManager.default.contents(atPath: path) else { continue }
            initialFiles[name] = (UInt64(info.st_ino), [UInt8](data))
        }
        try OperationRecording.with({ [self] operation in observe(operation) }, body)
    }

    /// Performs one write and records when it started and returned.
    @discardableResult
    func write<T>(
        _ label: String, durability: String, effects: [(key: String, value: Tensor?)], batch: Bool = false, _ body: () throws -> T
    ) throws -> T {
        let begin = opCount
        let result = try body()
        let end = opCount
        lock.withLock {
            writes.append(Write(index: writes.count, label: label, durability: durability, effects: effects,
                                isBatch: batch, beginOp: begin, ackOp: end))
        }
        return result
    }

    func name(_ path: String) -> String {
        path.hasPrefix(directory + "/") ? String(path.dropFirst(directory.count + 1)) : path
    }

    func describe(_ index: Int) -> String {
        guard index >= 0, index < ops.count else { return "(start)" }
        switch ops[index].operation {
        case .create(let path, _): return "create \(name(path))"
        case .write(let path, _, let offset, let bytes): return "pwrite \(name(path)) @\(offset) +\(bytes.count)"
        case .sync(let path, _): return "fsync \(name(path))"
        case .truncate(let path, _, let length): return "ftruncate \(name(path)) \(length)"
        case .rename(let from, let to): return "rename \(name(from)) -> \(name(to))"
        case .unlink(let path): return "unlink \(name(path))"
        case .mkdir(let path): return "mkdir \(name(path))"
        case .syncDirectory: return "fsync dir"
        }
    }
}

// MARK: - File-system model

/// The trace turned into per-inode data operations and directory operations.
struct FileSystemModel {
    enum DataOp {
        case write(offset: Int, bytes: [UInt8])
        case truncate(Int)
    }

    enum NameOp {
        case link(String, Int)
        case rename(String, String)
        case unlink(String)
    }

    struct File {
        var initial: [UInt8] = []
        var data: [(op: Int, change: DataOp)] = []
        var syncs: [Int] = []
    }

    var files: [File] = []
    var initialNames: [String: Int] = [:]
    var names: [(op: Int, change: NameOp)] = []
    var directorySyncs: [Int] = []
    /// For each op, the model file it acted on (data ops and syncs), else nil.
    var fileOfOp: [Int?] = []

    init(_ trace: CrashTrace) {
        var inodeToFile: [UInt64: Int] = [:]
        var current: [String: Int] = [:]
        for (name, file) in trace.initialFiles.sorted(by: { $0.key < $1.key }) {
            files.append(File(initial: file.bytes))
            inodeToFile[file.inode] = files.count - 1
            current[name] = files.count - 1
        }
        initialNames = current
        func file(_ inode: UInt64) -> Int {
            if let id = inodeToFile[inode] { return id }
            files.append(File())
            inodeToFile[inode] = files.count - 1
            return files.count - 1
        }
        for (index, op) in trace.ops.enumerated() {
            var touched: Int?
            switch op.operation {
            case .create(let path, let inode):
                let name = trace.name(path)
                if current[name] == nil {
                    // O_CREAT on a missing name always makes a new inode (its number may be a reused one).
                    files.append(File())
                    inodeToFile[inode] = files.count - 1
                    current[name] = files.count - 1
                    names.append((index, .link(name, files.count - 1)))
                }
            case .write(_, let inode, let offset, let bytes):
                touched = file(inode)
                files[touched!].data.append((index, .write(offset: offset, bytes: bytes)))
            case .truncate(_, let inode, let length):
                touched = file(inode)
                files[touched!].data.append((index, .truncate(length)))
            case .sync(_, let inode):
                touched = file(inode)
                files[touched!].syncs.append(index)
            case .rename(let from, let to):
                let source = trace.name(from), destination = trace.name(to)
                current[destination] = current[source]
                current[source] = nil
                names.append((index, .rename(source, destination)))
            case .unlink(let path):
                let name = trace.name(path)
                current[name] = nil
                names.append((index, .unlink(name)))
            case .mkdir:
                break
            case .syncDirectory:
                directorySyncs.append(index)
            }
            fileOfOp.append(touched)
        }
    }

    /// Index of the last sync in `syncs` that happened before crash point `k` (ops 0..<k applied), or -1.
    static func lastSync(_ syncs: [Int], before k: Int) -> Int {
        syncs.last(where: { $0 < k }) ?? -1
    }
}

/// How the unsynced part of a crash state is chosen.
enum CrashVariant: CustomStringConvertible {
    /// Only what fsync / directory fsync made durable.
    case durableOnly
    /// Everything that reached the page cache.
    case everything
    /// Seeded random choice: a prefix of the directory changes, for each file
    /// each unsynced write kept, dropped or torn at 512-byte sectors, maybe zeroed pages.
    case random(seed: UInt64, inOrderPrefix: Bool, zeroPages: Bool)

    var description: String {
        switch self {
        case .durableOnly: "durable only"
        case .everything: "all writes reached disk"
        case .random(let seed, let prefix, let zero):
            "random seed \(seed)\(prefix ? " in-order prefix" : " subset")\(zero ? " + zeroed pages" : "")"
        }
    }
}

extension FileSystemModel {
    /// The directory's files (name -> bytes) after a crash at point `k`, plus notes on what was dropped or torn.
    func state(at k: Int, _ variant: CrashVariant) -> (files: [String: [UInt8]], notes: [String]) {
        var generator: SeededGenerator
        var notes: [String] = []
        switch variant {
        case .random(let seed, _, _): generator = SeededGenerator(seed: seed)
        default: generator = SeededGenerator(seed: 0)
        }
        // Directory: durable changes, then a prefix of the pending ones.
        let durableDirectory = Self.lastSync(directorySyncs, before: k)
        var current = initialNames
        let applied = names.filter { $0.op < k }
        let pending = applied.filter { $0.op > durableDirectory }
        let keepPending: Int = switch variant {
        case .durableOnly: 0
        case .everything: pending.count
        case .random: pending.isEmpty ? 0 : generator.int(0...pending.count)
        }
        if keepPending < pending.count {
            notes.append("directory: \(pending.count - keepPending) of \(pending.count) unsynced name changes lost")
        }
        for (position, entry) in applied.enumerated() {
            if entry.op > durableDirectory, position - (applied.count - pending.count) >= keepPending { break }
            switch entry.change {
            case .link(let name, let id): current[name] = id
            case .rename(let from, let to):
                current[to] = current[from]
                current[from] = nil
            case .unlink(let name): current[name] = nil
            }
        }
        var result: [String: [UInt8]] = [:]
        for (name, id) in current.sorted(by: { $0.key < $1.key }) {
            let file = files[id]
            let durable = Self.lastSync(file.syncs, before: k)
            var bytes = file.initial
            var pendingRanges: [Range<Int>] = []
            let ops = file.data.filter { $0.op < k }
            let unsynced = ops.filter { $0.op > durable }
            var prefixCount = unsynced.count
            if case .random(_, true, _) = variant, !unsynced.isEmpty { prefixCount = generator.int(0...unsynced.count) }
            var dropped = 0, torn = 0, unsyncedSeen = 0
            var syncedLength = bytes.count
            for entry in ops {
                if entry.op > durable, unsyncedSeen == 0 { syncedLength = bytes.count }
                var mode = 0 // 0 apply, 1 drop, 2 tear
                if entry.op > durable {
                    unsyncedSeen += 1
                    switch variant {
                    case .durableOnly: mode = 1
                    case .everything: mode = 0
                    case .random(_, let inOrder, _):
                        if inOrder {
                            mode = unsyncedSeen <= prefixCount ? 0 : (unsyncedSeen == prefixCount + 1 && generator.chance(1, in: 2) ? 2 : 1)
                        } else {
                            let roll = generator.int(0...3)
                            mode = roll <= 1 ? 0 : roll == 2 ? 1 : 2
                        }
                    }
                }
                switch entry.change {
                case .truncate(let length):
                    if mode == 1 { dropped += 1; continue }
                    if bytes.count > length { bytes.removeLast(bytes.count - length) } else { bytes += [UInt8](repeating: 0, count: length - bytes.count) }
                case .write(let offset, let data):
                    if entry.op > durable { pendingRanges.append(offset..<offset + data.count) }
                    if mode == 1 { dropped += 1; continue }
                    var pieces: [Range<Int>] = [offset..<offset + data.count]
                    var end = offset + data.count
                    if mode == 2 {
                        torn += 1
                        pieces = []
                        var start = offset
                        while start < offset + data.count {
                            let next = min(offset + data.count, (start / 512 + 1) * 512)
                            if generator.chance(1, in: 2) { pieces.append(start..<next) }
                            start = next
                        }
                        // The size may or may not have reached the end of the write.
                        if generator.chance(1, in: 2) { end = pieces.last?.upperBound ?? bytes.count }
                    }
                    if bytes.count < end { bytes += [UInt8](repeating: 0, count: end - bytes.count) }
                    for piece in pieces {
                        bytes.replaceSubrange(piece, with: data[(piece.lowerBound - offset)..<(piece.upperBound - offset)])
                    }
                }
            }
            if ops.allSatisfy({ $0.op < durable }) { syncedLength = bytes.count }
            if case .random(_, _, true) = variant {
                // Only bytes past the synced length: a page with synced bytes comes back with them.
                var zeroed = 0
                let pages = Set(pendingRanges.flatMap { range in stride(from: range.lowerBound / 4096, through: (range.upperBound - 1) / 4096, by: 1) })
                for page in pages.sorted() where page * 4096 + 4096 > syncedLength && page * 4096 < bytes.count && generator.chance(1, in: 3) {
                    let range = max(syncedLength, page * 4096)..<min(bytes.count, page * 4096 + 4096)
                    bytes.replaceSubrange(range, with: [UInt8](repeating: 0, count: range.count))
                    zeroed += 1
                }
                if zeroed > 0 { notes.append("\(name): \(zeroed) unsynced page(s) zeroed") }
            }
            if dropped > 0 || torn > 0 {
                notes.append("\(name): of \(unsynced.count) unsynced writes/truncates \(dropped) dropped, \(torn) torn")
            }
            result[name] = bytes
        }
        return (result, notes)
    }
}

// MARK: - Checking a crash state

struct CrashCheck {
    let trace: CrashTrace
    let model: FileSystemModel
    /// Per key: the values it had, oldest first; entry 0 is "absent" before any write.
    let history: [String: [(write: Int, value: Tensor?)]]
    /// Per write: the model files its segment records went to and the last op writing each.
    let segmentWrites: [[Int: Int]]

    init(trace: CrashTrace) {
        self.trace = trace
        model = FileSystemModel(trace)
        var history: [String: [(write: Int, value: Tensor?)]] = [:]
        for write in trace.writes {
            for effect in write.effects {
                history[effect.key, default: [(-1, nil)]].append((write.index, effect.value))
            }
        }
        self.history = history
        var segmentWrites: [[Int: Int]] = []
        for write in trace.writes {
            var last: [Int: Int] = [:]
            for index in write.beginOp..<write.ackOp {
                let op = trace.ops[index]
                guard op.workloadThread, case .write(let path, _, _, _) = op.operation, path.hasSuffix(".seg"),
                      let file = model.fileOfOp[index] else { continue }
                last[file] = index
            }
            segmentWrites.append(last)
        }
        self.segmentWrites = segmentWrites
    }

    /// True once the write returned and an fsync of each segment it wrote to, after its records, happened before `k`.
    func promised(_ write: CrashTrace.Write, at k: Int) -> Bool {
        guard write.ackOp <= k else { return false }
        let files = segmentWrites[write.index]
        guard !files.isEmpty else { return false }
        return files.allSatisfy { file, lastWrite in
            model.files[file].syncs.contains { $0 > lastWrite && $0 < k }
        }
    }

    /// Opens the materialised store at `directory` (read-only first, then as a writer) and checks it.
    func check(directory: String, crashPoint k: Int, options base: StoreOptions, hasManifest: Bool) -> [String] {
        var violations: [String] = []
        for readOnly in [true, false] {
            let mode = readOnly ? "read-only" : "writable"
            var options = base
            options.readOnly = readOnly
            options.create = true
            options.durability = .none
            options.autoCompactDeadFraction = nil
            let store: TensorStore
            do {
                store = try TensorStore.open(at: directory, options: options)
            } catch {
                let nothingPromised = !trace.writes.contains { promised($0, at: k) }
                if readOnly, !hasManifest, nothingPromised, error.code == .notFound { continue }
                violations.append("(e) \(mode) open failed on a pure crash state: \(error)")
                continue
            }
            let report = store.verify()
            for problem in report.problems.prefix(3) {
                violations.append("(d) \(mode) open then verify() reports: \(problem)")
            }
            violations += checkContents(store, at: k, mode: mode)
            if !readOnly { try? store.close() }
        }
        return violations
    }

    func checkContents(_ store: TensorStore, at k: Int, mode: String) -> [String] {
        var violations: [String] = []
        let snapshot = store.snapshot()
        for key in snapshot.keys() where history[key] == nil {
            violations.append("(b) \(mode): key '\(key)' was never written")
        }
        // The version index each key shows (candidates that match), for the batch check.
        var matched: [String: [Int]] = [:]
        for (key, versions) in history.sorted(by: { $0.key < $1.key }) {
            let observed: Tensor?
            do {
                observed = try snapshot.read(key)
            } catch where error.code == .notFound {
                observed = nil
            } catch {
                violations.append("(e) \(mode): reading '\(key)' failed: \(error)")
                continue
            }
            var low = 0, high = 0
            for (position, version) in versions.enumerated() where version.write >= 0 {
                let write = trace.writes[version.write]
                if promised(write, at: k) { low = position }
                if write.beginOp < k { high = position }
            }
            let matches = versions.indices.filter { position in
                let value = versions[position].value
                guard let value, let observed else { return value == nil && observed == nil }
                return value.dtype == observed.dtype && value.shape == observed.shape && value.bytes == observed.bytes
            }
            let allowed = matches.filter { $0 >= low && $0 <= high }
            matched[key] = allowed
            if allowed.isEmpty {
                let shown = observed.map { "\($0.dtype) \($0.shape)" } ?? "absent"
                let promisedWrite = versions[low].write >= 0 ? trace.writes[versions[low].write].label : "none"
                if let older = matches.last, older < low {
                    violations.append("(a) \(mode): '\(key)' shows the value of write #\(versions[older].write) (\(older == 0 ? "absent" : trace.writes[versions[older].write].label)), older than promised write \(promisedWrite)")
                } else if !matches.isEmpty {
                    violations.append("(b) \(mode): '\(key)' shows the value of a write not yet started (\(shown))")
                } else {
                    violations.append("(b) \(mode): '\(key)' shows a value it never had (\(shown)); promised: \(promisedWrite)")
                }
            }
        }
        // Batches: all or nothing.
        for write in trace.writes where write.isBatch && write.beginOp < k {
            var visible: [String] = [], missing: [String] = []
            for effect in write.effects {
                guard let versions = history[effect.key], let allowed = matched[effect.key], !allowed.isEmpty,
                      let position = versions.firstIndex(where: { $0.write == write.index }) else { continue }
                if allowed == [position] { visible.append(effect.key) }
                if allowed.allSatisfy({ $0 < position }) { missing.append(effect.key) }
            }
            if !visible.isEmpty, !missing.isEmpty {
                violations.append("(c) \(mode): batch \(write.label) half visible: \(visible) present, \(missing) missing")
            }
        }
        return violations
    }
}

// MARK: - Workloads

/// A deterministic value for write number `tag`: `count` float32s, distinct per tag.
func taggedTensor(_ tag: Int, rows: Int, columns: Int = 16) -> Tensor {
    try! Tensor((0..<(rows * columns)).map { Float(tag * 100_000 + $0) }, shape: [rows, columns])
}

enum CrashWorkload: String, CaseIterable {
    case everyWrite, groupCommit, none, autoCompaction

    var durability: Durability {
        switch self {
        case .everyWrite: .everyWrite
        case .groupCommit: .groupCommit(bytes: 6000, milliseconds: 3_600_000)
        case .none, .autoCompaction: .none
        }
    }

    var options: StoreOptions {
        var options = StoreOptions()
        options.segmentSize = 8 << 10
        options.durability = durability
        options.autoCompactDeadFraction = self == .autoCompaction ? 0.2 : nil
        return options
    }

    /// Runs the workload on a store created in `directory`, recording every write in `trace`.
    func run(_ trace: CrashTrace, writes count: Int) throws {
        let store = try TensorStore.open(at: trace.directory, options: options)
        let modeName = "\(self)"
        var current: [String: Tensor] = [:]
        var tag = 0
        func waitForCompaction() {
            while store.autoCompactionRunning.load(ordering: .acquiring) { usleep(1000) }
        }
        func put(_ key: String, _ tensor: Tensor, options: WriteOptions = .init()) throws {
            tag += 1
            current[key] = tensor
            try trace.write("put \(key) #\(tag)", durability: modeName, effects: [(key, tensor)]) {
                try store.put(key, tensor, options: options)
            }
            waitForCompaction()
        }
        func append(_ key: String, rows: Int) throws {
            tag += 1
            let added = taggedTensor(tag, rows: rows)
            var grown = current[key]!
            grown.shape[0] += rows
            grown.bytes += added.bytes
            current[key] = grown
            try trace.write("append \(key) #\(tag)", durability: modeName, effects: [(key, grown)]) {
                try added.bytes.withUnsafeBytes { try store.append(key, dtype: .float32, shape: added.shape, bytes: $0) }
            }
            waitForCompaction()
        }
        func delete(_ key: String) throws {
            tag += 1
            current[key] = nil
            try trace.write("delete \(key) #\(tag)", durability: modeName, effects: [(key, nil)]) { try store.delete(key) }
            waitForCompaction()
        }
        func batch(_ puts: [String], delete deleted: String?) throws {
            tag += 1
            var effects: [(key: String, value: Tensor?)] = []
            for (offset, key) in puts.enumerated() {
                let tensor = taggedTensor(tag * 10 + offset, rows: 3)
                current[key] = tensor
                effects.append((key, tensor))
            }
            if let deleted {
                current[deleted] = nil
                effects.append((deleted, nil))
            }
            try trace.write("batch #\(tag) \(effects.map(\.key))", durability: modeName, effects: effects, batch: true) {
                try store.write { batch in
                    for (key, value) in effects {
                        if let value { batch.put(key, value) } else { batch.delete(key) }
                    }
                }
            }
            waitForCompaction()
        }

        try put("zero", try Tensor([Float](repeating: 0, count: 1024), shape: [64, 16]))
        try put("a", taggedTensor(1, rows: 8))
        try append("a", rows: 2)
        try put("b", taggedTensor(2, rows: 20))
        try batch(["c", "d"], delete: nil)
        // Larger than a block: a multi-record atomic write.
        try put("big", taggedTensor(3, rows: 96), options: WriteOptions(blockBytes: 2048))
        try delete("b")
        for step in 0..<count {
            switch step % 9 {
            case 0, 3, 6: try put("k\(step % 4)", taggedTensor(1000 + step, rows: 4 + step % 7))
            case 1: try append("a", rows: 1 + step % 3)
            case 2: try batch(["c", "k\(step % 4)"], delete: step % 2 == 0 ? "d" : nil)
            case 4: try put("d", taggedTensor(2000 + step, rows: 5))
            case 5:
                if current["k1"] != nil { try delete("k1") } else { try put("k1", taggedTensor(3000 + step, rows: 2)) }
            case 7:
                if step % 18 == 7 { try store.sync() } else { try put("b", taggedTensor(4000 + step, rows: 6), options: WriteOptions(durability: .everyWrite)) }
            default:
                if step % 27 == 8 {
                    _ = try store.compact(CompactionOptions(deadFraction: 0.2))
                } else if step % 27 == 26 {
                    _ = try store.compact(CompactionOptions(full: true))
                } else {
                    try put("a", taggedTensor(5000 + step, rows: 3))
                }
            }
        }
        waitForCompaction()
        try store.close()
    }
}

// MARK: - Exploration

struct ExplorationResult {
    var statesTried = 0
    var violations: [String] = []
    var workloadOps = 0
    /// What the trace holds, e.g. "fsync seg 20, pwrite seg 60, ...".
    var traceSummary = ""
}

enum CrashExplorer {
    /// Records `workload`, then checks up to `budget` distinct crash states chosen with `seed`
    /// (`extraVariants` random variants per crash point besides "durable only" and "everything").
    static func explore(_ workload: CrashWorkload, writes: Int, budget: Int, extraVariants: Int, seed: UInt64) throws -> ExplorationResult {
        let temporary = TemporaryDirectory("explore\(workload.rawValue)")
        let source = temporary.path + "/source"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let trace = CrashTrace(directory: source)
        try trace.record { try workload.run(trace, writes: writes) }
        let checker = CrashCheck(trace: trace)
        var result = ExplorationResult(workloadOps: trace.ops.count)
        var counts: [String: Int] = [:]
        for index in trace.ops.indices {
            let text = trace.describe(index)
            let file = text.contains(".seg") ? " seg" : text.contains(".hint") ? " hint" : text.contains("MANIFEST") ? " manifest" : ""
            counts[String(text.split(separator: " ")[0]) + file, default: 0] += 1
        }
        result.traceSummary = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "; \(trace.writes.count) writes"
        // Every crash point with every variant, in a seeded order, until the budget is spent.
        var candidates: [(Int, CrashVariant)] = []
        var generator = SeededGenerator(seed: seed)
        for k in 0...trace.ops.count {
            candidates.append((k, .durableOnly))
            candidates.append((k, .everything))
            for variant in 0..<extraVariants {
                candidates.append((k, .random(seed: generator.next(), inOrderPrefix: variant % 2 == 1, zeroPages: variant % 3 == 2)))
            }
        }
        // Alternately a "durable only" / "everything" state and a random one, so a small budget samples both.
        let fixed = candidates.filter { if case .random = $0.1 { false } else { true } }.shuffled(using: &generator)
        let random = candidates.filter { if case .random = $0.1 { true } else { false } }.shuffled(using: &generator)
        var order: [(Int, CrashVariant)] = []
        for index in 0..<max(fixed.count, random.count) {
            if index < fixed.count { order.append(fixed[index]) }
            if index < random.count { order.append(random[index]) }
        }
        var seen = Set<Int>()
        let stateDirectory = temporary.path + "/state"
        for (k, variant) in order {
            if result.statesTried >= budget { break }
            let state = model(checker).state(at: k, variant)
            var hasher = Hasher()
            for (name, bytes) in state.files.sorted(by: { $0.key < $1.key }) {
                hasher.combine(name)
                hasher.combine(bytes)
            }
            hasher.combine(checker.trace.writes.filter { checker.promised($0, at: k) }.count)
            guard seen.insert(hasher.finalize()).inserted else { continue }
            result.statesTried += 1
            try? FileManager.default.removeItem(atPath: stateDirectory)
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            for (name, bytes) in state.files {
                FileManager.default.createFile(atPath: stateDirectory + "/" + name, contents: Data(bytes))
            }
            let found = checker.check(directory: stateDirectory, crashPoint: k, options: workload.options,
                                      hasManifest: state.files["MANIFEST"] != nil)
            if !found.isEmpty {
                let notes = state.notes.isEmpty ? "" : " [\(state.notes.joined(separator: "; "))]"
                let where_ = "workload \(workload.rawValue), crash after op \(k)/\(trace.ops.count) (\(trace.describe(k - 1))), \(variant)\(notes)"
                result.violations += found.map { "\(where_): \($0)" }
            }
        }
        return result
    }

    private static func model(_ checker: CrashCheck) -> FileSystemModel { checker.model }
}
