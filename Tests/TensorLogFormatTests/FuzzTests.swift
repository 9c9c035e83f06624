import Testing
@testable import TensorLogFormat

// Randomized robustness tests with fixed seeds. A decoder that traps takes the
// whole test process down, so "never crashes" is checked by getting to the end;
// decoded values are also checked against the invariants decode promises.

// MARK: - Invariant checks on successfully decoded values

/// What must hold for any header `RecordHeader.decode` accepted from `bytes` at `fileOffset`.
private func recordProblems(_ header: RecordHeader, from bytes: [UInt8], fileOffset: Int) -> [String] {
    var problems: [String] = []
    let length = header.headerLength
    guard length <= bytes.count else { return ["decoded header length \(length) > \(bytes.count) input bytes"] }
    var canonical = Array(bytes[0..<length])
    // Known lossy spot, covered by recordHeaderPreviousPointerIsCanonical: offset kept when segment is 0.
    if header.previous == nil { patch(&canonical, UInt64(0), at: RecordField.previousOffset); resealRecord(&canonical) }
    if header.encoded() != canonical { problems.append("re-encoding differs from input") }
    if attempt({ () throws(FormatError) in try decodeRecord(header.encoded(), fileOffset: fileOffset) }).value != header {
        problems.append("decode(encode(decoded)) differs")
    }
    if header.key.utf8.count > RecordHeader.maxKeyBytes || header.shape.count > RecordHeader.maxRank {
        problems.append("limits exceeded")
    }
    if header.sequence == 0 { problems.append("sequence 0") }
    if header.hasPayload {
        guard let dtype = header.dtype, let raw = byteCount(dtype: dtype, shape: header.shape) else {
            return problems + ["payload record without dtype or with overflowing shape"]
        }
        if header.rawSize != UInt64(raw) { problems.append("raw size \(header.rawSize) != \(raw)") }
        if header.codec == .none && header.storedSize != header.rawSize { problems.append("codec none, stored != raw") }
        if Int(header.payloadOffset) < length { problems.append("payload offset inside header") }
        if (fileOffset + Int(header.payloadOffset)) % 64 != 0 { problems.append("payload misaligned") }
        if header.recordLength % 64 != 0 { problems.append("record length not a multiple of 64") }
    } else {
        if header.dtype != nil || !header.shape.isEmpty || header.storedSize != 0 || !header.metadata.isEmpty {
            problems.append("\(header.kind) with tensor fields")
        }
        if Int(header.payloadOffset) != length { problems.append("payload offset != header length") }
    }
    return problems
}

private func hintProblems(_ hint: HintFile) -> [String] {
    var problems: [String] = []
    var previousEnd = UInt64(SegmentHeader.size)
    for entry in hint.entries {
        let end = entry.offset.addingReportingOverflow(UInt64(entry.header.recordLength))
        if entry.offset < previousEnd || end.overflow || end.partialValue > hint.segmentLength {
            problems.append("entry at \(entry.offset) out of order, overlapping or past the segment")
        }
        problems += recordProblems(entry.header, from: entry.header.encoded(), fileOffset: Int(entry.offset))
        previousEnd = end.partialValue
    }
    if attempt({ () throws(FormatError) in try decodeHint(hint.encoded()) }).value != hint {
        problems.append("decode(encode(hint)) differs")
    }
    return problems
}

private func manifestProblems(_ manifest: Manifest) -> [String] {
    var problems: [String] = []
    let all = manifest.sealedSegments + [manifest.activeSegment]
    if Set(all).count != all.count { problems.append("repeated ids \(all)") }
    if !all.allSatisfy({ $0 > 0 && $0 < manifest.nextSegmentID }) { problems.append("ids \(all) not in 1..<\(manifest.nextSegmentID)") }
    if attempt({ () throws(FormatError) in try decodeManifest(manifest.encoded()) }).value != manifest {
        problems.append("decode(encode(manifest)) differs")
    }
    return problems
}

