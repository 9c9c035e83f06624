/// The 64-byte header at the start of every segment file.
/// docs/FORMAT.md "Segment files" is the specification.
public struct SegmentHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("TLSEGMNT".utf8)
    public static let size = 64
    /// Version of the format the writer used (2: chunk checksum tables, the SYNCED file).
    public static let writeVersion: UInt16 = 2
    /// Oldest reader version that can read what this writer writes (version 2 records need a version 2 reader).
    public static let readVersion: UInt16 = 2

    public var segmentID: UInt64

    public init(segmentID: UInt64) { self.segmentID = segmentID }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.size)
        writer.raw(Self.magic)
        writer.u16(Self.writeVersion)
        writer.u16(Self.readVersion)
        writer.u32(0)
        writer.u64(segmentID)
        writer.zeros(60 - writer.count)
        writer.u32(CRC32C.mask(writer.bytes.withUnsafeBytes { CRC32C.checksum($0) }))
        return writer.bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> SegmentHeader {
        var reader = ByteReader(bytes, context: "segment header")
        try checkPreamble(&reader, magic: magic, size: size, what: "segment header")
        try reader.expectZeros(4, what: "reserved field")
        let id = try reader.u64()
        try reader.expectZeros(size - 4 - reader.position, what: "reserved field")
        return SegmentHeader(segmentID: id)
    }
}

/// Checks magic, versions and the trailing CRC of a fixed-size file header
/// whose last 4 bytes are the masked CRC32C of the bytes before them.
@discardableResult
func checkPreamble(
    _ reader: inout ByteReader, magic: [UInt8], size: Int, what: String
) throws(FormatError) -> (write: UInt16, read: UInt16) {
    let bytes = reader.buffer
    guard bytes.count >= size else { throw reader.error("truncated: \(bytes.count) of \(size) bytes") }
    let found = try reader.bytes(magic.count, what: "magic")
    guard found.elementsEqual(magic) else { throw FormatError("\(what): bad magic", offset: 0) }
    let writeVersion = try reader.u16()
    let readVersion = try reader.u16()
    guard readVersion >= 1, writeVersion >= 1 else {
        throw FormatError("\(what): version 0 is invalid", offset: magic.count)
    }
    guard readVersion <= SegmentHeader.writeVersion else {
        throw FormatError(
            "\(what): needs format version \(readVersion), this reader knows \(SegmentHeader.writeVersion)",
            offset: magic.count, isUnsupportedVersion: true)
    }
    let stored = CRC32C.unmask(bytes.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self).littleEndian)
    guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<size - 4])) == stored else {
        throw FormatError("\(what): checksum mismatch", offset: 0)
    }
    return (writeVersion, readVersion)
}

/// A hint file: the headers of every record in one sealed segment, so open can
/// rebuild the index without reading the segment. docs/FORMAT.md "Hint files".
public struct HintFile: Sendable, Equatable {
    public static let magic: [UInt8] = Array("TLHINT01".utf8)
    public static let headerSize = 64

    public struct Entry: Sendable, Equatable {
        public var offset: UInt64
        public var header: RecordHeader

        public init(offset: UInt64, header: RecordHeader) {
            self.offset = offset
            self.header = header
        }
    }

    public var segmentID: UInt64
    /// Bytes of the segment covered (its length when sealed).
    public var segmentLength: UInt64
    public var entries: [Entry]

