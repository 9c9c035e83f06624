import TensorLog

/// Conversion of stored element types to the float32 the kernels compute in.
///
/// Every function reads `count` elements from raw (possibly mapped,
/// read-only) memory and writes float32; the loops are plain so the compiler
/// vectorises them.
public enum Convert {
    /// DTypes that `toFloat` accepts as features or targets.
    public static let supportedFeatureTypes: Set<DType> = [.float32, .float16, .bfloat16, .int8, .uint8, .float64, .int32, .int64, .int16]
    /// DTypes that `toClassIndices` accepts as class labels.
    public static let supportedLabelTypes: Set<DType> = [.int8, .uint8, .int16, .int32, .int64]

    /// IEEE half bits to float32 (exact; NaN payloads kept, infinities and subnormals handled).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let bits = UInt32(h)
        let magnitude = Float(bitPattern: (bits & 0x7FFF) << 13) * Float(bitPattern: 0x7780_0000) // x 2^112
        var out = magnitude.bitPattern
        if bits & 0x7C00 == 0x7C00 { out |= 0x7F80_0000 }
        return Float(bitPattern: out | ((bits & 0x8000) << 16))
    }

    /// bfloat16 bits to float32 (exact: the upper half of a float32).
    @inline(__always)
    public static func bfloat16ToFloat(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Converts `count` elements of `dtype` at `source` into `destination`.
    /// Throws for dtypes with no float32 meaning here (bool, float8).
    public static func toFloat(
        _ source: UnsafeRawPointer, dtype: DType, count: Int, into destination: UnsafeMutablePointer<Float>
    ) throws(ComputeError) {
        switch dtype {
        case .float32:
            destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .float16:
            let s = source.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { destination[i] = halfToFloat(s[i]) }
        case .bfloat16:
            let s = source.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { destination[i] = bfloat16ToFloat(s[i]) }
        case .int8:
            let s = source.assumingMemoryBound(to: Int8.self)
            for i in 0..<count { destination[i] = Float(s[i]) }
        case .uint8:
            let s = source.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { destination[i] = Float(s[i]) }
        case .int16:
            let s = source.assumingMemoryBound(to: Int16.self)
            for i in 0..<count { destination[i] = Float(s[i]) }
        case .int32:
            let s = source.assumingMemoryBound(to: Int32.self)
            for i in 0..<count { destination[i] = Float(s[i]) }
        case .int64:
            let s = source.assumingMemoryBound(to: Int64.self)
            for i in 0..<count { destination[i] = Float(s[i]) }
        case .float64:
            let s = source.assumingMemoryBound(to: Double.self)
            for i in 0..<count { destination[i] = Float(s[i]) }
        case .bool, .float8E4M3, .float8E5M2:
            throw ComputeError("cannot convert \(dtype) to float32")
        }
    }

    /// Converts `count` integer class labels of `dtype` to Int32 class indices.
    public static func toClassIndices(
        _ source: UnsafeRawPointer, dtype: DType, count: Int, into destination: UnsafeMutablePointer<Int32>
    ) throws(ComputeError) {
        switch dtype {
        case .int8:
            let s = source.assumingMemoryBound(to: Int8.self)
            for i in 0..<count { destination[i] = Int32(s[i]) }
        case .uint8:
            let s = source.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { destination[i] = Int32(s[i]) }
        case .int16:
            let s = source.assumingMemoryBound(to: Int16.self)
            for i in 0..<count { destination[i] = Int32(s[i]) }
        case .int32:
            destination.update(from: source.assumingMemoryBound(to: Int32.self), count: count)
        case .int64:
            let s = source.assumingMemoryBound(to: Int64.self)
            for i in 0..<count {
                guard let v = Int32(exactly: s[i]) else { throw ComputeError("class label \(s[i]) out of range") }
                destination[i] = v
            }
        default:
            throw ComputeError("class labels must be integers, not \(dtype)")
        }
    }
}

/// Errors of the compute layer: what went wrong, in words.
public struct ComputeError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong.
    public let message: String
    /// An error with `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