/// Feeds `bytes` to every decoder; returns invariant violations and counts successes.
private func decodeEverything(_ bytes: [UInt8], successes: inout [String: Int]) -> [String] {
    var problems: [String] = []
    let fileOffset = 64
    _ = attempt { () throws(FormatError) in try recordHeaderLength(bytes, fileOffset: fileOffset) }
    if let header = attempt({ () throws(FormatError) in try decodeRecord(bytes, fileOffset: fileOffset) }).value {
        successes["record", default: 0] += 1
        problems += recordProblems(header, from: bytes, fileOffset: fileOffset)
    }
    if let hint = attempt({ () throws(FormatError) in try decodeHint(bytes) }).value {
        successes["hint", default: 0] += 1
        problems += hintProblems(hint)
    }
    if let manifest = attempt({ () throws(FormatError) in try decodeManifest(bytes) }).value {
        successes["manifest", default: 0] += 1
        problems += manifestProblems(manifest)
    }
    if let segment = attempt({ () throws(FormatError) in try decodeSegmentHeader(bytes) }).value {
        successes["segment", default: 0] += 1
        if attempt({ () throws(FormatError) in try decodeSegmentHeader(segment.encoded()) }).value != segment {
            problems.append("segment header: decode(encode(decoded)) differs")
        }
    }
    return problems
}

// MARK: - Random buffers

private let recordPreamble: [UInt8] = [0x54, 0x4C, 0x52, 0x43, 0x01, 0x00]  // "TLRC", version 1

private func preamble(_ magic: [UInt8], write: UInt16 = 1, read: UInt16 = 1) -> [UInt8] {
    var bytes = magic + [0, 0, 0, 0]
    patch(&bytes, write, at: 8)
    patch(&bytes, read, at: 10)
    return bytes
}

private func overlay(_ prefix: [UInt8], on bytes: inout [UInt8]) {
    for index in 0..<min(prefix.count, bytes.count) { bytes[index] = prefix[index] }
}

/// A record header with random contents but plausible lengths and small field
/// values, the header CRC made correct so the field validation is what gets tested.
private func sealedRandomRecord(_ rng: inout SplitMix64) -> [UInt8] {
    let keyLength = rng.int(0...40)
    let rank = rng.chance(1, in: 20) ? 9 : rng.int(0...4)
    let metadataLength = rng.chance(1, in: 2) ? 0 : rng.int(0...60)
    let length = RecordHeader.fixedSize + keyLength + 8 * rank + metadataLength
    var bytes = rng.bytes(length)
    overlay(recordPreamble, on: &bytes)
    bytes[RecordField.kind] = UInt8(rng.int(0...5))
    bytes[RecordField.flags] = UInt8(rng.int(0...2))
    for field in [RecordField.sequence, RecordField.batchID, RecordField.previousSegment, RecordField.rowStart] where rng.chance(1, in: 2) {
        patch(&bytes, UInt64(rng.int(0...3)), at: field)
    }
    let small = UInt64(rng.int(0...256))
    for field in [RecordField.storedSize, RecordField.rawSize] where rng.chance(3, in: 4) {
        patch(&bytes, rng.chance(1, in: 2) ? small : UInt64(rng.int(0...256)), at: field)
    }
    if rng.chance(3, in: 4) { patch(&bytes, UInt32(rng.int(0...8) * 64 + (rng.chance(1, in: 2) ? 0 : rng.int(0...63))), at: RecordField.payloadOffset) }
    patch(&bytes, UInt16(keyLength), at: RecordField.keyLength)
    bytes[RecordField.dtype] = UInt8(rng.int(0...13))
    bytes[RecordField.rank] = UInt8(rank)
    bytes[RecordField.codec] = UInt8(rng.int(0...3))
    bytes[RecordField.reserved] = rng.chance(9, in: 10) ? 0 : 1
    patch(&bytes, UInt16(rng.int(0...3)), at: RecordField.metadataCount)
    patch(&bytes, UInt32(metadataLength), at: RecordField.metadataLength)
    for index in 0..<keyLength where rng.chance(7, in: 8) { bytes[RecordField.headerCRC + 4 + index] = UInt8(rng.int(0x20...0x7E)) }
    for dimension in 0..<rank where rng.chance(7, in: 8) {
        patch(&bytes, UInt64(rng.int(0...5)), at: RecordHeader.fixedSize + keyLength + 8 * dimension)
    }
    if rng.chance(1, in: 3) { makeMostlyConsistent(&bytes, keyLength: keyLength, rank: rank, metadataLength: metadataLength, &rng) }
    resealRecord(&bytes)
    if rng.chance(1, in: 4) { bytes += rng.bytes(rng.int(0...16)) }
    return bytes
}

