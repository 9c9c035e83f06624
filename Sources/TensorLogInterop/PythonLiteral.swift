/// A value of the small subset of Python literal syntax found in `.npy` headers.
indirect enum PyValue {
    /// A `'...'` or `"..."` string (optionally `u`-prefixed), as raw bytes.
    case string([UInt8])
    /// A non-negative integer; nil when it does not fit in `Int`.
    case int(Int?)
    /// A negative integer (its value is never needed).
    case negativeInt
    case bool(Bool)
    case none
    case tuple([PyValue])
    case list([PyValue])
    /// A nested dict (its contents are never needed).
    case dict

    var typeName: String {
        switch self {
        case .string: "a string"
        case .int, .negativeInt: "an integer"
        case .bool: "a bool"
        case .none: "None"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        }
    }
}

/// A strict reader for the Python dict literal that is a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`.
///
/// Supports strings (`'`/`"`, optional `u` prefix, escapes `\\ \' \"` only),
/// decimal integers (with an optional `L` suffix when `allowLongSuffix`, as in
/// Python 2 era files), `True`/`False`/`None`, tuples (`()`, `(3,)`, `(2, 3)`),
/// lists and dicts, with trailing commas. Anything else is an error. Positions
/// are absolute offsets in `buffer`. Bounds-checked; nothing traps.
struct PyLiteralReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int
    let allowLongSuffix: Bool
    static let maxDepth = 16
    static let maxElements = 1024

    init(_ buffer: UnsafeRawBufferPointer, range: Range<Int>, allowLongSuffix: Bool) {
        self.buffer = buffer
        self.position = range.lowerBound
        self.end = range.upperBound
        self.allowLongSuffix = allowLongSuffix
    }

    func peek() -> UInt8? { position < end ? buffer[position] : nil }

    var atEnd: Bool { position >= end }

    func error(_ message: String, at offset: Int? = nil) -> InteropError {
        let where_ = offset ?? position
        return InteropError("npy: byte \(where_): header: \(message)", byteOffset: where_)
    }

    mutating func skipWhitespace() {
        while position < end {
            switch buffer[position] {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0C: position += 1
            default: return
            }
        }
    }

    /// Reads the top-level dict: a list of (key, key offset, value, value offset), keys unique.
    mutating func topLevelDict() throws(InteropError) -> [(key: [UInt8], keyOffset: Int, value: PyValue, valueOffset: Int)] {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else {
            throw error("expected a dict literal '{...}', found \(Bytes.describe(peek()))")
        }
        position += 1
        var members: [(key: [UInt8], keyOffset: Int, value: PyValue, valueOffset: Int)] = []
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { position += 1; break }
            let keyOffset = position
            guard case .string(let key) = try value(depth: 1) else {
                throw error("dict keys must be strings", at: keyOffset)
            }
            if members.contains(where: { $0.key == key }) {
                throw error("duplicate key \(Bytes.quoted(key))", at: keyOffset)
            }
            guard members.count < PyLiteralReader.maxElements else { throw error("too many keys") }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else {
                throw error("expected ':' after dict key, found \(Bytes.describe(peek()))")
            }
            position += 1
            skipWhitespace()
            let valueOffset = position
            let member = try value(depth: 1)
            members.append((key, keyOffset, member, valueOffset))
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { position += 1; continue }
            if peek() == UInt8(ascii: "}") { position += 1; break }
            throw error("expected ',' or '}' in dict, found \(Bytes.describe(peek()))")
        }
        skipWhitespace()
        guard atEnd else {
            throw error("unexpected \(Bytes.describe(peek())) after the header dict")
        }
        return members
    }

    /// Reads one value.
    mutating func value(depth: Int) throws(InteropError) -> PyValue {
        guard depth <= PyLiteralReader.maxDepth else {
            throw error("nested deeper than \(PyLiteralReader.maxDepth) levels")
        }
        skipWhitespace()
        guard let byte = peek() else { throw error("expected a value, found end of header") }
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .int(try integer())
        case UInt8(ascii: "-"):
            let start = position
            position += 1
            guard let next = peek(), next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9") else {
                throw error("expected digits after '-'", at: start)
            }
            let magnitude = try integer()
            return magnitude == 0 ? .int(0) : .negativeInt
        case UInt8(ascii: "("):
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: ")") { position += 1; return .tuple([]) }
            let first = try value(depth: depth + 1)
            skipWhitespace()
            if peek() == UInt8(ascii: ")") { position += 1; return first }  // parenthesized value, not a tuple
            let rest = try sequence(closing: UInt8(ascii: ")"), depth: depth, afterFirst: true)
            return .tuple([first] + rest)
        case UInt8(ascii: "["):
            position += 1
            return .list(try sequence(closing: UInt8(ascii: "]"), depth: depth, afterFirst: false))
        case UInt8(ascii: "{"):
            position += 1
            try skipDict(depth: depth)
            return .dict
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
            let start = position
            while let b = peek(), isIdentifier(b) { position += 1 }
            let word = Array(UnsafeRawBufferPointer(rebasing: buffer[start..<position]))
            if (word == [UInt8(ascii: "u")] || word == [UInt8(ascii: "U")]),
                peek() == UInt8(ascii: "'") || peek() == UInt8(ascii: "\"")
            {
                return .string(try string())
            }
            switch word {
            case Array("True".utf8): return .bool(true)
            case Array("False".utf8): return .bool(false)
            case Array("None".utf8): return .none
            default: throw error("unexpected name \(Bytes.quoted(word)) (only True, False and None are allowed)", at: start)
            }
        default:
            throw error("unexpected \(Bytes.describe(byte))")
        }
    }

    /// Reads the elements of a tuple or list up to `closing`. With `afterFirst`, the first
    /// element was already read and a ',' or the closing bracket comes next.
    private mutating func sequence(closing: UInt8, depth: Int, afterFirst: Bool) throws(InteropError) -> [PyValue] {
        var items: [PyValue] = []
        var needComma = afterFirst
        while true {
            skipWhitespace()
            if peek() == closing { position += 1; return items }
            if needComma {
                guard peek() == UInt8(ascii: ",") else {
                    throw error("expected ',' or '\(Character(Unicode.Scalar(closing)))', found \(Bytes.describe(peek()))")
                }
                position += 1
                skipWhitespace()
                if peek() == closing { position += 1; return items }
            }
            guard items.count < PyLiteralReader.maxElements else { throw error("too many elements") }
            items.append(try value(depth: depth + 1))
            needComma = true
        }
    }

    private mutating func skipDict(depth: Int) throws(InteropError) {
        var count = 0
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { position += 1; return }
            guard count < PyLiteralReader.maxElements else { throw error("too many elements") }
            _ = try value(depth: depth + 1)
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else {
                throw error("expected ':' after dict key, found \(Bytes.describe(peek()))")
            }
            position += 1
            _ = try value(depth: depth + 1)
            count += 1
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { position += 1; continue }
            if peek() == UInt8(ascii: "}") { position += 1; return }
            throw error("expected ',' or '}' in dict, found \(Bytes.describe(peek()))")
        }
    }

    private func isIdentifier(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
    }

    /// Reads a quoted string at the current position (a quote character).
    private mutating func string() throws(InteropError) -> [UInt8] {
        let start = position
        let quote = buffer[position]
        position += 1
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string", at: start) }
            position += 1
            switch byte {
            case quote:
                return out
            case UInt8(ascii: "\\"):
                guard let escaped = peek() else { throw error("unterminated string", at: start) }
                guard escaped == UInt8(ascii: "\\") || escaped == UInt8(ascii: "'") || escaped == UInt8(ascii: "\"")
                else {
                    throw error("unsupported escape in string (only \\\\, \\' and \\\" are allowed)", at: position - 1)
                }
                out.append(escaped)
                position += 1
            case 0x0A, 0x0D:
                throw error("line break inside a string", at: position - 1)
            default:
                out.append(byte)
            }
        }
    }

    /// Reads a decimal integer at the current position (a digit); nil if it does not fit in `Int`.
    private mutating func integer() throws(InteropError) -> Int? {
        let start = position
        var value: Int? = 0
        while let b = peek(), b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") {
            if let current = value {
                let (times10, o1) = current.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
                value = (o1 || o2) ? nil : sum
            }
            position += 1
        }
        if position - start > 1 && buffer[start] == UInt8(ascii: "0") {
            throw error("integer with a leading zero", at: start)
        }
        if allowLongSuffix, let b = peek(), b == UInt8(ascii: "L") || b == UInt8(ascii: "l") {
            position += 1
        }
        if let b = peek(), isIdentifier(b) || b == UInt8(ascii: ".") {
            throw error("not a plain decimal integer", at: start)
        }
        return value
    }
}
