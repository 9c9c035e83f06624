import Testing
@testable import TensorLogFormat

// MARK: - CRC32C

@Test("CRC32C.checksum misses the published check value 0xE3069283 for \"123456789\"")
func crc32cCheckValue() {
    #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
    #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 B.4
    #expect(CRC32C.checksum([]) == 0)
    #expect(CRC32C.checksum([], continuing: 0x1234_5678) == 0x1234_5678)
}

@Test("CRC32C.checksum(continuing:) over pieces differs from the checksum of the whole")
func crc32cContinuation() {
    var rng = SplitMix64(seed: 31)
    let data = rng.bytes(1000)
    let whole = CRC32C.checksum(data)
    for split in [0, 1, 7, 8, 63, 64, 500, 999, 1000] {
        let first = CRC32C.checksum(Array(data[0..<split]))
        #expect(CRC32C.checksum(Array(data[split...]), continuing: first) == whole, "split at \(split)")
    }
}

@Test("CRC32C mask and unmask are not inverse for some value, or mask is the identity")
func crc32cMaskUnmaskInverse() {
    var rng = SplitMix64(seed: 0x3A5C)
    var values: [UInt32] = [0, 1, 2, 0x8000, 0x7FFF, 0xA282_EAD8, 0x5D7D_1527, 0x8000_0000, 0x7FFF_FFFF, .max, .max - 1, 0xE306_9283]
    for shift in 0..<32 { values.append(1 << shift) }
    for _ in 0..<100_000 { values.append(UInt32(truncatingIfNeeded: rng.next())) }
    var failures: [UInt32] = []
    var identities = 0
    for value in values {
        if CRC32C.unmask(CRC32C.mask(value)) != value || CRC32C.mask(CRC32C.unmask(value)) != value { failures.append(value) }
        if CRC32C.mask(value) == value { identities += 1 }
    }
    #expect(failures.isEmpty, "\(failures.prefix(10))")
    #expect(identities < 3, "mask should scramble, not pass values through")
    // LevelDB's definition: rotate right by 15, add the constant.
    #expect(CRC32C.mask(0) == 0xA282_EAD8)
    #expect(CRC32C.mask(1) == (1 << 17) &+ 0xA282_EAD8)
    #expect(CRC32C.mask(0x8000) == 1 &+ 0xA282_EAD8)
}

// MARK: - elementCount, byteCount, alignUp