/// Sets the fixed fields of a random header so they agree with each other (so
/// some buffers pass validation), then perturbs one field half of the time.
private func makeMostlyConsistent(_ bytes: inout [UInt8], keyLength: Int, rank: Int, metadataLength: Int, _ rng: inout SplitMix64) {
    let headerLength = bytes.count
    let dtype = DType.allCases[rng.int(0...(DType.allCases.count - 1))]
    let kind: RecordKind = rank == 0 ? (rng.chance(1, in: 2) ? .put : .delete) : (rng.chance(1, in: 2) ? .put : .append)
    var elements = 1
    for dimension in 0..<min(rank, RecordHeader.maxRank) {
        let size = rng.int(0...5)
        patch(&bytes, UInt64(size), at: RecordHeader.fixedSize + keyLength + 8 * dimension)
        elements *= size
    }
    bytes[RecordField.kind] = kind.rawValue
    bytes[RecordField.flags] = 0
    patch(&bytes, UInt64(rng.int(1...1000)), at: RecordField.sequence)
    patch(&bytes, UInt64(0), at: RecordField.batchID)
    bytes[RecordField.reserved] = 0
    bytes[RecordField.codec] = 0
    for index in 0..<keyLength { bytes[RecordHeader.fixedSize + index] = UInt8(rng.int(0x61...0x7A)) }
    if keyLength == 0 { bytes[RecordField.kind] = RecordKind.commit.rawValue }
    if metadataLength == 0 { patch(&bytes, UInt16(0), at: RecordField.metadataCount) }
    if kind == .delete || keyLength == 0 {
        bytes[RecordField.dtype] = 0
        patch(&bytes, UInt64(0), at: RecordField.rawSize)
        patch(&bytes, UInt64(0), at: RecordField.storedSize)
        patch(&bytes, UInt32(headerLength), at: RecordField.payloadOffset)
        if keyLength == 0 { patch(&bytes, UInt64(7), at: RecordField.batchID) }
    } else {
        bytes[RecordField.dtype] = dtype.rawValue
        patch(&bytes, UInt64(elements * dtype.size), at: RecordField.rawSize)
        patch(&bytes, UInt64(elements * dtype.size), at: RecordField.storedSize)
        patch(&bytes, UInt32(alignUp(64 + headerLength, to: 64) - 64), at: RecordField.payloadOffset)
    }
    if rng.chance(1, in: 2) {
        let field = [RecordField.kind, RecordField.flags, RecordField.dtype, RecordField.codec, RecordField.reserved,
                     RecordField.rawSize, RecordField.storedSize, RecordField.payloadOffset, RecordField.sequence][rng.int(0...8)]
        bytes[field] = bytes[field] &+ UInt8(rng.int(1...2))
    }
}

private func sealedRandomHint(_ rng: inout SplitMix64) -> [UInt8] {
    var bytes = rng.bytes(HintFile.headerSize + 8 * rng.int(0...30))
    overlay(preamble(HintFile.magic), on: &bytes)
    patch(&bytes, UInt64(rng.int(0...3)), at: HintField.count)
    patch(&bytes, UInt64(bytes.count - HintFile.headerSize), at: HintField.bodyLength)
    resealHint(&bytes)
    return bytes
}

private func sealedRandomManifest(_ rng: inout SplitMix64) -> [UInt8] {
    let count = rng.int(0...8)
    var bytes = rng.bytes(Manifest.fixedSize + 8 * count + 4 + (rng.chance(1, in: 8) ? rng.int(1...7) : 0))
    overlay(preamble(Manifest.magic), on: &bytes)
    patch(&bytes, UInt64(rng.chance(7, in: 8) ? count : rng.int(0...9)), at: ManifestField.count)
    let next = UInt64(rng.int(0...12))
    patch(&bytes, next, at: ManifestField.nextSegmentID)
    patch(&bytes, UInt64(rng.int(0...12)), at: ManifestField.activeSegment)
    for index in 0..<count where 48 + 8 * index + 8 <= bytes.count - 4 {
        patch(&bytes, UInt64(rng.int(0...12)), at: ManifestField.sealed + 8 * index)
    }
    // The reserved field must be zero, or no buffer gets past it.
    patch(&bytes, UInt32(0), at: 12)
    resealManifest(&bytes)
    return bytes
}

