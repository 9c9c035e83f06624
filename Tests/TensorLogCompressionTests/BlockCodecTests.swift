import Dispatch
import TensorLogFormat
import Testing
@testable import TensorLogCompression

// MARK: - Helpers

private func encoded(_ raw: [UInt8], codec: Codec, elementSize: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: BlockCodec.maxEncodedSize(rawSize: raw.count, codec: codec))
    let written = try raw.withUnsafeBytes { src in
        try out.withUnsafeMutableBytes { dst in
            try BlockCodec.encode(src, codec: codec, elementSize: elementSize, into: dst)
        }
    }
    #expect(written <= out.count)
    return Array(out[..<written])
}

private func decoded(_ block: [UInt8], codec: Codec, elementSize: Int, rawSize: Int) throws -> [UInt8] {
    var out = [UInt8](repeating: 0xAB, count: rawSize)
    try block.withUnsafeBytes { src in
        try out.withUnsafeMutableBytes { dst in
            try BlockCodec.decode(src, codec: codec, elementSize: elementSize, into: dst)
        }
    }
    return out
}

/// Decode that reports success or failure and checks the result is well formed when it succeeds.
private func decodeAttempt(_ block: [UInt8], codec: Codec, elementSize: Int, rawSize: Int) -> Bool {
    do {
        let out = try decoded(block, codec: codec, elementSize: elementSize, rawSize: rawSize)
        #expect(out.count == rawSize)
        return true
    } catch let error as CodecError {
        #expect(!error.message.isEmpty)
        return false
    } catch {
        Issue.record("decode threw something other than CodecError: \(error)")
        return false
    }
}

private struct Payload {
    let name: String
    let bytes: [UInt8]
    let elementSize: Int
}

private let payloads: [Payload] = [
    Payload(name: "float32 random", bytes: randomFloat32(10_000, seed: 21), elementSize: 4),
    Payload(name: "float32 smooth", bytes: smoothFloat32(10_000), elementSize: 4),
    Payload(name: "float64 smooth", bytes: bytesOf((0..<5000).map { Double($0) * 0.25 }), elementSize: 8),
    Payload(name: "float16-sized smooth", bytes: bytesOf((0..<7000).map { UInt16(15360 + $0 / 16) }), elementSize: 2),
    Payload(name: "zeros", bytes: [UInt8](repeating: 0, count: 65_536), elementSize: 4),
    Payload(name: "int8 random", bytes: randomBytes(9_999, seed: 22), elementSize: 1),
    Payload(name: "ragged 12-byte elements", bytes: randomBytes(12 * 333 + 5, seed: 23), elementSize: 12),
    Payload(name: "empty", bytes: [], elementSize: 4),
    Payload(name: "one byte", bytes: [7], elementSize: 4),
]

// MARK: - Round trips

@Test("A codec loses or reorders bytes on typical payloads (random, smooth, zeros, int8, empty)")
func everyCodecRoundTrips() throws {
    for payload in payloads {
        for codec in Codec.allCases {
            let block = try encoded(payload.bytes, codec: codec, elementSize: payload.elementSize)
            #expect(block.count <= BlockCodec.maxEncodedSize(rawSize: payload.bytes.count, codec: codec))
            let back = try decoded(block, codec: codec, elementSize: payload.elementSize, rawSize: payload.bytes.count)
            #expect(back == payload.bytes, "\(payload.name) with \(codec)")
        }
    }
}

@Test("Compressible payloads do not actually shrink")
func compressionShrinksCompressibleData() throws {
    let zeros = [UInt8](repeating: 0, count: 65_536)
    #expect(try encoded(zeros, codec: .lz4, elementSize: 4).count < 1000)
    #expect(try encoded(zeros, codec: .shuffleLZ4, elementSize: 4).count < 1000)
    let smooth = smoothFloat32(100_000)
    let plain = try encoded(smooth, codec: .lz4, elementSize: 4).count
    let shuffled = try encoded(smooth, codec: .shuffleLZ4, elementSize: 4).count
    #expect(shuffled < plain, "shuffle should help smooth float32: \(shuffled) vs \(plain)")
    #expect(shuffled < smooth.count * 9 / 10)
}

