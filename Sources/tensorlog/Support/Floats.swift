import TensorLog

/// Conversions of the narrow float types to `Float` for printing, and the
/// rounding back that tells how many digits make a value unique in its type.
enum NarrowFloat {
    /// bfloat16 is the top 16 bits of a float32.
    static func bfloat16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    static func float16(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// OCP FP8 E4M3 ("fn": finite, no infinities): 1 sign, 4 exponent (bias 7), 3 mantissa bits;
    /// exponent and mantissa all ones is NaN; the largest value is 448.
    static func float8E4M3(_ bits: UInt8) -> Float {
        let sign: Float = bits & 0x80 != 0 ? -1 : 1
        let exponent = Int((bits >> 3) & 0x0F)
        let mantissa = Float(bits & 0x07)
        if exponent == 0x0F && bits & 0x07 == 0x07 { return .nan }
        if exponent == 0 { return sign * mantissa * 0x1p-9 }  // subnormal: m/8 * 2^(1-7)
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }

    /// OCP FP8 E5M2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; IEEE-like infinities and NaNs.
    static func float8E5M2(_ bits: UInt8) -> Float {
        let sign: Float = bits & 0x80 != 0 ? -1 : 1
        let exponent = Int((bits >> 2) & 0x1F)
        let mantissa = Float(bits & 0x03)
        if exponent == 0x1F { return bits & 0x03 == 0 ? sign * .infinity : .nan }
        if exponent == 0 { return sign * mantissa * 0x1p-16 }  // subnormal: m/4 * 2^(1-15)
        return sign * (1 + mantissa / 4) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }

    /// `value` rounded to the type its digits are chosen for: float64 and float16 print as
    /// themselves (as numpy prints them); bfloat16 and float8 are printed as the float32 they
    /// convert to exactly (what numpy prints for `array.astype(numpy.float32)`).
    static func roundTrip(_ value: Double, _ dtype: DType) -> Double {
        switch dtype {
        case .float64: value
        case .float16: Double(Float(Float16(value)))
        default: Double(Float(value))
        }
    }
}