@Test("Some random or half-valid byte buffer makes RecordHeader, HintFile, Manifest or SegmentHeader decode trap")
func randomBuffersNeverCrashDecoders() {
    var rng = SplitMix64(seed: 0x7E45_0A11_0600_0001)
    var problems: [String] = []
    var successes: [String: Int] = [:]
    for iteration in 0..<20_000 {
        var bytes = rng.bytes(rng.int(0...300))
        switch iteration % 10 {
        case 0, 1: break  // pure noise
        case 2: overlay(recordPreamble, on: &bytes)
        case 3, 4: bytes = sealedRandomRecord(&rng)
        case 5: overlay(preamble(HintFile.magic), on: &bytes)
        case 6: bytes = sealedRandomHint(&rng)
        case 7: overlay(preamble(Manifest.magic), on: &bytes)
        case 8: bytes = sealedRandomManifest(&rng)
        default:
            overlay(preamble(SegmentHeader.magic, write: UInt16(rng.int(0...2)), read: UInt16(rng.int(0...2))), on: &bytes)
            if bytes.count >= SegmentHeader.size && rng.chance(1, in: 2) {
                // Reserved fields zero, as a valid header has them; the id stays random.
                patch(&bytes, UInt32(0), at: 12)
                for index in 24..<60 { bytes[index] = 0 }
                resealSegmentHeader(&bytes)
            }
        }
        for problem in decodeEverything(bytes, successes: &successes) {
            problems.append("iteration \(iteration): \(problem)")
        }
    }
    #expect(problems.isEmpty, "\(problems.count): \(problems.prefix(10))")
    // The sealed flavours must reach past the checksums sometimes, or this test only exercises the first checks.
    #expect(successes["segment", default: 0] > 100, "\(successes)")
    #expect(successes["manifest", default: 0] > 10, "\(successes)")
    #expect(successes["record", default: 0] > 100, "\(successes)")
}

// MARK: - Mutations of valid encodings

private let interestingValues: [UInt64] = [
    0, 1, 2, 7, 8, 63, 64, 65, 88, 1024, 1025, 4096, 1 << 20, (1 << 20) + 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000,
    0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, UInt64(Int.max / 2), UInt64(Int.max / 2) + 1, UInt64(Int.max), UInt64(Int.max) + 1, .max,
]