@Test("An empty payload does not round-trip, or an empty LZ4 block is accepted for a non-empty payload")
func emptyPayloads() throws {
    for codec in Codec.allCases {
        let block = try encoded([], codec: codec, elementSize: 4)
        #expect(try decoded(block, codec: codec, elementSize: 4, rawSize: 0) == [])
        if codec != .none {
            #expect(block == [0x00], "an empty LZ4 block is one zero token")
            #expect(throws: CodecError.self) { try decoded(block, codec: codec, elementSize: 4, rawSize: 1) }
        }
        // Nil base addresses (what empty buffers may have): raw needs no room, LZ4 needs its token byte.
        let nothing = UnsafeRawBufferPointer(start: nil, count: 0)
        let nowhere = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        if codec == .none {
            #expect(try BlockCodec.encode(nothing, codec: codec, elementSize: 4, into: nowhere) == 0)
        } else {
            #expect(throws: CodecError.self) { try BlockCodec.encode(nothing, codec: codec, elementSize: 4, into: nowhere) }
        }
        try BlockCodec.decode(nothing, codec: .none, elementSize: 4, into: nowhere)
    }
    // LZ4 needs an input byte even for an empty payload.
    #expect(throws: CodecError.self) { try decoded([], codec: .lz4, elementSize: 1, rawSize: 0) }
    #expect(throws: CodecError.self) { try decoded([], codec: .shuffleLZ4, elementSize: 4, rawSize: 0) }
    #expect(throws: CodecError.self) { try decoded([], codec: .lz4, elementSize: 1, rawSize: 10) }
}

// MARK: - Hostile input

@Test("A truncated block decodes without an error")
func decodeRejectsTruncatedInput() throws {
    for payload in payloads where !payload.bytes.isEmpty {
        for codec in [Codec.lz4, .shuffleLZ4, .none] {
            let block = try encoded(payload.bytes, codec: codec, elementSize: payload.elementSize)
            // Every prefix for short blocks, a spread of prefixes for long ones.
            let cuts = block.count <= 600 ? Array(0..<block.count) : Array(stride(from: 0, to: block.count, by: block.count / 300)) + [block.count - 1]
            for cut in cuts {
                let ok = decodeAttempt(Array(block[..<cut]), codec: codec, elementSize: payload.elementSize, rawSize: payload.bytes.count)
                #expect(!ok, "\(payload.name) \(codec) cut at \(cut) of \(block.count)")
            }
        }
    }
}

@Test("A flipped byte in a block crashes the decoder or yields a wrong-size result")
func decodeSurvivesFlippedBytes() throws {
    var rng = SeededGenerator(seed: 31)
    for payload in payloads where payload.bytes.count > 1 {
        for codec in [Codec.lz4, .shuffleLZ4] {
            let block = try encoded(payload.bytes, codec: codec, elementSize: payload.elementSize)
            var detected = 0
            var attempts = 0
            let positions = block.count <= 400 ? Array(0..<block.count) : (0..<400).map { _ in Int.random(in: 0..<block.count, using: &rng) }
            for position in positions {
                for mask: UInt8 in [0x01, 0x80, 0xFF, UInt8.random(in: 1...255, using: &rng)] {
                    var bad = block
                    bad[position] ^= mask
                    attempts += 1
                    // LZ4 has no checksum, so success is allowed (the record CRC catches it), but
                    // only with exactly rawSize bytes out; decodeAttempt checks that.
                    if !decodeAttempt(bad, codec: codec, elementSize: payload.elementSize, rawSize: payload.bytes.count) {
                        detected += 1
                    }
                }
            }
            // Incompressible data encodes as one long literal run, where a flip is undetectable;
            // blocks with real matches must catch some flips.
            if block.count < payload.bytes.count / 2 {
                #expect(detected > 0, "\(payload.name) \(codec): no corruption detected in \(attempts) attempts")
            }
        }
    }
}

@Test("A block decodes into a destination of the wrong size")
func decodeRejectsWrongDestinationSize() throws {
    for payload in payloads where !payload.bytes.isEmpty {
        for codec in Codec.allCases {
            let block = try encoded(payload.bytes, codec: codec, elementSize: payload.elementSize)
            let n = payload.bytes.count
            for wrong in Set([0, n - 1, n + 1, n + payload.elementSize, 2 * n]) where wrong >= 0 && wrong != n {
                #expect(throws: CodecError.self, "\(payload.name) \(codec) into \(wrong)") {
                    try decoded(block, codec: codec, elementSize: payload.elementSize, rawSize: wrong)
                }
            }
        }
    }
}

