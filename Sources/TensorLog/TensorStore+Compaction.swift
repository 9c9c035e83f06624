import Foundation
import TensorLogFormat
import TensorLogSystem

/// What a compaction did.
public struct CompactionReport: Sendable, Equatable {
    /// Segments rewritten and retired.
    public var compactedSegments: [UInt64] = []
    /// Segments written.
    public var newSegments: [UInt64] = []
    public var bytesBefore = 0
    public var bytesAfter = 0
    public var recordsCopied = 0
    public var tombstonesDropped = 0

    public init() {}
}

extension TensorStore {
    /// Rewrites the live records of segments whose dead fraction reaches the
    /// threshold (every sealed segment when `full`) into new segments, switches
    /// the manifest atomically, and retires the old files (deleted once no
    /// snapshot or view maps them). Readers and writers go on meanwhile; with
    /// `keepVersions > 1` writers wait until it ends, so that the version chain
    /// is rebuilt consistently. A crash at any point loses nothing: until the
    /// manifest switches, the new files are orphans that open removes.
    @discardableResult
    public func compact(_ compaction: CompactionOptions = .init()) throws(TensorLogError) -> CompactionReport {
        guard compaction.keepVersions >= 1 else { throw .invalid("keepVersions must be at least 1") }
        return try compactionLock.withLock { () throws(TensorLogError) in
            if compaction.keepVersions > 1 {
                return try writerLock.withLock { () throws(TensorLogError) in try compactLocked(compaction, holdingWriter: true) }
            }
            return try compactLocked(compaction, holdingWriter: false)
        }
    }

    private func compactLocked(_ compaction: CompactionOptions, holdingWriter: Bool) throws(TensorLogError) -> CompactionReport {
        if compaction.full {
            func rollOverNeeded() throws(TensorLogError) {
                try self.checkWritable()
                if self.appendOffset > SegmentHeader.size { try self.rollOver() }
            }
            if holdingWriter { try rollOverNeeded() } else { try writerLock.withLock { () throws(TensorLogError) in try rollOverNeeded() } }
        } else if holdingWriter {
            try checkWritable()
        } else {
            try writerLock.withLock { () throws(TensorLogError) in try checkWritable() }
        }

        // 1. Choose victims and the records to keep. The active segment is synced first, under the
        // writer lock, so the plan holds only durable records: a copy (fsynced, batch flag dropped)
        // must never outlive an original that a crash would lose.
        func syncAndPlan() throws(TensorLogError) -> CompactionPlan {
            unsyncedBytes = max(unsyncedBytes, 1)
            try syncActive()
            return stateLock.withReadLock { makePlan(compaction) }
        }
        let plan = holdingWriter ? try syncAndPlan() : try writerLock.withLock { () throws(TensorLogError) in try syncAndPlan() }
        var report = CompactionReport()
        guard !plan.victims.isEmpty else { return report }
        report.compactedSegments = plan.victims.map(\.id).sorted()
        report.bytesBefore = plan.victims.reduce(0) { $0 + $1.length }

        // 2. Copy them into new segments (no writer lock unless keepVersions > 1).
        var builder = try SegmentBuilder(store: self)
        var moved: [MovedRecord] = []
        for (key, records) in plan.keys {
            var previous: RecordPointer? = nil
            for source in records {
                let placed = try builder.copy(source, previous: previous, key: key)
                moved.append(placed)
                previous = placed.pointer
            }
        }
        for source in plan.commits {
            moved.append(try builder.copy(source, previous: nil, key: ""))
        }
        let outputs = try builder.finish()
        report.newSegments = outputs.map(\.id)
        report.bytesAfter = outputs.reduce(0) { $0 + $1.length }
        report.recordsCopied = moved.count
        report.tombstonesDropped = plan.droppedTombstones.count

        // 3. Switch: manifest first (the commit point), then the index.
        func install() throws(TensorLogError) {
            try self.checkWritable()
            var next = self.manifest
            let victimIDs = Set(plan.victims.map(\.id))
            next.sealedSegments = next.sealedSegments.filter { !victimIDs.contains($0) } + outputs.map(\.id)
            next.nextSegmentID = max(next.nextSegmentID, (outputs.map(\.id).max() ?? 0) + 1)
            next.sequenceFloor = self.lastSequence
            do throws(TensorLogError) {
                try self.installManifest(next)
            } catch {
                if self.manifest != next { for output in outputs { output.retired = true } }
                throw error
            }
            self.stateLock.withWriteLock {
                self.switchIndex(moved: moved, droppedTombstones: plan.droppedTombstones)
                for victim in plan.victims {
                    victim.retired = true
                    self.segments[victim.id] = nil
                }
                for output in outputs { self.segments[output.id] = output }
            }
        }
        if holdingWriter { try install() } else { try writerLock.withLock { () throws(TensorLogError) in try install() } }
        return report
    }

