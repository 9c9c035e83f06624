import Foundation
import TensorLog

/// One element, decoded for printing.
enum Scalar {
    case float(Double)
    case int(Int64)
    case bool(Bool)
}

/// Decodes element `index` of little-endian `bytes` holding `dtype` elements.
func scalar(_ bytes: UnsafeRawBufferPointer, _ index: Int, _ dtype: DType) -> Scalar {
    let offset = index * dtype.size
    switch dtype {
    case .float64: return .float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
    case .float32: return .float(Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))))
    case .float16: return .float(Double(NarrowFloat.float16(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))))
    case .bfloat16: return .float(Double(NarrowFloat.bfloat16(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))))
    case .float8E4M3: return .float(Double(NarrowFloat.float8E4M3(bytes[offset])))
    case .float8E5M2: return .float(Double(NarrowFloat.float8E5M2(bytes[offset])))
    case .int64: return .int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
    case .int32: return .int(Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self))))
    case .int16: return .int(Int64(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int16.self))))
    case .int8: return .int(Int64(Int8(bitPattern: bytes[offset])))
    case .uint8: return .int(Int64(bytes[offset]))
    case .bool: return .bool(bytes[offset] != 0)
    }
}

/// Prints arrays the way numpy's `str()` does with its default options: at most
/// 8 fractional digits (fewer when fewer make the value unique in its dtype),
/// scientific notation when magnitudes are far apart, columns aligned, lines
/// wrapped at 75 characters, and arrays of more than 1000 elements summarised
/// with `...` and 3 edge items per axis.
struct ArrayPrinter {
    static let threshold = 1000
    static let edgeItems = 3
    static let lineWidth = 75
    static let precision = 8

    /// An array reduced to what is printed: `shape` is the printed shape, and
    /// `summarised[axis]` says that the axis was cut to its first and last `edgeItems`.
    struct Reduced {
        var dtype: DType
        var shape: [Int]
        var summarised: [Bool]
        var elements: [Scalar]
    }

    /// Which indices of an axis of `length` are printed.
    static func printedIndices(_ length: Int, summarise: Bool) -> (indices: [Int], summarised: Bool) {
        if summarise, length > 2 * edgeItems {
            return (Array(0..<edgeItems) + Array(length - edgeItems..<length), true)
        }
        return (Array(0..<length), false)
    }

    /// Gathers the printed elements. `rowSource(row)` gives the bytes of row `row`
    /// (axis 0) of the full array; axis 0 is already reduced by the caller when
    /// `axis0` says so.
    static func reduce(
        dtype: DType, shape: [Int], summarise: Bool, bytes: UnsafeRawBufferPointer, axis0Printed: [Int]? = nil,
        axis0Summarised: Bool = false
    ) -> Reduced {
        guard !shape.isEmpty else {
            return Reduced(dtype: dtype, shape: [], summarised: [], elements: [scalar(bytes, 0, dtype)])
        }
        // No elements: printed as `[]` whatever the other dimensions (nothing is allocated by shape).
        guard !shape.contains(0) else {
            return Reduced(dtype: dtype, shape: shape.map { _ in 0 }, summarised: shape.map { _ in false }, elements: [])
        }
        // `bytes` holds the rows listed in axis0Printed (or all rows), in order.
        var axes: [[Int]] = []
        var summarised: [Bool] = []
        for (axis, length) in shape.enumerated() {
            if axis == 0, let axis0Printed {
                axes.append(Array(0..<axis0Printed.count))
                summarised.append(axis0Summarised)
            } else {
                let (indices, cut) = printedIndices(length, summarise: summarise)
                axes.append(indices)
                summarised.append(cut)
            }
        }
        // Strides of the buffer (its axis 0 has as many rows as were read).
        var bufferShape = shape
        if let axis0Printed { bufferShape[0] = axis0Printed.count }
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) {
            strides[axis] = strides[axis + 1] * bufferShape[axis + 1]
        }
        var elements: [Scalar] = []
        let printedShape = axes.map(\.count)
        let total = printedShape.reduce(1, *)
        elements.reserveCapacity(total)
        if total > 0 {
            var counter = [Int](repeating: 0, count: shape.count)
            for _ in 0..<total {
                var flat = 0
                for axis in 0..<shape.count { flat += axes[axis][counter[axis]] * strides[axis] }
                elements.append(scalar(bytes, flat, dtype))
                var axis = shape.count - 1
                while axis >= 0 {
                    counter[axis] += 1
                    if counter[axis] < printedShape[axis] { break }
                    counter[axis] = 0
                    axis -= 1
                }
            }
        }
        return Reduced(dtype: dtype, shape: printedShape, summarised: summarised, elements: elements)
    }

    /// The numpy-style text of a reduced array.
    static func render(_ array: Reduced) -> String {
        let format = ElementFormat(array.elements, dtype: array.dtype)
        if array.shape.isEmpty { return format.plain(array.elements[0]) }
        if array.elements.isEmpty { return "[]" }
        let words = array.elements.map(format.padded)
        var position = 0
        return recurse(array, words: words, position: &position, axis: 0, hangingIndent: " ", width: lineWidth)
    }

    /// numpy's `_formatArray` recursion.
    private static func recurse(
        _ array: Reduced, words: [String], position: inout Int, axis: Int, hangingIndent: String, width: Int
    ) -> String {
        let length = array.shape[axis]
        let axesLeft = array.shape.count - axis
        let summary = array.summarised[axis]
        let leading = summary ? edgeItems : length
        let nextIndent = hangingIndent + " "
        let nextWidth = width - 1
        var text = ""
        if axesLeft == 1 {
            var line = hangingIndent
            let elementWidth = width - 1  // room for the closing "]"
            func extend(_ word: String) {
                if line.count + word.count > elementWidth, line.count > hangingIndent.count {
                    text += String(line.reversed().drop(while: { $0 == " " }).reversed()) + "\n"
                    line = hangingIndent
                }
                line += word
            }
            for index in 0..<length {
                if summary, index == leading {
                    extend("...")
                    line += " "
                }
                extend(words[position])
                position += 1
                if index < length - 1 { line += " " }
            }
            text += line
        } else {
            let separator = String(repeating: "\n", count: axesLeft - 1)
            for index in 0..<length {
                if summary, index == leading {
                    text += hangingIndent + "..." + separator
                }
                text += hangingIndent
                    + recurse(array, words: words, position: &position, axis: axis + 1, hangingIndent: nextIndent, width: nextWidth)
                if index < length - 1 { text += separator }
            }
        }
        return "[" + text.dropFirst(hangingIndent.count) + "]"
    }
}