@Test("Arbitrary garbage bytes crash the decoder")
func decodeSurvivesGarbage() {
    var rng = SeededGenerator(seed: 41)
    for iteration in 0..<3000 {
        let length = iteration < 1000 ? Int.random(in: 0...16, using: &rng) : Int.random(in: 0...2000, using: &rng)
        var garbage = randomBytes(length, seed: UInt64(iteration) &+ 1_000)
        // Bias some inputs toward plausible LZ4 tokens (long literal / match runs).
        if iteration % 3 == 0, !garbage.isEmpty { garbage[0] |= 0xF0 }
        let rawSize = [0, 1, 15, 16, 255, 4096, Int.random(in: 0...100_000, using: &rng)][iteration % 7]
        let elementSize = [1, 2, 4, 8, 3][iteration % 5]
        for codec in Codec.allCases {
            _ = decodeAttempt(garbage, codec: codec, elementSize: elementSize, rawSize: rawSize)
        }
    }
}

@Test("Handcrafted malicious LZ4 sequences are accepted or overrun the output")
func decodeRejectsMaliciousSequences() {
    let cases: [(String, [UInt8])] = [
        ("match offset 0", [0x1F, 0x61, 0x00, 0x00]),
        ("match offset before the start", [0x1F, 0x61, 0xFF, 0xFF]),
        ("literal length beyond the input", [0xF0, 0xFF, 0xFF, 0xFF, 0x10]),
        ("match length far past the output", [0x1F, 0x61, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]),
        ("literal-length extension never ends", [UInt8](repeating: 0xFF, count: 64)),
        ("lone token asking for literals", [0x50]),
    ]
    for (name, block) in cases {
        for rawSize in [0, 1, 16, 1000] {
            #expect(!decodeAttempt(block, codec: .lz4, elementSize: 1, rawSize: rawSize), "\(name) into \(rawSize)")
        }
    }
}

@Test("Sizes beyond Int32 reach LZ4 and overflow instead of being rejected")
func decodeRejectsSizesBeyondInt32() {
    // The size checks must fire before any memory is touched, so a small real buffer with a
    // huge claimed count is safe to pass.
    let real = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
    defer { real.deallocate() }
    real.initializeMemory(as: UInt8.self, repeating: 0)
    let huge = Int(Int32.max) + 1
    let hugeDst = UnsafeMutableRawBufferPointer(start: real.baseAddress, count: huge)
    let hugeSrc = UnsafeRawBufferPointer(start: real.baseAddress, count: huge)
    let small = UnsafeMutableRawBufferPointer(rebasing: real[0..<16])
    for codec in [Codec.lz4, .shuffleLZ4] {
        #expect(throws: CodecError.self) { try BlockCodec.decode(UnsafeRawBufferPointer(small), codec: codec, elementSize: 4, into: hugeDst) }
        #expect(throws: CodecError.self) { try BlockCodec.decode(hugeSrc, codec: codec, elementSize: 4, into: small) }
    }
    #expect(throws: CodecError.self) { try BlockCodec.decode(hugeSrc, codec: .none, elementSize: 4, into: small) }
}

@Test("Oversized raw blocks or short destinations are encoded anyway")
func encodeRejectsBadSizes() throws {
    let real = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
    defer { real.deallocate() }
    real.initializeMemory(as: UInt8.self, repeating: 0)
    let tooBig = UnsafeRawBufferPointer(start: real.baseAddress, count: BlockCodec.maxRawBlockSize + 1)
    for codec in [Codec.lz4, .shuffleLZ4] {
        #expect(throws: CodecError.self) { try BlockCodec.encode(tooBig, codec: codec, elementSize: 4, into: real) }
    }
    #expect(BlockCodec.maxRawBlockSize == 0x7E00_0000)
    // A size taken from a corrupt header must not trap while computing the bound.
    #expect(BlockCodec.maxEncodedSize(rawSize: Int.max, codec: .lz4) == Int.max)
    #expect(BlockCodec.maxEncodedSize(rawSize: -5, codec: .shuffleLZ4) == 16)
    #expect(BlockCodec.maxEncodedSize(rawSize: 1000, codec: .lz4) == 1000 + 1000 / 255 + 16)

    let raw = smoothFloat32(1000)
    for codec in Codec.allCases {
        let needed = BlockCodec.maxEncodedSize(rawSize: raw.count, codec: codec)
        var out = [UInt8](repeating: 0, count: needed - 1)
        raw.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                _ = #expect(throws: CodecError.self) { try BlockCodec.encode(src, codec: codec, elementSize: 4, into: dst) }
            }
        }
    }
    #expect(throws: CodecError.self) { try encoded(raw, codec: .shuffleLZ4, elementSize: 0) }
}

// MARK: - Automatic choice

