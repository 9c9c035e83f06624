import Foundation
import TensorLogFormat

/// Stores the current writers refuse to make, as an older version or a hostile file leaves them:
/// for the readers' tests (library, command line, server).
public enum HostileStore {
    /// Writes a store in `directory` (created) holding one put of `key` with no element: a MANIFEST
    /// naming segment 1 as the only, active segment, and that segment with the one record.
    /// `shape` must hold no element (a zero dimension) but may have rows of any size, e.g. [0, 2^62].
    public static func writeEmptyTensor(_ directory: String, key: String, dtype: DType, shape: [Int]) throws {
        precondition(byteCount(dtype: dtype, shape: shape) == 0, "the record carries no payload")
        var header = RecordHeader(kind: .put, sequence: 1, key: key, dtype: dtype, shape: shape)
        header.payloadCRC = CRC32C.checksum([UInt8]())
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: SegmentHeader.size))
        var record = header.encoded()
        record += [UInt8](repeating: 0, count: header.recordLength - record.count)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let manifest = Manifest(sealedSegments: [], activeSegment: 1, nextSegmentID: 2, sequenceFloor: 0)
        try Data(manifest.encoded()).write(to: URL(fileURLWithPath: directory + "/MANIFEST"))
        try Data(SegmentHeader(segmentID: 1).encoded() + record).write(to: URL(fileURLWithPath: directory + "/00000001.seg"))
    }
}