    /// Runs a compaction on a background thread if one is due and none is running.
    func scheduleAutoCompaction(threshold: Double) {
        let due = stateLock.withReadLock {
            segments.values.contains { $0.sealed && !$0.retired && $0.deadFraction >= threshold }
        }
        guard due, autoCompactionRunning.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let group = autoCompactions  // held by the thread, so that enter and leave balance even if the store goes
        group.enter()
        let thread = Thread { [weak self] in
            defer { group.leave() }
            guard let self else { return }
            defer { self.autoCompactionRunning.store(false, ordering: .releasing) }
            _ = try? self.compact(CompactionOptions(deadFraction: threshold))
        }
        thread.start()
    }

    struct CompactionPlan {
        var victims: [Segment] = []
        /// Per key, the records to copy (oldest first).
        var keys: [(String, [SourceRecord])] = []
        /// Commit records still needed by batch members left in other segments.
        var commits: [SourceRecord] = []
        var droppedTombstones: [String] = []
    }

    struct SourceRecord {
        let segment: Segment
        let offset: Int
        /// End of the record (bounds the decode; the segment may still be growing).
        let end: Int
    }

    struct MovedRecord {
        let key: String
        let sequence: UInt64
        let kind: RecordKind
        let oldBatchID: UInt64
        let block: BlockRef
        var pointer: RecordPointer { block.pointer }
    }

    /// Picks victim segments and, for every key with a kept record in one, all
    /// its kept records (wherever they are), so the copied chain of each key is
    /// whole. Records written while compaction runs may still link to a
    /// retired segment; segment ids are never reused, so history ends there.
    private func makePlan(_ compaction: CompactionOptions) -> CompactionPlan {
        var plan = CompactionPlan()
        plan.victims = segments.values
            .filter { $0.sealed && !$0.retired && (compaction.full || $0.deadFraction >= compaction.deadFraction) }
            .sorted { $0.id < $1.id }
        guard !plan.victims.isEmpty else { return plan }
        let victimIDs = Set(plan.victims.map(\.id))
        var movedBatchMembers: [UInt64: Int] = [:]
        for (key, entry) in index {
            let latest = entry.latest
            var records = latest.blocks.map { SourceRecord(segment: $0.segment, offset: $0.offset, end: $0.offset + $0.recordLength) }
            if compaction.keepVersions > 1 {
                let chain = (try? versionChain(key, locked: true)) ?? []
                for version in chain.dropFirst().prefix(compaction.keepVersions - 1) {
                    records = version.records.map { SourceRecord(segment: $0.0, offset: $0.1, end: $0.1 + $0.2.recordLength) } + records
                }
            }
            guard records.contains(where: { victimIDs.contains($0.segment.id) }) else { continue }
            if latest.isDeletion, compaction.full, compaction.keepVersions == 1 {
                plan.droppedTombstones.append(key)
                continue
            }
            plan.keys.append((key, records))
            latest.forEachRecord { block in
                if block.batchID != 0 { movedBatchMembers[block.batchID, default: 0] += 1 }
            }
        }
        for (batchID, commit) in commitRecords where victimIDs.contains(commit.segment.id) {
            // Members copied by this compaction stop being batch members; the commit stays only for the rest.
            if (batchLiveMembers[batchID] ?? 0) > (movedBatchMembers[batchID] ?? 0) {
                plan.commits.append(SourceRecord(segment: commit.segment, offset: commit.offset, end: commit.offset + commit.recordLength))
            }
        }
        return plan
    }

