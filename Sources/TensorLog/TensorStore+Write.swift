import TensorLogCompression
import TensorLogFormat
import TensorLogSystem

/// A record waiting to be written: its header (sequence, links and offsets
/// are filled in under the writer lock) and its payload.
struct PendingRecord {
    enum Payload {
        case none
        /// The caller's bytes, valid only during the write call that made this record.
        case borrowed(UnsafeRawBufferPointer)
        case owned([UInt8])
        /// Bytes `range` of an array this record keeps alive.
        case slice([UInt8], Range<Int>)
    }

    var header: RecordHeader
    var payload: Payload
    /// The payload's chunk checksum table (empty unless the payload is over one chunk).
    var chunkTable: [UInt8] = []

    /// A copy whose payload no longer points into the caller's memory.
    func owned() -> PendingRecord {
        guard case .borrowed(let buffer) = payload else { return self }
        return PendingRecord(header: header, payload: .owned([UInt8](buffer)), chunkTable: chunkTable)
    }

    /// The same record with a payload borrowed from `storage` (whose bytes `buffer` is) expressed as a
    /// range of `storage`, so it stays valid after `buffer` does, without copying the bytes.
    func retaining(_ storage: [UInt8], pointedToBy buffer: UnsafeRawBufferPointer) -> PendingRecord {
        guard case .borrowed(let payload) = payload else { return self }
        guard payload.count > 0 else { return PendingRecord(header: header, payload: .slice(storage, 0..<0), chunkTable: chunkTable) }
        if let base = buffer.baseAddress, let start = payload.baseAddress, start >= base,
            start + payload.count <= base + buffer.count, buffer.count == storage.count
        {
            let offset = start - base
            return PendingRecord(header: header, payload: .slice(storage, offset..<offset + payload.count), chunkTable: chunkTable)
        }
        return owned()
    }

    func withPayload<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch payload {
        case .none: return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        case .borrowed(let buffer): return try body(buffer)
        case .owned(let bytes):
            return try bytes.withBytes { (buffer) throws(E) in try body(buffer) }
        case .slice(let bytes, let range):
            return try bytes.withBytes { (buffer) throws(E) in try body(UnsafeRawBufferPointer(rebasing: buffer[range])) }
        }
    }
}

/// A record as written: where it went.
struct WrittenRecord {
    let header: RecordHeader
    let segment: Segment
    let offset: Int
}

extension TensorStore {
    static let compressedBlockBytes = 4 << 20

    /// Splits a tensor into row blocks and encodes each (compression and
    /// payload CRC), outside the writer lock so threads encode in parallel.
    func encodeTensor(
        key: String, kind: RecordKind, dtype: DType, shape: [Int], rowStart: Int,
        bytes: UnsafeRawBufferPointer, options writeOptions: WriteOptions
    ) throws(TensorLogError) -> [PendingRecord] {
        let compression = writeOptions.compression ?? options.compression
        let metadata = writeOptions.metadata.sorted { $0.key < $1.key }.map { MetadataEntry($0.key, $0.value) }
        let metadataBytes = metadata.reduce(0) { $0 + 6 + $1.key.utf8.count + $1.value.utf8.count }
        guard metadataBytes <= RecordHeader.maxMetadataBytes, metadata.count <= Int(UInt16.max) else {
            throw .invalid("metadata of \(metadataBytes) bytes exceeds the maximum of \(RecordHeader.maxMetadataBytes)")
        }
        let defaultBlock = compression == .none ? options.segmentSize : Self.compressedBlockBytes
        let blockBytes = max(1, writeOptions.blockBytes ?? defaultBlock)
        let rows = shape.first ?? 1
        let rowBytes = rows > 0 ? bytes.count / rows : 0
        let rowsPerBlock = (shape.isEmpty || rowBytes == 0) ? max(rows, 1) : max(1, blockBytes / rowBytes)

        var records: [PendingRecord] = []
        var row = 0
        repeat {
            let count = shape.isEmpty ? 1 : min(rowsPerBlock, rows - row)
            let range = shape.isEmpty ? 0..<bytes.count : row * rowBytes..<(row + count) * rowBytes
            let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
            let blockShape = shape.isEmpty ? [] : [count] + shape.dropFirst()
            let header = RecordHeader(
                kind: records.isEmpty ? kind : .append, sequence: 0, rowStart: UInt64(rowStart + row),
                rawSize: UInt64(raw.count), key: key, dtype: dtype, shape: blockShape,
                metadata: records.isEmpty ? metadata : [])
            records.append(PendingRecord(header: header, payload: .borrowed(raw)))  // encoded below
            row += count
        } while row < rows
        // Blocks are independent: compressed ones are encoded (and checksummed) on several threads.
        let blocks = records
        let parallel = compression != .none && bytes.count >= ParallelBlocks.minimumParallelBytes
        return try ParallelBlocks.map(blocks.count, parallel: parallel) { (index) throws(TensorLogError) in
            var record = blocks[index]
            guard case .borrowed(let raw) = record.payload else { return record }
            record.payload = try encodePayload(raw, dtype: dtype, compression: compression, header: &record.header)
            // One CRC for a payload of one chunk, else a CRC per 1 MiB chunk and one of that table.
            let (table, crc) = record.withPayload { payload in
                let table = PayloadChecksums.table(for: payload)
                return (table, PayloadChecksums.payloadCRC(payload: payload, table: table))
            }
            record.chunkTable = table
            record.header.payloadCRC = crc
            return record
        }
    }

