import Testing
import TensorLogFormat
@testable import TensorLogInterop

@Suite("SafeTensors")
struct SafeTensorsTests {
    /// A file written with `SafeTensors.header` and sample data.
    func file(
        _ tensors: [(name: String, description: TensorDescription)], metadata: [String: String] = [:]
    ) throws -> (file: [UInt8], data: [[UInt8]], ranges: [Range<Int>]) {
        let (header, ranges) = try SafeTensors.header(for: tensors, metadata: metadata)
        var file = header
        var data: [[UInt8]] = []
        for (index, tensor) in tensors.enumerated() {
            let bytes = sampleData(tensor.description.dtype, count: tensor.description.byteCount!, seed: UInt64(index))
            data.append(bytes)
            file += bytes
        }
        return (file, data, ranges)
    }

    @Test("every dtype, 0-d and zero-size tensors round-trip through header and parse with data ranges intact")
    func roundTripEveryDType() throws {
        var tensors: [(name: String, description: TensorDescription)] = []
        for (i, dtype) in DType.allCases.enumerated() {
            for (j, shape) in sampleShapes.enumerated() where (i + j) % 3 == 0 || shape.isEmpty || shape.contains(0) {
                tensors.append(("\(dtype.name)/\(j)", TensorDescription(dtype: dtype, shape: shape)))
            }
        }
        let metadata = ["format": "pt", "quote\"back\\slash": "line\nbreak\ttab\u{1}ünï 名前 🎉"]
        let (bytes, data, ranges) = try file(tensors, metadata: metadata)
        let (header, _) = try SafeTensors.header(for: tensors, metadata: metadata)
        #expect((header.count - 8) % 8 == 0)
        let parsed = try SafeTensors.parse(bytes)
        #expect(parsed.metadata == metadata)
        #expect(parsed.entries.count == tensors.count)
        #expect(parsed.entries.map(\.dataRange.lowerBound) == parsed.entries.map(\.dataRange.lowerBound).sorted())
        for (index, tensor) in tensors.enumerated() {
            let entry = try #require(parsed.entries.first { $0.name == tensor.name })
            #expect(entry.description == tensor.description)
            #expect(entry.dataRange == (header.count + ranges[index].lowerBound)..<(header.count + ranges[index].upperBound))
            #expect(Array(bytes[entry.dataRange]) == data[index])
        }
        for dtype in DType.allCases {
            #expect(SafeTensors.dtype(named: SafeTensors.dtypeName(dtype)) == dtype)
        }
    }

    @Test("a file with no tensors, or only empty tensors, has an empty data section")
    func emptyFiles() throws {
        let none = try file([])
        #expect(try SafeTensors.parse(none.file).entries.isEmpty)
        #expect(try SafeTensors.parse(rawSafeTensors("{}      ")).entries.isEmpty)
        #expect(try SafeTensors.parse(rawSafeTensors("{\"__metadata__\":null}")).metadata.isEmpty)
        let empties = try file([("a", .init(dtype: .float32, shape: [0])), ("b", .init(dtype: .int64, shape: [0, 5]))])
        let parsed = try SafeTensors.parse(empties.file)
        #expect(parsed.entries.map(\.name) == ["a", "b"])
        #expect(parsed.entries.allSatisfy { $0.dataRange.isEmpty && $0.dataRange.lowerBound == empties.file.count })
    }

    @Test("hand-written headers: unknown fields ignored, escapes and surrogate pairs decoded, any key order")
    func handWrittenHeaders() throws {
        let json = """
            { "b\\u00e9ta\\ud83c\\udf89\\n" : { "data_offsets" : [ 0 , 4 ] , "extra": {"x": [1.5e-3, true, null, "s"]}, \
            "shape": [2], "dtype": "F16" },\t"__metadata__": {"k\\/": "v\\"\\\\"}, "z": {"dtype":"BOOL","shape":[],"data_offsets":[4,5]} }\r\n
            """
        let parsed = try SafeTensors.parse(rawSafeTensors(json, dataCount: 5))
        #expect(parsed.entries.map(\.name) == ["béta🎉\n", "z"])
        #expect(parsed.entries[0].description == TensorDescription(dtype: .float16, shape: [2]))
        #expect(parsed.entries[1].description == TensorDescription(dtype: .bool, shape: []))
        #expect(parsed.metadata == ["k/": "v\"\\"])
        let headerEnd = 8 + Array(json.utf8).count
        #expect(parsed.entries[0].dataRange == headerEnd..<(headerEnd + 4))
    }