/// How the elements of one printout are formatted (numpy's FloatingFormat,
/// IntegerFormat and BoolFormat with default options).
struct ElementFormat {
    enum Kind {
        case fixed(padLeft: Int, padRight: Int)
        case scientific(padLeft: Int, fractionDigits: Int, exponentDigits: Int)
        case integer(width: Int)
        case bool(width: Int)
    }

    let dtype: DType
    let kind: Kind

    init(_ elements: [Scalar], dtype: DType) {
        self.dtype = dtype
        switch dtype {
        case .bool:
            kind = .bool(width: 5)  // " True" and "False" line up
        case .int64, .int32, .int16, .int8, .uint8:
            let width = elements.map { if case .int(let value) = $0 { String(value).count } else { 0 } }.max() ?? 0
            kind = .integer(width: width)
        default:
            let values = elements.compactMap { if case .float(let value) = $0 { value } else { nil } }
            let finite = values.filter(\.isFinite)
            let magnitudes = finite.filter { $0 != 0 }.map(abs)
            var scientific = false
            if let largest = magnitudes.max(), let smallest = magnitudes.min() {
                scientific = largest >= 1e8 || smallest < 0.0001 || largest / smallest > 1000
            }
            let hasNonFinite = finite.count != values.count
            let negativeInfinity = values.contains { $0 == -.infinity }
            if scientific {
                let parts = finite.map { ElementFormat.scientificParts($0, dtype: dtype) }
                let padLeft = parts.map(\.integer.count).max() ?? 1
                let fractionDigits = parts.map(\.fraction.count).max() ?? 0
                let exponentDigits = max(2, (parts.map(\.exponent.count).max() ?? 3) - 1)
                var left = padLeft
                if hasNonFinite {
                    let right = fractionDigits + 2 + exponentDigits + 1
                    left = max(left, 3 - right, 3 + (negativeInfinity ? 1 : 0) - right)
                }
                kind = .scientific(padLeft: left, fractionDigits: fractionDigits, exponentDigits: exponentDigits)
            } else {
                let parts = finite.map { ElementFormat.fixedParts($0, dtype: dtype) }
                var padLeft = parts.map(\.integer.count).max() ?? 0
                let padRight = parts.map(\.fraction.count).max() ?? 0
                if hasNonFinite {
                    padLeft = max(padLeft, 3 - (padRight + 1), 3 + (negativeInfinity ? 1 : 0) - (padRight + 1))
                }
                kind = .fixed(padLeft: padLeft, padRight: padRight)
            }
        }
    }

