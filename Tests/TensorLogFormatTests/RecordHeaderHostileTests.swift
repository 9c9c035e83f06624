import Testing
@testable import TensorLogFormat

/// A valid put header with every variable part present (key, shape, metadata), at file offset 64.
private let basePut = payloadHeader(
    kind: .put, dtype: .float32, codec: .none, shape: [3, 4], key: "layer.0/wéight",
    metadata: [MetadataEntry("unit", "m/s"), MetadataEntry("ключ", "値🙂")],
    previous: RecordPointer(segment: 2, offset: 4096), fileOffset: 64)

/// `basePut` encoded with `change` applied to the bytes, then the header CRC
/// recomputed so only the field validation can catch the lie.
private func tamperedPut(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
    var bytes = basePut.encoded()
    change(&bytes)
    resealRecord(&bytes)
    return bytes
}

private func expectRejected(
    _ bytes: [UInt8], fileOffset: Int = 64, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(throws: FormatError.self, comment, sourceLocation: sourceLocation) {
        try decodeRecord(bytes, fileOffset: fileOffset)
    }
}

@Test("The base header the hostile-field tests tamper with is itself invalid, so their rejections would prove nothing")
func hostileBaseHeaderIsValid() throws {
    #expect(try decodeRecord(basePut.encoded(), fileOffset: 64) == basePut)
    // And resealing without a change is a no-op.
    #expect(tamperedPut { _ in } == basePut.encoded())
}

@Test("A truncated record header (any prefix length) decodes instead of throwing")
func recordHeaderEveryTruncationThrows() {
    let headers = [basePut, deleteHeader(), commitHeader(), payloadHeader(shape: [], key: sampleKeys[2], metadata: sampleMetadata[3])]
    var accepted: [String] = []
    for header in headers {
        let bytes = header.encoded()
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            if attempt({ () throws(FormatError) in try decodeRecord(prefix, fileOffset: 64) }).value != nil {
                accepted.append("\(header.kind) prefix \(length)")
            }
            if length < RecordHeader.fixedSize,
               attempt({ () throws(FormatError) in try recordHeaderLength(prefix) }).value != nil {
                accepted.append("\(header.kind) headerLength(fixedPart:) of \(length) bytes")
            }
        }
    }
    #expect(accepted.isEmpty, "\(accepted.prefix(10))")
}

@Test("A single corrupted byte anywhere in a record header (xor 0xFF or 0x01) goes unnoticed by decode")
func recordHeaderEverySingleByteFlipThrows() {
    let headers = [basePut, deleteHeader(), commitHeader(), payloadHeader(kind: .append, codec: .lz4, shape: [1, 2, 3], key: sampleKeys[2])]
    var accepted: [String] = []
    for header in headers {
        let bytes = header.encoded()
        for position in bytes.indices {
            for mask: UInt8 in [0xFF, 0x01] {
                var corrupted = bytes
                corrupted[position] ^= mask
                // Also with trailing bytes: a smaller length field must not let a shorter CRC range match.
                for candidate in [corrupted, corrupted + [UInt8](repeating: 0, count: 300)] {
                    if attempt({ () throws(FormatError) in try decodeRecord(candidate, fileOffset: 64) }).value != nil {
                        accepted.append("\(header.kind) byte \(position) xor \(mask) (+\(candidate.count - bytes.count))")
                    }
                }
            }
        }
    }
    #expect(accepted.isEmpty, "\(accepted.prefix(10))")
}

