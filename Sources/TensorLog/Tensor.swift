import Foundation
import TensorLogFormat

/// A Swift type whose memory layout is that of a stored dtype.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}

extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Float: TensorElement { public static var dtype: DType { .float32 } }
#if !(os(macOS) && arch(x86_64))
extension Float16: TensorElement { public static var dtype: DType { .float16 } }
#endif
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension Int16: TensorElement { public static var dtype: DType { .int16 } }
extension Int8: TensorElement { public static var dtype: DType { .int8 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }

/// A tensor that owns its bytes (little endian, row major): what reads that
/// gather or decode return, and what batches hold until they are written.
public struct Tensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]
    public var metadata: [String: String]

    /// Wraps raw bytes; their count must be product(shape) x dtype size.
    public init(dtype: DType, shape: [Int], bytes: [UInt8], metadata: [String: String] = [:]) throws(TensorLogError) {
        try checkShape(dtype: dtype, shape: shape, byteCount: bytes.count)
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.metadata = metadata
    }

    /// Copies typed values; `shape` defaults to one axis.
    public init<T: TensorElement>(_ values: [T], shape: [Int]? = nil, metadata: [String: String] = [:]) throws(TensorLogError) {
        let shape = shape ?? [values.count]
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        try self.init(dtype: T.dtype, shape: shape, bytes: bytes, metadata: metadata)
    }

    /// The values as `T`, which must match the dtype.
    public func values<T: TensorElement>(as type: T.Type) throws(TensorLogError) -> [T] {
        guard T.dtype == dtype else { throw .invalid("tensor is \(dtype), not \(T.dtype)") }
        let count = bytes.count / dtype.size
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
            }
            initialized = count
        }
    }

    /// Rows along axis 0 (1 for a 0-d tensor).
    public var rows: Int { shape.first ?? 1 }
}

/// Checks that `byteCount` is what `dtype` and `shape` need.
func checkShape(dtype: DType, shape: [Int], byteCount: Int) throws(TensorLogError) {
    guard shape.count <= RecordHeader.maxRank else {
        throw .invalid("rank \(shape.count) exceeds the maximum of \(RecordHeader.maxRank)")
    }
    guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalid("shape \(shape) has a negative dimension") }
    guard let expected = TensorLogFormat.byteCount(dtype: dtype, shape: shape) else {
        throw .invalid("shape \(shape) of \(dtype) overflows")
    }
    guard rowByteCount(dtype: dtype, shape: shape) != nil else {
        throw .invalid("shape \(shape) of \(dtype): one row along axis 0 has more bytes than fit in a 64-bit integer")
    }
    guard expected == byteCount else {
        throw .invalid("shape \(shape) of \(dtype) needs \(expected) bytes, got \(byteCount)")
    }
}

/// Checks a key: 1 to 1024 bytes of UTF-8 with no NUL, in Unicode normalization form C.
///
/// Swift compares strings by canonical equivalence, the format compares keys
/// byte for byte; requiring NFC makes the two agree.
func checkKey(_ key: String) throws(TensorLogError) {
    let length = key.utf8.count
    guard length > 0 else { throw .invalid("empty key") }
    guard length <= RecordHeader.maxKeyBytes else {
        throw .invalid("key of \(length) bytes exceeds the maximum of \(RecordHeader.maxKeyBytes)")
    }
    guard !key.utf8.contains(0) else { throw .invalid("key contains a NUL byte") }
    if !key.utf8.allSatisfy({ $0 < 0x80 }) {
        let normalized = key.precomposedStringWithCanonicalMapping
        guard normalized.utf8.elementsEqual(key.utf8) else {
            throw .invalid("key '\(key)' is not in Unicode normalization form C; store it as '\(normalized)'")
        }
    }
}
