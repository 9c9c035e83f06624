import Synchronization
import TensorLogFormat
import TensorLogSystem

/// One segment file: its descriptor, its mapping, and what the index knows of
/// its bytes.
///
/// Mutable fields are guarded by the store's locks (see `TensorStore`). The
/// object lives as long as an index entry, snapshot or view refers to it;
/// when compaction retires a segment, the file is removed only once the last
/// reference is gone, so views into it stay valid.
final class Segment: @unchecked Sendable {
    let id: UInt64
    let path: String
    let hintPath: String
    let file: SystemFile
    /// The current mapping; replaced by a larger one when appends outgrow it
    /// (older mappings stay alive for the views that hold them).
    var region: MappedRegion
    /// Bytes of whole records (the append position while active).
    var length: Int
    var sealed: Bool
    /// Bytes of records the index still needs; the rest is dead and compaction reclaims it.
    var liveBytes: Int = 0
    /// Set when the segment left the manifest: delete its files once unreferenced.
    var retired = false
    /// Payload chunks whose checksums passed since the store was opened (segments never change,
    /// so a chunk is checked once, not on every read).
    let verified = VerifiedChunks()

    init(id: UInt64, directory: String, file: consuming SystemFile, length: Int, sealed: Bool, mapCapacity: Int) throws(SystemError) {
        self.id = id
        self.path = Segment.path(directory, id)
        self.hintPath = Segment.hintPath(directory, id)
        self.region = try MappedRegion(file: file, length: max(mapCapacity, length))
        self.file = file
        self.length = length
        self.sealed = sealed
    }

    deinit {
        if retired {
            try? FileSystem.remove(path)
            try? FileSystem.remove(hintPath)
        }
    }

    /// Makes sure the mapping covers `end` bytes, growing it by doubling.
    func ensureMapped(upTo end: Int) throws(SystemError) {
        guard end > region.length else { return }
        var capacity = max(region.length, 1 << 20)
        while capacity < end { capacity *= 2 }
        region = try MappedRegion(file: file, length: capacity)
    }

    /// Reads and decodes the segment's hint file (both checksums and every entry checked).
    func readHint() throws -> HintFile {
        let bytes = try SystemFile(path: hintPath, mode: .readOnly).readAll()
        return try bytes.withBytes { (buffer) throws(FormatError) in try HintFile.decode(buffer) }
    }

    /// Writes one record at `offset`: `header` (its payload offset set for
    /// that position), zero padding, the chunk checksum table (`chunkTable`,
    /// which must be `header.chunkTableCount` entries), `payload`, zero padding
    /// to a multiple of 64. Small records go out in one write. Returns the record length.
    static func writeRecord(
        _ header: inout RecordHeader, chunkTable: [UInt8], payload: UnsafeRawBufferPointer, to file: borrowing SystemFile, at offset: Int
    ) throws(SystemError) -> Int {
        precondition(chunkTable.count == 4 * header.chunkTableCount, "a record's chunk table must list every chunk")
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: offset))
        var prefix = header.encoded()
        prefix.append(contentsOf: repeatElement(0, count: Int(header.payloadOffset) - prefix.count - chunkTable.count))
        prefix.append(contentsOf: chunkTable)
        let recordLength = header.recordLength
        let tailPadding = recordLength - Int(header.payloadOffset) - payload.count
        if payload.count <= 64 << 10 {
            prefix.append(contentsOf: payload)
            prefix.append(contentsOf: repeatElement(0, count: tailPadding))
            try file.write(prefix, at: offset)
        } else {
            try file.write(prefix, at: offset)
            try file.write(payload, at: offset + prefix.count)
            if tailPadding > 0 {
                try file.write([UInt8](repeating: 0, count: tailPadding), at: offset + prefix.count + payload.count)
            }
        }
        return recordLength
    }

    /// Whether a record with `header` placed at `offset` would take the segment past `limit`
    /// (never for the first record, so a record larger than a segment still gets one).
    static func wouldOverflow(_ header: RecordHeader, at offset: Int, limit: Int) -> Bool {
        let end = offset + header.payloadOffset(atFileOffset: offset) + Int(header.storedSize) + RecordHeader.alignment
        return offset > SegmentHeader.size && end > limit
    }

    var deadBytes: Int { max(0, length - SegmentHeader.size - liveBytes) }

    var deadFraction: Double {
        let body = length - SegmentHeader.size
        return body > 0 ? Double(deadBytes) / Double(body) : 0
    }

    static func fileName(_ id: UInt64) -> String { paddedID(id) + ".seg" }

    static func path(_ directory: String, _ id: UInt64) -> String { directory + "/" + paddedID(id) + ".seg" }

    static func hintPath(_ directory: String, _ id: UInt64) -> String { directory + "/" + paddedID(id) + ".hint" }

    static func paddedID(_ id: UInt64) -> String {
        let digits = String(id)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The segment id a file name stands for, if it is a segment or hint file.
    static func id(fromFileName name: String) -> UInt64? {
        guard name.hasSuffix(".seg") || name.hasSuffix(".hint") else { return nil }
        let stem = name.split(separator: ".").first.map(String.init) ?? ""
        return UInt64(stem)
    }
}

