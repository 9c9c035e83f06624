import Foundation
import Testing
@testable import TensorLog

/// Helpers for the regression tests: inputs the fuzzers (Fuzz/) found, as minimal stores.
enum RegressionStore {
    /// A record to place in a hand-made segment: its header (payload offset and CRC are
    /// filled in) and payload.
    struct Record {
        var header: RecordHeader
        var payload: [UInt8] = []
    }

    /// The body of an active segment (after its 64-byte header) holding `records` in order,
    /// each at a 64-byte boundary, with payload offset, payload CRC and padding as a writer
    /// lays them out.
    static func segmentBody(_ records: [Record]) -> [UInt8] {
        var body: [UInt8] = []
        for record in records {
            var header = record.header
            let fileOffset = SegmentHeader.size + body.count
            header.payloadCRC = CRC32C.checksum(record.payload)
            header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: fileOffset))
            var bytes = header.encoded()
            bytes += [UInt8](repeating: 0, count: Int(header.payloadOffset) - bytes.count)
            bytes += record.payload
            bytes += [UInt8](repeating: 0, count: header.recordLength - bytes.count)
            body += bytes
        }
        return body
    }

    /// Writes a store in `directory`: a valid MANIFEST naming segment 1 as the only (active)
    /// segment, whose file is a valid segment header followed by `body`.
    static func write(_ directory: String, segmentBody body: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let manifest = Manifest(sealedSegments: [], activeSegment: 1, nextSegmentID: 2, sequenceFloor: 0)
        try Data(manifest.encoded()).write(to: URL(fileURLWithPath: directory + "/MANIFEST"))
        try Data(SegmentHeader(segmentID: 1).encoded() + body).write(to: URL(fileURLWithPath: directory + "/00000001.seg"))
    }

    /// A fresh directory for one test; remove it with `FileManager.default.removeItem`.
    static func temporaryDirectory(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = NSTemporaryDirectory() + "tensorlog-regression-\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Store options for opening such a store as a writer.
    static var options: StoreOptions {
        var options = StoreOptions()
        options.create = false
        options.durability = .none
        options.autoCompactDeadFraction = nil
        return options
    }

    /// A put record of `key` holding one float32.
    static func put(
        _ key: String, sequence: UInt64, previous: RecordPointer? = nil, value: Float = 1
    ) -> Record {
        let payload = withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        let header = RecordHeader(
            kind: .put, inBatch: false, sequence: sequence, batchID: 0, previous: previous,
            rowStart: 0, storedSize: 4, rawSize: 4, payloadCRC: 0, payloadOffset: 0, key: key,
            dtype: .float32, shape: [1], codec: .none, metadata: [])
        return Record(header: header, payload: payload)
    }
}