    @Test("names are compared byte for byte, not by Unicode canonical equivalence")
    func namesAreBytes() throws {
        // "é" precomposed and decomposed are equal as Swift Strings but distinct keys for the reference.
        let json = "{\"\u{e9}\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"e\u{301}\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}"
        let parsed = try SafeTensors.parse(rawSafeTensors(json, dataCount: 2))
        #expect(parsed.entries.count == 2)
        #expect(throws: InteropError.self) {
            try SafeTensors.header(for: [("x", .init(dtype: .int8, shape: [])), ("x", .init(dtype: .int8, shape: []))], metadata: [:])
        }
    }

    @Test("a valid file truncated at every byte offset throws, never crashes")
    func truncatedEverywhere() throws {
        let (bytes, _, _) = try file(
            [("w", .init(dtype: .float32, shape: [2, 3])), ("b", .init(dtype: .int8, shape: [3])), ("s", .init(dtype: .bool, shape: []))],
            metadata: ["a": "b"])
        for length in 0..<bytes.count {
            #expect(safeTensorsError(Array(bytes[..<length])) != nil, "prefix of \(length) bytes parsed")
        }
        // Also truncate the JSON itself (without its space padding) while keeping the length field consistent.
        var json = Array(bytes[8..<(bytes.count - 28)])
        while json.last == UInt8(ascii: " ") { json.removeLast() }
        #expect(safeTensorsError(rawSafeTensors(bytes: json, dataCount: 28)) == nil)
        for length in 0..<json.count {
            #expect(safeTensorsError(rawSafeTensors(bytes: Array(json[..<length]), dataCount: 28)) != nil)
        }
    }

    @Test("header length field: shorter than 8 bytes, past the end of the file, over the 100 MB cap")
    func headerLength() {
        expectSafeTensorsError([], "shorter than the 8-byte")
        expectSafeTensorsError([1, 0, 0], "shorter than the 8-byte")
        var file = rawSafeTensors("{}")
        file[0] = 200
        expectSafeTensorsError(file, "header length 200", "past the end")
        file[0...7] = [0x01, 0xE1, 0xF5, 0x05, 0, 0, 0, 0]  // 100,000,001
        expectSafeTensorsError(file, "exceeds the limit")
        file[0...7] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        expectSafeTensorsError(file, "exceeds the limit")
        file[0...7] = [0, 0, 0, 0, 0, 0, 0, 0]
        expectSafeTensorsError(file, "does not start with '{'")
    }

    @Test("JSON that is not an object, has trailing garbage, invalid UTF-8 or bad syntax is refused")
    func badJSON() {
        expectSafeTensorsError(rawSafeTensors("[]"), "does not start with '{'")
        expectSafeTensorsError(rawSafeTensors("1"), "does not start with '{'")
        expectSafeTensorsError(rawSafeTensors("\"x\""), "does not start with '{'")
        expectSafeTensorsError(rawSafeTensors(" {}"), "does not start with '{'")
        expectSafeTensorsError(rawSafeTensors("{} x"), "after the header's JSON object")
        expectSafeTensorsError(rawSafeTensors("{}{}"), "after the header's JSON object")
        expectSafeTensorsError(rawSafeTensors("{\"a\":1,}"), "JSON object")
        expectSafeTensorsError(rawSafeTensors("{,}"), "string key")
        expectSafeTensorsError(rawSafeTensors("{\"a\" 1}"), "':'")
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"dtype\":\"F32\" \"shape\":[]}}"), "expected ',' or '}'")
        expectSafeTensorsError(rawSafeTensors("{'a':{}}"), "string key")
        expectSafeTensorsError(rawSafeTensors("{\"a"), "unterminated string")
        expectSafeTensorsError(rawSafeTensors("{\"a\\"), "unterminated string")
        expectSafeTensorsError(rawSafeTensors("{\"a\nb\":{}}"), "control character")
        expectSafeTensorsError(rawSafeTensors("{\"a\\x\":{}}"), "invalid escape")
        expectSafeTensorsError(rawSafeTensors("{\"a\\u12\":{}}"), "hex digit")
        expectSafeTensorsError(rawSafeTensors("{\"a\\u12"), "truncated")
        expectSafeTensorsError(rawSafeTensors("{\"\\ud800\":{}}"), "lone high surrogate")
        expectSafeTensorsError(rawSafeTensors("{\"\\ud800\\u0041\":{}}"), "low surrogate")
        expectSafeTensorsError(rawSafeTensors("{\"\\udc00\":{}}"), "lone low surrogate")
        expectSafeTensorsError(rawSafeTensors(bytes: Array("{\"\u{e9}\":{}}".utf8).map { $0 == 0xA9 ? 0x28 : $0 }), "not valid UTF-8")
        expectSafeTensorsError(rawSafeTensors(bytes: [UInt8(ascii: "{"), 0xED, 0xA0, 0x80, UInt8(ascii: "}")]), "not valid UTF-8")
        expectSafeTensorsError(rawSafeTensors(bytes: [UInt8(ascii: "{"), 0xC0, 0x80, UInt8(ascii: "}")]), "not valid UTF-8")
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"x\":\(deep),\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", dataCount: 1), "nested deeper")
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"x\":tru}}"), "invalid literal")
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"x\":01}}"), "expected ',' or '}'")
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"x\":1.}}"), "invalid number")
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"x\":-}}"), "invalid number")
        expectSafeTensorsError(rawSafeTensors("{\"a\":{\"x\":+1}}"), "expected a JSON value")
    }

    @Test("tensor entries: unknown or unsupported dtype, missing and duplicate fields, malformed shape and offsets")
    func badEntries() {
        func one(_ fields: String, data: Int = 4) -> [UInt8] { rawSafeTensors("{\"w\":{\(fields)}}", dataCount: data) }
        expectSafeTensorsError(one("\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]"), "tensor 'w'", "unknown dtype 'F128'")
        expectSafeTensorsError(one("\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]"), "unknown dtype")
        expectSafeTensorsError(one("\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]"), "'U16' is not supported")
        expectSafeTensorsError(one("\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]"), "dtype to be a JSON string")
        expectSafeTensorsError(one("\"shape\":[1],\"data_offsets\":[0,4]"), "tensor 'w' has no \"dtype\"")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), "has no \"shape\"")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1]"), "has no \"data_offsets\"")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"), "duplicate field \"dtype\"")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,4]"), "duplicate field \"shape\"")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]"), "must not be negative")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]"), "must be an integer")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]"), "must be an integer")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]"), "non-negative integer")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]"), "leading zero")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]"), "shape to be a JSON array")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"), "rank exceeds")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]"), "too large")
        expectSafeTensorsError(one("\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]"), "64-bit")
        expectSafeTensorsError(one("\"dtype\":\"F64\",\"shape\":[1152921504606846976],\"data_offsets\":[0,4]"), "64-bit")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), "exactly 2 elements, found 1")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]"), "exactly 2 elements")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}"), "JSON array")
        expectSafeTensorsError(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]"), "must not be negative")
        expectSafeTensorsError(rawSafeTensors("{\"w\":[]}"), "tensor 'w' to be a JSON object")
        expectSafeTensorsError(rawSafeTensors("{\"w\":null}"), "tensor 'w' to be a JSON object")
        let dup = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}"
        expectSafeTensorsError(rawSafeTensors(dup, dataCount: 2), "duplicate key 'w'")
        expectSafeTensorsError(rawSafeTensors("{\"__metadata__\":{},\"__metadata__\":{}}"), "duplicate key '__metadata__'")
        expectSafeTensorsError(rawSafeTensors("{\"__metadata__\":{\"a\":1}}"), "__metadata__ value for key 'a'", "JSON string")
        expectSafeTensorsError(rawSafeTensors("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"), "duplicate key 'a' in __metadata__")
        expectSafeTensorsError(rawSafeTensors("{\"__metadata__\":[]}"), "__metadata__ to be a JSON object")
    }

    @Test("data offsets: out of range, reversed, wrong size, overlapping, holes at start, middle and end, trailing bytes")
    func badOffsets() {
        func tensors(_ entries: [(String, String, String, String)], data: Int) -> [UInt8] {
            let body = entries.map { "\"\($0.0)\":{\"dtype\":\"\($0.1)\",\"shape\":\($0.2),\"data_offsets\":\($0.3)}" }
            return rawSafeTensors("{" + body.joined(separator: ",") + "}", dataCount: data)
        }
        expectSafeTensorsError(tensors([("w", "F32", "[25]", "[0,100]")], data: 64),
                               "tensor 'w': data_offsets [0, 100) exceed the data section of 64 bytes")
        expectSafeTensorsError(tensors([("w", "F32", "[1]", "[8,4]")], data: 8), "end before they begin")
        expectSafeTensorsError(tensors([("w", "F32", "[2,3]", "[0,20]")], data: 20), "needs 24 bytes", "hold 20")
        expectSafeTensorsError(tensors([("w", "F32", "[]", "[0,0]")], data: 0), "needs 4 bytes")
        expectSafeTensorsError(tensors([("w", "F32", "[0]", "[0,4]")], data: 4), "needs 0 bytes")
        expectSafeTensorsError(tensors([("a", "U8", "[4]", "[0,4]"), ("b", "U8", "[4]", "[2,6]")], data: 6),
                               "tensor 'b'", "overlap tensor 'a'")
        expectSafeTensorsError(tensors([("a", "U8", "[4]", "[0,4]"), ("b", "U8", "[4]", "[0,4]")], data: 4), "overlap")
        expectSafeTensorsError(tensors([("a", "U8", "[4]", "[0,4]"), ("z", "U8", "[0]", "[2,2]")], data: 4), "overlap")
        expectSafeTensorsError(tensors([("a", "U8", "[4]", "[2,6]")], data: 6), "bytes [0, 2)", "hole before tensor 'a'")
        expectSafeTensorsError(tensors([("a", "U8", "[2]", "[0,2]"), ("b", "U8", "[2]", "[4,6]")], data: 6), "bytes [2, 4)", "no tensor")
        expectSafeTensorsError(tensors([("a", "U8", "[2]", "[0,2]")], data: 5), "bytes [2, 5) at the end")
        expectSafeTensorsError(rawSafeTensors("{}", dataCount: 1), "bytes [0, 1) at the end")
        // Ranges given out of order are fine as long as they tile the data section.
        let unordered = tensors([("b", "U8", "[2]", "[2,4]"), ("a", "U8", "[2]", "[0,2]"), ("e", "U8", "[0]", "[2,2]")], data: 4)
        #expect((try? SafeTensors.parse(unordered))?.entries.map(\.name) == ["a", "e", "b"])
    }

    @Test("writer refuses reserved and duplicate names, negative dims, overflowing sizes")
    func writerRefuses() {
        let scalar = TensorDescription(dtype: .float32, shape: [])
        #expect(throws: InteropError.self) { try SafeTensors.header(for: [("__metadata__", scalar)], metadata: [:]) }
        #expect(throws: InteropError.self) { try SafeTensors.header(for: [("a", scalar), ("a", scalar)], metadata: [:]) }
        #expect(throws: InteropError.self) {
            try SafeTensors.header(for: [("a", TensorDescription(dtype: .int8, shape: [2, -1]))], metadata: [:])
        }
        let half = TensorDescription(dtype: .uint8, shape: [Int.max / 2 + 1])
        #expect(throws: InteropError.self) { try SafeTensors.header(for: [("a", half), ("b", half)], metadata: [:]) }
    }

    @Test("random mutations of valid files never crash the parser and successes are self-consistent")
    func mutationSmoke() throws {
        var rng = SplitMix64(seed: 7)
        var seeds: [[UInt8]] = []
        seeds.append(try file([("w", .init(dtype: .float32, shape: [2, 3])), ("e", .init(dtype: .bfloat16, shape: [0]))],
                              metadata: ["k": "v"]).file)
        seeds.append(try file([("s", .init(dtype: .bool, shape: []))]).file)
        seeds.append(rawSafeTensors("{\"a\\u00e9\":{\"x\":[1,{\"y\":null}],\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", dataCount: 2))
        let alphabet = Array("{}[],:\"\\u0123456789-.eE tfn".utf8)
        for _ in 0..<20_000 {
            var bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + rng.next() % 4) {
                guard bytes.count > 1 else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 5 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 2: bytes.remove(at: at)
                case 3: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: bytes[Int(rng.next() % 8)] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let parsed = try? SafeTensors.parse(bytes) {
                var expected: Int? = nil
                for entry in parsed.entries {
                    #expect(entry.dataRange.upperBound <= bytes.count)
                    #expect(entry.dataRange.count == entry.description.byteCount)
                    if let expected { #expect(entry.dataRange.lowerBound == expected) }
                    expected = entry.dataRange.upperBound
                }
                if let expected { #expect(expected == bytes.count) }
            }
        }
    }
}