    private func encodePayload(
        _ raw: UnsafeRawBufferPointer, dtype: DType, compression: Compression, header: inout RecordHeader
    ) throws(TensorLogError) -> PendingRecord.Payload {
        let codec: Codec? = switch compression {
        case .none: Codec.none
        case .lz4: .lz4
        case .shuffleLZ4: .shuffleLZ4
        case .auto: nil
        }
        if codec == Codec.none || raw.count == 0 {
            header.codec = .none
            header.storedSize = UInt64(raw.count)
            return .borrowed(raw)
        }
        guard raw.count <= BlockCodec.maxRawBlockSize else {
            throw .invalid("a block of \(raw.count) bytes is too large to compress; use a smaller blockBytes")
        }
        // Encoded straight into uninitialized storage; only the bytes written are kept.
        var chosen = Codec.none
        var failure: CodecError?
        let encoded = [UInt8](unsafeUninitializedCapacity: BlockCodec.maxEncodedSize(rawSize: raw.count, codec: .shuffleLZ4)) { buffer, initialized in
            let destination = UnsafeMutableRawBufferPointer(buffer)
            do throws(CodecError) {
                if let codec {
                    chosen = codec
                    initialized = try BlockCodec.encode(raw, codec: codec, elementSize: dtype.size, into: destination)
                } else {
                    let result = try BlockCodec.encodeAuto(raw, elementSize: dtype.size, into: destination)
                    chosen = result.codec
                    initialized = result.count
                }
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw .invalid("compression failed: \(failure)") }
        if chosen == .none {
            header.codec = .none
            header.storedSize = UInt64(raw.count)
            return .borrowed(raw)
        }
        header.codec = chosen
        header.storedSize = UInt64(encoded.count)
        return .owned(encoded)
    }

    func checkWritable() throws(TensorLogError) {
        if options.readOnly { throw TensorLogError(.closed, "store \(directory) is open read-only") }
        if isClosed { throw TensorLogError(.closed, "store \(directory) is closed") }
        if let writerFailure {
            throw TensorLogError(.closed, "store \(directory) stopped writing after an earlier failure (\(writerFailure)); reopen it")
        }
    }

    /// Writes records (as one atomic batch when `atomic`), applies the
    /// durability policy, then publishes them to the index. Returns the last
    /// sequence number written.
    func write(_ records: [PendingRecord], atomic: Bool, durability: Durability?) throws(TensorLogError) -> UInt64 {
        try writerLock.withLock { () throws(TensorLogError) in
            try checkWritable()
            var sequence = lastSequence
            // Each record takes a sequence number, and an atomic batch one more for its commit record. A store whose
            // last sequence leaves no room (only a damaged or hostile file gets near 2^64) refuses the write.
            let needed = UInt64(records.count) + (atomic ? 1 : 0)
            guard sequence <= UInt64.max - needed else {
                throw .invalid("the store's last sequence number \(sequence) leaves no room for \(needed) more; nothing was written")
            }
            let batchID = atomic ? sequence + 1 : 0
            // Per-key state as this write changes it: the chain head and the version's row count.
            var pendingHeads: [String: (pointer: RecordPointer, version: VersionShape?)] = [:]
            var written: [WrittenRecord] = []
            written.reserveCapacity(records.count + 1)
            if records.count > 1 { pendingHeads.reserveCapacity(records.count) }
            // Small records are encoded back to back into `run` and go out in one pwrite per run: at the
            // end of the write, before a roll-over, before a large record, or once the run is large.
            // Nothing is published before its run is in the file, so readers never see it early.
            let run = recordBuffer
            run.reset(at: appendOffset)
            defer {
                run.reset(at: appendOffset)
                run.shrinkIfLarge()
            }
            var touchedFile = false
            func writeRun() throws(TensorLogError) {
                guard run.count > 0 else { return }
                touchedFile = true
                try writeBuffered(run)
                run.reset(at: appendOffset)
            }
            func place(_ pending: PendingRecord) throws(TensorLogError) -> WrittenRecord {
                var header = pending.header
                if Segment.wouldOverflow(header, at: run.endOffset, limit: options.segmentSize) {
                    try writeRun()
                    try rollOver()
                    run.reset(at: appendOffset)
                }
                guard header.storedSize <= UInt64(RecordBuffer.maxBufferedPayload) else {
                    try writeRun()
                    touchedFile = true
                    let placed = try appendRecord(pending)
                    run.reset(at: appendOffset)
                    return placed
                }
                let offset = run.endOffset
                _ = pending.withPayload { payload in run.append(&header, payload: payload) }
                let placed = WrittenRecord(header: header, segment: active, offset: offset)
                if run.count >= RecordBuffer.flushThreshold { try writeRun() }
                return placed
            }
            // Sequences (and so batch ids) that may have reached the disk are never handed out again, even
            // when this write fails: a later commit must not adopt this batch's orphaned records.
            func burnSequences() {
                let last = sequence
                if touchedFile, last > lastSequence { stateLock.withWriteLock { lastSequence = last } }
            }
            do throws(TensorLogError) {
            for var record in records {
                sequence += 1
                record.header.sequence = sequence
                record.header.inBatch = atomic
                record.header.batchID = batchID
                let key = record.header.key
                let current = pendingHeads[key] ?? currentHead(of: key)
                record.header.previous = current?.pointer
                var version = current?.version
                switch record.header.kind {
                case .put:
                    version = VersionShape(header: record.header)
                case .append:
                    guard let existing = version else { throw .notFound(key) }
                    try existing.checkAppend(record.header)
                    record.header.rowStart = UInt64(existing.rows)
                    version?.rows += record.header.shape[0]
                case .delete:
                    guard version != nil else { throw .notFound(key) }
                    version = nil
                case .commit:
                    break
                }
                let placed = try place(record)
                written.append(placed)
                if records.count > 1 {
                    pendingHeads[key] = (RecordPointer(segment: placed.segment.id, offset: UInt64(placed.offset)), version)
                }
            }
            if atomic {
                sequence += 1
                let commit = RecordHeader(kind: .commit, sequence: sequence, batchID: batchID, rowStart: UInt64(written.count), key: "")
                written.append(try place(PendingRecord(header: commit, payload: .none)))
            }
            try writeRun()
            try applyDurability(durability ?? options.durability)
            try publish(written, lastSequence: sequence)
            } catch {
                burnSequences()
                throw error
            }
            return sequence
        }
    }

    /// Writes a run of encoded records at the end of the active segment. On
    /// failure the segment's length is unchanged and any partial bytes past it
    /// are cut off (if even that fails, writing stops).
    private func writeBuffered(_ run: RecordBuffer) throws(TensorLogError) {
        let offset = appendOffset
        precondition(run.fileOffset == offset, "a record run must start at the end of the active segment")
        do {
            try active.file.write(run.bytes, at: offset)
        } catch {
            do { try active.file.truncate(to: offset) } catch { writerFailure = .io(error) }
            throw .io(error)
        }
        appendOffset = offset + run.count
        unsyncedBytes += run.count
        activeEntries.append(contentsOf: run.entries)
    }

    /// The chain head and version shape of a key as the index has it (writer lock held).
    private func currentHead(of key: String) -> (pointer: RecordPointer, version: VersionShape?)? {
        guard let entry = index[key] else { return nil }
        let latest = entry.latest
        return (latest.tail.pointer, latest.isDeletion ? nil : VersionShape(latest))
    }

    /// Appends one record to the active segment, rolling over first when it
    /// would overflow. On failure the segment's length is unchanged and any
    /// partial bytes past it are cut off.
    func appendRecord(_ pending: PendingRecord) throws(TensorLogError) -> WrittenRecord {
        var header = pending.header
        if Segment.wouldOverflow(header, at: appendOffset, limit: options.segmentSize) {
            try rollOver()
        }
        let offset = appendOffset
        let recordLength: Int
        do {
            recordLength = try pending.withPayload { (payload) throws(SystemError) in
                try Segment.writeRecord(&header, chunkTable: pending.chunkTable, payload: payload, to: active.file, at: offset)
            }
        } catch {
            // Cut off what was partly written so a later crash cannot find it; if even that fails, stop writing.
            do { try active.file.truncate(to: offset) } catch { writerFailure = .io(error) }
            throw .io(error)
        }
        appendOffset = offset + recordLength
        unsyncedBytes += recordLength
        activeEntries.append(HintFile.Entry(offset: UInt64(offset), header: header))
        return WrittenRecord(header: header, segment: active, offset: offset)
    }

    func applyDurability(_ durability: Durability) throws(TensorLogError) {
        switch durability {
        case .none:
            return
        case .everyWrite:
            try syncActive()
        case .groupCommit(let bytes, let milliseconds):
            if unsyncedBytes >= bytes || ContinuousClock.now - lastSync >= .milliseconds(milliseconds) {
                try syncActive()
            }
        }
    }

    /// fsyncs the active segment, then records in SYNCED how far it is durable (fsynced too when
    /// `markDurably`: at an explicit sync, roll-over and close). A failed fsync leaves the file's state
    /// unknown (the kernel may have dropped the dirty pages), so writing stops.
    func syncActive(markDurably: Bool = false) throws(TensorLogError) {
        guard unsyncedBytes > 0 || markDurably else { return }
        do {
            if unsyncedBytes > 0 { try active.file.sync() }
        } catch {
            writerFailure = .io(error)
            throw .io(error)
        }
        unsyncedBytes = 0
        lastSync = .now
        // The mark only ever claims bytes the fsync above made durable, so a lost or stale mark is
        // safe (recovery is more cautious); a failure to write it is not a failure of the write.
        let mark = SyncedMark(segmentID: active.id, syncedLength: UInt64(appendOffset))
        try? syncedFile?.write(mark.encoded(), at: 0)
        if markDurably { try? syncedFile?.sync() }
    }

    /// Makes written records visible: index, live-byte accounting, sequence.
    func publish(_ written: [WrittenRecord], lastSequence newSequence: UInt64) throws(TensorLogError) {
        try stateLock.withWriteLock { () throws(TensorLogError) in
            do throws(SystemError) {
                try active.ensureMapped(upTo: appendOffset)
                active.length = appendOffset
            } catch {
                writerFailure = .io(error)
                throw .io(error)
            }
            for record in written {
                apply(record)
            }
            lastSequence = newSequence
        }
    }

    /// Applies one written record to the index (state lock held for writing).
    func apply(_ record: WrittenRecord) {
        let header = record.header
        let block = BlockRef(segment: record.segment, offset: record.offset, header: header)
        switch header.kind {
        case .commit:
            commitRecords[header.batchID] = CommitRef(segment: record.segment, offset: record.offset, recordLength: header.recordLength)
            record.segment.liveBytes += header.recordLength
            if batchLiveMembers[header.batchID] == nil { releaseCommit(header.batchID) }
            return
        case .append:
            guard let entry = index[header.key] else { return }
            entry.latest.moreBlocks.append(block)
        case .put, .delete:
            let version = TensorVersion(header: header, head: block)
            // One hash lookup whether the key is new or not (a bulk load is mostly new keys).
            replaceLatest(&index[header.key], key: header.key, with: version)
        }
        record.segment.liveBytes += header.recordLength
        if block.batchID != 0 { batchLiveMembers[block.batchID, default: 0] += 1 }
    }

    /// Makes `version` the latest of a key's entry, creating the entry if the key is new.
    private func replaceLatest(_ slot: inout KeyEntry?, key: String, with version: TensorVersion) {
        guard let entry = slot else {
            slot = KeyEntry(latest: version)
            return
        }
        let old = entry.latest
        retire(old)
        entry.latest = version
        entry.older.append(old)
        pruneOlder(entry, key: key)
    }

    /// Drops the superseded versions of `entry` that no open snapshot reads. The last reference to a
    /// segment compaction retired may go with them, and with it the segment's files (see `Segment.deinit`).
    /// Under the state lock's write side; touches only `older`, which is only read under the state lock.
    func pruneOlder(_ entry: KeyEntry, key: String) {
        entry.older = entry.older.filter { isVisibleToSnapshots($0, nextSequence: nextSequence(after: $0, in: entry)) }
        if entry.older.isEmpty { keysWithOlderVersions.remove(key) } else { keysWithOlderVersions.insert(key) }
    }

    /// Marks a superseded version's records dead.
    private func retire(_ version: TensorVersion) {
        version.forEachRecord { block in
            block.segment.liveBytes -= block.recordLength
            if block.batchID != 0, let count = batchLiveMembers[block.batchID] {
                if count <= 1 {
                    batchLiveMembers[block.batchID] = nil
                    releaseCommit(block.batchID)
                } else {
                    batchLiveMembers[block.batchID] = count - 1
                }
            }
        }
    }

    /// A batch with no live members no longer needs its commit record.
    private func releaseCommit(_ batchID: UInt64) {
        if let commit = commitRecords.removeValue(forKey: batchID) {
            commit.segment.liveBytes -= commit.recordLength
        }
    }

    private func nextSequence(after version: TensorVersion, in entry: KeyEntry) -> UInt64 {
        entry.older.first(where: { $0.sequence > version.sequence })?.sequence ?? entry.latest.sequence
    }

    /// Whether some open snapshot reads this superseded version.
    private func isVisibleToSnapshots(_ version: TensorVersion, nextSequence: UInt64) -> Bool {
        snapshotPins.keys.contains { $0 >= version.sequence && $0 < nextSequence }
    }
}

/// The shape facts an append must agree with.
struct VersionShape {
    let dtype: DType
    let innerShape: [Int]
    let rank: Int
    var rows: Int

