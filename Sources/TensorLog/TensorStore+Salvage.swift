import TensorLogFormat
import TensorLogSystem

/// What `TensorStore.salvage` found and did.
public struct SalvageReport: Sendable, Equatable {
    /// Bytes that failed their checks, copied aside before the store was rebuilt without them.
    public struct DamagedSpan: Sendable, Equatable {
        public let segment: UInt64
        public let offset: Int
        public let length: Int
        /// What was wrong with the first record of the span.
        public let reason: String
        /// Where the bytes were copied (inside the store directory's `damaged/` folder).
        public let file: String
    }

    public var damagedSpans: [DamagedSpan] = []
    /// Intact records copied into the rebuilt store.
    public var recordsKept = 0
    /// Intact records left out because their batch lost a member to the damage (all or nothing).
    public var recordsDropped = 0
    /// Keys whose records were damaged or dropped: they now read as their last intact version, or are gone.
    public var keysAffected: [String] = []
    /// Whether anything was changed (false for a healthy store).
    public var rebuilt: Bool { !damagedSpans.isEmpty }
}

extension TensorStore {
    static let damagedFolder = "damaged"

    /// Rebuilds a store whose segments hold damage that open refuses to cut: every record that
    /// passes its checks is kept, the damaged bytes are copied into `damaged/` in the store
    /// directory for inspection, and batches that lost a member to the damage are dropped whole
    /// (all or nothing). Takes the writer lock; a healthy store is left untouched.
    ///
    /// The rebuilt store has new segment files (ids above every old one); the manifest switch is
    /// atomic, so a crash during salvage leaves either the old store or the new one.
    public static func salvage(at directory: String, options: StoreOptions = .init()) throws(TensorLogError) -> SalvageReport {
        do {
            return try salvageUnchecked(directory, options)
        } catch let error as TensorLogError {
            throw error
        } catch let error as SystemError {
            throw .io(error)
        } catch {
            throw TensorLogError(.invalidArgument, "\(error)")
        }
    }

    private struct Found {
        let segment: Segment
        let offset: Int
        let header: RecordHeader
    }

