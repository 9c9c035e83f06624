import TensorLogFormat

/// Rebuilds the index from record headers, in any order: the put or delete
/// with the highest sequence is a key's latest version (on equal sequences,
/// the copy in the newer segment, which compaction wrote); appends after it
/// are its further blocks; batch members count only if their commit exists.
///
/// Plain puts and deletes, by far the most records, go straight into the
/// final index with one hash lookup each; only appends and batch members are
/// held back until every record has been seen.
struct Replay {
    struct Item {
        let segment: Segment
        let offset: Int
        let header: RecordHeader
    }

    private var index: [String: KeyEntry] = [:]
    private var appends: [String: [Item]] = [:]
    private var pendingBatches: [UInt64: [Item]] = [:]
    private var commits: [UInt64: Item] = [:]
    private var maxSequence: UInt64 = 0

    /// One segment's records made ready for the index, off the critical path:
    /// plain puts and deletes already as index entries, the rest as items.
    struct Prepared: @unchecked Sendable {
        var entries: [(key: String, entry: KeyEntry)] = []
        var others: [Item] = []
        var maxSequence: UInt64 = 0
    }

    /// Adds one record of `segment` to a segment's preparation (safe to run
    /// for many segments on many threads at once).
    static func prepare(_ prepared: inout Prepared, _ segment: Segment, _ offset: Int, _ header: RecordHeader) {
        prepared.maxSequence = max(prepared.maxSequence, header.sequence)
        if (header.kind == .put || header.kind == .delete), !header.inBatch {
            let block = BlockRef(segment: segment, offset: offset, header: header)
            prepared.entries.append((header.key, KeyEntry(latest: TensorVersion(header: header, head: block))))
        } else {
            prepared.others.append(Item(segment: segment, offset: offset, header: header))
        }
    }

    /// Adds a prepared segment.
    mutating func add(_ prepared: consuming Prepared) {
        maxSequence = max(maxSequence, prepared.maxSequence)
        for (key, candidate) in prepared.entries {
            Self.update(&index[key]) { existing in
                if Self.isNewer(candidate.latest.sequence, in: candidate.latest.head.segment, than: existing) { existing = candidate }
            }
        }
        for item in prepared.others { add(item.segment, item.offset, item.header) }
    }

    /// Room for `count` more keys, so the table is not regrown while loading.
    mutating func reserve(_ count: Int) {
        index.reserveCapacity(index.count + count)
    }

    mutating func add(_ segment: Segment, _ offset: Int, _ header: RecordHeader) {
        maxSequence = max(maxSequence, header.sequence)
        if header.kind == .commit {
            commits[header.batchID] = Item(segment: segment, offset: offset, header: header)
        } else if header.inBatch {
            pendingBatches[header.batchID, default: []].append(Item(segment: segment, offset: offset, header: header))
        } else {
            apply(segment, offset, header)
        }
    }

    private mutating func apply(_ segment: Segment, _ offset: Int, _ header: RecordHeader) {
        switch header.kind {
        case .put, .delete:
            Self.update(&index[header.key]) { existing in
                if Self.isNewer(header.sequence, in: segment, than: existing) {
                    existing = KeyEntry(latest: TensorVersion(header: header, head: BlockRef(segment: segment, offset: offset, header: header)))
                }
            }
        case .append:
            appends[header.key, default: []].append(Item(segment: segment, offset: offset, header: header))
        case .commit:
            break
        }
    }

    /// Whether a put or delete with `sequence` in `segment` replaces `existing`: the newer
    /// sequence wins; on a tie (two copies of one record), the copy in the newer segment.
    private static func isNewer(_ sequence: UInt64, in segment: Segment, than existing: KeyEntry?) -> Bool {
        guard let current = existing?.latest else { return true }
        return (sequence, segment.id) > (current.sequence, current.head.segment.id)
    }

    private static func update<Value>(_ value: inout Value, _ body: (inout Value) -> Void) { body(&value) }

    consuming func finish(
        segments: [UInt64: Segment], active: Segment, manifest: Manifest, activeEntries: [HintFile.Entry],
        report: inout RecoveryReport
    ) throws(TensorLogError) -> RecoveredState {
        for (batchID, members) in pendingBatches {
            if commits[batchID] != nil {
                for member in members { apply(member.segment, member.offset, member.header) }
            } else {
                report.uncommittedRecords += members.count
            }
        }
        for (key, items) in appends {
            guard let entry = index[key], !entry.latest.isDeletion else { continue }
            try attach(items, to: &entry.latest, key: key)
        }
        // Live bytes and live batch members of what the index keeps.
        var liveBytes: [UInt64: Int] = [:]
        var batchLiveMembers: [UInt64: Int] = [:]
        for entry in index.values {
            entry.countLatest(liveBytes: &liveBytes, batchMembers: &batchLiveMembers)
        }
        var commitRecords: [UInt64: TensorStore.CommitRef] = [:]
        for (batchID, item) in commits where batchLiveMembers[batchID] != nil {
            commitRecords[batchID] = TensorStore.CommitRef(segment: item.segment, offset: item.offset, recordLength: item.header.recordLength)
            liveBytes[item.segment.id, default: 0] += item.header.recordLength
        }
        for (id, bytes) in liveBytes { segments[id]?.liveBytes += bytes }
        return RecoveredState(
            index: index, segments: segments, lastSequence: max(maxSequence, manifest.sequenceFloor),
            batchLiveMembers: batchLiveMembers, commitRecords: commitRecords, active: active,
            manifest: manifest, activeEntries: activeEntries)
    }

    /// Adds the appended blocks that belong to `version` (those after its put), in row order.
    private func attach(_ items: [Item], to version: inout TensorVersion, key: String) throws(TensorLogError) {
        // Newest copy first, so that of two copies of a block (equal sequences) compaction's is kept.
        var blocks = items.filter { $0.header.sequence > version.sequence }
        blocks.sort { ($0.header.sequence, $0.segment.id) > ($1.header.sequence, $1.segment.id) }
        var seen = Set<UInt64>()
        blocks = blocks.filter { seen.insert($0.header.sequence).inserted }.reversed()
        var rows = version.head.rows
        for block in blocks {
            guard version.rank > 0, block.header.rowStart == UInt64(rows), block.header.dtype == version.dtype,
                  Array(block.header.shape.dropFirst()) == version.innerShape
            else {
                throw .corruption(
                    "block of '\(key)' (seq \(block.header.sequence)) starts at row \(block.header.rowStart) but the tensor has \(rows) rows before it",
                    segment: block.segment.id, offset: block.offset)
            }
            rows += block.header.shape[0]
            version.moreBlocks.append(BlockRef(segment: block.segment, offset: block.offset, header: block.header))
        }
    }
}
