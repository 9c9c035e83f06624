import Dispatch
import Synchronization
import TensorLogCompression
import TensorLogFormat
import TensorLogSystem

/// A store of tensors: an append-only log of segment files in one directory,
/// read zero-copy through memory mappings.
///
/// Thread safety: every method may be called from any thread or task. Writes
/// (put, append, delete, batches, compaction's switch) are serialized by the
/// writer lock; readers look the index up under a shared lock that writers
/// take only to publish, and then read mapped bytes with no lock at all.
///
/// One process at a time may open a store for writing (a lock file enforces
/// it); any number may open it read-only alongside.
public final class TensorStore: @unchecked Sendable {
    public let directory: String
    public let options: StoreOptions
    /// What open found and repaired.
    public let recovery: RecoveryReport

    // Guarded by `stateLock` (read: shared; write: writer lock held too).
    var index: [String: KeyEntry]
    var segments: [UInt64: Segment]
    var lastSequence: UInt64
    var snapshotPins: [UInt64: Int] = [:]
    /// Keys whose entry keeps superseded versions for open snapshots (pruned when a snapshot goes).
    var keysWithOlderVersions: Set<String> = []
    /// Live members of each batch that still needs its commit record, and where that commit is.
    var batchLiveMembers: [UInt64: Int]
    var commitRecords: [UInt64: CommitRef]

    // Guarded by `writerLock`.
    var active: Segment
    /// Where the next record goes in the active segment (published to `active.length` with the index).
    var appendOffset: Int
    var manifest: Manifest
    /// Headers of the records in the active segment, for its hint file.
    var activeEntries: [HintFile.Entry]
    var unsyncedBytes = 0
    var lastSync = ContinuousClock.now
    /// Set when a write failed in a way that leaves the file state unknown (fsync failure); writes stop.
    var writerFailure: TensorLogError?
    var isClosed = false
    /// Where a write encodes its small records before writing them out together (see `RecordBuffer`).
    let recordBuffer = RecordBuffer()

    let stateLock = ReadWriteLock()
    let writerLock = Lock()
    /// Serializes compactions.
    let compactionLock = Lock()
    let autoCompactionRunning = Atomic<Bool>(false)
    /// Entered while an automatic compaction's thread runs; `close` waits for it.
    let autoCompactions = DispatchGroup()
    /// The next unused segment id (roll-over and compaction both take ids from it), under `segmentIDLock`.
    var nextFreeSegmentID: UInt64
    let segmentIDLock = Lock()
    let lockFile: SystemFile?
    /// The SYNCED file (writers only): rewritten after every fsync of the active segment.
    let syncedFile: SystemFile?

    struct CommitRef {
        let segment: Segment
        let offset: Int
        let recordLength: Int
    }

    init(
        directory: String, options: StoreOptions, recovery: RecoveryReport, lockFile: consuming SystemFile?,
        syncedFile: consuming SystemFile?, state: RecoveredState
    ) {
        self.syncedFile = syncedFile
        self.directory = directory
        self.options = options
        self.recovery = recovery
        self.lockFile = lockFile
        self.index = state.index
        self.segments = state.segments
        self.lastSequence = state.lastSequence
        self.batchLiveMembers = state.batchLiveMembers
        self.commitRecords = state.commitRecords
        self.active = state.active
        self.appendOffset = state.active.length
        self.nextFreeSegmentID = state.manifest.nextSegmentID
        self.manifest = state.manifest
        self.activeEntries = state.activeEntries
    }

    deinit {
        if !options.readOnly, !isClosed, writerFailure == nil, (try? syncActive(markDurably: true)) != nil { writeActivePrefixHint() }
    }

    // MARK: Writing

    /// Stores `bytes` as a new version of `key`, written straight from the
    /// caller's buffer (no copy unless compressed). Tensors larger than a
    /// block are split into row blocks written as one atomic batch.
    /// Returns the write's sequence number.
    @discardableResult
    public func put(
        _ key: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, options writeOptions: WriteOptions = .init()
    ) throws(TensorLogError) -> UInt64 {
        try checkKey(key)
        try checkShape(dtype: dtype, shape: shape, byteCount: bytes.count)
        let records = try encodeTensor(key: key, kind: .put, dtype: dtype, shape: shape, rowStart: 0, bytes: bytes, options: writeOptions)
        return try write(records, atomic: records.count > 1, durability: writeOptions.durability)
    }

    /// Stores an owned tensor as a new version of `key`.
    @discardableResult
    public func put(_ key: String, _ tensor: Tensor, options writeOptions: WriteOptions = .init()) throws(TensorLogError) -> UInt64 {
        var merged = writeOptions
        merged.metadata.merge(tensor.metadata) { mine, _ in mine }
        return try tensor.bytes.withBytes { (buffer) throws(TensorLogError) in
            try put(key, dtype: tensor.dtype, shape: tensor.shape, bytes: buffer, options: merged)
        }
    }

    /// Stores typed values as a new version of `key`.
    @discardableResult
    public func put<T: TensorElement>(_ key: String, _ values: [T], shape: [Int]? = nil, options writeOptions: WriteOptions = .init()) throws(TensorLogError) -> UInt64 {
        try values.withBytes { (buffer) throws(TensorLogError) in
            try put(key, dtype: T.dtype, shape: shape ?? [values.count], bytes: buffer, options: writeOptions)
        }
    }

