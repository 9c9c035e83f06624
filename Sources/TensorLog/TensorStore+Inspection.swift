import TensorLogFormat
import TensorLogSystem

/// One record as the dump tool shows it.
public struct RecordSummary: Sendable, Equatable {
    public enum ChecksumStatus: String, Sendable { case ok, mismatch, unchecked }

    public let segment: UInt64
    public let offset: Int
    public let header: RecordHeader
    /// Whether the latest version of its key (or a needed tombstone or commit) still uses it.
    public let isLive: Bool
    public let payloadChecksum: ChecksumStatus
    /// The first bytes of the stored payload, when asked for.
    public let payloadPrefix: [UInt8]
}

extension TensorStore {
    /// Walks the records of one live segment in file order, headers only
    /// unless `verifyPayloads`. Records that do not decode end the walk and are
    /// returned as problems (with segment and offset).
    public func records(
        inSegment id: UInt64, verifyPayloads: Bool = false, payloadPrefix: Int = 0,
        _ body: (RecordSummary) -> Void
    ) throws(TensorLogError) -> [VerifyReport.Problem] {
        let found = stateLock.withReadLock { () -> (Segment, MappedRegion, Int, Set<RecordPointer>)? in
            guard let segment = segments[id] else { return nil }
            return (segment, segment.region, segment.length, livePointers(in: id))
        }
        guard let (segment, region, length, live) = found else {
            throw TensorLogError(.notFound, "no live segment \(id) in the store")
        }
        var problems: [VerifyReport.Problem] = []
        var offset = SegmentHeader.size
        while offset < length {
            switch Self.readRecord(FileBytes(region, length: length), at: offset, verifyPayload: false) {
            case .success(let header):
                let start = offset + Int(header.payloadOffset)
                let payload = region.bytes(start..<start + Int(header.storedSize))
                let status: RecordSummary.ChecksumStatus =
                    verifyPayloads ? (header.payloadChecksums(recordOffset: offset).checkAll(in: region.bytes(0..<length)) == nil ? .ok : .mismatch) : .unchecked
                body(RecordSummary(
                    segment: segment.id, offset: offset, header: header,
                    isLive: live.contains(RecordPointer(segment: id, offset: UInt64(offset))),
                    payloadChecksum: status, payloadPrefix: Array(payload.prefix(payloadPrefix))))
                offset += header.recordLength
            case .failure(let error):
                problems.append(.init(segment: id, offset: offset, message: error.message))
                return problems
            }
        }
        return problems
    }

    /// Records of segment `id` that the index keeps alive (state lock held).
    private func livePointers(in id: UInt64) -> Set<RecordPointer> {
        var pointers = Set<RecordPointer>()
        for entry in index.values {
            entry.latest.forEachRecord { block in
                if block.segment.id == id { pointers.insert(block.pointer) }
            }
        }
        for commit in commitRecords.values where commit.segment.id == id {
            pointers.insert(RecordPointer(segment: id, offset: UInt64(commit.offset)))
        }
        return pointers
    }
}
