import FuzzSupport
import TensorLogCompression
import TensorLogFormat

// BlockCodec.decode(.shuffleLZ4) and ByteShuffle over arbitrary input. Input: u8 element
// size selector, then u32 raw size (mod 1 MiB), then the block. Properties:
//   - for a block that decodes to `raw`: decode(encode(raw)) == raw (shuffleLZ4 and encodeAuto)
//   - unshuffle(shuffle(x)) == x and shuffle(unshuffle(x)) == x for the block bytes, at every
//     element size the selector picks
//   - shuffle with element size 1 (or fewer than 2 elements) is the identity
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let selector = bytes.first, let input = CodecInput(Array(bytes.dropFirst())) else { return 0 }
    // Element sizes 1, 2, 4, 8 (the fast paths) and 3, 5...16 (the generic path).
    let sizes = [1, 2, 4, 8, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16]
    let elementSize = sizes[Int(selector) % sizes.count]

    shuffleProperties(input.block, elementSize: elementSize)

    var raw = [UInt8](repeating: 0, count: input.rawSize)
    let ok = input.block.withUnsafeBytes { src in
        raw.withUnsafeMutableBytes { dst in
            (try? BlockCodec.decode(src, codec: .shuffleLZ4, elementSize: elementSize, into: dst)) != nil
        }
    }
    guard ok else { return 0 }
    // The same block without the shuffle is plain LZ4 of the shuffled bytes.
    var shuffled = [UInt8](repeating: 0, count: input.rawSize)
    let plainOK = input.block.withUnsafeBytes { src in
        shuffled.withUnsafeMutableBytes { dst in
            (try? BlockCodec.decode(src, codec: .lz4, elementSize: 1, into: dst)) != nil
        }
    }
    require(plainOK, "a block decodes as shuffle-lz4 but not as lz4")
    require(unshuffled(shuffled, elementSize: elementSize) == raw, "shuffle-lz4 decode != unshuffle(lz4 decode)")
    roundTrip(raw, codec: .shuffleLZ4, elementSize: elementSize)
    autoRoundTrip(raw, elementSize: elementSize)
    return 0
}

private func shuffled(_ x: [UInt8], elementSize: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: x.count)
    x.withUnsafeBytes { src in
        out.withUnsafeMutableBytes { dst in ByteShuffle.shuffle(src, elementSize: elementSize, into: dst) }
    }
    return out
}

private func unshuffled(_ x: [UInt8], elementSize: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: x.count)
    x.withUnsafeBytes { src in
        out.withUnsafeMutableBytes { dst in ByteShuffle.unshuffle(src, elementSize: elementSize, into: dst) }
    }
    return out
}

/// Reference shuffle, byte by byte.
private func referenceShuffle(_ x: [UInt8], elementSize: Int) -> [UInt8] {
    let n = x.count / elementSize
    if elementSize == 1 || n <= 1 { return x }
    var out = x
    for i in 0..<n {
        for k in 0..<elementSize { out[k * n + i] = x[i * elementSize + k] }
    }
    return out
}

private func shuffleProperties(_ x: [UInt8], elementSize: Int) {
    let s = shuffled(x, elementSize: elementSize)
    require(s == referenceShuffle(x, elementSize: elementSize), "shuffle (element size \(elementSize), \(x.count) bytes) differs from the reference")
    require(unshuffled(s, elementSize: elementSize) == x, "unshuffle(shuffle(x)) != x (element size \(elementSize), \(x.count) bytes)")
    require(shuffled(unshuffled(x, elementSize: elementSize), elementSize: elementSize) == x, "shuffle(unshuffle(x)) != x (element size \(elementSize), \(x.count) bytes)")
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("shuffle_lz4_block_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