@Test("elementCount or byteCount wraps around on overflow, accepts negative dimensions, or miscounts")
func elementAndByteCounts() {
    #expect(elementCount([]) == 1)
    #expect(elementCount([0]) == 0)
    #expect(elementCount([3, 4, 5]) == 60)
    #expect(elementCount([0, Int.max, Int.max]) == 0)
    #expect(elementCount([Int.max, 0]) == 0)  // the running product can reach 0 after a huge one
    #expect(elementCount([Int.max]) == Int.max)
    #expect(elementCount([Int.max, 2]) == nil)
    #expect(elementCount([1 << 32, 1 << 32]) == nil)
    #expect(elementCount([1 << 31, 1 << 31, 2]) == nil)  // 2^63 exactly overflows
    #expect(elementCount([1 << 31, 1 << 31]) == 1 << 62)
    #expect(elementCount([-1]) == nil)
    #expect(elementCount([2, -3]) == nil)
    #expect(elementCount([0, -1]) == nil)
    #expect(elementCount([Int.min]) == nil)
    for dtype in DType.allCases {
        #expect(byteCount(dtype: dtype, shape: []) == dtype.size)
        #expect(byteCount(dtype: dtype, shape: [2, 3]) == 6 * dtype.size)
        #expect(byteCount(dtype: dtype, shape: [0, 7]) == 0)
        #expect(byteCount(dtype: dtype, shape: [Int.max / dtype.size]) == Int.max / dtype.size * dtype.size)
        #expect(byteCount(dtype: dtype, shape: [-2]) == nil)
        #expect(byteCount(dtype: dtype, shape: [Int.max, 2]) == nil)
        if dtype.size > 1 { #expect(byteCount(dtype: dtype, shape: [Int.max / dtype.size + 1]) == nil) }
    }
}

@Test("DType or Codec codes, sizes or names drift from the on-disk table")
func dtypeAndCodecTables() {
    let expected: [(DType, UInt8, Int, String)] = [
        (.float64, 1, 8, "float64"), (.float32, 2, 4, "float32"), (.float16, 3, 2, "float16"),
        (.bfloat16, 4, 2, "bfloat16"), (.int64, 5, 8, "int64"), (.int32, 6, 4, "int32"), (.int16, 7, 2, "int16"),
        (.int8, 8, 1, "int8"), (.uint8, 9, 1, "uint8"), (.bool, 10, 1, "bool"),
        (.float8E4M3, 11, 1, "float8_e4m3fn"), (.float8E5M2, 12, 1, "float8_e5m2"),
    ]
    #expect(DType.allCases.count == expected.count)
    for (dtype, code, size, name) in expected {
        #expect(dtype.rawValue == code)
        #expect(dtype.size == size)
        #expect(DType(name: name) == dtype)
        #expect(DType(rawValue: code) == dtype)
    }
    #expect(DType(rawValue: 0) == nil)
    #expect(DType(rawValue: 13) == nil)
    #expect(DType(name: "float") == nil)
    #expect(Codec.allCases.map(\.rawValue) == [0, 1, 2])
    #expect(Codec(name: "shuffle-lz4") == .shuffleLZ4)
    #expect(Codec(rawValue: 3) == nil)
    #expect([RecordKind.put, .delete, .commit, .append].map(\.rawValue) == [1, 2, 3, 4])
}

@Test("alignUp rounds wrongly at or around a boundary")
func alignUpBoundaries() {
    for alignment in [1, 8, 64, 4096] {
        #expect(alignUp(0, to: alignment) == 0)
        #expect(alignUp(1, to: alignment) == alignment)
        #expect(alignUp(alignment, to: alignment) == alignment)
        #expect(alignUp(alignment + 1, to: alignment) == (alignment == 1 ? 2 : 2 * alignment))
        #expect(alignUp(3 * alignment - 1, to: alignment) == (alignment == 1 ? 2 : 3 * alignment))
    }
    #expect(alignUp(1 << 40, to: 4096) == 1 << 40)
}

// MARK: - ByteWriter and ByteReader

@Test("ByteWriter writes big endian, pads wrongly, or patches the wrong bytes")
func byteWriterLayout() {
    var writer = ByteWriter(capacity: 4)
    writer.u8(0x01)
    writer.u16(0x0302)
    writer.u32(0x0706_0504)
    writer.u64(0x0F0E_0D0C_0B0A_0908)
    #expect(writer.bytes == Array(1...15))
    writer.pad(toMultipleOf: 8)
    #expect(writer.count == 16 && writer.bytes.last == 0)
    writer.pad(toMultipleOf: 8)
    #expect(writer.count == 16)
    writer.raw("é".utf8)
    writer.zeros(3)
    #expect(writer.bytes[16...] == [0xC3, 0xA9, 0, 0, 0])
    writer.patch(u32: 0xDDCC_BBAA, at: 17)
    #expect(writer.bytes[16...] == [0xC3, 0xAA, 0xBB, 0xCC, 0xDD])
    writer.zeros(0)
    #expect(writer.count == 21)
}

@Test("ByteReader reads past its buffer, misreads little endian, or reports the wrong error offset")
func byteReaderBoundsAndOffsets() throws {
    let bytes: [UInt8] = Array(1...15) + Array("héllo".utf8) + [0xFF, 0xFE]
    try bytes.withUnsafeBytes { (buffer) throws in
        var reader = ByteReader(buffer, baseOffset: 1000, context: "test")
        #expect(try reader.u8() == 0x01)
        #expect(try reader.u16() == 0x0302)
        #expect(try reader.u32() == 0x0706_0504)
        #expect(try reader.u64() == 0x0F0E_0D0C_0B0A_0908)
        #expect(reader.position == 15 && reader.remaining == 8)
        #expect(try reader.string(6, what: "text") == "héllo")
        let error = #expect(throws: FormatError.self) { try reader.string(2, what: "bad text") }
        #expect(error?.offset == 1021)
        // A failed read does not move the position past the end.
        #expect(reader.position <= buffer.count)
    }
    try bytes.withUnsafeBytes { (buffer) throws in
        var reader = ByteReader(buffer, baseOffset: 10, context: "test")
        try reader.skip(21, what: "head")
        #expect(reader.remaining == 2)
        let u32Error = #expect(throws: FormatError.self) { try reader.u32() }
        #expect(u32Error?.offset == 31)
        #expect(reader.position == 21)
        #expect(throws: FormatError.self) { try reader.u64() }
        #expect(throws: FormatError.self) { try reader.bytes(3, what: "x") }
        #expect(throws: FormatError.self) { try reader.bytes(-1, what: "negative") }
        #expect(throws: FormatError.self) { try reader.skip(Int.max, what: "huge") }
        #expect(throws: FormatError.self) { try reader.skip(Int.min, what: "most negative") }
        #expect(throws: FormatError.self) { try reader.string(-5, what: "negative string") }
        #expect(try reader.u16() == 0xFEFF)
        #expect(reader.remaining == 0)
        #expect(throws: FormatError.self) { try reader.u8() }
        #expect(try reader.bytes(0, what: "nothing").count == 0)
    }
    // An empty buffer (possibly with a nil base address).
    let empty: [UInt8] = []
    empty.withUnsafeBytes { buffer in
        var reader = ByteReader(buffer, context: "empty")
        #expect(throws: FormatError.self) { try reader.u8() }
        #expect((try? reader.bytes(0, what: "nothing"))?.count == 0)
    }
    #expect(throws: FormatError.self) { try decodeRecord([]) }
    #expect(throws: FormatError.self) { try decodeHint([]) }
    #expect(throws: FormatError.self) { try decodeManifest([]) }
    #expect(throws: FormatError.self) { try decodeSegmentHeader([]) }
    let emptyBuffer = UnsafeRawBufferPointer(start: nil, count: 0)
    #expect(throws: FormatError.self) { try RecordHeader.decode(emptyBuffer) }
    #expect(throws: FormatError.self) { try HintFile.decode(emptyBuffer) }
    #expect(throws: FormatError.self) { try Manifest.decode(emptyBuffer) }
    #expect(throws: FormatError.self) { try SegmentHeader.decode(emptyBuffer) }
}

@Test("ByteReader loads from an unaligned position incorrectly")
func byteReaderUnaligned() throws {
    var rng = SplitMix64(seed: 5)
    let bytes = rng.bytes(64)
    for start in 0..<8 {
        try bytes.withUnsafeBytes { (buffer) throws in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[start...]), context: "unaligned")
            let value = try reader.u64()
            var expected: UInt64 = 0
            for index in 0..<8 { expected |= UInt64(bytes[start + index]) << (8 * UInt64(index)) }
            #expect(value == expected)
        }
    }
}
