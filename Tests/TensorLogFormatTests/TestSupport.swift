import Testing
@testable import TensorLogFormat

/// Byte offsets of the fixed fields of an encoded record header.
enum RecordField {
    static let magic = 0
    static let version = 4
    static let kind = 6
    static let flags = 7
    static let sequence = 8
    static let batchID = 16
    static let previousSegment = 24
    static let previousOffset = 32
    static let rowStart = 40
    static let storedSize = 48
    static let rawSize = 56
    static let payloadCRC = 64
    static let payloadOffset = 68
    static let keyLength = 72
    static let dtype = 74
    static let rank = 75
    static let codec = 76
    static let reserved = 77
    static let metadataCount = 78
    static let metadataLength = 80
    static let headerCRC = 84
}

/// Byte offsets of the fields of an encoded hint file header.
enum HintField {
    static let writeVersion = 8
    static let readVersion = 10
    static let reserved = 12
    static let segmentID = 16
    static let segmentLength = 24
    static let count = 32
    static let bodyLength = 40
    static let bodyCRC = 48
    static let zeroFill = 52
    static let headerCRC = 60
}

/// Byte offsets of the fields of an encoded manifest.
enum ManifestField {
    static let writeVersion = 8
    static let readVersion = 10
    static let reserved = 12
    static let nextSegmentID = 16
    static let activeSegment = 24
    static let sequenceFloor = 32
    static let count = 40
    static let sealed = 48
}

/// Overwrites `bytes[offset...]` with `value`, little endian.
func patch<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T, at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { source in
        for index in 0..<source.count { bytes[offset + index] = source[index] }
    }
}

func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
    bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
}

// MARK: - Decoding [UInt8]

func decodeRecord(_ bytes: [UInt8], fileOffset: Int = 0) throws(FormatError) -> RecordHeader {
    try bytes.withBytes { (buffer) throws(FormatError) in try RecordHeader.decode(buffer, fileOffset: fileOffset) }
}

func recordHeaderLength(_ bytes: [UInt8], fileOffset: Int = 0) throws(FormatError) -> Int {
    try bytes.withBytes { (buffer) throws(FormatError) in
        try RecordHeader.headerLength(fixedPart: buffer, fileOffset: fileOffset)
    }
}

func decodeSegmentHeader(_ bytes: [UInt8]) throws(FormatError) -> SegmentHeader {
    try bytes.withBytes { (buffer) throws(FormatError) in try SegmentHeader.decode(buffer) }
}

func decodeHint(_ bytes: [UInt8]) throws(FormatError) -> HintFile {
    try bytes.withBytes { (buffer) throws(FormatError) in try HintFile.decode(buffer) }
}

func decodeManifest(_ bytes: [UInt8]) throws(FormatError) -> Manifest {
    try bytes.withBytes { (buffer) throws(FormatError) in try Manifest.decode(buffer) }
}

/// Runs a decoder and captures its typed error.
func attempt<T>(_ body: () throws(FormatError) -> T) -> Result<T, FormatError> {
    do { return .success(try body()) } catch { return .failure(error) }
}

extension Result {
    var value: Success? { if case .success(let value) = self { value } else { nil } }
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}

// MARK: - Recomputing checksums over tampered bytes

/// Recomputes the header CRC of an encoded record header over the whole buffer
/// (the CRC field counts as zero), as an honest-but-wrong writer would.
func resealRecord(_ bytes: inout [UInt8]) {
    patch(&bytes, UInt32(0), at: RecordField.headerCRC)
    patch(&bytes, CRC32C.mask(CRC32C.checksum(bytes)), at: RecordField.headerCRC)
}

/// Recomputes the trailing CRC of a 64-byte segment header.
func resealSegmentHeader(_ bytes: inout [UInt8]) {
    patch(&bytes, CRC32C.mask(CRC32C.checksum(Array(bytes[0..<60]))), at: 60)
}

