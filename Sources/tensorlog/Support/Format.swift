import Foundation
import TensorLog

/// `1.5 KiB`, `32.0 MiB`, `812 B`.
func formatBytes(_ bytes: Int) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB"]
    guard abs(bytes) >= 1024 else { return "\(bytes) B" }
    var value = Double(bytes) / 1024
    var unit = 0
    while abs(value) >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return String(format: "%.1f %@", value, units[unit])
}

/// `[256, 128]`; `[]` for a 0-d tensor.
func formatShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}

/// A segment's file name as docs/FORMAT.md gives it: the id zero-padded to 8 digits, `.seg`.
func segmentFileName(_ id: UInt64) -> String {
    let digits = String(id)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".seg"
}

func formatSeconds(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    if seconds < 1e-3 { return String(format: "%.1f µs", seconds * 1e6) }
    if seconds < 1 { return String(format: "%.1f ms", seconds * 1e3) }
    return String(format: "%.2f s", seconds)
}

/// A plain-text table: columns padded to their widest cell, numeric columns right-aligned.
struct TextTable {
    var header: [String]
    var rightAligned: Set<Int>
    var rows: [[String]] = []

    init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render(indent: String = "") -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var out = indent
            for (column, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[column] - cell.count))
                let last = column == cells.count - 1
                if rightAligned.contains(column) {
                    out += pad + cell
                } else {
                    out += last ? cell : cell + pad
                }
                if !last { out += "  " }
            }
            while out.last == " " { out.removeLast() }
            return out
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

/// JSON built in order (so output is stable and readable), rendered pretty-printed.
indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null

    static func strings(_ values: [String]) -> JSON { .array(values.map(JSON.string)) }
    static func ints(_ values: [Int]) -> JSON { .array(values.map(JSON.int)) }
    static func dictionary(_ values: [String: String]) -> JSON {
        .object(values.keys.sorted().map { ($0, .string(values[$0]!)) })
    }

    func rendered(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .object(let members):
            if members.isEmpty { return "{}" }
            let body = members.map { inner + JSON.quote($0.0) + ": " + $0.1.rendered(indent: indent + 1) }
            return "{\n" + body.joined(separator: ",\n") + "\n" + pad + "}"
        case .array(let elements):
            if elements.isEmpty { return "[]" }
            // Arrays of scalars (shapes) stay on one line.
            if elements.allSatisfy(\.isScalar) {
                return "[" + elements.map { $0.rendered() }.joined(separator: ", ") + "]"
            }
            return "[\n" + elements.map { inner + $0.rendered(indent: indent + 1) }.joined(separator: ",\n") + "\n" + pad + "]"
        case .string(let text): return JSON.quote(text)
        case .int(let value): return String(value)
        case .uint(let value): return String(value)
        case .double(let value): return value.isFinite ? "\(value)" : "null"
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        }
    }

    private var isScalar: Bool {
        switch self {
        case .object, .array: false
        default: true
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

func printJSON(_ json: JSON) {
    print(json.rendered())
}

/// Where a record is, for messages.
func describe(_ pointer: RecordPointer?) -> String {
    guard let pointer else { return "-" }
    return "\(pointer.segment):\(pointer.offset)"
}
