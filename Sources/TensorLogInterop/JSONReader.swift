/// A small strict, pull-style JSON reader over untrusted bytes, used for the
/// safetensors header. It never builds a generic tree: the caller asks for the
/// value it expects (object, string, non-negative integer) and skips the rest
/// with `skipValue`, so memory stays bounded by what the caller keeps.
///
/// Accepts RFC 8259 JSON (the caller checks UTF-8 validity of the whole range
/// first). Positions are absolute offsets in `buffer`, which is also what error
/// messages report. Every read is bounds-checked; nothing traps.
struct JSONReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int
    /// Error message prefix, e.g. "safetensors".
    let context: String
    /// Nesting limit for `skipValue`.
    static let maxDepth = 64

    init(_ buffer: UnsafeRawBufferPointer, range: Range<Int>, context: String) {
        self.buffer = buffer
        self.position = range.lowerBound
        self.end = range.upperBound
        self.context = context
    }

    // MARK: Basics

    var atEnd: Bool { position >= end }

    func peek() -> UInt8? { position < end ? buffer[position] : nil }

    func error(_ message: String, at offset: Int? = nil) -> InteropError {
        let where_ = offset ?? position
        return InteropError("\(context): byte \(where_): \(message)", byteOffset: where_)
    }

    mutating func skipWhitespace() {
        while position < end {
            switch buffer[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(InteropError) {
        skipWhitespace()
        guard peek() == byte else {
            throw error("expected \(what), found \(Bytes.describe(peek()))")
        }
        position += 1
    }

    // MARK: Objects and arrays

    /// Consumes `{`.
    mutating func beginObject(_ what: String) throws(InteropError) {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else {
            throw error("expected \(what) to be a JSON object, found \(Bytes.describe(peek()))")
        }
        position += 1
    }

    /// Reads the next member key of an object opened with `beginObject` and the `:` after it;
    /// nil at the closing `}` (consumed). `first` tracks whether a comma is needed.
    mutating func nextKey(first: inout Bool) throws(InteropError) -> (key: [UInt8], offset: Int)? {
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return nil
        }
        if !first {
            guard peek() == UInt8(ascii: ",") else {
                throw error("expected ',' or '}' in object, found \(Bytes.describe(peek()))")
            }
            position += 1
            skipWhitespace()
        }
        first = false
        let offset = position
        guard peek() == UInt8(ascii: "\"") else {
            throw error("expected a string key in object, found \(Bytes.describe(peek()))")
        }
        let key = try stringBytes()
        try expect(UInt8(ascii: ":"), "':' after object key")
        return (key, offset)
    }

    /// Consumes `[`.
    mutating func beginArray(_ what: String) throws(InteropError) {
        skipWhitespace()
        guard peek() == UInt8(ascii: "[") else {
            throw error("expected \(what) to be a JSON array, found \(Bytes.describe(peek()))")
        }
        position += 1
    }

    /// Returns true if another array element follows (consuming the comma), false at `]` (consumed).
    mutating func hasNextElement(first: inout Bool) throws(InteropError) -> Bool {
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return false
        }
        if !first {
            guard peek() == UInt8(ascii: ",") else {
                throw error("expected ',' or ']' in array, found \(Bytes.describe(peek()))")
            }
            position += 1
        }
        first = false
        return true
    }

    // MARK: Scalars

    /// Reads a JSON string value as a Swift `String`.
    mutating func string(_ what: String) throws(InteropError) -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else {
            throw error("expected \(what) to be a JSON string, found \(Bytes.describe(peek()))")
        }
        // The bytes are valid UTF-8: the input was validated and escapes produce valid scalars.
        return String(decoding: try stringBytes(), as: UTF8.self)
    }

    /// Reads a string at the current position (which must be `"`) and returns its UTF-8 bytes, escapes decoded.
    mutating func stringBytes() throws(InteropError) -> [UInt8] {
        let start = position
        position += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard position < end else { throw error("unterminated string", at: start) }
            let byte = buffer[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return out
            case UInt8(ascii: "\\"):
                position += 1
                guard position < end else { throw error("unterminated string", at: start) }
                let escape = buffer[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escapeStart = position - 2
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard end - position >= 2, buffer[position] == UInt8(ascii: "\\"),
                            buffer[position + 1] == UInt8(ascii: "u")
                        else {
                            throw error("lone high surrogate in \\u escape", at: escapeStart)
                        }
                        position += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else {
                            throw error("high surrogate not followed by a low surrogate in \\u escape", at: escapeStart)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw error("lone low surrogate in \\u escape", at: escapeStart)
                    }
                    // Valid by construction: not a surrogate, <= 0x10FFFF.
                    guard let value = Unicode.Scalar(scalar) else {
                        throw error("invalid \\u escape", at: escapeStart)
                    }
                    out.append(contentsOf: value.utf8)
                default:
                    throw error("invalid escape character \(Bytes.quoted([escape])) after '\\' in string", at: position - 2)
                }
            case 0x00..<0x20:
                throw error("control character \(Bytes.quoted([byte])) in string (must be escaped)")
            default:
                out.append(byte)
                position += 1
            }
        }
    }

    private mutating func hex4() throws(InteropError) -> UInt32 {
        guard end - position >= 4 else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = buffer[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit \(Bytes.quoted([byte])) in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Reads a non-negative JSON integer that fits in `Int`. Rejects signs, fractions and exponents.
    mutating func nonNegativeInteger(_ what: String) throws(InteropError) -> Int {
        skipWhitespace()
        let start = position
        guard let first = peek() else { throw error("expected \(what) (an integer), found end of header") }
        if first == UInt8(ascii: "-") {
            throw error("\(what) must not be negative")
        }
        guard first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else {
            throw error("expected \(what) to be a non-negative integer, found \(Bytes.describe(first))")
        }
        var value = 0
        var overflow = false
        while let byte = peek(), byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
            if position > start && buffer[start] == UInt8(ascii: "0") {
                throw error("leading zero in \(what)", at: start)
            }
            if !overflow {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                if o1 || o2 { overflow = true } else { value = sum }
            }
            position += 1
        }
        if let next = peek(), next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            throw error("\(what) must be an integer, found a fractional or exponent number", at: start)
        }
        if overflow {
            throw error("\(what) \(Bytes.quoted(UnsafeRawBufferPointer(rebasing: buffer[start..<position]))) is too large", at: start)
        }
        return value
    }

    // MARK: Skipping

    /// Skips any JSON value (validating its syntax), with a nesting limit.
    mutating func skipValue(depth: Int = 0) throws(InteropError) {
        guard depth < JSONReader.maxDepth else {
            throw error("JSON nested deeper than \(JSONReader.maxDepth) levels")
        }
        skipWhitespace()
        guard let byte = peek() else { throw error("expected a JSON value, found end of header") }
        switch byte {
        case UInt8(ascii: "{"):
            position += 1
            var first = true
            while try nextKey(first: &first) != nil {
                try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            position += 1
            var first = true
            while try hasNextElement(first: &first) {
                try skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "\""):
            _ = try stringBytes()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        default:
            throw error("expected a JSON value, found \(Bytes.describe(byte))")
        }
    }

    /// If the next token is `null`, consumes it and returns true.
    mutating func consumeNull() throws(InteropError) -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func literal(_ word: String) throws(InteropError) {
        let expected = Array(word.utf8)
        let start = position
        guard end - position >= expected.count else { throw error("invalid literal (expected '\(word)')") }
        for i in 0..<expected.count where buffer[start + i] != expected[i] {
            throw error("invalid literal (expected '\(word)')")
        }
        position += expected.count
    }

    private mutating func skipNumber() throws(InteropError) {
        let start = position
        if peek() == UInt8(ascii: "-") { position += 1 }
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        guard isDigit(peek()) else { throw error("invalid number", at: start) }
        if peek() == UInt8(ascii: "0") {
            position += 1
        } else {
            while isDigit(peek()) { position += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard isDigit(peek()) else { throw error("invalid number", at: start) }
            while isDigit(peek()) { position += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard isDigit(peek()) else { throw error("invalid number", at: start) }
            while isDigit(peek()) { position += 1 }
        }
    }
}

/// Appends `text` to `out` as a JSON string literal (quotes included).
func appendJSONString(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x00..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
}
