import FuzzSupport
import TensorLogCompression
import TensorLogFormat

// BlockCodec.decode(.lz4) over arbitrary blocks. Input: u32 raw size (mod 1 MiB), then
// the LZ4 block. Properties of every block that decodes to `raw`:
//   - decode(encode(raw)) == raw (encode with .lz4, and with encodeAuto)
//   - decoding the same block with a wrong raw size fails (LZ4 blocks decode to one size)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let input = CodecInput(fuzzInput(data, size)) else { return 0 }
    var raw = [UInt8](repeating: 0, count: input.rawSize)
    let ok = input.block.withUnsafeBytes { src in
        raw.withUnsafeMutableBytes { dst in
            (try? BlockCodec.decode(src, codec: .lz4, elementSize: 1, into: dst)) != nil
        }
    }
    // A size one larger must not decode the same block.
    var bigger = [UInt8](repeating: 0, count: input.rawSize + 1)
    let biggerOK = input.block.withUnsafeBytes { src in
        bigger.withUnsafeMutableBytes { dst in
            (try? BlockCodec.decode(src, codec: .lz4, elementSize: 1, into: dst)) != nil
        }
    }
    guard ok else { return 0 }
    require(!biggerOK, "one LZ4 block decoded to both \(input.rawSize) and \(input.rawSize + 1) bytes")
    roundTrip(raw, codec: .lz4, elementSize: 1)
    autoRoundTrip(raw, elementSize: 1)
    return 0
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("lz4_block_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
