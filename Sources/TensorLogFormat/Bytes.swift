/// Little-endian encoding into a growable byte array.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func u16(_ value: UInt16) { append(littleEndian: value) }

    public mutating func u32(_ value: UInt32) { append(littleEndian: value) }

    public mutating func u64(_ value: UInt64) { append(littleEndian: value) }

    public mutating func raw(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }

    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// Pads with zero bytes until the length is a multiple of `alignment`.
    public mutating func pad(toMultipleOf alignment: Int) {
        zeros(alignUp(bytes.count, to: alignment) - bytes.count)
    }

    /// Overwrites 4 bytes at `offset` (used to fill in a checksum after the fact).
    public mutating func patch(u32 value: UInt32, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { source in
            for index in 0..<4 { bytes[offset + index] = source[index] }
        }
    }

    private mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Bounds-checked little-endian decoding of untrusted bytes. Every read checks
/// that it stays inside the buffer and throws a `FormatError` naming the
/// offset otherwise; it never traps.
///
/// The buffer must stay valid while the reader is used.
public struct ByteReader {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var position: Int
    /// Added to `position` in error messages (the buffer's offset in its file).
    public let baseOffset: Int
    public let context: String

    public init(_ buffer: UnsafeRawBufferPointer, baseOffset: Int = 0, context: String) {
        self.buffer = buffer
        self.position = 0
        self.baseOffset = baseOffset
        self.context = context
    }

    public var remaining: Int { buffer.count - position }

    public mutating func u8() throws(FormatError) -> UInt8 { try integer(UInt8.self) }
    public mutating func u16() throws(FormatError) -> UInt16 { try integer(UInt16.self) }
    public mutating func u32() throws(FormatError) -> UInt32 { try integer(UInt32.self) }
    public mutating func u64() throws(FormatError) -> UInt64 { try integer(UInt64.self) }

    /// Returns the next `count` bytes as a slice of the buffer.
    public mutating func bytes(_ count: Int, what: String) throws(FormatError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw error("\(what) of \(count) bytes runs past the end (\(remaining) bytes left)")
        }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[position..<position + count])
        position += count
        return slice
    }

    /// Reads `count` bytes that must be valid UTF-8.
    public mutating func string(_ count: Int, what: String) throws(FormatError) -> String {
        let start = position
        let raw = try bytes(count, what: what)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw FormatError("\(context): \(what) is not valid UTF-8", offset: baseOffset + start)
        }
        return text
    }

    public mutating func skip(_ count: Int, what: String) throws(FormatError) {
        _ = try bytes(count, what: what)
    }

    /// Reads `count` bytes that the format reserves and requires to be zero.
    public mutating func expectZeros(_ count: Int, what: String) throws(FormatError) {
        let start = position
        let bytes = try bytes(count, what: what)
        guard bytes.allSatisfy({ $0 == 0 }) else {
            throw FormatError("\(context): \(what) must be zero", offset: baseOffset + start)
        }
    }

    public func error(_ message: String) -> FormatError {
        FormatError("\(context): \(message)", offset: baseOffset + position)
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw error("truncated: needed \(size) bytes, \(remaining) left")
        }
        let value = buffer.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }
}

/// A malformed or unsupported encoding, with the byte offset where it was found.
public struct FormatError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    /// Offset of the problem in the decoded file (or buffer), in bytes.
    public let offset: Int
    /// True when the bytes were written by a newer format version this reader does not know.
    public let isUnsupportedVersion: Bool

    public init(_ message: String, offset: Int, isUnsupportedVersion: Bool = false) {
        self.message = message
        self.offset = offset
        self.isUnsupportedVersion = isUnsupportedVersion
    }

    public var description: String { "\(message) (at byte \(offset))" }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
@inlinable
public func alignUp(_ value: Int, to alignment: Int) -> Int {
    (value + alignment - 1) & ~(alignment - 1)
}

/// Product of a shape's dimensions, or nil when it overflows `Int`.
public func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
    }
    return count
}

/// Bytes a tensor of this dtype and shape occupies raw, or nil on overflow.
public func byteCount(dtype: DType, shape: [Int]) -> Int? {
    guard let count = elementCount(shape) else { return nil }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
    return overflow ? nil : bytes
}

/// Bytes of one row along axis 0 (the product of the inner dimensions x element size; the element
/// size for rank 0 and 1), or nil when it, or any stride within a row, overflows `Int`.
///
/// A zero-size tensor has 0 total bytes whatever its other dimensions, so `byteCount` alone
/// does not bound them: shape [0, 2^62] of float64 fits there but its rows do not.
public func rowByteCount(dtype: DType, shape: [Int]) -> Int? {
    var bytes = dtype.size
    // Innermost first: every row-major stride (in bytes) is a suffix product.
    for dimension in shape.dropFirst().reversed() {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        bytes = product
    }
    return bytes
}

/// Whether a tensor of this dtype and shape can be stored and read: its total bytes, its row bytes
/// and every stride fit in `Int` (the rule the writers, importers and readers apply).
public func shapeFits(dtype: DType, shape: [Int]) -> Bool {
    byteCount(dtype: dtype, shape: shape) != nil && rowByteCount(dtype: dtype, shape: shape) != nil
}

extension Array {
    /// `withUnsafeBytes` for typed-throws closures (the standard one rethrows `any Error`).
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBytes { buffer in Result { () throws(E) in try body(buffer) } }
        return try result.get()
    }

    /// `withUnsafeMutableBytes` for typed-throws closures.
    @inlinable
    public mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeMutableBytes { buffer in Result { () throws(E) in try body(buffer) } }
        return try result.get()
    }
}
