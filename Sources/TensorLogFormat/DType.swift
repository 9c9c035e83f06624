/// Element types a record can hold. The raw value is the byte stored in the
/// record header (docs/FORMAT.md, "dtype codes"); never renumber a case.
public enum DType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float64 = 1
    case float32 = 2
    case float16 = 3
    case bfloat16 = 4
    case int64 = 5
    case int32 = 6
    case int16 = 7
    case int8 = 8
    case uint8 = 9
    case bool = 10
    /// 8-bit float, 4 exponent bits, 3 mantissa bits (OCP FP8 E4M3). Stored bytes only.
    case float8E4M3 = 11
    /// 8-bit float, 5 exponent bits, 2 mantissa bits (OCP FP8 E5M2). Stored bytes only.
    case float8E5M2 = 12

    /// Size of one element in bytes.
    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool, .float8E4M3, .float8E5M2: 1
        }
    }

    /// numpy's name for the type (`float32`, `bfloat16`, `float8_e4m3fn`...).
    public var name: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .bool: "bool"
        case .float8E4M3: "float8_e4m3fn"
        case .float8E5M2: "float8_e5m2"
        }
    }

    /// Looks a type up by its numpy name.
    public init?(name: String) {
        guard let match = DType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}

/// How a payload is encoded on disk. The raw value is stored in the record
/// header; never renumber a case.
public enum Codec: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The payload is the tensor's bytes, little endian, row major.
    case none = 0
    /// LZ4 block format (one `LZ4_compress_default` block) of the raw bytes.
    case lz4 = 1
    /// The raw bytes byte-shuffled by element size, then one LZ4 block.
    case shuffleLZ4 = 2

    public var name: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        case .shuffleLZ4: "shuffle-lz4"
        }
    }

    public init?(name: String) {
        guard let match = Codec.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}