/// Applies 1...4 random mutations: a random byte, or an interesting value written
/// over 1, 2, 4 or 8 bytes at a random position, or a length change.
private func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
    for _ in 0..<rng.int(1...4) {
        guard !bytes.isEmpty else { return }
        switch rng.int(0...9) {
        case 0...3:
            bytes[rng.int(0...(bytes.count - 1))] = UInt8(truncatingIfNeeded: rng.next())
        case 4...7:
            let width = [1, 2, 4, 8][rng.int(0...3)]
            guard bytes.count >= width else { continue }
            let position = rng.int(0...(bytes.count - width))
            let value = interestingValues[rng.int(0...(interestingValues.count - 1))] &+ (rng.chance(1, in: 4) ? UInt64(bitPattern: Int64(rng.int(-1...1))) : 0)
            for index in 0..<width { bytes[position + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
        case 8:
            bytes.removeLast(rng.int(0...min(16, bytes.count)))
        default:
            bytes += rng.bytes(rng.int(1...16))
        }
    }
}

@Test("Some mutation of a valid record header with a recomputed CRC traps, or decodes to a header breaking the format's rules")
func mutatedRecordHeadersNeverCrash() {
    var rng = SplitMix64(seed: 0x0BAD_5EED)
    let seeds: [(RecordHeader, Int)] = [
        (payloadHeader(fileOffset: 64), 64),
        (payloadHeader(kind: .append, dtype: .int16, codec: .lz4, shape: [2, 0, 3], key: sampleKeys[2], metadata: sampleMetadata[2], batchID: 5, fileOffset: 128), 128),
        (payloadHeader(dtype: .float64, codec: .shuffleLZ4, shape: [1 << 17, 1], storedSize: 1 << 20, fileOffset: 4032), 4032),
        (payloadHeader(dtype: .bool, shape: [], metadata: sampleMetadata[3]), 64),
        (deleteHeader(), 64),
        (deleteHeader(key: "x", previous: nil, batchID: 9), 64),
        (commitHeader(), 64),
    ]
    var problems: [String] = []
    var decoded = 0
    for iteration in 0..<8_000 {
        let (header, fileOffset) = seeds[iteration % seeds.count]
        var bytes = header.encoded()
        mutate(&bytes, &rng)
        if rng.chance(3, in: 4), bytes.count >= RecordHeader.fixedSize {
            // Recompute the CRC over what the (possibly mutated) length fields now declare, when it fits.
            if let length = attempt({ () throws(FormatError) in try recordHeaderLength(bytes) }).value, length <= bytes.count {
                var head = Array(bytes[0..<length])
                resealRecord(&head)
                bytes.replaceSubrange(0..<length, with: head)
            }
        }
        if let result = attempt({ () throws(FormatError) in try decodeRecord(bytes, fileOffset: fileOffset) }).value {
            decoded += 1
            for problem in recordProblems(result, from: bytes, fileOffset: fileOffset) {
                problems.append("iteration \(iteration): \(problem)")
            }
        }
    }
    #expect(problems.isEmpty, "\(problems.count): \(problems.prefix(10))")
    #expect(decoded > 200, "mutations should sometimes stay valid (\(decoded) decoded)")
}

@Test("Some mutation of a valid hint file or manifest with recomputed checksums traps, or decodes to a value breaking its rules")
func mutatedHintsAndManifestsNeverCrash() {
    var rng = SplitMix64(seed: 0xC0FF_EE00)
    let (entries, end) = layOut([
        payloadHeader(), deleteHeader(), payloadHeader(kind: .append, codec: .lz4, shape: [4], key: "k", batchID: 3),
        commitHeader(batchID: 3, count: 1), payloadHeader(dtype: .uint8, shape: [1 << 20, 1]),
    ])
    let hints = [
        HintFile(segmentID: 2, segmentLength: end, entries: entries),
        HintFile(segmentID: 2, segmentLength: end + 4096, entries: Array(entries.prefix(2))),
        HintFile(segmentID: 2, segmentLength: 64, entries: []),
    ]
    let manifests = [
        Manifest(sealedSegments: [1, 2, 3], activeSegment: 4, nextSegmentID: 5, sequenceFloor: 10),
        Manifest(sealedSegments: [], activeSegment: 1, nextSegmentID: 2, sequenceFloor: 0),
    ]
    var problems: [String] = []
    var decodedHints = 0
    var decodedManifests = 0
    for iteration in 0..<4_000 {
        var hint = hints[iteration % hints.count].encoded()
        mutate(&hint, &rng)
        if rng.chance(3, in: 4), hint.count >= HintFile.headerSize {
            if rng.chance(1, in: 2) { patch(&hint, UInt64(hint.count - HintFile.headerSize), at: HintField.bodyLength) }
            resealHint(&hint)
        }
        if let value = attempt({ () throws(FormatError) in try decodeHint(hint) }).value {
            decodedHints += 1
            problems += hintProblems(value).map { "hint iteration \(iteration): \($0)" }
        }

        var manifest = manifests[iteration % manifests.count].encoded()
        mutate(&manifest, &rng)
        if rng.chance(3, in: 4), manifest.count >= 4 { resealManifest(&manifest) }
        if let value = attempt({ () throws(FormatError) in try decodeManifest(manifest) }).value {
            decodedManifests += 1
            problems += manifestProblems(value).map { "manifest iteration \(iteration): \($0)" }
        }

        var segment = SegmentHeader(segmentID: UInt64(iteration)).encoded()
        mutate(&segment, &rng)
        if rng.chance(1, in: 2), segment.count >= SegmentHeader.size { resealSegmentHeader(&segment) }
        _ = attempt { () throws(FormatError) in try decodeSegmentHeader(segment) }
    }
    #expect(problems.isEmpty, "\(problems.count): \(problems.prefix(10))")
    #expect(decodedHints > 50 && decodedManifests > 50, "hints \(decodedHints), manifests \(decodedManifests)")
}
