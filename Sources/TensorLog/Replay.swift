import TensorLogFormat

/// Rebuilds the index from record headers, in any order: the put or delete
/// with the highest sequence is a key's latest version (on equal sequences,
/// the copy in the newer segment, which compaction wrote); appends after it
/// are its further blocks; batch members count only if their commit exists.
///
/// Headers are kept once, in `items`; the per-key table holds only indices,
/// so loading a million keys moves small values, not headers.
struct Replay {
    struct Item {
        let segment: Segment
        let offset: Int
        let header: RecordHeader
    }

    private struct KeyState {
        var head: Int
        var appends: [Int] = []
    }

    private var items: [Item] = []
    private var keys: [String: KeyState] = [:]
    private var orphanAppends: [String: [Int]] = [:]
    private var pendingBatches: [UInt64: [Int]] = [:]
    private var commits: [UInt64: Int] = [:]
    private var maxSequence: UInt64 = 0

    /// Room for `count` more records, so tables are not regrown while loading.
    mutating func reserve(_ count: Int) {
        items.reserveCapacity(items.count + count)
        keys.reserveCapacity(keys.count + count)
    }

    mutating func add(_ segment: Segment, _ offset: Int, _ header: RecordHeader) {
        maxSequence = max(maxSequence, header.sequence)
        let position = items.count
        items.append(Item(segment: segment, offset: offset, header: header))
        if header.kind == .commit {
            commits[header.batchID] = position
        } else if header.inBatch {
            pendingBatches[header.batchID, default: []].append(position)
        } else {
            apply(position)
        }
    }

    private mutating func apply(_ position: Int) {
        let key = items[position].header.key
        switch items[position].header.kind {
        case .put, .delete:
            // One hash lookup, updated in place; head -1 marks a key seen for the first time.
            let orphans = orphanAppends.isEmpty ? nil : orphanAppends.removeValue(forKey: key)
            let items = self.items
            Self.update(&keys[key, default: KeyState(head: -1)]) { state in
                if state.head < 0 {
                    state.head = position
                    state.appends = orphans ?? []
                } else if Self.supersedes(items[position], items[state.head]) {
                    state.head = position
                }
            }
        case .append:
            if let slot = keys.index(forKey: key) {
                keys.values[slot].appends.append(position)
            } else {
                orphanAppends[key, default: []].append(position)
            }
        case .commit:
            break
        }
    }

    private static func update(_ state: inout KeyState, _ body: (inout KeyState) -> Void) { body(&state) }

    /// Newer sequence first; on a tie, the copy in the newer segment.
    private static func supersedes(_ candidate: Item, _ current: Item) -> Bool {
        (candidate.header.sequence, candidate.segment.id) > (current.header.sequence, current.segment.id)
    }

    consuming func finish(
        segments: [UInt64: Segment], active: Segment, manifest: Manifest, activeEntries: [HintFile.Entry],
        report: inout RecoveryReport
    ) throws(TensorLogError) -> RecoveredState {
        for (batchID, members) in pendingBatches {
            if commits[batchID] != nil {
                for member in members { apply(member) }
            } else {
                report.uncommittedRecords += members.count
            }
        }
        var batchLiveMembers: [UInt64: Int] = [:]
        var failure: TensorLogError?
        // mapValues keeps the hash table as it is: no key is hashed again.
        let index = keys.mapValues { state -> KeyEntry in
            do throws(TensorLogError) {
                return try entry(for: state, batchLiveMembers: &batchLiveMembers)
            } catch {
                failure = failure ?? error
                return entry(head: items[state.head])
            }
        }
        if let failure { throw failure }
        var commitRecords: [UInt64: TensorStore.CommitRef] = [:]
        for (batchID, position) in commits where batchLiveMembers[batchID] != nil {
            let item = items[position]
            commitRecords[batchID] = TensorStore.CommitRef(segment: item.segment, offset: item.offset, recordLength: item.header.recordLength)
            item.segment.liveBytes += item.header.recordLength
        }
        return RecoveredState(
            index: index, segments: segments, lastSequence: max(maxSequence, manifest.sequenceFloor),
            batchLiveMembers: batchLiveMembers, commitRecords: commitRecords, active: active,
            manifest: manifest, activeEntries: activeEntries)
    }

    private func entry(head: borrowing Item) -> KeyEntry {
        KeyEntry(latest: TensorVersion(header: head.header, head: BlockRef(segment: head.segment, offset: head.offset, header: head.header)))
    }

    /// The index entry of one key: its latest version with its blocks in row order.
    private func entry(for state: KeyState, batchLiveMembers: inout [UInt64: Int]) throws(TensorLogError) -> KeyEntry {
        var entry = entry(head: items[state.head])
        let head = items[state.head]
        if head.header.kind == .put, !state.appends.isEmpty {
            // Blocks after the put, newest copy first; equal sequences are copies of one block.
            var blocks = state.appends.map { items[$0] }.filter { $0.header.sequence > head.header.sequence }
            blocks.sort { ($0.header.sequence, $0.segment.id) > ($1.header.sequence, $1.segment.id) }
            var seen = Set<UInt64>()
            blocks = blocks.filter { seen.insert($0.header.sequence).inserted }.reversed()
            var rows = entry.latest.head.rows
            for block in blocks {
                guard entry.latest.rank > 0, block.header.rowStart == UInt64(rows), block.header.dtype == entry.latest.dtype,
                      Array(block.header.shape.dropFirst()) == entry.latest.innerShape
                else {
                    throw .corruption(
                        "block of '\(head.header.key)' (seq \(block.header.sequence)) starts at row \(block.header.rowStart) but the tensor has \(rows) rows before it",
                        segment: block.segment.id, offset: block.offset)
                }
                rows += block.header.shape[0]
                entry.latest.moreBlocks.append(BlockRef(segment: block.segment, offset: block.offset, header: block.header))
            }
        }
        entry.latest.forEachRecord { block in
            block.segment.liveBytes += block.recordLength
            if block.batchID != 0 { batchLiveMembers[block.batchID, default: 0] += 1 }
        }
        return entry
    }
}
