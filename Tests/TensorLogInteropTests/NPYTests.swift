import Testing
import TensorLogFormat
@testable import TensorLogInterop

@Suite("NPY")
struct NPYTests {
    @Test("every dtype and shape written by NPY.header parses back to the same description and data range")
    func roundTripEveryDType() throws {
        for dtype in DType.allCases {
            for shape in sampleShapes {
                let description = TensorDescription(dtype: dtype, shape: shape)
                let (file, data) = try npyFile(description)
                let header = try NPY.header(for: description)
                #expect(header.count % NPY.alignment == 0)
                #expect(header.last == UInt8(ascii: "\n"))
                #expect(Array(header[6..<8]) == [1, 0])
                // float8 types are written as '<V1' and need the type given explicitly.
                let needsType = dtype == .float8E4M3 || dtype == .float8E5M2
                let (parsed, range) = try NPY.parse(file, dtype: needsType ? dtype : nil)
                #expect(parsed == description)
                #expect(range == header.count..<file.count)
                #expect(Array(file[range]) == data)
                if needsType {
                    expectNPYError(file, "explicitly")
                }
            }
        }
    }

    @Test("header text is numpy's own spelling, so numpy and other readers accept it")
    func headerSpelling() throws {
        let header = try NPY.header(for: TensorDescription(dtype: .float32, shape: [3]))
        let text = String(decoding: header[10...], as: UTF8.self)
        #expect(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"))
        let scalar = try NPY.header(for: TensorDescription(dtype: .bool, shape: []))
        #expect(String(decoding: scalar[10...], as: UTF8.self).hasPrefix("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"))
        let matrix = try NPY.header(for: TensorDescription(dtype: .bfloat16, shape: [2, 0, 4]))
        #expect(String(decoding: matrix[10...], as: UTF8.self).hasPrefix("{'descr': '<V2', 'fortran_order': False, 'shape': (2, 0, 4), }"))
    }