@Test("Limits on key length (1024), rank (8) and metadata length (1 MiB) are not enforced when the CRC is right")
func recordHeaderLimitsEnforced() {
    // Exactly at the limits: accepted.
    let atLimit = payloadHeader(shape: [1, 1, 1, 1, 1, 1, 1, 2], key: String(repeating: "k", count: 1024))
    #expect(attempt { () throws(FormatError) in try decodeRecord(atLimit.encoded(), fileOffset: 64) }.value == atLimit)
    // One over: rejected by headerLength(fixedPart:) and by decode, even though the encoder wrote a correct CRC.
    let longKey = payloadHeader(key: String(repeating: "k", count: 1025))
    let longMultiByteKey = payloadHeader(key: String(repeating: "é", count: 513))  // 1026 bytes, 513 characters
    let rank9 = payloadHeader(shape: [1, 1, 1, 1, 1, 1, 1, 1, 2])
    for (name, header) in [("1025-byte key", longKey), ("1026-byte multi-byte key", longMultiByteKey), ("rank 9", rank9)] {
        let bytes = header.encoded()
        expectRejected(bytes, "\(name)")
        #expect(throws: FormatError.self, "\(name) headerLength") { try recordHeaderLength(bytes) }
    }
    // Lying length fields with a correct CRC over the bytes that follow.
    expectRejected(tamperedPut { patch(&$0, UInt16(0xFFFF), at: RecordField.keyLength) }, "key length 65535")
    expectRejected(tamperedPut { $0[RecordField.rank] = 9 }, "rank field 9")
    expectRejected(tamperedPut { $0[RecordField.rank] = 255 }, "rank field 255")
    expectRejected(tamperedPut { patch(&$0, UInt32(1 << 20) + 1, at: RecordField.metadataLength) }, "metadata length 1 MiB + 1")
    expectRejected(tamperedPut { patch(&$0, UInt32.max, at: RecordField.metadataLength) }, "metadata length 4 GiB")
    var huge = [UInt8](repeating: 0, count: RecordHeader.fixedSize)
    huge.replaceSubrange(0..<6, with: basePut.encoded()[0..<6])
    patch(&huge, UInt32.max, at: RecordField.metadataLength)
    #expect(throws: FormatError.self) { try recordHeaderLength(huge) }
}

@Test("Metadata whose count or byte length disagrees with its entries is accepted")
func recordHeaderMetadataLengthMismatch() {
    let length = Int(load(UInt32.self, basePut.encoded(), at: RecordField.metadataLength))
    #expect(length == basePut.metadataByteCount)
    expectRejected(tamperedPut {
        patch(&$0, UInt32(length + 1), at: RecordField.metadataLength)
        $0.append(0)  // the extra byte exists, so only the entry walk can notice
    }, "metadata length one more than the entries")
    expectRejected(tamperedPut {
        patch(&$0, UInt32(length + 6), at: RecordField.metadataLength)
        $0 += [0, 0, 0, 0, 0, 0]  // room for one more empty entry that the count does not announce
    }, "metadata length covers an entry the count does not")
    expectRejected(tamperedPut {
        patch(&$0, UInt32(length - 1), at: RecordField.metadataLength)
        $0.removeLast()
    }, "metadata length one less than the entries")
    expectRejected(tamperedPut { patch(&$0, UInt16(3), at: RecordField.metadataCount) }, "metadata count 3 for 2 entries")
    expectRejected(tamperedPut { patch(&$0, UInt16(1), at: RecordField.metadataCount) }, "metadata count 1 for 2 entries")
    expectRejected(tamperedPut { patch(&$0, UInt16(0), at: RecordField.metadataCount) }, "metadata count 0 for 2 entries")
    expectRejected(tamperedPut { patch(&$0, UInt16.max, at: RecordField.metadataCount) }, "metadata count 65535")
    // An entry's own lengths lie: the first entry starts after key (14 bytes) and shape (16 bytes).
    let firstEntry = RecordHeader.fixedSize + basePut.key.utf8.count + 16
    expectRejected(tamperedPut { patch(&$0, UInt16(0xFFFF), at: firstEntry) }, "entry key length 65535")
    expectRejected(tamperedPut { patch(&$0, UInt32.max, at: firstEntry + 2) }, "entry value length 4 GiB")
    expectRejected(tamperedPut { patch(&$0, UInt16(5), at: firstEntry) }, "entry key length one too long")
    // A metadata section on a header with none: count 0 but length 6.
    var plain = payloadHeader().encoded()
    patch(&plain, UInt32(6), at: RecordField.metadataLength)
    plain += [0, 0, 0, 0, 0, 0]
    resealRecord(&plain)
    expectRejected(plain, "metadata length 6 with count 0")
}

