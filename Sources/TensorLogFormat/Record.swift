/// What a record does. Stored as one byte; never renumber.
public enum RecordKind: UInt8, Sendable, CustomStringConvertible {
    /// Starts a new version of a key; its payload is the first (often only) row block.
    case put = 1
    /// Deletes a key (a tombstone); no payload.
    case delete = 2
    /// Commits the batch whose records carry `batchID`; no payload.
    case commit = 3
    /// Adds a row block to the latest version of a key.
    case append = 4

    public var description: String {
        switch self {
        case .put: "put"
        case .delete: "delete"
        case .commit: "commit"
        case .append: "append"
        }
    }
}

/// Where a record starts: a segment and a byte offset in it.
public struct RecordPointer: Sendable, Hashable, CustomStringConvertible {
    public var segment: UInt64
    public var offset: UInt64

    public init(segment: UInt64, offset: UInt64) {
        self.segment = segment
        self.offset = offset
    }

    public var description: String { "segment \(segment) offset \(offset)" }
}

/// A user metadata entry (string key and value) carried in a record header.
public struct MetadataEntry: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// The header of one record: the fixed 88-byte part and the variable part
/// (key, shape, metadata). docs/FORMAT.md "Records" is the specification.
public struct RecordHeader: Sendable, Equatable {
    public static let magic: UInt32 = 0x4352_4C54  // "TLRC" in file byte order
    /// The record version this writer writes; readers accept 1 and 2 (2 added chunk checksum tables).
    public static let formatVersion: UInt16 = 2
    public static let fixedSize = 88
    public static let maxKeyBytes = 1024
    public static let maxRank = 8
    public static let maxMetadataBytes = 1 << 20
    /// Payloads of at least this many bytes start at a multiple of `largeAlignment`.
    public static let largePayloadThreshold = 1 << 20
    public static let alignment = 64
    public static let largeAlignment = 4096

    /// Format version of this record (decoded, or `formatVersion` for a new one); copies keep it.
    public var version: UInt16
    public var kind: RecordKind
    /// Part of an atomic batch: visible only once the batch's commit record exists.
    public var inBatch: Bool
    public var sequence: UInt64
    /// For batch members, the batch's id (the sequence of its first record); for a commit, the batch it commits; else 0.
    public var batchID: UInt64
    /// The previous record of the same key (put, append or delete), if any.
    public var previous: RecordPointer?
    /// put/append: index along axis 0 of this block's first row. commit: number of records in the batch.
    public var rowStart: UInt64
    public var storedSize: UInt64
    public var rawSize: UInt64
    /// CRC32C of the stored payload bytes (unmasked here, masked on disk).
    public var payloadCRC: UInt32
    /// Distance from the record's first byte to its payload's first byte.
    public var payloadOffset: UInt32
    public var key: String
    /// The element type (put/append only).
    public var dtype: DType?
    /// Shape of this block (put/append only); axis 0 counts this block's rows.
    public var shape: [Int]
    public var codec: Codec
    public var metadata: [MetadataEntry]

    public init(
        kind: RecordKind, inBatch: Bool = false, sequence: UInt64, batchID: UInt64 = 0,
        previous: RecordPointer? = nil, rowStart: UInt64 = 0, storedSize: UInt64 = 0, rawSize: UInt64 = 0,
        payloadCRC: UInt32 = 0, payloadOffset: UInt32 = 0, key: String, dtype: DType? = nil,
        shape: [Int] = [], codec: Codec = .none, metadata: [MetadataEntry] = [], version: UInt16 = RecordHeader.formatVersion
    ) {
        self.version = version
        self.kind = kind
        self.inBatch = inBatch
        self.sequence = sequence
        self.batchID = batchID
        self.previous = previous
        self.rowStart = rowStart
        self.storedSize = storedSize
        self.rawSize = rawSize
        self.payloadCRC = payloadCRC
        self.payloadOffset = payloadOffset
        self.key = key
        self.dtype = dtype
        self.shape = shape
        self.codec = codec
        self.metadata = metadata
    }

    /// Whether the record carries a tensor block.
    public var hasPayload: Bool { kind == .put || kind == .append }

    /// Bytes of the encoded metadata section.
    public var metadataByteCount: Int {
        metadata.reduce(0) { $0 + 6 + $1.key.utf8.count + $1.value.utf8.count }
    }

