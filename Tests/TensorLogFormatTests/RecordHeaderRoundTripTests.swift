import Testing
@testable import TensorLogFormat

/// File offsets a record may start at: segment start, the first record slot,
/// page boundaries, beyond 4 GiB, and a couple not on a 64-byte boundary
/// (payloadOffset(atFileOffset:) must still align the payload in the file).
private let fileOffsets = [0, 64, 128, 4096 - 64, 4096, 4096 + 64, (1 << 20) - 64, (1 << 33) + 192, 37, 4000]

/// Checks everything a round trip of `header` placed at `fileOffset` must satisfy; returns failure descriptions.
private func roundTripProblems(_ header: RecordHeader, at fileOffset: Int) -> [String] {
    var problems: [String] = []
    let where_ = "\(header.kind) \(header.dtype?.name ?? "-") \(header.codec) shape \(header.shape) at \(fileOffset)"
    let bytes = header.encoded()
    if bytes.count != header.headerLength { problems.append("\(where_): encoded \(bytes.count) bytes, headerLength \(header.headerLength)") }
    switch attempt({ () throws(FormatError) in try recordHeaderLength(bytes, fileOffset: fileOffset) }) {
    case .success(let length) where length != bytes.count:
        problems.append("\(where_): headerLength(fixedPart:) \(length) != \(bytes.count)")
    case .failure(let error): problems.append("\(where_): headerLength(fixedPart:) threw \(error)")
    default: break
    }
    switch attempt({ () throws(FormatError) in try decodeRecord(bytes, fileOffset: fileOffset) }) {
    case .success(let decoded):
        if decoded != header { problems.append("\(where_): decoded \(decoded) != original") }
        if decoded.encoded() != bytes { problems.append("\(where_): re-encoding differs") }
    case .failure(let error): problems.append("\(where_): decode threw \(error)")
    }
    // Trailing bytes (the payload, the next record) must not matter.
    if attempt({ () throws(FormatError) in try decodeRecord(bytes + [0xAB, 0xCD, 0, 1], fileOffset: fileOffset) }).value != header {
        problems.append("\(where_): decode with trailing bytes failed")
    }
    let payloadOffset = Int(header.payloadOffset)
    let table = 4 * header.chunkTableCount  // the chunk checksum table sits right before the payload
    if payloadOffset < header.headerLength + table { problems.append("\(where_): payload offset inside header or chunk table") }
    if header.hasPayload {
        let alignment = header.storedSize >= UInt64(RecordHeader.largePayloadThreshold) ? 4096 : 64
        if (fileOffset + payloadOffset) % alignment != 0 {
            problems.append("\(where_): payload at \(fileOffset + payloadOffset) not \(alignment)-aligned")
        }
        if payloadOffset - header.headerLength - table >= alignment {
            problems.append("\(where_): \(payloadOffset - header.headerLength - table) bytes of padding, more than needed")
        }
    } else if payloadOffset != header.headerLength {
        problems.append("\(where_): record without payload has payload offset \(payloadOffset)")
    }
    let length = header.recordLength
    if length % 64 != 0 { problems.append("\(where_): record length \(length) not a multiple of 64") }
    if length < payloadOffset + Int(header.storedSize) || length - (payloadOffset + Int(header.storedSize)) >= 64 {
        problems.append("\(where_): record length \(length) does not fit payload end \(payloadOffset + Int(header.storedSize))")
    }
    return problems
}

@Test("A put or append header of some kind, dtype, codec, rank, metadata or placement does not survive encode/decode unchanged")
func payloadHeaderRoundTripsEverywhere() {
    var rng = SplitMix64(seed: 0xF0_4A7)
    var problems: [String] = []
    var checked = 0
    var index = 0
    for kind in [RecordKind.put, .append] {
        for dtype in DType.allCases {
            for codec in Codec.allCases {
                for rank in 0...RecordHeader.maxRank {
                    index += 1
                    if kind == .append && rank == 0 { continue }  // appended blocks have rank >= 1
                    var shape = (0..<rank).map { _ in rng.int(1...5) }
                    if rank > 0 && index % 3 == 0 { shape[rng.int(0...(rank - 1))] = 0 }  // zero-size dimension
                    if rank > 0 && index % 7 == 1 { shape[0] = (1 << 20) / dtype.size }  // >= 1 MiB raw
                    let raw = UInt64(byteCount(dtype: dtype, shape: shape)!)
                    let stored: UInt64 = switch codec {
                    case .none: raw
                    case .lz4: raw + 16  // incompressible input grows
                    case .shuffleLZ4: raw / 3
                    }
                    let batchID: UInt64 = index % 4 == 0 ? 900 + UInt64(index) : 0
                    let previous = index % 5 < 2 ? RecordPointer(segment: UInt64(index), offset: UInt64(64 * index)) : nil
                    for fileOffset in fileOffsets {
                        let header = payloadHeader(
                            kind: kind, dtype: dtype, codec: codec, shape: shape, storedSize: stored,
                            key: sampleKeys[index % sampleKeys.count], metadata: sampleMetadata[index % sampleMetadata.count],
                            previous: previous, batchID: batchID, sequence: UInt64(index) * 1_000_003,
                            rowStart: kind == .append ? UInt64(index) : 0, fileOffset: fileOffset)
                        problems += roundTripProblems(header, at: fileOffset)
                        checked += 1
                    }
                }
            }
        }
    }
    #expect(checked > 5000)
    #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
}