/// Recomputes the body CRC and then the header CRC of a hint file.
func resealHint(_ bytes: inout [UInt8]) {
    patch(&bytes, CRC32C.mask(CRC32C.checksum(Array(bytes[HintFile.headerSize...]))), at: HintField.bodyCRC)
    patch(&bytes, CRC32C.mask(CRC32C.checksum(Array(bytes[0..<60]))), at: HintField.headerCRC)
}

/// Recomputes the trailing CRC of a manifest (over everything before it).
func resealManifest(_ bytes: inout [UInt8]) {
    let end = bytes.count - 4
    patch(&bytes, CRC32C.mask(CRC32C.checksum(Array(bytes[0..<end]))), at: end)
}

// MARK: - Building valid headers

/// A valid put/append header with `payloadOffset` placed for a record at `fileOffset`.
func payloadHeader(
    kind: RecordKind = .put, dtype: DType = .float32, codec: Codec = .none, shape: [Int] = [3, 4],
    storedSize: UInt64? = nil, key: String = "layer.0/weight", metadata: [MetadataEntry] = [],
    previous: RecordPointer? = nil, batchID: UInt64 = 0, sequence: UInt64 = 42, rowStart: UInt64 = 0,
    fileOffset: Int = 64, version: UInt16 = RecordHeader.formatVersion
) -> RecordHeader {
    let raw = UInt64(byteCount(dtype: dtype, shape: shape)!)
    let stored = storedSize ?? (codec == .none ? raw : raw / 2 + 13)
    var header = RecordHeader(
        kind: kind, inBatch: batchID != 0, sequence: sequence, batchID: batchID, previous: previous,
        rowStart: rowStart, storedSize: stored, rawSize: raw, payloadCRC: 0xDEAD_BEEF, key: key,
        dtype: dtype, shape: shape, codec: codec, metadata: metadata, version: version)
    header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: fileOffset))
    return header
}

/// A valid tombstone.
func deleteHeader(
    key: String = "layer.0/weight", previous: RecordPointer? = RecordPointer(segment: 3, offset: 192),
    batchID: UInt64 = 0, sequence: UInt64 = 43
) -> RecordHeader {
    var header = RecordHeader(
        kind: .delete, inBatch: batchID != 0, sequence: sequence, batchID: batchID, previous: previous, key: key)
    header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: 64))
    return header
}

/// A valid commit record for a batch of `count` records.
func commitHeader(batchID: UInt64 = 40, count: UInt64 = 3, sequence: UInt64 = 44) -> RecordHeader {
    var header = RecordHeader(kind: .commit, sequence: sequence, batchID: batchID, rowStart: count, key: "")
    header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: 64))
    return header
}

/// Places `headers` one after another from `start` (recomputing each payload
/// offset for its position) and returns the hint entries and the end offset.
func layOut(_ headers: [RecordHeader], from start: UInt64 = UInt64(SegmentHeader.size)) -> (entries: [HintFile.Entry], end: UInt64) {
    var offset = start
    var entries: [HintFile.Entry] = []
    for var header in headers {
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: Int(offset)))
        entries.append(HintFile.Entry(offset: offset, header: header))
        offset += UInt64(header.recordLength)
    }
    return (entries, offset)
}

/// Metadata samples: none, empty strings, several entries, multi-byte UTF-8.
let sampleMetadata: [[MetadataEntry]] = [
    [],
    [MetadataEntry("", "")],
    [MetadataEntry("unit", "m/s"), MetadataEntry("", "empty key"), MetadataEntry("empty value", "")],
    [MetadataEntry("ключ", "値🙂"), MetadataEntry("family 👩‍👩‍👧", String(repeating: "é", count: 300))],
    [MetadataEntry("a", "b"), MetadataEntry("a", "b")],  // duplicates are the writer's business
]

/// Key samples: short, path-like, multi-byte UTF-8, exactly the 1024-byte limit.
let sampleKeys = ["w", "layer.0/attn/q_proj.weight", "權重/🙂/ß", String(repeating: "k", count: RecordHeader.maxKeyBytes)]
