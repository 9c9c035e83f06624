import TensorLogFormat

/// One segment as the index accounts for it.
public struct SegmentStatistics: Sendable, Equatable {
    public let id: UInt64
    public let bytes: Int
    public let liveBytes: Int
    public let deadBytes: Int
    public let sealed: Bool
}

/// What an operator asks first: how much is stored, how much is garbage.
public struct StoreStatistics: Sendable, Equatable {
    public let keys: Int
    public let sequence: UInt64
    public let segments: [SegmentStatistics]
    /// Stored (possibly compressed) and raw bytes of the latest versions.
    public let storedBytes: Int
    public let rawBytes: Int
    /// Dead bytes in sealed segments (what compaction can reclaim now).
    public var sealedDeadBytes: Int { segments.filter(\.sealed).reduce(0) { $0 + $1.deadBytes } }
    public var totalBytes: Int { segments.reduce(0) { $0 + $1.bytes } }
    /// Raw / stored bytes of the live data.
    public var compressionRatio: Double { storedBytes > 0 ? Double(rawBytes) / Double(storedBytes) : 1 }
    /// Whether some sealed segment's dead fraction reaches the store's compaction threshold.
    public let compactionDue: Bool
}

extension TensorStore {
    public func statistics() -> StoreStatistics {
        stateLock.withReadLock {
            var stored = 0, raw = 0, keys = 0
            for entry in index.values where !entry.latest.isDeletion {
                keys += 1
                entry.latest.forEachRecord { block in
                    stored += block.storedSize
                    raw += block.rawSize
                }
            }
            let threshold = options.autoCompactDeadFraction ?? 0.5
            let list = segments.values.sorted { $0.id < $1.id }.map {
                SegmentStatistics(id: $0.id, bytes: $0.length, liveBytes: $0.liveBytes, deadBytes: $0.deadBytes, sealed: $0.sealed)
            }
            let due = segments.values.contains { $0.sealed && $0.deadFraction >= threshold }
            return StoreStatistics(
                keys: keys, sequence: lastSequence, segments: list, storedBytes: stored, rawBytes: raw, compactionDue: due)
        }
    }
}