    /// The shortest fixed-point text with at most `precision` fractional digits that
    /// rounds back to `value` in `dtype`: integer part (with sign) and fraction digits.
    static func fixedParts(_ value: Double, dtype: DType) -> (integer: String, fraction: String) {
        var text = ""
        for digits in 0...ArrayPrinter.precision {
            text = String(format: "%.\(digits)f", value)
            if let parsed = Double(text), NarrowFloat.roundTrip(parsed, dtype) == value { break }
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return (String(parts[0]), fraction)
    }

    /// The shortest scientific text (at most `precision` fractional digits) that rounds back to `value`.
    static func scientificParts(_ value: Double, dtype: DType) -> (integer: String, fraction: String, exponent: String) {
        var text = ""
        for digits in 0...ArrayPrinter.precision {
            text = String(format: "%.\(digits)e", value)
            if let parsed = Double(text), NarrowFloat.roundTrip(parsed, dtype) == value { break }
        }
        let mantissaAndExponent = text.split(separator: "e", maxSplits: 1)
        let mantissa = mantissaAndExponent[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var fraction = mantissa.count > 1 ? String(mantissa[1]) : ""
        while fraction.hasSuffix("0") { fraction.removeLast() }
        var exponent = String(mantissaAndExponent.count > 1 ? mantissaAndExponent[1] : "+00")
        let sign = exponent.first == "-" ? "-" : "+"
        exponent = String(exponent.drop(while: { $0 == "+" || $0 == "-" }))
        while exponent.count > 2, exponent.hasPrefix("0") { exponent.removeFirst() }
        return (String(mantissa[0]), fraction, sign + exponent)
    }

    /// An element padded to the common width.
    func padded(_ element: Scalar) -> String {
        switch (kind, element) {
        case (.bool(let width), .bool(let value)):
            let text = value ? "True" : "False"
            return String(repeating: " ", count: width - text.count) + text
        case (.integer(let width), .int(let value)):
            let text = String(value)
            return String(repeating: " ", count: max(0, width - text.count)) + text
        case (.fixed(let padLeft, let padRight), .float(let value)):
            if let special = ElementFormat.nonFinite(value) {
                return String(repeating: " ", count: max(0, padLeft + padRight + 1 - special.count)) + special
            }
            let (integer, fraction) = ElementFormat.fixedParts(value, dtype: dtype)
            return String(repeating: " ", count: max(0, padLeft - integer.count)) + integer + "." + fraction
                + String(repeating: " ", count: max(0, padRight - fraction.count))
        case (.scientific(let padLeft, let fractionDigits, let exponentDigits), .float(let value)):
            let right = fractionDigits + exponentDigits + 2
            if let special = ElementFormat.nonFinite(value) {
                return String(repeating: " ", count: max(0, padLeft + right + 1 - special.count)) + special
            }
            // Every element gets the common number of digits: the digits past its shortest
            // unique ones are the exact value's, correctly rounded (numpy's dragon4 min_digits).
            let text = String(format: "%.\(fractionDigits)e", value)
            let mantissaAndExponent = text.split(separator: "e", maxSplits: 1)
            let mantissa = String(mantissaAndExponent[0])
            let integer = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let exponent = mantissaAndExponent.count > 1 ? String(mantissaAndExponent[1]) : "+00"
            let sign = exponent.first == "-" ? "-" : "+"
            var digits = String(exponent.drop(while: { $0 == "+" || $0 == "-" }))
            while digits.count > 2, digits.hasPrefix("0") { digits.removeFirst() }
            return String(repeating: " ", count: max(0, padLeft - integer.count)) + mantissa + (fractionDigits == 0 ? "." : "")
                + "e" + sign + String(repeating: "0", count: max(0, exponentDigits - digits.count)) + digits
        default:
            return "?"
        }
    }

    /// A lone element (a 0-d array), as numpy prints a scalar: `1.0`, `0.1`, `1e-05`, `True`, `7`.
    func plain(_ element: Scalar) -> String {
        guard case .float(let value) = element else { return padded(element).trimmingCharacters(in: .whitespaces) }
        if let special = ElementFormat.nonFinite(value) { return special }
        if value == 0 || (abs(value) >= 1e-4 && abs(value) < 1e16) {
            let (integer, fraction) = ElementFormat.fixedParts(value, dtype: dtype)
            return integer + "." + (fraction.isEmpty ? "0" : fraction)
        }
        let (integer, fraction, exponent) = ElementFormat.scientificParts(value, dtype: dtype)
        let digits = exponent.dropFirst()
        return integer + (fraction.isEmpty ? "" : "." + fraction) + "e" + exponent.prefix(1)
            + String(repeating: "0", count: max(0, 2 - digits.count)) + digits
    }

    private static func nonFinite(_ value: Double) -> String? {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return nil
    }
}
