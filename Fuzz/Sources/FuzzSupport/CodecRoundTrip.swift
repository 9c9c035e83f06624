import TensorLogCompression
import TensorLogFormat

/// encode(raw) with `codec`, then decode: must give `raw` back.
public func roundTrip(_ raw: [UInt8], codec: Codec, elementSize: Int) {
    var encoded = [UInt8](repeating: 0, count: BlockCodec.maxEncodedSize(rawSize: raw.count, codec: codec))
    let written: Int
    do {
        written = try raw.withUnsafeBytes { src in
            try encoded.withUnsafeMutableBytes { dst in
                try BlockCodec.encode(src, codec: codec, elementSize: elementSize, into: dst)
            }
        }
    } catch {
        propertyFailure("encode(\(codec), \(raw.count) bytes, element size \(elementSize)) failed: \(error)")
    }
    require(written <= encoded.count, "encode wrote \(written) bytes into \(encoded.count)")
    decodeAndCompare(Array(encoded[0..<written]), raw: raw, codec: codec, elementSize: elementSize)
}

/// encodeAuto(raw), then decode with the codec it chose: must give `raw` back.
public func autoRoundTrip(_ raw: [UInt8], elementSize: Int) {
    var encoded = [UInt8](repeating: 0, count: BlockCodec.maxEncodedSize(rawSize: raw.count, codec: .lz4))
    let chosen: (codec: Codec, count: Int)
    do {
        let result = try raw.withUnsafeBytes { src in
            try encoded.withUnsafeMutableBytes { dst in
                try BlockCodec.encodeAuto(src, elementSize: elementSize, into: dst)
            }
        }
        chosen = (result.0, result.1)
    } catch {
        propertyFailure("encodeAuto(\(raw.count) bytes, element size \(elementSize)) failed: \(error)")
    }
    if chosen.codec == .none { return }
    require(chosen.count <= encoded.count, "encodeAuto wrote \(chosen.count) bytes into \(encoded.count)")
    decodeAndCompare(Array(encoded[0..<chosen.count]), raw: raw, codec: chosen.codec, elementSize: elementSize)
}

public func decodeAndCompare(_ encoded: [UInt8], raw: [UInt8], codec: Codec, elementSize: Int) {
    var decoded = [UInt8](repeating: 0xA5, count: raw.count)
    do {
        try encoded.withUnsafeBytes { src in
            try decoded.withUnsafeMutableBytes { dst in
                try BlockCodec.decode(src, codec: codec, elementSize: elementSize, into: dst)
            }
        }
    } catch {
        propertyFailure("decode(encode(raw)) with \(codec), element size \(elementSize) failed: \(error)")
    }
    require(decoded == raw, "decode(encode(raw)) != raw with \(codec), element size \(elementSize), \(raw.count) bytes")
}
