import TensorLogFormat

/// Rebuilds the index from record headers, in any order: the put or delete
/// with the highest sequence is a key's latest version (on equal sequences,
/// the copy in the newer segment, which compaction wrote); appends after it
/// are its further blocks; batch members count only if their commit exists.
struct Replay {
    struct Item {
        let segment: Segment
        let offset: Int
        let header: RecordHeader

        /// Newer sequence first; on a tie, the copy in the newer segment.
        func supersedes(_ other: Item) -> Bool {
            (header.sequence, segment.id) > (other.header.sequence, other.segment.id)
        }
    }

    private struct KeyState {
        var head: Item
        var appends: [Item] = []
    }

    private var keys: [String: KeyState] = [:]
    private var orphanAppends: [String: [Item]] = [:]
    private var pendingBatches: [UInt64: [Item]] = [:]
    private var commits: [UInt64: Item] = [:]
    private var maxSequence: UInt64 = 0

    mutating func add(_ segment: Segment, _ offset: Int, _ header: RecordHeader) {
        maxSequence = max(maxSequence, header.sequence)
        let item = Item(segment: segment, offset: offset, header: header)
        if header.kind == .commit {
            commits[header.batchID] = item
        } else if header.inBatch {
            pendingBatches[header.batchID, default: []].append(item)
        } else {
            apply(item)
        }
    }

    private mutating func apply(_ item: Item) {
        let key = item.header.key
        switch item.header.kind {
        case .put, .delete:
            if var state = keys[key] {
                if item.supersedes(state.head) { state.head = item }
                keys[key] = state
            } else {
                keys[key] = KeyState(head: item, appends: orphanAppends.removeValue(forKey: key) ?? [])
            }
        case .append:
            if keys[key] != nil {
                keys[key]!.appends.append(item)
            } else {
                orphanAppends[key, default: []].append(item)
            }
        case .commit:
            break
        }
    }

    consuming func finish(
        segments: [UInt64: Segment], active: Segment, manifest: Manifest, activeEntries: [HintFile.Entry],
        report: inout RecoveryReport
    ) throws(TensorLogError) -> RecoveredState {
        for (batchID, items) in pendingBatches {
            if commits[batchID] != nil {
                for item in items { apply(item) }
            } else {
                report.uncommittedRecords += items.count
            }
        }
        var index: [String: KeyEntry] = [:]
        index.reserveCapacity(keys.count)
        var batchLiveMembers: [UInt64: Int] = [:]
        for (key, state) in keys {
            let head = state.head
            var version = TensorVersion(header: head.header, head: BlockRef(segment: head.segment, offset: head.offset, header: head.header))
            if head.header.kind == .put, !state.appends.isEmpty {
                // Blocks of the latest version, in row order; equal sequences are copies of one block.
                var blocks = state.appends.filter { $0.header.sequence > head.header.sequence }
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
            version.forEachRecord { block in
                block.segment.liveBytes += block.recordLength
                if block.batchID != 0 { batchLiveMembers[block.batchID, default: 0] += 1 }
            }
            index[key] = KeyEntry(latest: version)
        }
        var commitRecords: [UInt64: TensorStore.CommitRef] = [:]
        for (batchID, item) in commits where batchLiveMembers[batchID] != nil {
            commitRecords[batchID] = TensorStore.CommitRef(segment: item.segment, offset: item.offset, recordLength: item.header.recordLength)
            item.segment.liveBytes += item.header.recordLength
        }
        return RecoveredState(
            index: index, segments: segments, lastSequence: max(maxSequence, manifest.sequenceFloor),
            batchLiveMembers: batchLiveMembers, commitRecords: commitRecords, active: active,
            manifest: manifest, activeEntries: activeEntries)
    }
}
