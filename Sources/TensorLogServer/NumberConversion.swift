import TensorLog

/// JSON numbers to the bytes of a stored dtype (for rows sent as JSON by devices without numpy).
enum NumberConversion {
    static func encode(_ values: [Double], as dtype: DType) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * dtype.size)
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        func integer<T: FixedWidthInteger>(_ value: Double, _: T.Type, at index: Int) throws -> T {
            guard value.rounded() == value, let exact = T(exactly: value) else {
                throw APIError.invalid("value \(value) at position \(index) is not a \(dtype.name)")
            }
            return exact
        }
        for (index, value) in values.enumerated() {
            switch dtype {
            case .float64: put(value.bitPattern)
            case .float32: put(Float(value).bitPattern)
            case .float16: put(Float16(value).bitPattern)
            case .bfloat16: put(bfloat16Bits(Float(value)))
            case .int64: put(try integer(value, Int64.self, at: index))
            case .int32: put(try integer(value, Int32.self, at: index))
            case .int16: put(try integer(value, Int16.self, at: index))
            case .int8: put(try integer(value, Int8.self, at: index))
            case .uint8: put(try integer(value, UInt8.self, at: index))
            case .bool:
                guard value == 0 || value == 1 else { throw APIError.invalid("value \(value) at position \(index) is not a bool (0 or 1)") }
                put(UInt8(value))
            case .float8E4M3, .float8E5M2:
                throw APIError.invalid("JSON rows cannot be converted to \(dtype.name); send a .npy body")
            }
        }
        return out
    }

    /// float32 to bfloat16, rounding to nearest even (NaN stays NaN).
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