@Test("Extreme but legal field values (max sequence, max pointers, huge dims, 1024-byte key) are mangled by a round trip")
func payloadHeaderExtremeValuesRoundTrip() {
    let headers = [
        payloadHeader(dtype: .uint8, codec: .lz4, shape: [Int.max], storedSize: 100, key: sampleKeys[3], sequence: .max),
        payloadHeader(kind: .append, dtype: .bool, shape: [1], sequence: 1, rowStart: UInt64(Int.max) - 1),  // last row Int.max - 1
        payloadHeader(kind: .append, dtype: .float64, shape: [1, 1, 1, 1, 1, 1, 1, 1],
                      previous: RecordPointer(segment: .max, offset: .max), batchID: .max, sequence: .max - 1),
        payloadHeader(dtype: .int64, shape: [0, Int.max, Int.max]),  // zero elements whatever the other dims
        payloadHeader(dtype: .float8E5M2, codec: .shuffleLZ4, shape: [7], storedSize: UInt64(Int.max / 2), version: 1),
        payloadHeader(dtype: .int8, shape: [2], metadata: [MetadataEntry(String(repeating: "m", count: 65_535), "")]),
    ]
    for header in headers {
        let problems = roundTripProblems(header, at: 64)
        #expect(problems.isEmpty, "\(problems)")
    }
}

@Test("Delete and commit records (no payload) do not survive encode/decode unchanged")
func recordsWithoutPayloadRoundTrip() {
    var headers: [RecordHeader] = []
    for key in sampleKeys {
        headers.append(deleteHeader(key: key))
        headers.append(deleteHeader(key: key, previous: nil))
        headers.append(deleteHeader(key: key, batchID: 77))
    }
    headers.append(commitHeader())
    headers.append(commitHeader(batchID: .max, count: 0, sequence: .max))
    headers.append(commitHeader(batchID: 1, count: UInt64(Int32.max), sequence: 1))
    var tombstone = deleteHeader()
    tombstone.payloadCRC = 0x1234_5678  // carried through, even if meaningless
    headers.append(tombstone)
    // Row starts a reader would have to turn into Ints, or that mean nothing, are refused (rules V17a, V20).
    var lyingTombstone = deleteHeader()
    lyingTombstone.rowStart = 9
    let hugeBatch = commitHeader(batchID: 1, count: UInt64(Int32.max) + 1, sequence: 1)
    for refused in [lyingTombstone, hugeBatch] {
        let bytes = refused.encoded()
        #expect(throws: FormatError.self) { try bytes.withBytes { (buffer) throws(FormatError) in try RecordHeader.decode(buffer, fileOffset: 64) } }
    }
    var problems: [String] = []
    for header in headers {
        #expect(header.payloadOffset(atFileOffset: 4096) == header.headerLength)
        for fileOffset in fileOffsets {
            problems += roundTripProblems(header, at: fileOffset)
        }
    }
    #expect(problems.isEmpty, "\(problems.prefix(5))")
}