@Test("Key or metadata bytes that are not valid UTF-8 are accepted")
func recordHeaderInvalidUTF8() {
    let keyStart = RecordHeader.fixedSize
    let invalid: [(String, [UInt8])] = [
        ("0xFF", [0xFF]), ("lone continuation", [0x80]), ("truncated sequence", [0xE2, 0x82]),
        ("overlong NUL", [0xC0, 0x80]), ("UTF-16 surrogate", [0xED, 0xA0, 0x80]), ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
    ]
    // ASCII follows every replaced spot, so a truncated sequence cannot be completed by what comes next.
    let withMetadata = payloadHeader(metadata: [MetadataEntry("metadata-key", "abcdefgh")])
    func tamperedMetadata(at start: Int, _ sequence: [UInt8]) -> [UInt8] {
        var bytes = withMetadata.encoded()
        bytes.replaceSubrange(start..<start + sequence.count, with: sequence)
        resealRecord(&bytes)
        return bytes
    }
    let valueStart = withMetadata.headerLength - 8
    let metadataKeyStart = valueStart - 12
    #expect(attempt { () throws(FormatError) in try decodeRecord(withMetadata.encoded(), fileOffset: 64) }.value == withMetadata)
    for (name, sequence) in invalid {
        expectRejected(tamperedPut { $0.replaceSubrange(keyStart..<keyStart + sequence.count, with: sequence) }, "key: \(name)")
        expectRejected(tamperedMetadata(at: metadataKeyStart, sequence), "metadata key: \(name)")
        expectRejected(tamperedMetadata(at: valueStart, sequence), "metadata value: \(name)")
    }
}

@Test("A shape whose element or byte count overflows Int, or a dimension above Int.max, is accepted or traps")
func recordHeaderShapeOverflow() {
    let dimsStart = RecordHeader.fixedSize + basePut.key.utf8.count
    expectRejected(tamperedPut { patch(&$0, UInt64.max, at: dimsStart) }, "dimension 2^64 - 1")
    expectRejected(tamperedPut { patch(&$0, UInt64(Int.max) + 1, at: dimsStart) }, "dimension 2^63")
    expectRejected(tamperedPut {
        patch(&$0, UInt64(1) << 32, at: dimsStart)
        patch(&$0, UInt64(1) << 32, at: dimsStart + 8)
    }, "2^32 x 2^32 elements")
    expectRejected(tamperedPut {
        patch(&$0, UInt64(Int.max), at: dimsStart)
        patch(&$0, UInt64(2), at: dimsStart + 8)
    }, "Int.max x 2 elements")
    // Element count fits, byte count does not: Int.max / 4 + 1 float32 elements.
    expectRejected(tamperedPut {
        patch(&$0, UInt64(Int.max / 4 + 1), at: dimsStart)
        patch(&$0, UInt64(1), at: dimsStart + 8)
        patch(&$0, UInt64.max, at: RecordField.rawSize)
        patch(&$0, UInt64.max, at: RecordField.storedSize)
    }, "byte count overflow")
    // Headers built with such shapes through the public initializer (encoder does not validate).
    for shape in [[Int.max, 2], [1 << 32, 1 << 32], [Int.max / 2 + 1, 2], [2, 2, Int.max / 3]] {
        var header = RecordHeader(kind: .put, sequence: 1, rawSize: 8, key: "k", dtype: .int8, shape: shape, codec: .lz4)
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: 64))
        expectRejected(header.encoded(), "shape \(shape)")
    }
}