    /// Bytes of the fixed and variable header parts, before padding.
    public var headerLength: Int {
        Self.fixedSize + key.utf8.count + 8 * shape.count + metadataByteCount
    }

    /// Where the payload starts (relative to the record) for a record placed at
    /// `fileOffset`: after the header and the chunk checksum table, at a
    /// multiple of 64 in the file, or of 4096 for payloads of 1 MiB or more.
    public func payloadOffset(atFileOffset fileOffset: Int) -> Int {
        guard hasPayload else { return headerLength }
        let alignment = storedSize >= UInt64(Self.largePayloadThreshold) ? Self.largeAlignment : Self.alignment
        return alignUp(fileOffset + headerLength + 4 * chunkTableCount, to: alignment) - fileOffset
    }

    /// Total bytes the record occupies in its segment, padding included.
    public var recordLength: Int {
        alignUp(Int(payloadOffset) + Int(storedSize), to: Self.alignment)
    }

    /// Encodes the header (fixed and variable parts, header CRC filled in),
    /// without payload or padding. `payloadOffset` must already be set.
    public func encoded() -> [UInt8] {
        let length = headerLength
        return [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            initialized = encode(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Encodes the header into the first `headerLength` bytes of `destination`
    /// (which must hold at least that many) and returns `headerLength`; the same
    /// bytes as `encoded()`, without an allocation. `payloadOffset` must already be set.
    @discardableResult
    public func encode(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let length = headerLength
        precondition(destination.count >= length, "record header needs \(length) bytes")
        var position = 0
        func put<T: FixedWidthInteger>(_ value: T) {
            destination.storeBytes(of: value.littleEndian, toByteOffset: position, as: T.self)
            position += MemoryLayout<T>.size
        }
        func put(utf8 text: String) {
            let copied = text.utf8.withContiguousStorageIfAvailable { source in
                UnsafeMutableRawBufferPointer(rebasing: destination[position..<position + source.count])
                    .copyMemory(from: UnsafeRawBufferPointer(source))
                return source.count
            }
            if let copied {
                position += copied
            } else {
                for byte in text.utf8 { put(byte) }
            }
        }
        put(Self.magic)
        put(version)
        put(kind.rawValue)
        put(UInt8(inBatch ? 1 : 0))
        put(sequence)
        put(batchID)
        put(previous?.segment ?? 0)
        put(previous?.offset ?? 0)
        put(rowStart)
        put(storedSize)
        put(rawSize)
        put(CRC32C.mask(payloadCRC))
        put(payloadOffset)
        put(UInt16(key.utf8.count))
        put(dtype?.rawValue ?? 0)
        put(UInt8(shape.count))
        put(codec.rawValue)
        put(UInt8(0))  // reserved
        put(UInt16(metadata.count))
        put(UInt32(metadataByteCount))
        put(UInt32(0))  // header CRC, patched below
        put(utf8: key)
        for dimension in shape { put(UInt64(dimension)) }
        for entry in metadata {
            put(UInt16(entry.key.utf8.count))
            put(UInt32(entry.value.utf8.count))
            put(utf8: entry.key)
            put(utf8: entry.value)
        }
        precondition(position == length, "record header encoded \(position) of \(length) bytes")
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: destination[0..<length]))
        destination.storeBytes(of: CRC32C.mask(crc).littleEndian, toByteOffset: 84, as: UInt32.self)
        return length
    }

    /// Reads the total header length from the fixed part, so a scanner knows how
    /// many bytes to fetch before `decode`. Checks the magic only: the version
    /// is checked after the header CRC, so a damaged version byte reads as
    /// damage (a torn tail can be cut) rather than as a newer format.
    public static func headerLength(
        fixedPart bytes: UnsafeRawBufferPointer, fileOffset: Int = 0
    ) throws(FormatError) -> Int {
        var reader = ByteReader(bytes, baseOffset: fileOffset, context: "record header")
        guard bytes.count >= fixedSize else {
            throw reader.error("truncated: \(bytes.count) of \(fixedSize) fixed header bytes")
        }
        let magic = try reader.u32()
        guard magic == Self.magic else {
            throw FormatError("record header: bad magic 0x\(String(magic, radix: 16))", offset: fileOffset)
        }
        try reader.skip(68, what: "fixed fields")
        let keyLength = Int(try reader.u16())
        try reader.skip(1, what: "dtype")
        let rank = Int(try reader.u8())
        try reader.skip(4, what: "codec, reserved, metadata count")
        let metadataLength = Int(try reader.u32())
        guard keyLength <= maxKeyBytes, rank <= maxRank, metadataLength <= maxMetadataBytes else {
            throw FormatError(
                "record header: key length \(keyLength), rank \(rank) or metadata length \(metadataLength) exceeds the format's limits",
                offset: fileOffset)
        }
        return fixedSize + keyLength + 8 * rank + metadataLength
    }

    /// Decodes and validates a header from `bytes` (at least `headerLength`
    /// bytes; more is fine). `fileOffset` is where the record starts in its
    /// file, used in errors and for the alignment check.
    public static func decode(_ bytes: UnsafeRawBufferPointer, fileOffset: Int = 0) throws(FormatError) -> RecordHeader {
        let length = try headerLength(fixedPart: bytes, fileOffset: fileOffset)
        guard bytes.count >= length else {
            throw FormatError("record header: truncated: \(bytes.count) of \(length) header bytes", offset: fileOffset)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[0..<length])
        // Verify the header CRC before trusting any field.
        let storedCRC = CRC32C.unmask(headerBytes.loadUnaligned(fromByteOffset: 84, as: UInt32.self).littleEndian)
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: headerBytes[0..<84]))
        crc = withUnsafeBytes(of: UInt32(0)) { CRC32C.checksum($0, continuing: crc) }
        crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: headerBytes[88...]), continuing: crc)
        guard crc == storedCRC else {
            let version = headerBytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian
            let claim = version > formatVersion ? " (it claims format version \(version))" : ""
            throw FormatError("record header: checksum mismatch\(claim)", offset: fileOffset)
        }

        var reader = ByteReader(headerBytes, baseOffset: fileOffset, context: "record header")
        let version = try checkMagicAndVersion(&reader)
        let kindByte = try reader.u8()
        guard let kind = RecordKind(rawValue: kindByte) else { throw reader.error("unknown record kind \(kindByte)") }
        let flags = try reader.u8()
        guard flags & ~1 == 0 else { throw reader.error("unknown flag bits \(flags)") }
        let sequence = try reader.u64()
        let batchID = try reader.u64()
        let previousSegment = try reader.u64()
        let previousOffset = try reader.u64()
        let rowStart = try reader.u64()
        let storedSize = try reader.u64()
        let rawSize = try reader.u64()
        let payloadCRC = CRC32C.unmask(try reader.u32())
        let payloadOffset = try reader.u32()
        let keyLength = Int(try reader.u16())
        let dtypeByte = try reader.u8()
        let rank = Int(try reader.u8())
        let codecByte = try reader.u8()
        let reserved = try reader.u8()
        let metadataCount = Int(try reader.u16())
        let metadataLength = Int(try reader.u32())
        _ = try reader.u32()  // header CRC, checked above
        guard reserved == 0 else { throw reader.error("reserved byte is \(reserved), must be 0") }
        guard previousSegment != 0 || previousOffset == 0 else {
            throw reader.error("previous offset \(previousOffset) without a previous segment")
        }

        let key = try reader.string(keyLength, what: "key")
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        for _ in 0..<rank {
            let dimension = try reader.u64()
            guard dimension <= UInt64(Int.max) else { throw reader.error("dimension \(dimension) is too large") }
            shape.append(Int(dimension))
        }
        let metadataStart = reader.position
        var metadata: [MetadataEntry] = []
        for _ in 0..<metadataCount {
            let keyBytes = Int(try reader.u16())
            let valueBytes = Int(try reader.u32())
            let entryKey = try reader.string(keyBytes, what: "metadata key")
            let entryValue = try reader.string(valueBytes, what: "metadata value")
            metadata.append(MetadataEntry(entryKey, entryValue))
        }
        guard reader.position - metadataStart == metadataLength else {
            throw reader.error("metadata entries take \(reader.position - metadataStart) bytes, header says \(metadataLength)")
        }

        let header = RecordHeader(
            kind: kind, inBatch: flags & 1 != 0, sequence: sequence, batchID: batchID,
            previous: previousSegment == 0 ? nil : RecordPointer(segment: previousSegment, offset: previousOffset),
            rowStart: rowStart, storedSize: storedSize, rawSize: rawSize, payloadCRC: payloadCRC,
            payloadOffset: payloadOffset, key: key, dtype: DType(rawValue: dtypeByte), shape: shape,
            codec: Codec(rawValue: codecByte) ?? .none, metadata: metadata, version: version)
        try header.validate(dtypeByte: dtypeByte, codecByte: codecByte, fileOffset: fileOffset)
        return header
    }

    private static func checkMagicAndVersion(_ reader: inout ByteReader) throws(FormatError) -> UInt16 {
        let start = reader.baseOffset + reader.position
        let magic = try reader.u32()
        guard magic == Self.magic else {
            throw FormatError("record header: bad magic 0x\(String(magic, radix: 16))", offset: start)
        }
        let version = try reader.u16()
        guard version >= 1 else { throw FormatError("record header: format version 0 does not exist", offset: start) }
        guard version <= formatVersion else {
            throw FormatError(
                "record header: format version \(version) is newer than this reader's \(formatVersion)",
                offset: start, isUnsupportedVersion: true)
        }
        return version
    }

    /// Checks the rules a decoded header must satisfy (docs/FORMAT.md, "Validation").
    private func validate(dtypeByte: UInt8, codecByte: UInt8, fileOffset: Int) throws(FormatError) {
        func fail(_ message: String) -> FormatError {
            FormatError("record header (\(kind) '\(key)' seq \(sequence)): \(message)", offset: fileOffset)
        }
        guard !key.isEmpty || kind == .commit else { throw fail("empty key") }
        guard sequence > 0 else { throw fail("sequence 0 is reserved") }
        guard inBatch == (batchID != 0) || kind == .commit else { throw fail("batch flag and batch id disagree") }
        if hasPayload {
            guard let dtype else { throw fail("unknown dtype code \(dtypeByte)") }
            guard Codec(rawValue: codecByte) != nil else { throw fail("unknown codec \(codecByte)") }
            guard let expected = byteCount(dtype: dtype, shape: shape) else { throw fail("shape \(shape) overflows") }
            guard rawSize == UInt64(expected) else {
                throw fail("raw size \(rawSize) != product(shape \(shape)) x \(dtype.size)")
            }
            if codec == .none, storedSize != rawSize {
                throw fail("uncompressed payload stores \(storedSize) bytes for \(rawSize) raw bytes")
            }
            guard !shape.isEmpty || kind == .put else { throw fail("an appended block needs rank >= 1") }
            guard storedSize <= UInt64(Int.max / 2) else { throw fail("stored size \(storedSize) is too large") }
            guard Int(payloadOffset) >= headerLength + 4 * chunkTableCount else {
                throw fail("payload offset \(payloadOffset) overlaps the \(headerLength)-byte header and its \(chunkTableCount)-entry chunk table")
            }
            guard (fileOffset + Int(payloadOffset)) % Self.alignment == 0 else {
                throw fail("payload at file offset \(fileOffset + Int(payloadOffset)) is not 64-byte aligned")
            }
            // Row ranges are computed as Ints: the block's last row must fit.
            let rows = UInt64(shape.first ?? 1)
            guard kind == .append || rowStart == 0 else { throw fail("a put starts at row 0, not \(rowStart)") }
            guard rowStart <= UInt64(Int.max) - rows else { throw fail("row start \(rowStart) is too large") }
        } else {
            guard dtypeByte == 0, shape.isEmpty, codecByte == 0, storedSize == 0, rawSize == 0, metadata.isEmpty else {
                throw fail("a \(kind) record carries tensor fields")
            }
            guard Int(payloadOffset) == headerLength else { throw fail("payload offset \(payloadOffset) for a record without payload") }
            if kind == .commit {
                guard batchID != 0, !inBatch, key.isEmpty else { throw fail("malformed commit record") }
                guard rowStart <= UInt64(Int32.max) else { throw fail("a batch of \(rowStart) records is too large") }
            } else {
                guard rowStart == 0 else { throw fail("a delete carries row start \(rowStart)") }
            }
        }
    }
}
