#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import TensorLogFormat
import TensorLogSystem

/// What opening a store found and did.
public struct RecoveryReport: Sendable, Equatable {
    /// Bytes cut off the active segment's tail (a record torn by a crash), and where.
    public var truncatedBytes = 0
    public var truncatedAt: (segment: UInt64, offset: Int)? {
        get { truncatedSegment.map { ($0, truncatedOffset) } }
        set {
            truncatedSegment = newValue?.segment
            truncatedOffset = newValue?.offset ?? 0
        }
    }
    private var truncatedSegment: UInt64?
    private var truncatedOffset = 0
    /// Why the tail was cut (checksum mismatch, truncated header...).
    public var truncationReason: String?
    /// Records of batches that never committed (ignored).
    public var uncommittedRecords = 0
    /// Segments whose hint file was missing or unusable, so they were scanned.
    public var scannedSegments: [UInt64] = []
    /// Files left by an interrupted roll-over or compaction, removed.
    public var removedFiles: [String] = []

    public init() {}
}

/// A segment the manifest names is not there: corruption for a writer, a
/// compaction that just retired it for a read-only open (which then retries).
struct SegmentVanished: Error {
    let id: UInt64
    let path: String
}

/// Everything open rebuilds before the store object exists.
struct RecoveredState {
    var index: [String: KeyEntry]
    var segments: [UInt64: Segment]
    var lastSequence: UInt64
    var batchLiveMembers: [UInt64: Int]
    var commitRecords: [UInt64: TensorStore.CommitRef]
    var active: Segment
    var manifest: Manifest
    var activeEntries: [HintFile.Entry]
}

extension TensorStore {
    static let manifestName = "MANIFEST"
    static let lockName = "LOCK"