    private static func salvageUnchecked(_ directory: String, _ options: StoreOptions) throws -> SalvageReport {
        let manifestPath = directory + "/" + manifestName
        guard FileSystem.exists(manifestPath) else {
            throw TensorLogError(.notFound, "\(directory) is not a TensorLog store (no MANIFEST)")
        }
        let lockFile = try acquireLock(directory)
        defer { lockFile.unlock() }
        let manifest = try SystemFile(path: manifestPath, mode: .readOnly).readAll().withBytes { (buffer) throws(FormatError) in
            try Manifest.decode(buffer)
        }
        guard manifest.writeVersion <= SegmentHeader.writeVersion else {
            throw TensorLogError(.unsupportedFormatVersion, "\(directory) was written by a newer TensorLog (format \(manifest.writeVersion))")
        }
        var readOptions = options
        readOptions.readOnly = true
        let ids = manifest.sealedSegments + [manifest.activeSegment]

        // 1. Walk every live segment, keeping what passes every check and noting the damaged spans.
        var report = SalvageReport()
        var intact: [Found] = []
        var spans: [(segment: Segment, range: Range<Int>, reason: String)] = []
        var brokenBatches = Set<UInt64>()
        var affected = Set<String>()
        var largestSequence = manifest.sequenceFloor
        for id in ids {
            let segment = try openSegment(directory, id, sealed: true, options: readOptions)
            try checkSegmentHeader(segment)
            let file = FileBytes(segment.region, length: segment.length)
            var offset = SegmentHeader.size
            while offset < segment.length {
                switch readRecord(file, at: offset, verifyPayload: true) {
                case .success(let header):
                    intact.append(Found(segment: segment, offset: offset, header: header))
                    largestSequence = max(largestSequence, header.sequence)
                    offset += header.recordLength
                case .failure(let error):
                    let end = nextValidRecord(file, after: offset) ?? segment.length
                    spans.append((segment, offset..<end, error.message))
                    // Headers that are intact in the damage (a bad payload) say which key and batch lost a record.
                    forEachIntactHeader(file, in: offset..<end) { header in
                        largestSequence = max(largestSequence, header.sequence)
                        if !header.key.isEmpty { affected.insert(header.key) }
                        if header.inBatch { brokenBatches.insert(header.batchID) }
                    }
                    offset = end
                }
            }
        }
        guard !spans.isEmpty else { return report }

        // 2. Copy the damaged bytes aside, durably, before anything else changes.
        let folder = directory + "/" + damagedFolder
        if !FileSystem.isDirectory(folder) {
            try FileSystem.makeDirectory(folder)
            try FileSystem.syncDirectory(directory)
        }
        for span in spans {
            let name = "segment-\(Segment.paddedID(span.segment.id))-offset-\(span.range.lowerBound).bin"
            let path = folder + "/" + name
            let file = try SystemFile(path: path, mode: .createReadWrite)
            try file.truncate(to: 0)
            try file.write(span.segment.region.bytes(span.range), at: 0)
            try file.sync()
            report.damagedSpans.append(.init(
                segment: span.segment.id, offset: span.range.lowerBound, length: span.range.count, reason: span.reason,
                file: damagedFolder + "/" + name))
        }
        try FileSystem.syncDirectory(folder)

        // 3. Decide what to keep: committed batches that lost nothing, and records outside batches; one copy per sequence.
        let committed = Set(intact.filter { $0.header.kind == .commit }.map(\.header.batchID))
        var bySequence: [UInt64: Found] = [:]
        for found in intact where found.header.kind != .commit {
            let header = found.header
            if header.inBatch, !committed.contains(header.batchID) { continue }  // never committed: not part of the store
            if header.inBatch, brokenBatches.contains(header.batchID) {
                report.recordsDropped += 1
                affected.insert(header.key)
                continue
            }
            if let other = bySequence[header.sequence], other.segment.id > found.segment.id { continue }
            bySequence[header.sequence] = found
        }
        let kept = bySequence.values.sorted { $0.header.sequence < $1.header.sequence }

        // 4. Write them into new sealed segments, re-linking each key's records in sequence order.
        var nextID = manifest.nextSegmentID
        var outputs: [Segment] = []
        var entries: [HintFile.Entry] = []
        var lastOfKey: [String: RecordPointer] = [:]
        func sealLast() throws {
            guard let last = outputs.last else { return }
            try last.file.sync()
            let hint = HintFile(segmentID: last.id, segmentLength: UInt64(last.length), entries: entries)
            try FileSystem.writeAtomically(hint.encoded(), to: last.hintPath, directory: directory)
            entries = []
        }
        for found in kept {
            var header = found.header
            header.inBatch = false
            header.batchID = 0
            header.previous = lastOfKey[header.key]
            if outputs.isEmpty || Segment.wouldOverflow(header, at: outputs.last!.length, limit: options.segmentSize) {
                try sealLast()
                let file = try createSegmentFile(directory, nextID)
                outputs.append(try Segment(
                    id: nextID, directory: directory, file: file, length: SegmentHeader.size, sealed: true, mapCapacity: SegmentHeader.size))
                nextID += 1
            }
            let output = outputs.last!
            let region = found.segment.region
            let payloadStart = found.offset + Int(found.header.payloadOffset)
            let payload = region.bytes(payloadStart..<payloadStart + Int(found.header.storedSize))
            let table = [UInt8](region.bytes(payloadStart - 4 * found.header.chunkTableCount..<payloadStart))
            let offset = output.length
            output.length += try Segment.writeRecord(&header, chunkTable: table, payload: payload, to: output.file, at: offset)
            entries.append(HintFile.Entry(offset: UInt64(offset), header: header))
            lastOfKey[header.key] = RecordPointer(segment: output.id, offset: UInt64(offset))
            report.recordsKept += 1
        }
        try sealLast()
        let activeID = nextID
        _ = try createSegmentFile(directory, activeID)

        // 5. Switch: the new manifest names only the rebuilt segments; then the old files go.
        try writeSyncedMark(SyncedMark(segmentID: activeID, syncedLength: UInt64(SegmentHeader.size)), to: try openSyncedFile(directory), durably: true)
        let rebuilt = Manifest(
            sealedSegments: outputs.map(\.id), activeSegment: activeID, nextSegmentID: activeID + 1, sequenceFloor: largestSequence)
        try FileSystem.writeAtomically(rebuilt.encoded(), to: manifestPath, directory: directory)
        for id in ids {
            try? FileSystem.remove(Segment.path(directory, id))
            try? FileSystem.remove(Segment.hintPath(directory, id))
        }
        try FileSystem.syncDirectory(directory)
        report.keysAffected = affected.sorted()
        return report
    }

    /// Calls `body` with every record header whose checksum is intact starting in `range` (payloads unchecked).
    static func forEachIntactHeader(_ file: FileBytes, in range: Range<Int>, _ body: (RecordHeader) -> Void) {
        var candidate = range.lowerBound
        while candidate + RecordHeader.fixedSize <= range.upperBound {
            let magic = file.bytes(candidate..<candidate + 4).loadUnaligned(as: UInt32.self)
            if UInt32(littleEndian: magic) == RecordHeader.magic,
               let header = try? RecordHeader.decode(file.bytes(candidate..<range.upperBound), fileOffset: candidate) {
                body(header)
            }
            candidate += RecordHeader.alignment
        }
    }
}