/// Where one stored row block is, and how to decode it.
struct BlockRef: @unchecked Sendable {
    let segment: Segment
    let offset: Int
    let sequence: UInt64
    let batchID: UInt64
    let rowStart: Int
    let rows: Int
    let codec: Codec
    /// File offset of the payload.
    let payloadStart: Int
    let storedSize: Int
    let rawSize: Int
    let payloadCRC: UInt32
    let recordLength: Int
    /// Entries of the record's chunk checksum table (0: one CRC for the whole payload).
    let chunkTableCount: Int

    var pointer: RecordPointer { RecordPointer(segment: segment.id, offset: UInt64(offset)) }

    @inline(__always)
    init(segment: Segment, offset: Int, header: borrowing RecordHeader) {
        self.segment = segment
        self.offset = offset
        self.sequence = header.sequence
        self.batchID = header.inBatch ? header.batchID : 0
        self.rowStart = Int(header.rowStart)
        self.rows = header.shape.first ?? 1
        self.codec = header.codec
        self.payloadStart = offset + Int(header.payloadOffset)
        self.storedSize = Int(header.storedSize)
        self.rawSize = Int(header.rawSize)
        self.payloadCRC = header.payloadCRC
        self.recordLength = header.recordLength
        self.chunkTableCount = header.chunkTableCount
    }

    var checksums: PayloadChecksums {
        PayloadChecksums(payloadStart: payloadStart, storedSize: storedSize, payloadCRC: payloadCRC, tableCount: chunkTableCount)
    }

    /// Checks the payload chunks holding stored bytes `range` (relative to the payload; all by default)
    /// against their checksums, each chunk once per open store. A mismatch names the segment and record.
    func verify(_ range: Range<Int>? = nil, in region: MappedRegion, key: String) throws(TensorLogError) {
        let checksums = checksums
        let chunks = checksums.chunks(covering: range ?? 0..<storedSize)
        let pending = segment.verified.unverified(record: offset, chunks: chunks, of: checksums.chunkCount)
        guard !pending.isEmpty else { return }
        let file = region.bytes(0..<payloadStart + storedSize)
        if let mismatch = checksums.check(chunks: pending, in: file) {
            throw .corruption("'\(key)': \(mismatch)", segment: segment.id, offset: offset)
        }
        segment.verified.mark(record: offset, chunks: pending, of: checksums.chunkCount)
    }
}

/// One version of a key: a tensor made of row blocks, or a deletion.
struct TensorVersion: @unchecked Sendable {
    /// Sequence of the put (or delete) that started the version.
    let sequence: UInt64
    /// The put's first block, or the tombstone of a deletion.
    var head: BlockRef
    let isDeletion: Bool
    let dtype: DType
    /// Shape without axis 0 (empty for rank 0 and rank 1).
    let innerShape: [Int]
    let rank: Int
    let metadata: [MetadataEntry]
    /// Blocks after the head, in row order.
    var moreBlocks: [BlockRef] = []

    var blocks: [BlockRef] { [head] + moreBlocks }

    /// The last record of this version: where the next record of the key points back to.
    var tail: BlockRef { moreBlocks.last ?? head }