    init(header: RecordHeader) {
        dtype = header.dtype ?? .uint8
        innerShape = Array(header.shape.dropFirst())
        rank = header.shape.count
        rows = header.shape.first ?? 1
    }

    init(_ version: TensorVersion) {
        dtype = version.dtype
        innerShape = version.innerShape
        rank = version.rank
        rows = version.rows(at: .max)
    }

    func checkAppend(_ header: RecordHeader) throws(TensorLogError) {
        guard rank > 0 else { throw .invalid("'\(header.key)' is 0-d: rows cannot be appended") }
        guard header.dtype == dtype else {
            throw .invalid("'\(header.key)' is \(dtype); cannot append \(header.dtype.map(\.name) ?? "?") rows")
        }
        guard Array(header.shape.dropFirst()) == innerShape else {
            throw .invalid("'\(header.key)' rows have shape \(innerShape); cannot append rows of shape \(Array(header.shape.dropFirst()))")
        }
    }
}

extension TensorVersion {
    init(header: RecordHeader, head: BlockRef) {
        self.init(
            sequence: header.sequence, head: head, isDeletion: header.kind == .delete,
            dtype: header.dtype ?? .uint8, innerShape: Array(header.shape.dropFirst()),
            rank: header.shape.count, metadata: header.metadata)
    }
}
