/// How a record's payload is checksummed (docs/FORMAT.md §5.10).
///
/// A payload of at most one chunk (1 MiB) has one CRC32C, `payload_crc`. A
/// larger payload of a version 2 record is checked per 1 MiB chunk: a table of
/// one masked CRC per chunk sits right before the payload, and `payload_crc`
/// is the CRC of that table. A reader of a row range then checks only the
/// chunks it touches instead of the whole (up to 256 MiB) block.
public struct PayloadChecksums: Sendable, Equatable {
    public static let chunkSize = 1 << 20

    /// File offset of the payload's first byte.
    public let payloadStart: Int
    public let storedSize: Int
    /// `payload_crc` (unmasked): of the payload, or of the chunk table when there is one.
    public let payloadCRC: UInt32
    /// Chunks listed in the table; 0 when the payload has a single CRC and no table.
    public let tableCount: Int

    public init(payloadStart: Int, storedSize: Int, payloadCRC: UInt32, tableCount: Int) {
        self.payloadStart = payloadStart
        self.storedSize = storedSize
        self.payloadCRC = payloadCRC
        self.tableCount = tableCount
    }

    /// Entries of the chunk table a payload of `storedSize` bytes has in a record of `recordVersion`.
    public static func tableCount(storedSize: UInt64, recordVersion: UInt16) -> Int {
        guard recordVersion >= 2, storedSize > UInt64(chunkSize) else { return 0 }
        return Int((storedSize + UInt64(chunkSize) - 1) / UInt64(chunkSize))
    }

    /// The chunk table of `payload` (one masked CRC32C per 1 MiB, little endian), empty when it needs none.
    public static func table(for payload: UnsafeRawBufferPointer) -> [UInt8] {
        let count = tableCount(storedSize: UInt64(payload.count), recordVersion: RecordHeader.formatVersion)
        guard count > 0 else { return [] }
        var table = [UInt8](repeating: 0, count: 4 * count)
        table.withUnsafeMutableBytes { destination in
            for chunk in 0..<count {
                let start = chunk * chunkSize
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: payload[start..<min(payload.count, start + chunkSize)]))
                destination.storeBytes(of: CRC32C.mask(crc).littleEndian, toByteOffset: 4 * chunk, as: UInt32.self)
            }
        }
        return table
    }

    /// `payload_crc` for a payload with `table` (from `table(for:)`): the table's CRC, or the payload's without one.
    public static func payloadCRC(payload: UnsafeRawBufferPointer, table: [UInt8]) -> UInt32 {
        table.isEmpty ? CRC32C.checksum(payload) : CRC32C.checksum(table)
    }

    /// File offset of the chunk table (it ends where the payload starts).
    public var tableStart: Int { payloadStart - 4 * tableCount }

    /// Chunks that checksums are kept for (1 without a table, even for an empty payload).
    public var chunkCount: Int { Swift.max(tableCount, 1) }

    /// The chunks that hold stored bytes `range` (relative to the payload start).
    public func chunks(covering range: Range<Int>) -> Range<Int> {
        guard tableCount > 0 else { return 0..<1 }
        guard !range.isEmpty else { return 0..<0 }
        return range.lowerBound / Self.chunkSize..<(range.upperBound - 1) / Self.chunkSize + 1
    }

    /// Stored bytes of chunk `chunk`, relative to the payload start.
    public func bytes(ofChunk chunk: Int) -> Range<Int> {
        guard tableCount > 0 else { return 0..<storedSize }
        let start = chunk * Self.chunkSize
        return start..<Swift.min(storedSize, start + Self.chunkSize)
    }

    /// Checks the whole payload (every chunk); nil when it matches.
    public func checkAll(in file: UnsafeRawBufferPointer, origin: Int = 0) -> String? {
        check(chunks: 0..<chunkCount, in: file, origin: origin)
    }

    /// Checks `chunks` of the payload. `file` holds the file's bytes from offset `origin` up to at least
    /// the payload's end, the table included. Returns a description of the first mismatch, or nil when all match.
    public func check(chunks: Range<Int>, in file: UnsafeRawBufferPointer, origin: Int = 0) -> String? {
        let payloadStart = payloadStart - origin
        guard tableCount > 0 else {
            let payload = UnsafeRawBufferPointer(rebasing: file[payloadStart..<payloadStart + storedSize])
            return CRC32C.checksum(payload) == payloadCRC ? nil : "payload checksum mismatch"
        }
        let table = UnsafeRawBufferPointer(rebasing: file[payloadStart - 4 * tableCount..<payloadStart])
        guard CRC32C.checksum(table) == payloadCRC else { return "chunk checksum table mismatch" }
        for chunk in chunks {
            let stored = CRC32C.unmask(table.loadUnaligned(fromByteOffset: 4 * chunk, as: UInt32.self).littleEndian)
            let range = bytes(ofChunk: chunk)
            let payload = UnsafeRawBufferPointer(rebasing: file[payloadStart + range.lowerBound..<payloadStart + range.upperBound])
            guard CRC32C.checksum(payload) == stored else {
                return "payload checksum mismatch in chunk \(chunk) (payload bytes \(range.lowerBound)..<\(range.upperBound))"
            }
        }
        return nil
    }
}

extension RecordHeader {
    /// Entries of this record's chunk table (0: one CRC for the whole payload).
    public var chunkTableCount: Int { PayloadChecksums.tableCount(storedSize: storedSize, recordVersion: version) }

    /// The payload's checksums for this record placed at `recordOffset`.
    public func payloadChecksums(recordOffset: Int) -> PayloadChecksums {
        PayloadChecksums(
            payloadStart: recordOffset + Int(payloadOffset), storedSize: Int(storedSize), payloadCRC: payloadCRC,
            tableCount: chunkTableCount)
    }
}