    public init(segmentID: UInt64, segmentLength: UInt64, entries: [Entry]) {
        self.segmentID = segmentID
        self.segmentLength = segmentLength
        self.entries = entries
    }

    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        for entry in entries {
            let header = entry.header.encoded()
            body.u64(entry.offset)
            body.u32(UInt32(header.count))
            body.raw(header)
            body.pad(toMultipleOf: 8)
        }
        var writer = ByteWriter(capacity: Self.headerSize + body.count)
        writer.raw(Self.magic)
        writer.u16(SegmentHeader.writeVersion)
        writer.u16(SegmentHeader.readVersion)
        writer.u32(0)
        writer.u64(segmentID)
        writer.u64(segmentLength)
        writer.u64(UInt64(entries.count))
        writer.u64(UInt64(body.count))
        writer.u32(CRC32C.mask(CRC32C.checksum(body.bytes)))
        writer.zeros(60 - writer.count)
        writer.u32(CRC32C.mask(writer.bytes.withUnsafeBytes { CRC32C.checksum($0) }))
        writer.raw(body.bytes)
        return writer.bytes
    }

    /// Decodes a whole hint file, checking both checksums and every entry.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> HintFile {
        var entries: [Entry] = []
        let summary = try decode(bytes) { count in
            entries.reserveCapacity(count)
        } visit: { offset, header in
            entries.append(Entry(offset: offset, header: header))
        }
        return HintFile(segmentID: summary.segmentID, segmentLength: summary.segmentLength, entries: entries)
    }

    /// Decodes a hint file entry by entry, without building the entry list:
    /// `start` learns the entry count once the checksums passed, `visit` gets
    /// each entry in file order. Throws on the first problem (the caller drops
    /// what it was given). Returns the segment id and length it describes.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, start: (Int) -> Void, visit: (UInt64, RecordHeader) -> Void
    ) throws(FormatError) -> (segmentID: UInt64, segmentLength: UInt64) {
        var reader = ByteReader(bytes, context: "hint file")
        try checkPreamble(&reader, magic: magic, size: headerSize, what: "hint file")
        try reader.expectZeros(4, what: "reserved field")
        let segmentID = try reader.u64()
        let segmentLength = try reader.u64()
        let count = try reader.u64()
        let bodyLength = try reader.u64()
        let bodyCRC = CRC32C.unmask(try reader.u32())
        try reader.expectZeros(headerSize - 4 - reader.position, what: "reserved field")
        guard bodyLength == UInt64(bytes.count - headerSize) else {
            throw FormatError("hint file: body is \(bytes.count - headerSize) bytes, header says \(bodyLength)", offset: 40)
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[headerSize...])
        guard CRC32C.checksum(body) == bodyCRC else {
            throw FormatError("hint file: body checksum mismatch", offset: headerSize)
        }
        // Each entry takes at least 8 + 4 + fixed header bytes: bounds the count before reserving.
        guard count <= UInt64(body.count / (12 + RecordHeader.fixedSize)) else {
            throw FormatError("hint file: \(count) entries cannot fit in \(body.count) bytes", offset: 32)
        }
        start(Int(count))
        var entryReader = ByteReader(body, baseOffset: headerSize, context: "hint file")
        var previousEnd: UInt64 = UInt64(SegmentHeader.size)
        for _ in 0..<count {
            let offset = try entryReader.u64()
            let length = Int(try entryReader.u32())
            let entryStart = entryReader.position + headerSize
            let headerBytes = try entryReader.bytes(length, what: "record header copy")
            guard offset < UInt64(Int.max / 2), offset % UInt64(RecordHeader.alignment) == 0 else {
                throw entryReader.error("record offset \(offset) is too large or not 64-byte aligned")
            }
            let header: RecordHeader
            do {
                header = try RecordHeader.decode(headerBytes, fileOffset: Int(offset))
            } catch {
                throw FormatError("hint file entry: \(error.message)", offset: entryStart)
            }
            guard header.headerLength == length else {
                throw FormatError("hint file entry: header is \(header.headerLength) bytes, entry says \(length)", offset: entryStart)
            }
            // Records are listed in file order and must not overlap or leave the segment.
            let end = offset + UInt64(header.recordLength)
            guard offset >= previousEnd, end <= segmentLength else {
                throw FormatError("hint file entry: record at \(offset) overlaps or exceeds the segment", offset: entryStart)
            }
            previousEnd = end
            try entryReader.expectZeros(alignUp(entryReader.position, to: 8) - entryReader.position, what: "entry padding")
            visit(offset, header)
        }
        guard entryReader.remaining == 0 else {
            throw entryReader.error("\(entryReader.remaining) bytes after the last entry")
        }
        return (segmentID, segmentLength)
    }
}

/// The manifest: the set of live segments, replaced atomically (write a
/// temporary file, fsync, rename) on every change. docs/FORMAT.md "Manifest".
public struct Manifest: Sendable, Equatable {
    public static let magic: [UInt8] = Array("TLMANIFS".utf8)
    public static let fixedSize = 48

    /// Sealed segments, in the order they were created.
    public var sealedSegments: [UInt64]
    /// The segment new records are appended to.
    public var activeSegment: UInt64
    /// The next unused segment id; ids are never reused.
    public var nextSegmentID: UInt64
    /// No record has a sequence above this without being in a live segment;
    /// new writes continue above max(this, largest sequence found).
    public var sequenceFloor: UInt64
    /// The format version of the writer that wrote it (a writer refuses a store written by a newer one).
    public var writeVersion: UInt16
    /// The oldest reader version it needs (a writer installs its own; kept as decoded otherwise).
    public var readVersion: UInt16