@Test("Sizes that contradict the shape, dtype or codec are accepted")
func recordHeaderSizeMismatch() {
    let raw = UInt64(3 * 4 * 4)
    expectRejected(tamperedPut { patch(&$0, raw + 1, at: RecordField.rawSize); patch(&$0, raw + 1, at: RecordField.storedSize) },
                   "raw size one more than product(shape) x size (codec none, stored = raw)")
    expectRejected(tamperedPut { patch(&$0, raw - 1, at: RecordField.rawSize); patch(&$0, raw - 1, at: RecordField.storedSize) },
                   "raw size one less")
    expectRejected(tamperedPut { patch(&$0, UInt64(0), at: RecordField.rawSize); patch(&$0, UInt64(0), at: RecordField.storedSize) },
                   "raw size 0")
    // Control: dtype float16 with raw = stored = 12 x 2 is consistent and decodes.
    let float16 = tamperedPut {
        patch(&$0, raw / 2, at: RecordField.rawSize)
        patch(&$0, raw / 2, at: RecordField.storedSize)
        $0[RecordField.dtype] = DType.float16.rawValue
    }
    #expect(attempt { () throws(FormatError) in try decodeRecord(float16, fileOffset: 64) }.value?.dtype == .float16)
    // Changing the dtype alone makes the raw size wrong.
    expectRejected(tamperedPut { $0[RecordField.dtype] = DType.float64.rawValue }, "dtype float64 with float32's raw size")
    expectRejected(tamperedPut { $0[RecordField.dtype] = DType.uint8.rawValue }, "dtype uint8 with float32's raw size")
    // Codec none: stored must equal raw.
    expectRejected(tamperedPut { patch(&$0, raw + 1, at: RecordField.storedSize) }, "codec none, stored = raw + 1")
    expectRejected(tamperedPut { patch(&$0, raw - 1, at: RecordField.storedSize) }, "codec none, stored = raw - 1")
    expectRejected(tamperedPut { patch(&$0, UInt64(0), at: RecordField.storedSize) }, "codec none, stored = 0")
    // A compressed payload larger than half the address space.
    var lz4 = payloadHeader(codec: .lz4)
    lz4.storedSize = UInt64(Int.max / 2) + 1
    expectRejected(lz4.encoded(), "lz4 stored size Int.max/2 + 1")
    lz4.storedSize = .max
    expectRejected(lz4.encoded(), "lz4 stored size 2^64 - 1")
}

@Test("Unknown kind, dtype, codec, flag bits or a nonzero reserved byte are accepted")
func recordHeaderUnknownCodes() {
    for kind: UInt8 in [0, 5, 6, 0x80, 0xFF] {
        expectRejected(tamperedPut { $0[RecordField.kind] = kind }, "kind \(kind)")
    }
    for dtype: UInt8 in [0, 13, 14, 0x80, 0xFF] {
        expectRejected(tamperedPut { $0[RecordField.dtype] = dtype }, "dtype \(dtype)")
    }
    for codec: UInt8 in [3, 4, 0x80, 0xFF] {
        expectRejected(tamperedPut { $0[RecordField.codec] = codec }, "codec \(codec)")
        expectRejected(tamperedPut {
            $0[RecordField.codec] = codec
            patch(&$0, UInt64(5), at: RecordField.storedSize)  // a compressed-looking stored size
        }, "codec \(codec), stored != raw")
    }
    for reserved: UInt8 in [1, 0x80, 0xFF] {
        expectRejected(tamperedPut { $0[RecordField.reserved] = reserved }, "reserved \(reserved)")
    }
    for flags: UInt8 in [2, 3, 0x80, 0xFE, 0xFF] {
        expectRejected(tamperedPut { $0[RecordField.flags] = flags }, "flags \(flags)")
    }
    // Same on records without payload.
    var tombstone = deleteHeader().encoded()
    tombstone[RecordField.reserved] = 1
    resealRecord(&tombstone)
    expectRejected(tombstone, "delete with reserved 1")
}

