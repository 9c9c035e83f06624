import TensorLogCompression
import TensorLogFormat
import TensorLogSystem

/// One version of a key found on disk.
public struct VersionInfo: Sendable, Equatable {
    public let sequence: UInt64
    public let isDeletion: Bool
    public let dtype: DType?
    /// The whole version's shape (rows of all its blocks).
    public let shape: [Int]
    public let blockCount: Int
    /// Where the version's first record is.
    public let location: RecordPointer
}

extension TensorStore {
    /// The versions of `key` still on disk, newest first, found by following
    /// each record's link to the previous record of the key. Versions that
    /// compaction dropped are gone; the walk ends there.
    public func history(_ key: String) throws(TensorLogError) -> [VersionInfo] {
        try versionChain(key).map(\.info)
    }

    /// Reads an earlier version of `key` by its sequence number (see `history`).
    public func read(_ key: String, version sequence: UInt64) throws(TensorLogError) -> Tensor {
        guard let version = try versionChain(key).first(where: { $0.info.sequence == sequence }) else {
            throw TensorLogError(.notFound, "no version \(sequence) of '\(key)' on disk")
        }
        guard !version.info.isDeletion, let dtype = version.info.dtype else {
            throw TensorLogError(.notFound, "version \(sequence) of '\(key)' is a deletion")
        }
        var bytes: [UInt8] = []
        for (segment, offset, header) in version.records {
            let region = stateLock.withReadLock { segment.region }
            let start = offset + Int(header.payloadOffset)
            let payload = region.bytes(start..<start + Int(header.storedSize))
            if let mismatch = header.payloadChecksums(recordOffset: offset).checkAll(in: region.bytes(0..<start + Int(header.storedSize))) {
                throw .corruption(mismatch, segment: segment.id, offset: offset)
            }
            if header.codec == .none {
                bytes.append(contentsOf: payload)
            } else {
                var raw = [UInt8](repeating: 0, count: Int(header.rawSize))
                do {
                    try raw.withMutableBytes { (target) throws(CodecError) in
                        try BlockCodec.decode(payload, codec: header.codec, elementSize: dtype.size, into: target)
                    }
                } catch {
                    throw .corruption("cannot decode block: \(error)", segment: segment.id, offset: offset)
                }
                bytes.append(contentsOf: raw)
            }
        }
        let metadata = Dictionary(version.records.first?.2.metadata.map { ($0.key, $0.value) } ?? [], uniquingKeysWith: { _, last in last })
        return try Tensor(dtype: dtype, shape: version.info.shape, bytes: bytes, metadata: metadata)
    }

    struct ChainVersion {
        var info: VersionInfo
        /// The version's records in row order.
        var records: [(Segment, Int, RecordHeader)]
    }

    /// Walks the on-disk chain of `key` from its latest record back.
    /// `locked`: the caller already holds the state lock.
    func versionChain(_ key: String, locked: Bool = false) throws(TensorLogError) -> [ChainVersion] {
        let lookup = { (self.index[key]?.latest.tail, self.segments) }
        let (start, segmentsByID) = locked ? lookup() : stateLock.withReadLock(lookup)
        guard let start else { throw .notFound(key) }
        var versions: [ChainVersion] = []
        var pending: [(Segment, Int, RecordHeader)] = []
        var next: RecordPointer? = start.pointer
        var lastSequence = UInt64.max
        while let pointer = next, let segment = segmentsByID[pointer.segment] {
            let (region, length) = locked ? (segment.region, segment.length) : stateLock.withReadLock { (segment.region, segment.length) }
            // The pointer comes from disk: check it before it becomes an Int.
            guard pointer.offset < UInt64(length) else { break }
            let offset = Int(pointer.offset)
            guard case .success(let header) = Self.readRecord(FileBytes(region, length: length), at: offset, verifyPayload: false),
                  header.key == key, header.sequence < lastSequence
            else { break }
            lastSequence = header.sequence
            pending.append((segment, offset, header))
            if header.kind != .append {
                let records = Array(pending.reversed())
                let rows = records.reduce(0) { $0 + ($1.2.shape.first ?? 1) }
                let shape = header.shape.isEmpty ? [] : [rows] + header.shape.dropFirst()
                versions.append(ChainVersion(
                    info: VersionInfo(
                        sequence: header.sequence, isDeletion: header.kind == .delete, dtype: header.dtype,
                        shape: header.kind == .delete ? [] : shape, blockCount: header.kind == .delete ? 0 : records.count,
                        location: RecordPointer(segment: segment.id, offset: UInt64(offset))),
                    records: records))
                pending = []
            }
            next = header.previous
        }
        return versions
    }
}
