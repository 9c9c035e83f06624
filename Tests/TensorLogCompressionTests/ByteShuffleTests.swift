import Testing
@testable import TensorLogCompression

/// The definition, one byte at a time: dst[k * n + i] = src[i * size + k], tail copied.
private func referenceShuffle(_ src: [UInt8], elementSize size: Int) -> [UInt8] {
    let n = src.count / size
    var dst = src
    for i in 0..<n {
        for k in 0..<size { dst[k * n + i] = src[i * size + k] }
    }
    return dst
}

private func shuffled(_ src: [UInt8], elementSize: Int, offset: Int = 0) -> [UInt8] {
    // `offset` shifts both buffers off their natural alignment.
    let padded = [UInt8](repeating: 0xEE, count: offset) + src
    var out = [UInt8](repeating: 0xCC, count: offset + src.count)
    padded.withUnsafeBytes { s in
        out.withUnsafeMutableBytes { d in
            ByteShuffle.shuffle(
                UnsafeRawBufferPointer(rebasing: s[offset...]), elementSize: elementSize,
                into: UnsafeMutableRawBufferPointer(rebasing: d[offset...]))
        }
    }
    #expect(out[..<offset].allSatisfy { $0 == 0xCC }, "wrote before the destination")
    return Array(out[offset...])
}

private func unshuffled(_ src: [UInt8], elementSize: Int, offset: Int = 0) -> [UInt8] {
    let padded = [UInt8](repeating: 0xEE, count: offset) + src
    var out = [UInt8](repeating: 0xCC, count: offset + src.count)
    padded.withUnsafeBytes { s in
        out.withUnsafeMutableBytes { d in
            ByteShuffle.unshuffle(
                UnsafeRawBufferPointer(rebasing: s[offset...]), elementSize: elementSize,
                into: UnsafeMutableRawBufferPointer(rebasing: d[offset...]))
        }
    }
    #expect(out[..<offset].allSatisfy { $0 == 0xCC }, "wrote before the destination")
    return Array(out[offset...])
}

@Test("Shuffle puts bytes in the wrong lane order (checked byte by byte on a small array)")
func shuffleKnownSmallArray() {
    // Three 4-byte elements and two trailing bytes.
    let src: [UInt8] = [0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x23, 0xA0, 0xA1]
    let expected: [UInt8] = [0x00, 0x10, 0x20, 0x01, 0x11, 0x21, 0x02, 0x12, 0x22, 0x03, 0x13, 0x23, 0xA0, 0xA1]
    #expect(shuffled(src, elementSize: 4) == expected)
    #expect(unshuffled(expected, elementSize: 4) == src)

    // 2-byte elements, odd length.
    #expect(shuffled([1, 2, 3, 4, 5, 6, 7], elementSize: 2) == [1, 3, 5, 2, 4, 6, 7])
    // 3-byte elements (generic path).
    #expect(shuffled([1, 2, 3, 4, 5, 6, 7, 8], elementSize: 3) == [1, 4, 2, 5, 3, 6, 7, 8])
    // 8-byte elements.
    let eight = (0..<16).map { UInt8($0) }
    #expect(shuffled(eight, elementSize: 8) == [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15])
}

@Test("Shuffle or unshuffle corrupts data for some element size, length tail or alignment")
func shuffleRoundTripsAllSizesAndRaggedLengths() {
    var rng = SeededGenerator(seed: 11)
    for size in [1, 2, 3, 4, 5, 7, 8, 12, 16, 33] {
        var lengths = [0, 1, size - 1, size, size + 1, 2 * size - 1, 2 * size, 3 * size + 1, 1000, 1003]
        // Several blocks of the generic path (16 KiB of elements per block), with a ragged tail.
        lengths += [16 * 1024 * 3 + size / 2, Int.random(in: 0...70_000, using: &rng)]
        for length in lengths where length >= 0 {
            let src = randomBytes(length, seed: UInt64(size * 1_000_003 + length))
            let offset = Int.random(in: 0..<8, using: &rng)
            let forward = shuffled(src, elementSize: size, offset: offset)
            #expect(forward == referenceShuffle(src, elementSize: size), "size \(size) length \(length)")
            #expect(unshuffled(forward, elementSize: size, offset: offset) == src, "size \(size) length \(length)")
        }
    }
}

@Test("Shuffle mishandles input shorter than one element or empty")
func shuffleShortInputs() {
    for size in [2, 4, 8, 16] {
        for length in 0..<size {
            let src = (0..<length).map { UInt8($0 + 1) }
            #expect(shuffled(src, elementSize: size) == src)
            #expect(unshuffled(src, elementSize: size) == src)
        }
    }
    // Empty buffers may have a nil base address.
    ByteShuffle.shuffle(UnsafeRawBufferPointer(start: nil, count: 0), elementSize: 4,
                        into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
    ByteShuffle.unshuffle(UnsafeRawBufferPointer(start: nil, count: 0), elementSize: 4,
                          into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
}

@Test("SIMD shuffle and unshuffle (2, 4 and 8-byte elements) differ from the byte-by-byte reference at some length or alignment")
func shuffleSIMDMatchesReference() {
    var rng = SeededGenerator(seed: 29)
    for size in [2, 4, 8] {
        // Every length around the 16-element SIMD step and its scalar tail, then random ones.
        var lengths = Array(0...(40 * size))
        lengths += (0..<40).map { _ in Int.random(in: 0...100_000, using: &rng) }
        for length in lengths {
            let src = randomBytes(length, seed: UInt64(size * 7_919 + length))
            let offset = Int.random(in: 0..<16, using: &rng)
            let forward = shuffled(src, elementSize: size, offset: offset)
            #expect(forward == referenceShuffle(src, elementSize: size), "size \(size) length \(length) offset \(offset)")
            #expect(unshuffled(forward, elementSize: size, offset: offset) == src, "size \(size) length \(length) offset \(offset)")
        }
    }
}