    /// Rows of the blocks visible at `sequence`.
    func rows(at sequence: UInt64) -> Int {
        guard rank > 0 else { return 1 }
        var total = head.rows
        for block in moreBlocks where block.sequence <= sequence { total += block.rows }
        return total
    }

    func shape(at sequence: UInt64) -> [Int] {
        rank == 0 ? [] : [rows(at: sequence)] + innerShape
    }

    func visibleBlocks(at sequence: UInt64) -> [BlockRef] {
        [head] + moreBlocks.filter { $0.sequence <= sequence }
    }

    /// Record bytes this version keeps alive.
    func forEachRecord(_ body: (BlockRef) -> Void) {
        body(head)
        for block in moreBlocks { body(block) }
    }
}

/// What the index holds for a key.
///
/// A class, so the index table holds one pointer per key (a million keys
/// cost tens of megabytes of table, not hundreds). It is only ever read or
/// changed under the store's state lock; readers copy the version they need.
final class KeyEntry: @unchecked Sendable {
    var latest: TensorVersion
    /// Superseded versions that open snapshots may still read, oldest first.
    var older: [TensorVersion] = []

    init(latest: TensorVersion) {
        self.latest = latest
    }

    /// Adds the latest version's record bytes (per segment id) and batch members to the tallies,
    /// reading its fields in place: a copy of the whole version per key is what made this slow.
    func countLatest(liveBytes: inout [UInt64: Int], batchMembers: inout [UInt64: Int]) {
        liveBytes[latest.head.segment.id, default: 0] += latest.head.recordLength
        if latest.head.batchID != 0 { batchMembers[latest.head.batchID, default: 0] += 1 }
        guard !latest.moreBlocks.isEmpty else { return }
        for block in latest.moreBlocks {
            liveBytes[block.segment.id, default: 0] += block.recordLength
            if block.batchID != 0 { batchMembers[block.batchID, default: 0] += 1 }
        }
    }

    /// The version a snapshot at `sequence` sees (nil if none, or deleted).
    func version(at sequence: UInt64) -> TensorVersion? {
        let candidate: TensorVersion?
        if latest.sequence <= sequence {
            candidate = latest
        } else {
            candidate = older.last(where: { $0.sequence <= sequence })
        }
        guard let candidate, !candidate.isDeletion else { return nil }
        return candidate
    }
}

/// Which payload chunks of a segment's records have passed their checksums: a bit per chunk, per record.
final class VerifiedChunks: Sendable {
    private let bits = Mutex<[Int: [UInt64]]>([:])

    /// The smallest range covering the chunks of `chunks` not verified yet (empty when all are).
    func unverified(record: Int, chunks: Range<Int>, of count: Int) -> Range<Int> {
        bits.withLock { table in
            guard let words = table[record] else { return chunks }
            let missing = chunks.filter { words[$0 >> 6] & (1 << UInt64($0 & 63)) == 0 }
            guard let first = missing.first, let last = missing.last else { return chunks.lowerBound..<chunks.lowerBound }
            return first..<last + 1
        }
    }

    func mark(record: Int, chunks: Range<Int>, of count: Int) {
        bits.withLock { table in
            var words = table[record] ?? [UInt64](repeating: 0, count: (count + 63) / 64)
            for chunk in chunks { words[chunk >> 6] |= 1 << UInt64(chunk & 63) }
            table[record] = words
        }
    }
}

/// Bytes of a segment file as a scan reads them: `buffer` holds the file's bytes from offset `origin`
/// on. Usually the mapping from offset 0; for a read-only open, the active segment's tail past its
/// synced end is a private copy instead, read with pread, since a writer may cut that tail meanwhile
/// and touching a mapped page past the end of a file kills the process (SIGBUS).
struct FileBytes {
    let buffer: UnsafeRawBufferPointer
    let origin: Int

    /// The mapped file's first `length` bytes. The region must outlive this value.
    init(_ region: MappedRegion, length: Int) {
        buffer = region.bytes(0..<length)
        origin = 0
    }

    init(buffer: UnsafeRawBufferPointer, origin: Int) {
        self.buffer = buffer
        self.origin = origin
    }

    /// File offset just past the last byte held.
    var end: Int { origin + buffer.count }

    /// File bytes `range`, which must lie within `origin..<end`.
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[range.lowerBound - origin..<range.upperBound - origin])
    }
}