@Test("The 1 MiB boundary between 64- and 4096-byte payload alignment is off by one")
func largePayloadAlignmentThreshold() {
    for fileOffset in [64, 128, 4096 - 64, 8192 + 640] {
        let below = payloadHeader(codec: .lz4, shape: [1 << 20], storedSize: (1 << 20) - 1, fileOffset: fileOffset)
        let at = payloadHeader(codec: .lz4, shape: [1 << 20], storedSize: 1 << 20, fileOffset: fileOffset)
        let small = payloadHeader(codec: .lz4, shape: [1 << 20], storedSize: 1, fileOffset: fileOffset)
        #expect((fileOffset + Int(below.payloadOffset)) % 64 == 0)
        #expect(Int(below.payloadOffset) - below.headerLength < 64)
        #expect((fileOffset + Int(at.payloadOffset)) % 4096 == 0)
        #expect(Int(at.payloadOffset) - at.headerLength < 4096)
        #expect(Int(small.payloadOffset) == alignUp(fileOffset + small.headerLength, to: 64) - fileOffset)
        for header in [below, at, small] {
            #expect(roundTripProblems(header, at: fileOffset).isEmpty)
        }
    }
}

@Test("The same header bytes decode at one file offset but a payload misaligned at another is accepted")
func payloadAlignmentDependsOnFileOffset() throws {
    let header = payloadHeader(fileOffset: 128)
    let bytes = header.encoded()
    #expect(try decodeRecord(bytes, fileOffset: 128) == header)
    #expect(try decodeRecord(bytes, fileOffset: 128 + 4096) == header)
    for shifted in [129, 127, 128 + 32, 128 + 8] {
        #expect(throws: FormatError.self, "file offset \(shifted)") { try decodeRecord(bytes, fileOffset: shifted) }
    }
}

@Test("Encoded headers embed the exact little-endian field layout the format documents")
func recordHeaderFieldLayout() throws {
    let header = payloadHeader(
        kind: .append, dtype: .bfloat16, codec: .shuffleLZ4, shape: [5, 6], storedSize: 33, key: "ké",
        metadata: [MetadataEntry("a", "bc")], previous: RecordPointer(segment: 9, offset: 640),
        batchID: 0x0102_0304_0506_0708, sequence: 0x1122_3344_5566_7788, rowStart: 17, fileOffset: 64)
    let bytes = header.encoded()
    #expect(Array(bytes[0..<4]) == Array("TLRC".utf8))
    #expect(load(UInt16.self, bytes, at: RecordField.version) == RecordHeader.formatVersion)
    #expect(bytes[RecordField.kind] == RecordKind.append.rawValue)
    #expect(bytes[RecordField.flags] == 1)
    #expect(load(UInt64.self, bytes, at: RecordField.sequence) == 0x1122_3344_5566_7788)
    #expect(load(UInt64.self, bytes, at: RecordField.batchID) == 0x0102_0304_0506_0708)
    #expect(load(UInt64.self, bytes, at: RecordField.previousSegment) == 9)
    #expect(load(UInt64.self, bytes, at: RecordField.previousOffset) == 640)
    #expect(load(UInt64.self, bytes, at: RecordField.rowStart) == 17)
    #expect(load(UInt64.self, bytes, at: RecordField.storedSize) == 33)
    #expect(load(UInt64.self, bytes, at: RecordField.rawSize) == 60)
    #expect(load(UInt32.self, bytes, at: RecordField.payloadCRC) == CRC32C.mask(0xDEAD_BEEF))
    #expect(load(UInt32.self, bytes, at: RecordField.payloadOffset) == header.payloadOffset)
    #expect(load(UInt16.self, bytes, at: RecordField.keyLength) == 3)
    #expect(bytes[RecordField.dtype] == DType.bfloat16.rawValue)
    #expect(bytes[RecordField.rank] == 2)
    #expect(bytes[RecordField.codec] == Codec.shuffleLZ4.rawValue)
    #expect(bytes[RecordField.reserved] == 0)
    #expect(load(UInt16.self, bytes, at: RecordField.metadataCount) == 1)
    #expect(load(UInt32.self, bytes, at: RecordField.metadataLength) == 6 + 1 + 2)
    #expect(Array(bytes[88..<91]) == Array("ké".utf8))
    #expect(load(UInt64.self, bytes, at: 91) == 5)
    #expect(load(UInt64.self, bytes, at: 99) == 6)
    #expect(load(UInt16.self, bytes, at: 107) == 1)
    #expect(load(UInt32.self, bytes, at: 109) == 2)
    #expect(Array(bytes[113...]) == Array("abc".utf8))
    // Header CRC: over the header with the CRC field zeroed, masked.
    var zeroed = bytes
    patch(&zeroed, UInt32(0), at: RecordField.headerCRC)
    #expect(load(UInt32.self, bytes, at: RecordField.headerCRC) == CRC32C.mask(CRC32C.checksum(zeroed)))
    #expect(RecordHeader.fixedSize == 88)
}
