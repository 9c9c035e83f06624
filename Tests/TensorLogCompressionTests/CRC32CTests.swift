import CCRC32C
import Testing

/// The textbook definition: one bit at a time, reflected polynomial 0x82F63B78, pre- and post-inverted.
private func referenceCRC32C(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    var c = ~crc
    for byte in bytes {
        c ^= UInt32(byte)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    return ~c
}

private func crc(_ bytes: [UInt8], continuing seed: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { tl_crc32c_extend(seed, $0.baseAddress, $0.count) }
}

/// CRC of bytes[offset ..< offset + length], so the start address has a chosen alignment.
private func crc(_ bytes: [UInt8], offset: Int, length: Int, seed: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { tl_crc32c_extend(seed, $0.baseAddress! + offset, length) }
}

private func reference(_ bytes: [UInt8], offset: Int, length: Int, seed: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { referenceCRC32C(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + length)]), continuing: seed) }
}

@Test("A wrong polynomial, reflection or inversion misses the published CRC32C check values")
func crc32cKnownVectors() {
    #expect(crc(Array("123456789".utf8)) == 0xE306_9283)
    // RFC 3720 (iSCSI) appendix B.4 test vectors.
    #expect(crc([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    #expect(crc([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    #expect(crc((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    #expect(crc((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    // The reference itself must agree with the check value, or every comparison below is moot.
    #expect(Array("123456789".utf8).withUnsafeBytes { referenceCRC32C($0) } == 0xE306_9283)
}

@Test("An empty input changes the CRC or dereferences a null pointer")
func crc32cEmptyInput() {
    #expect(tl_crc32c_extend(0, nil, 0) == 0)
    #expect(tl_crc32c_extend(0xDEAD_BEEF, nil, 0) == 0xDEAD_BEEF)
    #expect(crc([]) == 0)
}

#if arch(x86_64)
@Test("CPU detection misses SSE4.2 and silently uses the slow table path")
func crc32cUsesHardwareOnX86() {
    // Every x86_64 CPU since 2008 has SSE4.2; the portable path here would mean broken detection.
    #expect(tl_crc32c_uses_hardware() == 1)
}
#endif

@Test("The hardware path disagrees with a bit-by-bit reference at some length, alignment or seed")
func crc32cMatchesReferenceRandomLengths() {
    let data = randomBytes(5000 + 64, seed: 1)
    var rng = SeededGenerator(seed: 2)
    var mismatches = 0
    for iteration in 0..<600 {
        let length = Int.random(in: 0...5000, using: &rng)
        let offset = Int.random(in: 0..<64, using: &rng)
        let seed: UInt32 = iteration % 3 == 0 ? UInt32.random(in: .min ... .max, using: &rng) : 0
        if crc(data, offset: offset, length: length, seed: seed) != reference(data, offset: offset, length: length, seed: seed) {
            mismatches += 1
        }
    }
    #expect(mismatches == 0)
}

@Test("The three interleaved streams are combined wrongly at block-size boundaries")
func crc32cMatchesReferenceAtBlockBoundaries() {
    // The hardware path runs three streams over blocks of 3 x 256 and 3 x 8192 bytes and merges
    // them with shift tables; lengths just around those sizes (and multiples) hit each merge.
    let short = 3 * 256, long = 3 * 8192
    var lengths: [Int] = []
    for base in [short, 2 * short, long, long + short, 2 * long, 2 * long + 3 * short, 5 * long] {
        lengths += [base - 9, base - 8, base - 1, base, base + 1, base + 7, base + 8, base + 9]
    }
    let data = randomBytes(5 * long + 64 + 16, seed: 3)
    var mismatches: [String] = []
    for length in lengths {
        for offset in [0, 1, 3, 7, 8, 13] {
            if crc(data, offset: offset, length: length) != reference(data, offset: offset, length: length) {
                mismatches.append("length \(length) offset \(offset)")
            }
        }
    }
    #expect(mismatches.isEmpty)
}

@Test("The hardware path disagrees with the reference on buffers spanning many long blocks")
func crc32cMatchesReferenceLargeBuffers() {
    let data = randomBytes(300_000 + 64, seed: 4)
    var rng = SeededGenerator(seed: 5)
    for _ in 0..<8 {
        let length = Int.random(in: 25_000...300_000, using: &rng)
        let offset = Int.random(in: 0..<64, using: &rng)
        #expect(crc(data, offset: offset, length: length) == reference(data, offset: offset, length: length))
    }
    // Patterns the random data does not produce.
    for fill: UInt8 in [0x00, 0xFF, 0x80] {
        let same = [UInt8](repeating: fill, count: 100_003)
        #expect(crc(same) == same.withUnsafeBytes { referenceCRC32C($0) })
    }
}

@Test("Extending a CRC piece by piece differs from the CRC of the whole buffer")
func crc32cExtendIsConcatenation() {
    let data = randomBytes(70_000, seed: 6)
    var rng = SeededGenerator(seed: 7)
    for iteration in 0..<300 {
        let total = iteration < 200 ? Int.random(in: 0...3000, using: &rng) : Int.random(in: 0...data.count, using: &rng)
        let split = Int.random(in: 0...total, using: &rng)
        let whole = crc(data, offset: 0, length: total)
        let first = crc(data, offset: 0, length: split)
        let joined = crc(data, offset: split, length: total - split, seed: first)
        #expect(joined == whole, "total \(total) split \(split)")
    }
    // Many small pieces, each a different alignment.
    var running: UInt32 = 0
    var position = 0
    while position < 20_000 {
        let piece = min(Int.random(in: 0...37, using: &rng), 20_000 - position)
        running = crc(data, offset: position, length: piece, seed: running)
        position += piece
    }
    #expect(running == crc(data, offset: 0, length: 20_000))
}

@Test("Lazy table set-up races when several threads use CRC32C at once")
func crc32cConcurrentFirstUse() async {
    // Table set-up happens on first use; whatever thread gets there first, all must agree.
    let data = randomBytes(100_000, seed: 8)
    let expected = data.withUnsafeBytes { referenceCRC32C($0) }
    let results = await withTaskGroup(of: UInt32.self) { group in
        for _ in 0..<16 { group.addTask { crc(data) } }
        var all: [UInt32] = []
        for await value in group { all.append(value) }
        return all
    }
    #expect(results.allSatisfy { $0 == expected })
}
