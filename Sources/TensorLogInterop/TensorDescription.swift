import TensorLogFormat

/// The element type and shape of a dense, row-major, little-endian tensor.
public struct TensorDescription: Sendable, Equatable, CustomStringConvertible {
    public var dtype: DType
    /// Dimensions, outermost first. `[]` is a 0-d (scalar) tensor; a zero
    /// dimension makes an empty tensor.
    public var shape: [Int]

    /// The largest rank the parsers accept and the writers produce.
    public static let maxRank = 8

    public init(dtype: DType, shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements, or nil if a dimension is negative or the product overflows `Int`.
    public var elementCount: Int? { Checked.product(shape) }

    /// Number of data bytes (`elementCount * dtype.size`), or nil on a negative dimension or overflow.
    public var byteCount: Int? {
        guard let count = elementCount else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        return overflow ? nil : bytes
    }

    public var description: String {
        "\(dtype.name)[\(shape.map(String.init).joined(separator: ", "))]"
    }
}

/// Overflow-checked arithmetic helpers.
enum Checked {
    /// The product of non-negative values, or nil if one is negative or the product overflows.
    static func product(_ values: [Int]) -> Int? {
        var result = 1
        for value in values {
            guard value >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// Validates a description read from a file: rank, non-negative dims, byte count fits in Int.
    /// `what` prefixes the error message (e.g. "npy" or "safetensors: tensor 'w'").
    static func byteCount(
        of description: TensorDescription, what: String, byteOffset: Int? = nil
    ) throws(InteropError) -> Int {
        let shape = description.shape
        guard shape.count <= TensorDescription.maxRank else {
            throw InteropError(
                "\(what): rank \(shape.count) exceeds the maximum of \(TensorDescription.maxRank)",
                byteOffset: byteOffset)
        }
        if let index = shape.firstIndex(where: { $0 < 0 }) {
            throw InteropError(
                "\(what): dimension \(index) is negative (\(shape[index]))", byteOffset: byteOffset)
        }
        guard let bytes = description.byteCount else {
            throw InteropError(
                "\(what): shape \(formatShape(shape)) of \(description.dtype.name) has more bytes than fit in a 64-bit integer",
                byteOffset: byteOffset)
        }
        // A zero-size tensor has 0 bytes whatever its other dimensions: its rows must fit too.
        guard rowByteCount(dtype: description.dtype, shape: shape) != nil else {
            throw InteropError(
                "\(what): shape \(formatShape(shape)) of \(description.dtype.name): one row along axis 0 has more bytes than fit in a 64-bit integer",
                byteOffset: byteOffset)
        }
        return bytes
    }

    static func formatShape(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}

/// Byte-level helpers shared by the parsers.
enum Bytes {
    /// The input as text for an error message: printable ASCII kept, other bytes escaped, cut to `limit`.
    static func quoted(_ bytes: some Collection<UInt8>, limit: Int = 40) -> String {
        var out = "'"
        var n = 0
        for byte in bytes {
            if n == limit { out += "..."; break }
            switch byte {
            case 0x20...0x7E where byte != UInt8(ascii: "'") && byte != UInt8(ascii: "\\"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "'"): out += "\\'"
            case UInt8(ascii: "\\"): out += "\\\\"
            default:
                let hex = String(byte, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
            n += 1
        }
        return out + "'"
    }

    /// A single byte for an error message.
    static func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "end of header" }
        return quoted([byte])
    }

    /// The offset of the first byte in `buffer[range]` that is not part of valid UTF-8
    /// (no overlongs, no surrogates, nothing above U+10FFFF), or nil if the range is valid.
    static func firstInvalidUTF8(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let b0 = buffer[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return i
            }
            guard end - i >= length else { return i }
            let b1 = buffer[i + 1]
            guard b1 >= lower && b1 <= upper else { return i }
            var k = 2
            while k < length {
                guard buffer[i + k] & 0xC0 == 0x80 else { return i }
                k += 1
            }
            i += length
        }
        return nil
    }

    /// A name for an error message: quoted, control characters escaped, cut to `limit` characters.
    static func quotedName(_ name: String, limit: Int = 80) -> String {
        var out = "'"
        var n = 0
        for scalar in name.unicodeScalars {
            if n == limit { out += "..."; break }
            switch scalar.value {
            case 0x00..<0x20, 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            case UInt32(UInt8(ascii: "'")): out += "\\'"
            case UInt32(UInt8(ascii: "\\")): out += "\\\\"
            default: out.unicodeScalars.append(scalar)
            }
            n += 1
        }
        return out + "'"
    }
}
