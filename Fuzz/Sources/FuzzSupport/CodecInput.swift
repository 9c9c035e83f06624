/// The layout of a codec fuzz input: `u32 rawSize` (little endian, reduced modulo
/// `maxRawSize`), then the encoded block.
public struct CodecInput {
    public static let maxRawSize = 1 << 20
    public var rawSize: Int
    public var block: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 4 else { return nil }
        rawSize = Int(bytes.u32(at: 0)) % Self.maxRawSize
        block = Array(bytes[4...])
    }

    public static func encode(rawSize: Int, block: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 4)
        out.put(u32: UInt32(rawSize), at: 0)
        return out + block
    }
}