@Test("A payload offset inside the header, misaligned in the file, or wrong for a payload-less record is accepted")
func recordHeaderPayloadOffset() {
    let correct = basePut.payloadOffset
    #expect(Int(correct) >= basePut.headerLength)
    for (name, offset) in [
        ("0", UInt32(0)), ("header length - 1", UInt32(basePut.headerLength - 1)),
        ("inside header, 64-aligned", UInt32(basePut.headerLength / 64 * 64)),
        ("correct + 1", correct + 1), ("correct + 32", correct + 32), ("correct - 1", correct - 1),
        ("2^32 - 1", UInt32.max),
    ] {
        expectRejected(tamperedPut { patch(&$0, offset, at: RecordField.payloadOffset) }, "payload offset \(name)")
    }
    // Extra (aligned) padding before the payload is the writer's choice and still valid.
    let padded = tamperedPut { patch(&$0, correct + 64, at: RecordField.payloadOffset) }
    #expect(attempt { () throws(FormatError) in try decodeRecord(padded, fileOffset: 64) }.value?.payloadOffset == correct + 64)

    for header in [deleteHeader(), commitHeader()] {
        for delta: Int in [1, -1, 64, 64 - header.headerLength % 64] where delta != 0 {
            var bytes = header.encoded()
            patch(&bytes, UInt32(header.headerLength + delta), at: RecordField.payloadOffset)
            resealRecord(&bytes)
            expectRejected(bytes, "\(header.kind) with payload offset header length \(delta > 0 ? "+" : "")\(delta)")
        }
    }
}

@Test("A header from a newer format version is not reported as unsupported, or a damaged version byte is")
func recordHeaderNewerVersion() {
    for version: UInt16 in [RecordHeader.formatVersion + 1, RecordHeader.formatVersion + 2, 0x100, 0xFFFF] {
        let bytes = tamperedPut { patch(&$0, version, at: RecordField.version) }
        let decodeError = #expect(throws: FormatError.self) { try decodeRecord(bytes, fileOffset: 64) }
        #expect(decodeError?.isUnsupportedVersion == true, "decode, version \(version)")
        // With a CRC that does not match, the version byte may itself be the damage: it is reported
        // as a checksum mismatch (so a torn tail can be cut), naming the claimed version.
        var unsealed = bytes
        unsealed[RecordField.headerCRC] ^= 0xFF
        let error = #expect(throws: FormatError.self) { try decodeRecord(unsealed, fileOffset: 64) }
        #expect(error?.isUnsupportedVersion == false, "decode with bad CRC, version \(version)")
        #expect(error?.message.contains("claims format version \(version)") == true)
    }
    // Version 0 never existed: rejected (whether it is labelled unsupported is a matter of taste).
    expectRejected(tamperedPut { patch(&$0, UInt16(0), at: RecordField.version) }, "version 0")
    // A bad magic is corruption, not a version problem.
    let badMagic = tamperedPut { $0[0] = UInt8(ascii: "X") }
    let error = #expect(throws: FormatError.self) { try decodeRecord(badMagic, fileOffset: 64) }
    #expect(error?.isUnsupportedVersion == false)
    // Errors carry the record's file offset.
    #expect(error?.offset == 64)
}