    /// Appends rows along axis 0 to the latest version of `key` (which must
    /// exist, have rank >= 1, the same dtype and the same shape past axis 0).
    /// Readers whose snapshot is older do not see the new rows.
    @discardableResult
    public func append(
        _ key: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, options writeOptions: WriteOptions = .init()
    ) throws(TensorLogError) -> UInt64 {
        try checkKey(key)
        try checkShape(dtype: dtype, shape: shape, byteCount: bytes.count)
        guard !shape.isEmpty else { throw .invalid("appended rows need rank >= 1") }
        guard writeOptions.metadata.isEmpty else {
            throw .invalid("metadata belongs to a tensor's put; appended rows cannot carry it")
        }
        // The row offset and shape check are repeated under the writer lock, where they are final.
        let records = try encodeTensor(key: key, kind: .append, dtype: dtype, shape: shape, rowStart: 0, bytes: bytes, options: writeOptions)
        return try write(records, atomic: records.count > 1, durability: writeOptions.durability)
    }

    @discardableResult
    public func append<T: TensorElement>(_ key: String, _ values: [T], shape: [Int], options writeOptions: WriteOptions = .init()) throws(TensorLogError) -> UInt64 {
        try values.withBytes { (buffer) throws(TensorLogError) in
            try append(key, dtype: T.dtype, shape: shape, bytes: buffer, options: writeOptions)
        }
    }

    /// Deletes `key` (writes a tombstone). Deleting a missing key is an error.
    @discardableResult
    public func delete(_ key: String, options writeOptions: WriteOptions = .init()) throws(TensorLogError) -> UInt64 {
        try checkKey(key)
        let record = PendingRecord(header: RecordHeader(kind: .delete, sequence: 0, key: key), payload: .none)
        return try write([record], atomic: false, durability: writeOptions.durability)
    }

    /// Runs `build` to collect puts and deletes, then writes them so that
    /// after a crash either all of them or none are in the store.
    @discardableResult
    public func write(options writeOptions: WriteOptions = .init(), _ build: (inout Batch) throws -> Void) throws -> UInt64 {
        var batch = Batch()
        try build(&batch)
        guard !batch.operations.isEmpty else { throw TensorLogError.invalid("empty batch") }
        var records: [PendingRecord] = []
        for operation in batch.operations {
            switch operation {
            case .put(let key, let tensor, let options):
                try checkKey(key)
                var merged = options
                merged.metadata.merge(tensor.metadata) { mine, _ in mine }
                records += try tensor.bytes.withBytes { (buffer) throws(TensorLogError) in
                    // The pointer is not valid past this closure: payloads that point into it are kept as
                    // ranges of the (immutable, retained) array instead, which costs no copy.
                    try encodeTensor(key: key, kind: .put, dtype: tensor.dtype, shape: tensor.shape, rowStart: 0, bytes: buffer, options: merged)
                        .map { $0.retaining(tensor.bytes, pointedToBy: buffer) }
                }
            case .delete(let key):
                try checkKey(key)
                records.append(PendingRecord(header: RecordHeader(kind: .delete, sequence: 0, key: key), payload: .none))
            }
        }
        return try write(records, atomic: true, durability: writeOptions.durability)
    }

    /// Flushes every write so far to stable storage.
    public func sync() throws(TensorLogError) {
        try writerLock.withLock { () throws(TensorLogError) in
            try checkWritable()
            try syncActive(markDurably: true)
        }
    }

    /// Syncs and closes the writer; reads through existing snapshots keep working.
    /// A compaction in progress (automatic or not) finishes first.
    public func close() throws(TensorLogError) {
        // compactionLock before writerLock, the order compact() takes them: a running compaction ends first.
        try compactionLock.withLock { () throws(TensorLogError) in
            try writerLock.withLock { () throws(TensorLogError) in
                guard !isClosed else { return }
                isClosed = true
                defer { lockFile?.unlock() }
                if !options.readOnly, writerFailure == nil {
                    try syncActive(markDurably: true)
                    writeActivePrefixHint()
                }
            }
        }
        // An automatic compaction scheduled but not yet started finds the store closed and returns: wait for its thread.
        autoCompactions.wait()
    }

    // MARK: Reading

    /// A consistent view of the store at its latest sequence. Holding it keeps
    /// the versions and segments it can see alive; drop it when done.
    public func snapshot() -> Snapshot {
        let sequence = stateLock.withWriteLock {
            snapshotPins[lastSequence, default: 0] += 1
            return lastSequence
        }
        return Snapshot(store: self, sequence: sequence)
    }

    /// Runs `body` with a snapshot of the store's current state.
    public func read<R>(_ body: (Snapshot) throws -> R) rethrows -> R {
        let snapshot = snapshot()
        return try body(snapshot)
    }

    func unpin(_ sequence: UInt64) {
        stateLock.withWriteLock {
            if let count = snapshotPins[sequence], count > 1 {
                snapshotPins[sequence] = count - 1
            } else {
                snapshotPins[sequence] = nil
                // The versions only this snapshot read go now, not at the key's next write: so do the
                // files of segments compaction retired that they alone kept.
                for key in keysWithOlderVersions {
                    if let entry = index[key] { pruneOlder(entry, key: key) } else { keysWithOlderVersions.remove(key) }
                }
            }
        }
    }

    /// The sequence number of the latest write.
    public var sequence: UInt64 { stateLock.withReadLock { lastSequence } }
}

/// Operations collected for an atomic batch.
public struct Batch: Sendable {
    enum Operation: Sendable {
        case put(String, Tensor, WriteOptions)
        case delete(String)
    }

    var operations: [Operation] = []

    public mutating func put(_ key: String, _ tensor: Tensor, options: WriteOptions = .init()) {
        operations.append(.put(key, tensor, options))
    }

    public mutating func put<T: TensorElement>(_ key: String, _ values: [T], shape: [Int]? = nil, options: WriteOptions = .init()) throws {
        operations.append(.put(key, try Tensor(values, shape: shape), options))
    }

    public mutating func delete(_ key: String) {
        operations.append(.delete(key))
    }
}
