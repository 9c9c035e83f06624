import ArgumentParser
import TensorLog
import TensorLogClient

/// `--slice START:END` along axis 0, Python style: either end may be left out, negative counts from the end.
struct RowSlice: ExpressibleByArgument, CustomStringConvertible {
    var start: Int?
    var end: Int?
    var text: String

    init?(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        func bound(_ part: Substring) -> Int?? {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return .some(nil) }
            guard let value = Int(trimmed) else { return nil }
            return .some(value)
        }
        guard let start = bound(parts[0]), let end = bound(parts[1]) else { return nil }
        self.start = start
        self.end = end
        text = argument
    }

    var description: String { text }

    /// The rows selected among `rows`, or an error naming the problem.
    func resolve(rows: Int, key: String) throws -> Range<Int> {
        func absolute(_ value: Int) -> Int { value < 0 ? rows + value : value }
        let lower = start.map(absolute) ?? 0
        let upper = end.map(absolute) ?? rows
        guard lower >= 0, upper <= rows, lower <= upper else {
            throw CLIError("--slice \(text) is out of bounds for '\(key)', which has \(rows) rows (axis 0)")
        }
        return lower..<upper
    }
}

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a tensor's values the way numpy prints an array.",
        discussion: """
            Prints a first line with the key, dtype and shape, then the values as numpy's print(array) \
            would: arrays of more than 1000 elements are summarised with '...' and 3 edge items per axis \
            (--full prints everything). float16, bfloat16 and float8 values are shown converted to float. \
            --slice START:END selects rows along axis 0 (Python slice syntax without a step; negative \
            numbers count from the end). Only the rows printed are read and checksum-verified.

            Examples:
              tensorlog get my-store model/w1
              tensorlog get my-store node1/utilisation --slice -5:
            """
    )

    @OptionGroup var target: StoreArgument
    @Argument(help: "The key of the tensor.") var key: String
    @Option(parsing: .unconditional, help: ArgumentHelp("Rows START:END along axis 0 (e.g. 10:20, :5, -3:).", valueName: "START:END"))
    var slice: RowSlice?
    @Flag(help: "Print every element, without summarising.") var full = false

    func run() throws {
        let source: any TensorSource
        if let url = target.remoteURL {
            source = RemoteTensorSource(client: try remoteClient(url))
        } else {
            source = LocalTensorSource(snapshot: try openStore(target.store, .readOnly).snapshot())
        }
        let (dtype, fullShape) = try source.describe(key)
        guard !fullShape.isEmpty else {
            if let slice { throw CLIError("--slice \(slice): '\(key)' is 0-d (a scalar): it has no rows") }
            let bytes = try source.read(key, rows: nil)
            print("\(key): \(dtype.name) []")
            let reduced = bytes.withUnsafeBytes {
                ArrayPrinter.reduce(dtype: dtype, shape: [], summarise: false, bytes: $0)
            }
            print(ArrayPrinter.render(reduced))
            return
        }
        let rows = fullShape[0]
        let range = try slice?.resolve(rows: rows, key: key) ?? 0..<rows
        var shape = fullShape
        shape[0] = range.count
        // nil: more than fit in an Int (only a zero dimension makes such a shape storable, and then it is 0).
        let elements = shape.contains(0) ? 0 : elementCount(shape)
        let summarise = !full && (elements ?? Int.max) > ArrayPrinter.threshold
        if let slice {
            print("\(key)[\(slice)]: \(dtype.name) \(formatShape(shape)), rows \(range.lowerBound)..<\(range.upperBound) of \(formatShape(fullShape))")
        } else {
            print("\(key): \(dtype.name) \(formatShape(shape))")
        }
        guard elements != 0 else {
            print("[]")  // numpy's text for any array without elements
            return
        }
        // Read only the rows that are printed.
        let (printedRows, cut) = ArrayPrinter.printedIndices(range.count, summarise: summarise)
        var bytes: [UInt8] = []
        if cut {
            let edge = ArrayPrinter.edgeItems
            bytes = try source.read(key, rows: range.lowerBound..<range.lowerBound + edge)
            bytes += try source.read(key, rows: range.upperBound - edge..<range.upperBound)
        } else {
            bytes = try source.read(key, rows: range)
        }
        let reduced = bytes.withUnsafeBytes {
            ArrayPrinter.reduce(
                dtype: dtype, shape: shape, summarise: summarise, bytes: $0, axis0Printed: printedRows, axis0Summarised: cut)
        }
        print(ArrayPrinter.render(reduced))
    }
}

/// Where `get` reads a tensor: a local snapshot, or a server.
protocol TensorSource {
    func describe(_ key: String) throws -> (DType, [Int])
    /// The bytes of `rows` (nil: the whole tensor).
    func read(_ key: String, rows: Range<Int>?) throws -> [UInt8]
}

struct LocalTensorSource: TensorSource {
    let snapshot: Snapshot

    func describe(_ key: String) throws -> (DType, [Int]) {
        let info = try reporting { try snapshot.info(key) }
        _ = try reporting { try info.rowBytes() }  // a shape the store cannot read is an error here, not a trap later
        return (info.dtype, info.shape)
    }

    func read(_ key: String, rows: Range<Int>?) throws -> [UInt8] {
        try reporting { try snapshot.read(key, rows: rows).bytes }
    }
}

struct RemoteTensorSource: TensorSource {
    let client: TensorLogClient

    func describe(_ key: String) throws -> (DType, [Int]) {
        let client = client
        let summary = try remote { try await client.info(key) }
        guard let dtype = DType(name: summary.dtype) else { throw CLIError("the server reports an unknown dtype '\(summary.dtype)'") }
        guard summary.shape.allSatisfy({ $0 >= 0 }), shapeFits(dtype: dtype, shape: summary.shape) else {
            throw CLIError("the server reports shape \(summary.shape) of \(dtype.name) for '\(key)', whose rows or total overflow a 64-bit integer")
        }
        return (dtype, summary.shape)
    }

    func read(_ key: String, rows: Range<Int>?) throws -> [UInt8] {
        let client = client
        return try remote { try await client.get(key, rows: rows).bytes }
    }
}