@Test("Delete and commit records carrying tensor fields, or malformed commits, are accepted")
func recordHeaderPayloadlessRecordsCarryNothing() {
    let tombstone = deleteHeader()
    func tamperedDelete(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = tombstone.encoded()
        change(&bytes)
        resealRecord(&bytes)
        return bytes
    }
    #expect(attempt { () throws(FormatError) in try decodeRecord(tombstone.encoded(), fileOffset: 64) }.value == tombstone)
    expectRejected(tamperedDelete { $0[RecordField.dtype] = DType.float32.rawValue }, "delete with dtype float32")
    expectRejected(tamperedDelete { $0[RecordField.dtype] = 0xFF }, "delete with unknown dtype byte")
    expectRejected(tamperedDelete { $0[RecordField.codec] = Codec.lz4.rawValue }, "delete with codec lz4")
    expectRejected(tamperedDelete { $0[RecordField.codec] = 0xFF }, "delete with unknown codec byte")
    expectRejected(tamperedDelete { patch(&$0, UInt64(1), at: RecordField.storedSize) }, "delete with stored size")
    expectRejected(tamperedDelete { patch(&$0, UInt64(1), at: RecordField.rawSize) }, "delete with raw size")
    // A delete with a shape (and room for it, payload offset adjusted).
    var withShape = tombstone
    withShape.shape = [1]
    withShape.payloadOffset = UInt32(withShape.headerLength)
    expectRejected(withShape.encoded(), "delete with shape [1]")
    withShape.shape = []
    withShape.dtype = .int8
    expectRejected(withShape.encoded(), "delete with dtype int8 (built through the initializer)")
    var withMetadata = tombstone
    withMetadata.metadata = [MetadataEntry("a", "b")]
    withMetadata.payloadOffset = UInt32(withMetadata.headerLength)
    expectRejected(withMetadata.encoded(), "delete with metadata")
    var emptyKey = tombstone
    emptyKey.key = ""
    emptyKey.payloadOffset = UInt32(emptyKey.headerLength)
    expectRejected(emptyKey.encoded(), "delete with empty key")

    let commit = commitHeader()
    func tamperedCommit(_ change: (inout RecordHeader) -> Void) -> [UInt8] {
        var header = commit
        change(&header)
        header.payloadOffset = UInt32(header.headerLength)
        return header.encoded()
    }
    expectRejected(tamperedCommit { $0.key = "k" }, "commit with a key")
    expectRejected(tamperedCommit { $0.inBatch = true }, "commit flagged in-batch")
    expectRejected(tamperedCommit { $0.batchID = 0 }, "commit of batch 0")
    expectRejected(tamperedCommit { $0.dtype = .float32 }, "commit with dtype")
    expectRejected(tamperedCommit { $0.storedSize = 8 }, "commit with stored size")
    expectRejected(tamperedCommit { $0.metadata = [MetadataEntry("", "")] }, "commit with metadata")
}

@Test("Empty keys, sequence 0, batch flag/id disagreement or a rank-0 append are accepted")
func recordHeaderIdentityRules() {
    expectRejected(payloadHeader(key: "").encoded(), "put with empty key")
    expectRejected(payloadHeader(sequence: 0).encoded(), "put with sequence 0")
    expectRejected(deleteHeader(sequence: 0).encoded(), "delete with sequence 0")
    expectRejected(commitHeader(sequence: 0).encoded(), "commit with sequence 0")
    expectRejected(tamperedPut { $0[RecordField.flags] = 1 }, "in-batch flag with batch id 0")
    expectRejected(tamperedPut { patch(&$0, UInt64(5), at: RecordField.batchID) }, "batch id without the in-batch flag")
    expectRejected(payloadHeader(kind: .append, shape: []).encoded(), "append of rank 0")
    // The same on the fixed part of a delete.
    var tombstone = deleteHeader().encoded()
    tombstone[RecordField.flags] = 1
    resealRecord(&tombstone)
    expectRejected(tombstone, "delete flagged in-batch with batch id 0")
}

/// A previous pointer with segment 0 (segment ids start at 1, so 0 means "none")
/// but a nonzero offset: decode maps it to `previous == nil`, dropping the offset,
/// so the decoded header re-encodes to different bytes than were validated.
@Test("A previous pointer with segment 0 but a nonzero offset is accepted and silently loses the offset")
func recordHeaderPreviousPointerIsCanonical() {
    let bytes = tamperedPut {
        patch(&$0, UInt64(0), at: RecordField.previousSegment)
        patch(&$0, UInt64(4096), at: RecordField.previousOffset)
    }
    switch attempt({ () throws(FormatError) in try decodeRecord(bytes, fileOffset: 64) }) {
    case .failure: break  // rejected: fine
    case .success(let header):
        let reencodesIdentically = header.encoded() == bytes
        #expect(reencodesIdentically,
                "decoded previous = \(String(describing: header.previous)); the stored offset 4096 is dropped on re-encode")
    }
}