    public init(
        sealedSegments: [UInt64], activeSegment: UInt64, nextSegmentID: UInt64, sequenceFloor: UInt64,
        writeVersion: UInt16 = SegmentHeader.writeVersion, readVersion: UInt16 = SegmentHeader.readVersion
    ) {
        self.readVersion = readVersion
        self.sealedSegments = sealedSegments
        self.activeSegment = activeSegment
        self.nextSegmentID = nextSegmentID
        self.sequenceFloor = sequenceFloor
        self.writeVersion = writeVersion
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.fixedSize + 8 * sealedSegments.count + 4)
        writer.raw(Self.magic)
        writer.u16(writeVersion)
        writer.u16(readVersion)
        writer.u32(0)
        writer.u64(nextSegmentID)
        writer.u64(activeSegment)
        writer.u64(sequenceFloor)
        writer.u64(UInt64(sealedSegments.count))
        for id in sealedSegments { writer.u64(id) }
        writer.u32(CRC32C.mask(writer.bytes.withUnsafeBytes { CRC32C.checksum($0) }))
        return writer.bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> Manifest {
        var reader = ByteReader(bytes, context: "manifest")
        guard bytes.count >= fixedSize + 4 else { throw reader.error("truncated: \(bytes.count) bytes") }
        let stored = CRC32C.unmask(bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self).littleEndian)
        // The CRC covers everything before it; check it first so a torn manifest is never half-trusted.
        let magicBytes = try reader.bytes(magic.count, what: "magic")
        guard magicBytes.elementsEqual(magic) else { throw FormatError("manifest: bad magic (not a TensorLog store?)", offset: 0) }
        let writeVersion = try reader.u16()
        let readVersion = try reader.u16()
        guard readVersion >= 1, writeVersion >= 1 else { throw FormatError("manifest: version 0 is invalid", offset: 8) }
        guard readVersion <= SegmentHeader.writeVersion else {
            throw FormatError(
                "manifest: store needs format version \(readVersion), this reader knows \(SegmentHeader.writeVersion)",
                offset: 10, isUnsupportedVersion: true)
        }
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<bytes.count - 4])) == stored else {
            throw FormatError("manifest: checksum mismatch", offset: bytes.count - 4)
        }
        try reader.expectZeros(4, what: "reserved field")
        let next = try reader.u64()
        let active = try reader.u64()
        let floor = try reader.u64()
        let count = try reader.u64()
        guard count == UInt64((bytes.count - fixedSize - 4) / 8), (bytes.count - fixedSize - 4) % 8 == 0 else {
            throw FormatError("manifest: segment count \(count) does not match the file size \(bytes.count)", offset: 40)
        }
        // Ids are counted up from `next`; below 2^63 they cannot overflow.
        guard next < 1 << 63 else { throw FormatError("manifest: next segment id \(next) is 2^63 or more", offset: 16) }
        var sealed: [UInt64] = []
        for _ in 0..<count { sealed.append(try reader.u64()) }
        let all = sealed + [active]
        guard Set(all).count == all.count, all.allSatisfy({ $0 > 0 && $0 < next }) else {
            throw FormatError("manifest: segment ids \(all) repeat or are not below next id \(next)", offset: 48)
        }
        return Manifest(
            sealedSegments: sealed, activeSegment: active, nextSegmentID: next, sequenceFloor: floor,
            writeVersion: writeVersion, readVersion: readVersion)
    }
}

/// The `SYNCED` file: how far the active segment is known to be on stable
/// storage. The writer rewrites it after every fsync of the active segment,
/// so recovery can tell damage inside synced data (corruption, reported) from
/// a torn tail (cut). docs/FORMAT.md §9.3.
public struct SyncedMark: Sendable, Equatable {
    public static let magic: [UInt8] = Array("TLSYNCED".utf8)
    public static let size = 32

    /// The active segment this mark is about.
    public var segmentID: UInt64
    /// Bytes of that segment (from its start) that were fsynced.
    public var syncedLength: UInt64

    public init(segmentID: UInt64, syncedLength: UInt64) {
        self.segmentID = segmentID
        self.syncedLength = syncedLength
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Self.magic)
        writer.u64(segmentID)
        writer.u64(syncedLength)
        writer.u32(0)  // reserved
        writer.u32(CRC32C.mask(CRC32C.checksum(writer.bytes)))
        return writer.bytes
    }

    /// Decodes a mark; the file must be exactly 32 bytes with a matching checksum.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> SyncedMark {
        guard bytes.count == size else { throw FormatError("SYNCED: \(bytes.count) bytes, expected \(size)", offset: 0) }
        var reader = ByteReader(bytes, baseOffset: 0, context: "SYNCED")
        let magic = try reader.bytes(8, what: "magic")
        guard magic.elementsEqual(Self.magic) else { throw FormatError("SYNCED: bad magic", offset: 0) }
        let segmentID = try reader.u64()
        let syncedLength = try reader.u64()
        try reader.expectZeros(4, what: "reserved")
        let stored = CRC32C.unmask(try reader.u32())
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28])) == stored else {
            throw FormatError("SYNCED: checksum mismatch", offset: 28)
        }
        guard segmentID != 0, syncedLength >= UInt64(SegmentHeader.size), syncedLength < 1 << 62 else {
            throw FormatError("SYNCED: segment \(segmentID) synced length \(syncedLength) is out of range", offset: 8)
        }
        return SyncedMark(segmentID: segmentID, syncedLength: syncedLength)
    }
}
