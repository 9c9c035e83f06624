/// When a write is on stable storage.
public enum Durability: Sendable, Equatable {
    /// The OS writes it back when it chooses: a crash may lose any write since the last fsync
    /// (open cuts the log back to the last whole record before the damage).
    case none
    /// fsync once `bytes` have been written or `milliseconds` have passed since the last fsync
    /// (checked on each write and at close): a crash loses at most the writes since the last
    /// fsync; most of the speed of `none`.
    case groupCommit(bytes: Int, milliseconds: Int)
    /// fsync before every write returns: a returned write survives any crash.
    case everyWrite
}

/// How payloads are encoded.
public enum Compression: Sendable, Equatable {
    case none
    case lz4
    /// Byte shuffle by element size, then LZ4 (what makes float data compress).
    case shuffleLZ4
    /// Try shuffle-LZ4; keep the raw bytes unless it saves at least 10%, so hot data stays zero-copy.
    case auto
}

/// Settings fixed when a store is opened.
public struct StoreOptions: Sendable {
    /// Create the store if the directory has none.
    public var create = true
    /// Open without writing: no lock, no recovery truncation; other processes may write.
    public var readOnly = false
    /// A segment is sealed once it reaches this size (a single record may exceed it).
    public var segmentSize = 256 << 20
    /// Default durability of writes.
    public var durability = Durability.groupCommit(bytes: 8 << 20, milliseconds: 100)
    /// Default compression of writes.
    public var compression = Compression.none
    /// Compaction runs by itself after a roll-over when a sealed segment's dead
    /// fraction reaches this (nil: only when `compact()` is called).
    public var autoCompactDeadFraction: Double? = 0.5

    public init() {}
}

/// Settings of one write.
public struct WriteOptions: Sendable {
    /// Overrides the store's durability for this write.
    public var durability: Durability?
    /// Overrides the store's compression for this write.
    public var compression: Compression?
    /// Target raw bytes per row block; nil picks the segment size for raw
    /// payloads and 4 MiB for compressed ones.
    public var blockBytes: Int?
    /// User metadata stored with the tensor.
    public var metadata: [String: String] = [:]

    public init(
        durability: Durability? = nil, compression: Compression? = nil, blockBytes: Int? = nil,
        metadata: [String: String] = [:]
    ) {
        self.durability = durability
        self.compression = compression
        self.blockBytes = blockBytes
        self.metadata = metadata
    }
}

/// Settings of one compaction.
public struct CompactionOptions: Sendable {
    /// Keep this many most recent versions of each key (at least 1).
    public var keepVersions = 1
    /// Compact every sealed segment (after sealing the active one), dropping
    /// tombstones, instead of only those past the dead-fraction threshold.
    public var full = false
    /// Segments whose dead fraction is at least this are compacted.
    public var deadFraction = 0.5

    public init(keepVersions: Int = 1, full: Bool = false, deadFraction: Double = 0.5) {
        self.keepVersions = keepVersions
        self.full = full
        self.deadFraction = deadFraction
    }
}