    @Test("header accepts the variations real writers produce: versions 2.0/3.0, key order, quotes, u prefix, L suffix, no trailing comma")
    func headerVariations() throws {
        let cases: [(String, UInt8, Int, TensorDescription)] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n", 1, 24, .init(dtype: .float32, shape: [2, 3])),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 2, 24, .init(dtype: .float32, shape: [2, 3])),
            ("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n", 3, 16, .init(dtype: .int64, shape: [2])),
            ("{'shape': (5,), 'fortran_order': False, 'descr': '|u1'}", 1, 5, .init(dtype: .uint8, shape: [5])),
            ("{\"descr\": \"<f2\", \"fortran_order\": False, \"shape\": ()}\n", 1, 2, .init(dtype: .float16, shape: [])),
            ("{u'descr': u'<i2', u'fortran_order': False, u'shape': (3L, 1L), }\n", 1, 6, .init(dtype: .int16, shape: [3, 1])),
            ("{'descr':'|b1','fortran_order':False,'shape':(0,7,)}", 1, 0, .init(dtype: .bool, shape: [0, 7])),
            ("{'descr': '<i1', 'fortran_order': False, 'shape': (\n  4,\n), }\n", 1, 4, .init(dtype: .int8, shape: [4])),
            ("{'descr': '<V2', 'fortran_order': False, 'shape': (3,), }\n", 1, 6, .init(dtype: .bfloat16, shape: [3])),
            ("{'descr': '<f1', 'fortran_order': False, 'shape': (3,), }\n", 1, 3, .init(dtype: .float8E5M2, shape: [3])),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (-0,), }\n", 1, 0, .init(dtype: .float64, shape: [0])),
        ]
        for (header, version, dataCount, expected) in cases {
            let file = rawNPY(header, version: version, dataCount: dataCount)
            let (parsed, range) = try NPY.parse(file)
            #expect(parsed == expected, "\(header)")
            #expect(range == (file.count - dataCount)..<file.count)
        }
    }

    @Test("an explicit dtype reads untyped void data but never reinterprets a typed descr")
    func explicitDType() throws {
        let v1 = rawNPY("{'descr': '<V1', 'fortran_order': False, 'shape': (3,), }", dataCount: 3)
        expectNPYError(v1, "untyped", "--dtype")
        #expect(try NPY.parse(v1, dtype: .float8E4M3).0 == TensorDescription(dtype: .float8E4M3, shape: [3]))
        #expect(try NPY.parse(v1, dtype: .uint8).0.dtype == .uint8)
        expectNPYError(v1, dtype: .float16, "1-byte", "2-byte")
        let void2 = rawNPY("{'descr': '|V2', 'fortran_order': False, 'shape': (3,), }", dataCount: 6)
        expectNPYError(void2, "untyped")
        #expect(try NPY.parse(void2, dtype: .bfloat16).0.dtype == .bfloat16)
        #expect(try NPY.parse(void2, dtype: .float16).0.dtype == .float16)
        let f4 = rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", dataCount: 12)
        expectNPYError(f4, dtype: .int32, "cannot be read as int32")
        #expect(try NPY.parse(f4, dtype: .float32).0.dtype == .float32)
        let e5m2 = rawNPY("{'descr': '<f1', 'fortran_order': False, 'shape': (3,), }", dataCount: 3)
        #expect(try NPY.parse(e5m2, dtype: .float8E4M3).0.dtype == .float8E4M3)
    }

    @Test("rank above the maximum is refused by both the parser and the writer")
    func rankLimit() throws {
        let nine = Array(repeating: 1, count: TensorDescription.maxRank + 1)
        #expect(throws: InteropError.self) { try NPY.header(for: TensorDescription(dtype: .int8, shape: nine)) }
        let file = rawNPY("{'descr': '|i1', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", dataCount: 1)
        expectNPYError(file, "rank 9")
    }

    @Test("writer refuses negative dimensions and byte counts that overflow")
    func writerRefusesBadShapes() {
        #expect(throws: InteropError.self) { try NPY.header(for: TensorDescription(dtype: .int8, shape: [-1])) }
        #expect(throws: InteropError.self) { try NPY.header(for: TensorDescription(dtype: .float64, shape: [1 << 31, 1 << 30])) }
    }

    @Test("a valid file truncated at every byte offset throws, never crashes")
    func truncatedEverywhere() throws {
        for description in [TensorDescription(dtype: .float32, shape: [2, 3]), TensorDescription(dtype: .int16, shape: [])] {
            let (file, _) = try npyFile(description)
            for length in 0..<file.count {
                #expect(npyError(Array(file[..<length])) != nil, "prefix of \(length) bytes parsed")
            }
        }
        // Truncated in the middle of a version 2.0 header as well.
        let v2 = rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", version: 2, dataCount: 4)
        for length in 0..<v2.count { #expect(npyError(Array(v2[..<length])) != nil) }
    }

    @Test("bad magic and unsupported format versions are refused")
    func magicAndVersion() {
        var file = rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", dataCount: 4)
        var badMagic = file
        badMagic[1] = UInt8(ascii: "n")
        expectNPYError(badMagic, "not a .npy file", "byte 1")
        expectNPYError(Array("PK\u{3}\u{4}".utf8), "not a .npy file")
        for (major, minor) in [(0, 0), (1, 1), (4, 0), (255, 255)] {
            file[6] = UInt8(major)
            file[7] = UInt8(minor)
            expectNPYError(file, "version \(major).\(minor)")
        }
    }

    @Test("header length larger than the file is refused")
    func headerLengthPastEnd() {
        var file = rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", dataCount: 4)
        file[8] = 0xFF
        file[9] = 0xFF
        expectNPYError(file, "header length 65535", "past the end")
        var v2 = rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", version: 2, dataCount: 4)
        v2[8...11] = [0xFF, 0xFF, 0xFF, 0xFF]
        expectNPYError(v2, "header length 4294967295")
    }

    @Test("big-endian, fortran order and unsupported dtypes are refused with a clear reason")
    func refusedLayoutsAndTypes() {
        func file(_ descr: String, fortran: String = "False", shape: String = "(2,)", data: Int = 8) -> [UInt8] {
            rawNPY("{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }\n", dataCount: data)
        }
        expectNPYError(file("'>f4'"), "big-endian")
        expectNPYError(file("'>i8'", data: 16), "big-endian")
        expectNPYError(file("'<f4'", fortran: "True"), "fortran_order")
        expectNPYError(file("'<f4'", fortran: "1"), "fortran_order", "True or False")
        expectNPYError(file("'|O'"), "object")
        expectNPYError(file("'<U3'"), "unicode")
        expectNPYError(file("'|S4'"), "byte string")
        expectNPYError(file("'<c8'"), "complex")
        expectNPYError(file("'<M8[ns]'"), "datetime")
        expectNPYError(file("'<u2'"), "unsigned 16-bit")
        expectNPYError(file("'<f16'", data: 32), "128-bit floats")
        expectNPYError(file("[('a', '<f4'), ('b', '<i4')]"), "structured")
        expectNPYError(file("'=f4'"), "native")
        expectNPYError(file("'|f4'"), "byte order")
        expectNPYError(file("'f4'"), "unsupported descr")
        expectNPYError(file("'<f04'"), "unsupported descr")
        expectNPYError(file("'<x4'"), "unsupported descr")
        expectNPYError(file("'<f99999999999999999999'"), "unsupported descr")
        expectNPYError(file("''"), "unsupported descr")
        expectNPYError(file("4"), "'descr' must be a string")
    }

    @Test("shape must be a tuple of non-negative integers whose byte count fits, matching the data exactly")
    func shapeAndDataLength() {
        func file(_ shape: String, descr: String = "<f4", data: Int = 0) -> [UInt8] {
            rawNPY("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }\n", dataCount: data)
        }
        expectNPYError(file("(-1,)"), "negative")
        expectNPYError(file("(2, -3)"), "dimension 1 is negative")
        expectNPYError(file("(2.0,)"), "integer")
        expectNPYError(file("(2e3,)"), "integer")
        expectNPYError(file("('2',)"), "must be an integer")
        expectNPYError(file("(None,)"), "must be an integer")
        expectNPYError(file("(0x10,)"), "integer")
        expectNPYError(file("(1_000,)"), "integer")
        expectNPYError(file("(007,)"), "leading zero")
        expectNPYError(file("[2, 3]"), "'shape' must be a tuple")
        expectNPYError(file("(3)"), "'shape' must be a tuple")
        expectNPYError(file("3"), "'shape' must be a tuple")
        expectNPYError(file("(99999999999999999999,)"), "too large")
        expectNPYError(file("(4611686018427387904, 4)", descr: "|u1"), "64-bit")
        expectNPYError(file("(2147483648, 2147483648, 4)", descr: "|u1"), "64-bit")
        expectNPYError(file("(4611686018427387903,)", descr: "<f8"), "64-bit")
        expectNPYError(file("(3,)", data: 11), "needs 12", "truncated")
        expectNPYError(file("(3,)", data: 13), "1 trailing bytes")
        expectNPYError(file("(0,)", data: 1), "trailing")
    }

    @Test("header dict syntax errors are refused: keys, duplicates, garbage, unbalanced brackets, deep nesting")
    func headerSyntax() {
        let good = "'descr': '<f4', 'fortran_order': False, 'shape': ()"
        expectNPYError(rawNPY("{\(good), 'extra': 1}", dataCount: 4), "unexpected key 'extra'")
        expectNPYError(rawNPY("{'descr': '<f4', 'shape': ()}", dataCount: 4), "missing key 'fortran_order'")
        expectNPYError(rawNPY("{\(good), 'shape': ()}", dataCount: 4), "duplicate key 'shape'")
        expectNPYError(rawNPY("{\(good)} x", dataCount: 4), "after the header dict")
        expectNPYError(rawNPY("{\(good)", dataCount: 4), "expected ',' or '}'")
        expectNPYError(rawNPY("[\(good)]", dataCount: 4), "dict literal")
        expectNPYError(rawNPY("", dataCount: 4), "dict literal")
        expectNPYError(rawNPY("{\(good),, }", dataCount: 4), "unexpected")
        expectNPYError(rawNPY("{'descr': '<f4' 'x', 'fortran_order': False, 'shape': ()}", dataCount: 4), "expected ',' or '}'")
        expectNPYError(rawNPY("{'descr': '<f4\n', 'fortran_order': False, 'shape': ()}", dataCount: 4), "line break")
        expectNPYError(rawNPY("{'descr': '<f\\x34', 'fortran_order': False, 'shape': ()}", dataCount: 4), "escape")
        expectNPYError(rawNPY("{'descr': '<f4', 'fortran_order': false, 'shape': ()}", dataCount: 4), "unexpected name 'false'")
        expectNPYError(rawNPY("{3: '<f4', 'fortran_order': False, 'shape': ()}", dataCount: 4), "keys must be strings")
        expectNPYError(rawNPY("{'descr': b'<f4', 'fortran_order': False, 'shape': ()}", dataCount: 4), "unexpected name 'b'")
        let deep = String(repeating: "(", count: 40) + String(repeating: ")", count: 40)
        expectNPYError(rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': \(deep)}", dataCount: 4), "nested deeper")
        let long = "(" + String(repeating: "1,", count: 5000) + ")"
        expectNPYError(rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': \(long)}", dataCount: 4), "too many")
        expectNPYError(rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1L,)}", version: 3, dataCount: 4), "integer")
        var invalidUTF8 = rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (), } \u{e9}", version: 3, dataCount: 4)
        let index = invalidUTF8.firstIndex(of: 0xC3)!
        invalidUTF8[index] = 0xFF
        expectNPYError(invalidUTF8, "not valid UTF-8")
        // In format 1.0 the header is latin-1, but still only whitespace may follow the dict.
        expectNPYError(rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (), } \u{e9}", dataCount: 4), "after the header dict")
    }

    @Test("errors name the byte offset they were found at")
    func errorOffsets() {
        let file = rawNPY("{'descr': '>f4', 'fortran_order': False, 'shape': (), }", dataCount: 4)
        let error = npyError(file)
        #expect(error?.byteOffset == 10 + 10)
        #expect(error?.message.contains("byte 20") == true)
    }

    @Test("random mutations of valid files never crash the parser and successes are self-consistent")
    func mutationSmoke() throws {
        var rng = SplitMix64(seed: 42)
        var seeds: [[UInt8]] = []
        for (i, dtype) in DType.allCases.enumerated() {
            seeds.append(try npyFile(TensorDescription(dtype: dtype, shape: sampleShapes[i % sampleShapes.count])).file)
        }
        seeds.append(rawNPY("{u'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3L,), }\n", version: 2, dataCount: 12))
        let alphabet = Array("{}()[],:'\"-0123456789LTrueFalsNo<>|=fiubVOU \n\\".utf8)
        for _ in 0..<20_000 {
            var file = seeds[Int(rng.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + rng.next() % 4) {
                guard !file.isEmpty else { break }
                let at = Int(rng.next() % UInt64(file.count))
                switch rng.next() % 5 {
                case 0: file[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: file[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 2: file.remove(at: at)
                case 3: file.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                default: file.removeLast(Int(rng.next() % UInt64(min(file.count, 16))) + 0)
                }
            }
            if let (description, range) = try? NPY.parse(file, dtype: rng.next() % 3 == 0 ? .uint8 : nil) {
                #expect(range.upperBound == file.count)
                #expect(range.count == description.byteCount)
                #expect(description.shape.count <= TensorDescription.maxRank)
            }
        }
    }
}