private func auto(_ raw: [UInt8], elementSize: Int, minSavings: Double = 0.10) throws -> (codec: Codec, block: [UInt8]) {
    var out = [UInt8](repeating: 0, count: BlockCodec.maxEncodedSize(rawSize: raw.count, codec: .lz4))
    let (codec, count) = try raw.withUnsafeBytes { src in
        try out.withUnsafeMutableBytes { dst in
            try BlockCodec.encodeAuto(src, elementSize: elementSize, minSavings: minSavings, into: dst)
        }
    }
    return (codec, Array(out[..<count]))
}

@Test("encodeAuto keeps a compressed form of incompressible bytes")
func encodeAutoStoresRandomBytesRaw() throws {
    for elementSize in [1, 2, 4, 8] {
        let result = try auto(randomBytes(50_000, seed: 51), elementSize: elementSize)
        #expect(result.codec == .none)
        #expect(result.block.isEmpty)
    }
    #expect(try auto(randomFloat32(20_000, seed: 52), elementSize: 4).codec == .none)
    #expect(try auto([], elementSize: 4).codec == .none)
}

@Test("encodeAuto stores compressible data raw, or picks a codec that does not decode back")
func encodeAutoCompressesZerosAndSmoothData() throws {
    let cases: [([UInt8], Int, Codec)] = [
        ([UInt8](repeating: 0, count: 100_000), 4, .shuffleLZ4),
        ([UInt8](repeating: 0, count: 100_000), 1, .lz4),
        (smoothFloat32(50_000), 4, .shuffleLZ4),
        (bytesOf((0..<20_000).map { Double($0) * 0.5 }), 8, .shuffleLZ4),
    ]
    for (raw, elementSize, expected) in cases {
        let result = try auto(raw, elementSize: elementSize)
        #expect(result.codec == expected)
        #expect(result.block.count <= raw.count * 9 / 10)
        #expect(try decoded(result.block, codec: result.codec, elementSize: elementSize, rawSize: raw.count) == raw)
    }
}

@Test("encodeAuto ignores the minSavings threshold")
func encodeAutoHonoursMinSavings() throws {
    let smooth = smoothFloat32(50_000)
    let normal = try auto(smooth, elementSize: 4)
    #expect(normal.codec == .shuffleLZ4)
    let achieved = 1 - Double(normal.block.count) / Double(smooth.count)
    // Just above what this data achieves: must fall back to raw.
    #expect(try auto(smooth, elementSize: 4, minSavings: achieved + 0.01).codec == .none)
    // Just below: must keep it.
    #expect(try auto(smooth, elementSize: 4, minSavings: achieved - 0.01).codec == .shuffleLZ4)
    #expect(try auto(smooth, elementSize: 4, minSavings: 1.0).codec == .none)
    let zeros = [UInt8](repeating: 0, count: 4096)
    #expect(try auto(zeros, elementSize: 4, minSavings: 0).codec == .shuffleLZ4)
    #expect(try auto(zeros, elementSize: 4, minSavings: .nan).codec == .shuffleLZ4)
}

@Test("shuffle-lz4 encode and decode on many threads at once (shared scratch buffers) mix up blocks")
func shuffleLZ4ConcurrentScratch() throws {
    // Sizes on both sides of the pooled-buffer limit, so buffers are reused, grown and freed.
    let sizes = [1_000, 65_536, 300_001, 4 << 20, (16 << 20) + 8]
    DispatchQueue.concurrentPerform(iterations: 24) { index in
        let size = sizes[index % sizes.count] / 4 * 4
        var raw = randomBytes(size, seed: UInt64(index))
        for k in stride(from: 0, to: size, by: 4) { raw[k + 3] = UInt8(index) }  // compressible lane
        var encoded = [UInt8](repeating: 0, count: BlockCodec.maxEncodedSize(rawSize: size, codec: .shuffleLZ4))
        var decoded = [UInt8](repeating: 0, count: size)
        let count = raw.withUnsafeBytes { src in
            encoded.withUnsafeMutableBytes { dst in
                try? BlockCodec.encode(src, codec: .shuffleLZ4, elementSize: 4, into: dst)
            }
        }
        guard let count else { Issue.record("encode failed for \(size) bytes"); return }
        let ok = encoded.withUnsafeBytes { src in
            decoded.withUnsafeMutableBytes { dst in
                (try? BlockCodec.decode(UnsafeRawBufferPointer(rebasing: src[0..<count]), codec: .shuffleLZ4, elementSize: 4, into: dst)) != nil
            }
        }
        #expect(ok && decoded == raw, "block \(index) of \(size) bytes")
    }
}