    /// Points the index at the copies (state lock held for writing). Copies of
    /// records superseded while compaction ran are left dead.
    private func switchIndex(moved: [MovedRecord], droppedTombstones: [String]) {
        for record in moved {
            if record.kind == .commit {
                if let old = commitRecords[record.oldBatchID] {
                    old.segment.liveBytes -= old.recordLength
                    commitRecords[record.oldBatchID] = CommitRef(segment: record.block.segment, offset: record.block.offset, recordLength: record.block.recordLength)
                    record.block.segment.liveBytes += record.block.recordLength
                }
                continue
            }
            guard let entry = index[record.key] else { continue }
            var replaced: BlockRef?
            if entry.latest.head.sequence == record.sequence {
                replaced = entry.latest.head
                entry.latest.head = record.block
            } else if let position = entry.latest.moreBlocks.firstIndex(where: { $0.sequence == record.sequence }) {
                replaced = entry.latest.moreBlocks[position]
                entry.latest.moreBlocks[position] = record.block
            }
            guard let old = replaced else { continue }
            old.segment.liveBytes -= old.recordLength
            record.block.segment.liveBytes += record.block.recordLength
            if old.batchID != 0, let count = batchLiveMembers[old.batchID] {
                if count <= 1 {
                    batchLiveMembers[old.batchID] = nil
                    if let commit = commitRecords.removeValue(forKey: old.batchID) { commit.segment.liveBytes -= commit.recordLength }
                } else {
                    batchLiveMembers[old.batchID] = count - 1
                }
            }
        }
        for key in droppedTombstones {
            guard let entry = index[key], entry.latest.isDeletion else { continue }
            entry.latest.head.segment.liveBytes -= entry.latest.head.recordLength
            if entry.older.isEmpty { index[key] = nil }
        }
    }
}

/// Writes copied records into fresh segment files, rolling to a new file at
/// the segment size; `finish` syncs them and writes their hint files.
struct SegmentBuilder {
    let store: TensorStore
    var outputs: [Segment] = []
    var entries: [HintFile.Entry] = []

    init(store: TensorStore) throws(TensorLogError) {
        self.store = store
    }

    mutating func copy(_ source: TensorStore.SourceRecord, previous: RecordPointer?, key: String) throws(TensorLogError) -> TensorStore.MovedRecord {
        let region = store.stateLock.withReadLock { source.segment.region }
        var header: RecordHeader
        switch TensorStore.readRecord(FileBytes(region, length: source.end), at: source.offset, verifyPayload: true) {
        case .success(let decoded): header = decoded
        case .failure(let error):
            throw .corruption("compaction cannot copy record: \(error.message)", segment: source.segment.id, offset: source.offset)
        }
        let oldBatchID = header.batchID
        let payloadStart = source.offset + Int(header.payloadOffset)
        let payload = region.bytes(payloadStart..<payloadStart + Int(header.storedSize))
        let chunkTable = [UInt8](region.bytes(payloadStart - 4 * header.chunkTableCount..<payloadStart))
        if header.kind != .commit {
            header.inBatch = false
            header.batchID = 0
            header.previous = previous
        }
        if outputs.isEmpty || Segment.wouldOverflow(header, at: outputs.last!.length, limit: store.options.segmentSize) {
            try startSegment()
        }
        let segment = outputs.last!
        let offset = segment.length
        do {
            _ = try Segment.writeRecord(&header, chunkTable: chunkTable, payload: payload, to: segment.file, at: offset)
        } catch {
            abandon()
            throw .io(error)
        }
        segment.length = offset + header.recordLength
        entries.append(HintFile.Entry(offset: UInt64(offset), header: header))
        return TensorStore.MovedRecord(
            key: key, sequence: header.sequence, kind: header.kind, oldBatchID: oldBatchID,
            block: BlockRef(segment: segment, offset: offset, header: header))
    }

    private mutating func startSegment() throws(TensorLogError) {
        try sealLast()
        let id = store.reserveSegmentID()
        do {
            let file = try TensorStore.createSegmentFile(store.directory, id)
            outputs.append(try Segment(id: id, directory: store.directory, file: file, length: SegmentHeader.size, sealed: true, mapCapacity: store.options.segmentSize + (1 << 20)))
        } catch {
            abandon()
            throw .io(error)
        }
    }

    /// Syncs the last output and writes its hint file.
    private mutating func sealLast() throws(TensorLogError) {
        guard let last = outputs.last else { return }
        do {
            try last.file.sync()
            let hint = HintFile(segmentID: last.id, segmentLength: UInt64(last.length), entries: entries)
            try FileSystem.writeAtomically(hint.encoded(), to: last.hintPath, directory: store.directory)
            try last.ensureMapped(upTo: last.length)
        } catch {
            abandon()
            throw .io(error)
        }
        entries = []
    }

    mutating func finish() throws(TensorLogError) -> [Segment] {
        try sealLast()
        return outputs
    }

    /// Drops the outputs; their files are removed (open would remove them too).
    private func abandon() {
        for output in outputs { output.retired = true }
    }
}

extension TensorStore {
    /// A segment id no file uses yet (the manifest records the new high-water mark at the next switch).
    func reserveSegmentID() -> UInt64 {
        segmentIDLock.withLock {
            defer { nextFreeSegmentID += 1 }
            return nextFreeSegmentID
        }
    }
}
