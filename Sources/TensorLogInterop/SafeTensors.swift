import TensorLogFormat

/// Parsing and writing of `.safetensors` files, on bytes in memory.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of UTF-8 JSON
/// (an object mapping tensor names to `{"dtype", "shape", "data_offsets"}`,
/// plus an optional `"__metadata__"` string-to-string map), then the data
/// section. `data_offsets` are `[begin, end)` relative to the data section.
public enum SafeTensors {
    /// One tensor of a parsed file.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var description: TensorDescription
        /// Absolute byte offsets of the tensor's data in the file bytes given to `parse`.
        public var dataRange: Range<Int>

        public init(name: String, description: TensorDescription, dataRange: Range<Int>) {
            self.name = name
            self.description = description
            self.dataRange = dataRange
        }
    }

    /// Largest JSON header accepted (the reference implementation's limit).
    public static let maxHeaderSize = 100_000_000

    /// The safetensors dtype string for a `DType` (`F32`, `BF16`, `F8_E4M3`, ...).
    public static func dtypeName(_ dtype: DType) -> String {
        switch dtype {
        case .float64: "F64"
        case .float32: "F32"
        case .float16: "F16"
        case .bfloat16: "BF16"
        case .int64: "I64"
        case .int32: "I32"
        case .int16: "I16"
        case .int8: "I8"
        case .uint8: "U8"
        case .bool: "BOOL"
        case .float8E4M3: "F8_E4M3"
        case .float8E5M2: "F8_E5M2"
        }
    }

    /// The `DType` for a safetensors dtype string, or nil if TensorLog has no such type.
    public static func dtype(named name: String) -> DType? {
        DType.allCases.first { dtypeName($0) == name }
    }

    /// dtypes of the format that TensorLog cannot store (for a clearer error than "unknown").
    private static let unsupportedDTypes: Set<String> = [
        "U16", "U32", "U64", "C64", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
    ]

    private static let metadataKey = Array("__metadata__".utf8)

    /// Parses and validates a whole `.safetensors` file.
    ///
    /// Validates like the reference implementation: header length within the
    /// file and at most `maxHeaderSize`, header valid UTF-8 JSON starting with
    /// `{`, every tensor with a known dtype, a shape of non-negative integers
    /// (rank at most `TensorDescription.maxRank`) and `data_offsets` `[begin, end)`
    /// with `begin <= end <= data section length` and `end - begin ==
    /// product(shape) * size`; the ranges do not overlap and together cover the
    /// data section exactly. Names (and JSON keys inside one object) must be
    /// unique. Unknown keys inside a tensor entry are ignored, as the reference does.
    ///
    /// Names are compared byte for byte (as the reference does), so two names that
    /// are canonically equivalent Unicode but spelled differently are both returned;
    /// such names would collide as keys of a Swift `Dictionary`. Metadata keys that
    /// collide that way are refused as duplicates.
    ///
    /// - Returns: the entries sorted by data offset (then end, then name) and the `__metadata__` map.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer
    ) throws(InteropError) -> (entries: [Entry], metadata: [String: String]) {
        let total = bytes.count
        guard total >= 8 else {
            throw InteropError(
                "safetensors: file is \(total) bytes, shorter than the 8-byte header length field",
                byteOffset: 0)
        }
        var length64: UInt64 = 0
        for i in 0..<8 { length64 |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length64 <= UInt64(maxHeaderSize) else {
            throw InteropError(
                "safetensors: byte 0: header length \(length64) exceeds the limit of \(maxHeaderSize) bytes",
                byteOffset: 0)
        }
        let headerLength = Int(length64)
        guard headerLength <= total - 8 else {
            throw InteropError(
                "safetensors: byte 0: header length \(headerLength) runs past the end of the file (\(total - 8) bytes follow the length field)",
                byteOffset: 0)
        }
        let headerRange = 8..<(8 + headerLength)
        let dataStart = headerRange.upperBound
        let dataLength = total - dataStart
        if let bad = Bytes.firstInvalidUTF8(bytes, headerRange) {
            throw InteropError("safetensors: byte \(bad): header is not valid UTF-8", byteOffset: bad)
        }
        guard headerLength > 0, bytes[8] == UInt8(ascii: "{") else {
            throw InteropError(
                "safetensors: byte 8: header does not start with '{' (found \(Bytes.describe(headerLength > 0 ? bytes[8] : nil)))",
                byteOffset: 8)
        }

        struct Raw {
            var name: String
            var nameBytes: [UInt8]
            var offset: Int
            var description: TensorDescription
            var begin: Int
            var end: Int
        }

        var reader = JSONReader(bytes, range: headerRange, context: "safetensors")
        try reader.beginObject("the header")
        var seen = Set<[UInt8]>()
        var raws: [Raw] = []
        var metadata: [String: String] = [:]
        var first = true
        while let (key, keyOffset) = try reader.nextKey(first: &first) {
            let name = String(decoding: key, as: UTF8.self)
            guard seen.insert(key).inserted else {
                throw reader.error("duplicate key \(Bytes.quotedName(name)) in the header", at: keyOffset)
            }
            if key == metadataKey {
                metadata = try parseMetadata(&reader)
                continue
            }
            let info = try parseTensorInfo(&reader, name: name, keyOffset: keyOffset)
            raws.append(
                Raw(name: name, nameBytes: key, offset: keyOffset, description: info.description,
                    begin: info.begin, end: info.end))
        }
        reader.skipWhitespace()
        guard reader.atEnd else {
            throw reader.error("unexpected \(Bytes.describe(reader.peek())) after the header's JSON object")
        }

        // Per-tensor checks, in file order.
        for raw in raws {
            let what = "safetensors: tensor \(Bytes.quotedName(raw.name))"
            let range = "data_offsets [\(raw.begin), \(raw.end))"
            guard raw.begin <= raw.end else {
                throw InteropError("\(what): \(range) end before they begin", byteOffset: raw.offset)
            }
            guard raw.end <= dataLength else {
                throw InteropError(
                    "\(what): \(range) exceed the data section of \(dataLength) bytes", byteOffset: raw.offset)
            }
            let needed = try Checked.byteCount(of: raw.description, what: what, byteOffset: raw.offset)
            guard needed == raw.end - raw.begin else {
                throw InteropError(
                    "\(what): shape \(Checked.formatShape(raw.description.shape)) of \(raw.description.dtype.name) needs \(needed) bytes but \(range) hold \(raw.end - raw.begin)",
                    byteOffset: raw.offset)
            }
        }

        // Coverage: sorted ranges must tile [0, dataLength) exactly.
        raws.sort { a, b in
            if a.begin != b.begin { return a.begin < b.begin }
            if a.end != b.end { return a.end < b.end }
            return a.nameBytes.lexicographicallyPrecedes(b.nameBytes)
        }
        var expected = 0
        var previous: Raw?
        for raw in raws {
            if raw.begin > expected {
                throw InteropError(
                    "safetensors: bytes [\(expected), \(raw.begin)) of the data section belong to no tensor (a hole before tensor \(Bytes.quotedName(raw.name)))",
                    byteOffset: dataStart + expected)
            }
            if raw.begin < expected, let previous {
                throw InteropError(
                    "safetensors: tensor \(Bytes.quotedName(raw.name)): data_offsets [\(raw.begin), \(raw.end)) overlap tensor \(Bytes.quotedName(previous.name)) at [\(previous.begin), \(previous.end))",
                    byteOffset: raw.offset)
            }
            expected = raw.end
            previous = raw
        }
        guard expected == dataLength else {
            throw InteropError(
                "safetensors: bytes [\(expected), \(dataLength)) at the end of the data section belong to no tensor",
                byteOffset: dataStart + expected)
        }

        let entries = raws.map {
            Entry(name: $0.name, description: $0.description,
                  dataRange: (dataStart + $0.begin)..<(dataStart + $0.end))
        }
        return (entries, metadata)
    }

    /// `parse` on an array.
    public static func parse(_ bytes: [UInt8]) throws(InteropError) -> (entries: [Entry], metadata: [String: String]) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(InteropError) in try parse(buffer) }
        }
        return try result.get()
    }

    private static func parseMetadata(_ reader: inout JSONReader) throws(InteropError) -> [String: String] {
        if try reader.consumeNull() { return [:] }
        try reader.beginObject("__metadata__")
        var metadata: [String: String] = [:]
        var seen = Set<[UInt8]>()
        var first = true
        while let (key, keyOffset) = try reader.nextKey(first: &first) {
            let name = String(decoding: key, as: UTF8.self)
            guard seen.insert(key).inserted, metadata[name] == nil else {
                throw reader.error("duplicate key \(Bytes.quotedName(name)) in __metadata__", at: keyOffset)
            }
            metadata[name] = try reader.string("__metadata__ value for key \(Bytes.quotedName(name))")
        }
        return metadata
    }

    private static func parseTensorInfo(
        _ reader: inout JSONReader, name: String, keyOffset: Int
    ) throws(InteropError) -> (description: TensorDescription, begin: Int, end: Int) {
        let what = "tensor \(Bytes.quotedName(name))"
        try reader.beginObject(what)
        var dtype: DType?
        var shape: [Int]?
        var offsets: (Int, Int)?
        var first = true
        while let (key, fieldOffset) = try reader.nextKey(first: &first) {
            switch String(decoding: key, as: UTF8.self) {
            case "dtype":
                guard dtype == nil else { throw reader.error("\(what): duplicate field \"dtype\"", at: fieldOffset) }
                reader.skipWhitespace()
                let valueOffset = reader.position
                let text = try reader.string("\(what) dtype")
                guard let known = SafeTensors.dtype(named: text) else {
                    if unsupportedDTypes.contains(text) {
                        throw reader.error("\(what): dtype \(Bytes.quotedName(text)) is not supported by TensorLog", at: valueOffset)
                    }
                    throw reader.error("\(what): unknown dtype \(Bytes.quotedName(text))", at: valueOffset)
                }
                dtype = known
            case "shape":
                guard shape == nil else { throw reader.error("\(what): duplicate field \"shape\"", at: fieldOffset) }
                try reader.beginArray("\(what) shape")
                var dims: [Int] = []
                var firstDim = true
                while try reader.hasNextElement(first: &firstDim) {
                    guard dims.count < TensorDescription.maxRank else {
                        throw reader.error("\(what): rank exceeds the maximum of \(TensorDescription.maxRank)")
                    }
                    dims.append(try reader.nonNegativeInteger("\(what) shape dimension \(dims.count)"))
                }
                shape = dims
            case "data_offsets":
                guard offsets == nil else { throw reader.error("\(what): duplicate field \"data_offsets\"", at: fieldOffset) }
                try reader.beginArray("\(what) data_offsets")
                var values: [Int] = []
                var firstValue = true
                while try reader.hasNextElement(first: &firstValue) {
                    guard values.count < 2 else {
                        throw reader.error("\(what): data_offsets must have exactly 2 elements")
                    }
                    values.append(try reader.nonNegativeInteger("\(what) data_offsets[\(values.count)]"))
                }
                guard values.count == 2 else {
                    throw reader.error("\(what): data_offsets must have exactly 2 elements, found \(values.count)")
                }
                offsets = (values[0], values[1])
            default:
                try reader.skipValue(depth: 2)
            }
        }
        guard let dtype else { throw reader.error("\(what) has no \"dtype\"", at: keyOffset) }
        guard let shape else { throw reader.error("\(what) has no \"shape\"", at: keyOffset) }
        guard let offsets else { throw reader.error("\(what) has no \"data_offsets\"", at: keyOffset) }
        return (TensorDescription(dtype: dtype, shape: shape), offsets.0, offsets.1)
    }

    /// Builds a file header for `tensors` stored in the given order, each data block
    /// immediately after the previous one: the 8-byte little-endian length, then the
    /// JSON (`__metadata__` first with sorted keys, omitted when empty; then the
    /// tensors in order) padded with spaces to a multiple of 8 bytes.
    ///
    /// - Returns: the header bytes, and each tensor's byte range relative to the start
    ///   of the data section (which begins right after the header).
    /// - Throws: on duplicate or reserved (`__metadata__`) names, negative
    ///   dimensions, rank above `TensorDescription.maxRank`, sizes that overflow,
    ///   or a header above `maxHeaderSize`.
    public static func header(
        for tensors: [(name: String, description: TensorDescription)],
        metadata: [String: String] = [:]
    ) throws(InteropError) -> (header: [UInt8], ranges: [Range<Int>]) {
        var json: [UInt8] = [UInt8(ascii: "{")]
        var needsComma = false
        if !metadata.isEmpty {
            appendJSONString("__metadata__", to: &json)
            json.append(contentsOf: Array(":{".utf8))
            var firstPair = true
            for key in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                if !firstPair { json.append(UInt8(ascii: ",")) }
                firstPair = false
                appendJSONString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            needsComma = true
        }
        var names = Set<[UInt8]>()
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(tensors.count)
        var offset = 0
        for (name, description) in tensors {
            let what = "safetensors: tensor \(Bytes.quotedName(name))"
            let nameBytes = Array(name.utf8)
            guard nameBytes != metadataKey else {
                throw InteropError("\(what): the name is reserved for the metadata map")
            }
            guard names.insert(nameBytes).inserted else {
                throw InteropError("\(what): duplicate tensor name")
            }
            let count = try Checked.byteCount(of: description, what: what)
            let (end, overflow) = offset.addingReportingOverflow(count)
            guard !overflow else { throw InteropError("\(what): the data section size overflows") }
            ranges.append(offset..<end)
            if needsComma { json.append(UInt8(ascii: ",")) }
            needsComma = true
            appendJSONString(name, to: &json)
            json.append(contentsOf: Array(":{\"dtype\":".utf8))
            appendJSONString(dtypeName(description.dtype), to: &json)
            json.append(contentsOf: Array(",\"shape\":[".utf8))
            json.append(contentsOf: Array(description.shape.map(String.init).joined(separator: ",").utf8))
            json.append(contentsOf: Array("],\"data_offsets\":[\(offset),\(end)]}".utf8))
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        guard json.count <= maxHeaderSize else {
            throw InteropError("safetensors: header of \(json.count) bytes exceeds the limit of \(maxHeaderSize) bytes")
        }
        var header: [UInt8] = []
        header.reserveCapacity(8 + json.count)
        let length = UInt64(json.count)
        for i in 0..<8 { header.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        header.append(contentsOf: json)
        return (header, ranges)
    }
}
