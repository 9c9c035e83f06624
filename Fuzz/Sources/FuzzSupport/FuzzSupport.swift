import TensorLogFormat
import CFuzzerDriver

// Helpers shared by the fuzz targets: byte access, checksum repair and property checks.
//
// Every parser checks a CRC32C before trusting a field, and a fuzzer cannot guess a
// checksum, so most targets run each input twice: as given (the checksum paths) and with
// its checksums recomputed ("repaired"), which lets mutations reach the field validation
// behind the checksum.

/// Copies libFuzzer's input into an array.
public func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// A property violation: crashes so libFuzzer records the input.
public func propertyFailure(_ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) -> Never {
    fatalError("fuzz property violated: \(message())", file: file, line: line)
}

/// Checks a property; a violation crashes so libFuzzer records the input.
public func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition { propertyFailure(message(), file: file, line: line) }
}

extension Array where Element == UInt8 {
    public func u16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    public func u32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(self[offset + i]) << (8 * UInt32(i)) }
        return value
    }

    public func u64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(self[offset + i]) << (8 * UInt64(i)) }
        return value
    }

    public mutating func put(u32 value: UInt32, at offset: Int) {
        for i in 0..<4 { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    public mutating func put(u64 value: UInt64, at offset: Int) {
        for i in 0..<8 { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// Masked CRC32C of `range`.
    public func maskedCRC(_ range: Range<Int>) -> UInt32 {
        withUnsafeBytes { CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[range]))) }
    }
}

public enum Repair {
    /// Recomputes the header CRC (bytes 84..<88) of the record header starting at `start`,
    /// if the bytes there have the record magic and sane length fields and the whole header
    /// is present. Returns the header length, or nil when nothing was patched.
    @discardableResult
    public static func recordHeader(_ bytes: inout [UInt8], at start: Int, fileOffset: Int = 0) -> Int? {
        guard start >= 0, bytes.count - start >= RecordHeader.fixedSize else { return nil }
        let length: Int
        do {
            length = try bytes.withUnsafeBytes { (buffer) throws(FormatError) in
                try RecordHeader.headerLength(
                    fixedPart: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + RecordHeader.fixedSize)]),
                    fileOffset: fileOffset)
            }
        } catch {
            return nil
        }
        guard bytes.count - start >= length else { return nil }
        bytes.put(u32: 0, at: start + 84)
        bytes.put(u32: bytes.maskedCRC(start..<(start + length)), at: start + 84)
        return length
    }

    /// Recomputes the trailing CRC of a fixed-size file header (segment header, hint header).
    public static func fileHeader(_ bytes: inout [UInt8], size: Int) {
        guard bytes.count >= size else { return }
        bytes.put(u32: bytes.maskedCRC(0..<(size - 4)), at: size - 4)
    }

    /// Recomputes a manifest's trailing CRC (the last 4 bytes cover everything before them).
    public static func manifest(_ bytes: inout [UInt8]) {
        guard bytes.count >= Manifest.fixedSize + 4 else { return }
        bytes.put(u32: bytes.maskedCRC(0..<(bytes.count - 4)), at: bytes.count - 4)
    }

    /// Repairs a hint file: every entry's record-header CRC, the body length, the body CRC
    /// and the header CRC.
    public static func hintFile(_ bytes: inout [UInt8]) {
        let headerSize = HintFile.headerSize
        guard bytes.count >= headerSize else { return }
        var position = headerSize
        let count = bytes.u64(at: 32)
        var index: UInt64 = 0
        while index < count, bytes.count - position >= 12 {
            let offset = Int(truncatingIfNeeded: bytes.u64(at: position) & 0x3FFF_FFFF_FFFF)
            let length = Int(bytes.u32(at: position + 8))
            position += 12
            guard bytes.count - position >= length else { break }
            if length >= RecordHeader.fixedSize {
                recordHeader(&bytes, at: position, fileOffset: offset)
            }
            position += length
            position = (position + 7) / 8 * 8
            index += 1
        }
        bytes.put(u64: UInt64(bytes.count - headerSize), at: 40)
        bytes.put(u32: bytes.maskedCRC(headerSize..<bytes.count), at: 48)
        fileHeader(&bytes, size: headerSize)
    }
}

// MARK: - Entry point
//
// SwiftPM links every executable with `--defsym main=<module>_main` (so tests can import
// executables), but with -parse-as-library no `<module>_main` is emitted and the link fails.
// Each target therefore defines `<module>_main` itself and hands control to libFuzzer's
// driver with its LLVMFuzzerTestOneInput; if SwiftPM ever stops renaming `main`,
// libFuzzer's own `main` is used and that function is simply never called.

public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

public func runLibFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ callback: FuzzCallback
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, callback)
}