    /// Opens the store in `directory`, creating it if allowed. A writer takes
    /// the lock, removes files an interrupted operation left, and cuts a torn
    /// tail off the active segment; a read-only open changes nothing.
    public static func open(at directory: String, options: StoreOptions = .init()) throws(TensorLogError) -> TensorStore {
        guard options.segmentSize >= 4096 else { throw .invalid("segment size \(options.segmentSize) is below 4096 bytes") }
        // A read-only open races with the writer's compaction, which may retire a segment between our
        // reading the manifest and opening the file: read the new manifest and try again.
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try openUnchecked(directory, options)
            } catch let vanished as SegmentVanished {
                if options.readOnly, attempt < 5 { continue }
                throw TensorLogError(
                    .corruption(segment: vanished.id, offset: 0),
                    "segment \(vanished.id) named by the manifest is missing (\(vanished.path))")
            } catch let error as TensorLogError {
                throw error
            } catch let error as SystemError {
                throw .io(error)
            } catch {
                throw TensorLogError(.invalidArgument, "\(error)")
            }
        }
    }

    private static func openUnchecked(_ directory: String, _ options: StoreOptions) throws -> TensorStore {
        if !FileSystem.isDirectory(directory) {
            guard options.create, !options.readOnly else {
                throw TensorLogError(.notFound, "no store at \(directory) (no such directory)")
            }
            try FileSystem.makeDirectory(directory)
            try FileSystem.syncDirectory(FileSystem.parentDirectory(of: directory))  // so the new name survives a crash
        }
        let manifestPath = directory + "/" + manifestName
        if !FileSystem.exists(manifestPath), !options.create || options.readOnly {
            throw TensorLogError(.notFound, "\(directory) is not a TensorLog store (no MANIFEST)")
        }
        let lockFile: SystemFile? = options.readOnly ? nil : try acquireLock(directory)
        var report = RecoveryReport()

        if !FileSystem.exists(manifestPath) {
            // Segment files without a manifest: an initialization that stopped before its manifest
            // (files holding no record) is redone; anything more is a damaged store.
            let segmentNames = try FileSystem.list(directory).filter { Segment.id(fromFileName: $0) != nil }
            for name in segmentNames {
                let path = directory + "/" + name
                let size = try SystemFile(path: path, mode: .readOnly).size()
                guard size <= SegmentHeader.size || name.hasSuffix(".hint") else {
                    throw TensorLogError(.corruption(segment: Segment.id(fromFileName: name) ?? 0, offset: 0),
                                         "\(directory) holds segment files with records but no MANIFEST")
                }
            }
            for name in segmentNames {
                try FileSystem.remove(directory + "/" + name)
                report.removedFiles.append(name)
            }
            guard options.create, !options.readOnly else {
                throw TensorLogError(.notFound, "\(directory) is not a TensorLog store (no MANIFEST)")
            }
            try initializeStore(directory, options)
        }

        let manifestBytes = try SystemFile(path: manifestPath, mode: .readOnly).readAll()
        let manifest: Manifest
        do {
            manifest = try manifestBytes.withBytes { (buffer) throws(FormatError) in try Manifest.decode(buffer) }
        } catch {
            throw TensorLogError.format(error, segment: 0, file: manifestPath)
        }
        if !options.readOnly {
            guard manifest.writeVersion <= SegmentHeader.writeVersion else {
                throw TensorLogError(
                    .unsupportedFormatVersion,
                    "\(directory) was written by a newer TensorLog (format \(manifest.writeVersion)); open it read-only")
            }
            report.removedFiles += try removeLeftovers(directory, manifest)
        }

        var replay = Replay()
        var segments: [UInt64: Segment] = [:]
        // Hint files first, so the tables are sized once for every record they list.
        for id in manifest.sealedSegments {
            segments[id] = try openSegment(directory, id, sealed: true, options: options)
        }
        var prepared = loadHints(manifest.sealedSegments.map { segments[$0]! })
        replay.reserve(prepared.values.reduce(0) { $0 + $1.entries.count })
        for id in manifest.sealedSegments {
            let segment = segments[id]!
            if let ready = prepared.removeValue(forKey: id) {
                try checkSegmentHeader(segment)
                replay.add(ready)
            } else {
                report.scannedSegments.append(id)
                let scan = try scan(segment, verifyPayloads: false, allowTornTail: false)
                for entry in scan.entries { replay.add(segment, Int(entry.offset), entry.header) }
                if !options.readOnly {
                    // Rewrite the missing or damaged hint so the next open is fast again (best effort).
                    let hint = HintFile(segmentID: id, segmentLength: UInt64(segment.length), entries: scan.entries)
                    try? FileSystem.writeAtomically(hint.encoded(), to: segment.hintPath, directory: directory)
                }
            }
        }
        let active = try openSegment(directory, manifest.activeSegment, sealed: false, options: options)
        segments[active.id] = active
        // A clean close leaves a hint for the active segment's synced prefix: trust it like a sealed
        // segment's, and scan (with payload checksums, for a torn tail) only what was written after.
        let prefix = activePrefixHint(active)
        for entry in prefix?.entries ?? [] { replay.add(active, Int(entry.offset), entry.header) }
        let start = prefix.map { Int($0.segmentLength) } ?? SegmentHeader.size
        var scan = try scan(active, from: start, verifyPayloads: true, allowTornTail: true)
        if scan.validLength < active.length {
            report.truncatedBytes = active.length - scan.validLength
            report.truncatedAt = (active.id, scan.validLength)
            report.truncationReason = scan.tornReason
            if !options.readOnly {
                try active.file.truncate(to: scan.validLength)
                try active.file.sync()
            }
            active.length = scan.validLength
        }
        for entry in scan.entries { replay.add(active, Int(entry.offset), entry.header) }
        scan.entries = (prefix?.entries ?? []) + scan.entries

        let state = try replay.finish(segments: segments, active: active, manifest: manifest, activeEntries: scan.entries, report: &report)
        let store = TensorStore(directory: directory, options: options, recovery: report, lockFile: lockFile, state: state)
        store.startGroupCommitFlusher()
        return store
    }

    private static func acquireLock(_ directory: String) throws -> SystemFile {
        let path = directory + "/" + lockName
        let file = try SystemFile(path: path, mode: .createReadWrite)
        guard try file.tryLockExclusive() else {
            let text = String(decoding: (try? file.readAll()) ?? [], as: UTF8.self)
            let pid = Int32(text.filter(\.isNumber))
            throw TensorLogError(.locked(pid: pid), "store \(directory) is locked by pid \(pid.map(String.init) ?? "unknown")")
        }
        try file.truncate(to: 0)
        try file.write(Array("\(currentProcessID)\n".utf8), at: 0)
        return file
    }

    private static func initializeStore(_ directory: String, _ options: StoreOptions) throws {
        let first: UInt64 = 1
        _ = try createSegmentFile(directory, first)
        let manifest = Manifest(sealedSegments: [], activeSegment: first, nextSegmentID: first + 1, sequenceFloor: 0)
        try FileSystem.writeAtomically(manifest.encoded(), to: directory + "/" + manifestName, directory: directory)
    }

    /// Creates a segment file holding only its header, durably.
    static func createSegmentFile(_ directory: String, _ id: UInt64) throws(SystemError) -> SystemFile {
        let path = Segment.path(directory, id)
        let file = try SystemFile(path: path, mode: .createExclusive)
        do {
            try file.write(SegmentHeader(segmentID: id).encoded(), at: 0)
            try file.sync()
            try FileSystem.syncDirectory(directory)
        } catch {
            try? FileSystem.remove(path)
            throw error
        }
        return file
    }

    /// Removes segment and hint files the manifest does not name, and temporaries.
    private static func removeLeftovers(_ directory: String, _ manifest: Manifest) throws -> [String] {
        let live = Set(manifest.sealedSegments + [manifest.activeSegment])
        var removed: [String] = []
        for name in try FileSystem.list(directory) {
            let orphan = Segment.id(fromFileName: name).map { !live.contains($0) } ?? false
            if orphan || name == manifestName + ".tmp" || name.hasSuffix(".hint.tmp") {
                try FileSystem.remove(directory + "/" + name)
                removed.append(name)
            }
        }
        if !removed.isEmpty { try FileSystem.syncDirectory(directory) }
        return removed.sorted()
    }

    static func openSegment(_ directory: String, _ id: UInt64, sealed: Bool, options: StoreOptions) throws -> Segment {
        let path = Segment.path(directory, id)
        guard FileSystem.exists(path) else { throw SegmentVanished(id: id, path: path) }
        let file: SystemFile
        do throws(SystemError) {
            file = try SystemFile(path: path, mode: options.readOnly || sealed ? .readOnly : .readWrite)
        } catch {
            if error.errno == ENOENT { throw SegmentVanished(id: id, path: path) }
            throw error
        }
        let length = try file.size()
        let capacity = sealed ? length : max(length, options.segmentSize + (1 << 20))
        return try Segment(id: id, directory: directory, file: file, length: length, sealed: sealed, mapCapacity: capacity)
    }

    /// The records listed by the usable hint files of `segments`, decoded and
    /// prepared for the index on all cores.
    static func loadHints(_ segments: [Segment]) -> [UInt64: Replay.Prepared] {
        final class Results: @unchecked Sendable {
            let lock = Lock()
            var prepared: [UInt64: Replay.Prepared] = [:]
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: segments.count) { index in
            let segment = segments[index]
            guard FileSystem.exists(segment.hintPath), let bytes = try? SystemFile(path: segment.hintPath, mode: .readOnly).readAll() else {
                return
            }
            // Records go from the hint bytes straight into index entries: no list of headers in between.
            var prepared = Replay.Prepared()
            let described = try? bytes.withBytes { (buffer) throws(FormatError) in
                try HintFile.decode(buffer) { count in
                    prepared.entries.reserveCapacity(count)
                } visit: { offset, header in
                    Replay.prepare(&prepared, segment, Int(offset), header)
                }
            }
            guard let described, described.segmentID == segment.id, described.segmentLength == UInt64(segment.length) else { return }
            results.lock.withLock { results.prepared[segment.id] = prepared }
        }
        return results.prepared
    }

    /// The hint a clean close wrote for the active segment, if it describes a prefix of it.
    static func activePrefixHint(_ segment: Segment) -> HintFile? {
        guard FileSystem.exists(segment.hintPath), let hint = try? segment.readHint(),
              hint.segmentID == segment.id, hint.segmentLength >= UInt64(SegmentHeader.size),
              hint.segmentLength <= UInt64(segment.length)
        else { return nil }
        return hint
    }

    struct ScanResult {
        var entries: [HintFile.Entry] = []
        var validLength: Int
        var tornReason: String?
    }

    /// Walks a segment's records from the start. A bad record in a sealed
    /// segment is corruption. In the active segment it is a torn tail, and the
    /// scan stops there, unless a valid record follows it: then it is
    /// corruption too, since cutting there would drop later writes.
    static func scan(
        _ segment: Segment, from start: Int = SegmentHeader.size, verifyPayloads: Bool, allowTornTail: Bool
    ) throws -> ScanResult {
        let region = segment.region
        let length = segment.length
        guard length >= SegmentHeader.size else {
            throw TensorLogError.corruption("segment file is \(length) bytes, shorter than its header", segment: segment.id, offset: 0)
        }
        try checkSegmentHeader(segment)
        var result = ScanResult(validLength: length)
        var offset = start
        while offset < length {
            switch readRecord(region, at: offset, length: length, verifyPayload: verifyPayloads) {
            case .success(let header):
                result.entries.append(HintFile.Entry(offset: UInt64(offset), header: header))
                offset += header.recordLength
            case .failure(let error):
                if error.isUnsupportedVersion {
                    throw TensorLogError(.unsupportedFormatVersion, "\(segment.path): \(error.message)")
                }
                // Damage with no whole record after it is a torn tail. So is damage containing a page
                // of zeros: a page the kernel never wrote back before the crash (writeback is unordered
                // until fsync), so the records after it were not durable either. Other damage followed
                // by whole records is corruption: cutting there would drop writes that were durable.
                let next = nextValidRecord(region, after: offset, length: length)
                guard allowTornTail, next == nil || containsZeroPage(region, offset..<next!) else {
                    throw TensorLogError.corruption(error.message, segment: segment.id, offset: offset)
                }
                result.validLength = offset
                result.tornReason = error.message
                return result
            }
        }
        return result
    }

    /// Checks a segment's 64-byte header: magic, versions, CRC, and that it names this segment.
    static func checkSegmentHeader(_ segment: Segment) throws(TensorLogError) {
        guard segment.length >= SegmentHeader.size else {
            throw .corruption("segment file is \(segment.length) bytes, shorter than its header", segment: segment.id, offset: 0)
        }
        let header: SegmentHeader
        do {
            header = try SegmentHeader.decode(segment.region.bytes(0..<SegmentHeader.size))
        } catch {
            throw .format(error, segment: segment.id, file: segment.path)
        }
        guard header.segmentID == segment.id else {
            throw .corruption("header names segment \(header.segmentID)", segment: segment.id, offset: 0)
        }
    }

    /// Decodes and checks the record at `offset` (header, bounds, and the payload checksum when asked).
    static func readRecord(_ region: MappedRegion, at offset: Int, length: Int, verifyPayload: Bool) -> Result<RecordHeader, FormatError> {
        let available = region.bytes(offset..<length)
        do throws(FormatError) {
            let header = try RecordHeader.decode(available, fileOffset: offset)
            let end = offset.addingReportingOverflow(header.recordLength)
            guard !end.overflow, end.partialValue <= length else {
                throw FormatError("record of \(header.recordLength) bytes runs past the segment end \(length)", offset: offset)
            }
            if verifyPayload {
                let start = offset + Int(header.payloadOffset)
                let payload = region.bytes(start..<start + Int(header.storedSize))
                guard CRC32C.checksum(payload) == header.payloadCRC else {
                    throw FormatError("payload checksum mismatch ('\(header.key)' seq \(header.sequence))", offset: offset)
                }
            }
            return .success(header)
        } catch {
            return .failure(error)
        }
    }

    /// Where the first whole, valid record past `offset` starts (at a 64-byte boundary), if any.
    static func nextValidRecord(_ region: MappedRegion, after offset: Int, length: Int) -> Int? {
        var candidate = alignUp(offset + 1, to: RecordHeader.alignment)
        while candidate + RecordHeader.fixedSize <= length {
            let magic = region.bytes(candidate..<candidate + 4).loadUnaligned(as: UInt32.self)
            if UInt32(littleEndian: magic) == RecordHeader.magic,
               case .success = readRecord(region, at: candidate, length: length, verifyPayload: true) {
                return candidate
            }
            candidate += RecordHeader.alignment
        }
        return nil
    }

    /// Whether `range` holds a whole page-aligned 4 KiB run of zero bytes, or starts with 64 of them
    /// (the start of a record that was never written back).
    static func containsZeroPage(_ region: MappedRegion, _ range: Range<Int>) -> Bool {
        let page = 4096
        if region.bytes(range.lowerBound..<min(range.upperBound, range.lowerBound + RecordHeader.alignment)).allSatisfy({ $0 == 0 }) {
            return true
        }
        var start = alignUp(range.lowerBound, to: page)
        while start + page <= range.upperBound {
            if region.bytes(start..<start + page).allSatisfy({ $0 == 0 }) { return true }
            start += page
        }
        return false
    }
}
