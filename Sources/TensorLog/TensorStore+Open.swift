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
        }

        // Everything is read and checked before any file changes, so an open that finds damage
        // leaves the store exactly as it was.
        var replay = Replay()
        var segments: [UInt64: Segment] = [:]
        // Hint files first, so the tables are sized once for every record they list.
        for id in manifest.sealedSegments {
            segments[id] = try openSegment(directory, id, sealed: true, options: options)
        }
        var prepared = loadHints(manifest.sealedSegments.map { segments[$0]! })
        replay.reserve(prepared.values.reduce(0) { $0 + $1.entries.count })
        var hintsToRewrite: [HintFile] = []
        for id in manifest.sealedSegments {
            let segment = segments[id]!
            if let ready = prepared.removeValue(forKey: id) {
                try checkSegmentHeader(segment)
                replay.add(ready)
            } else {
                report.scannedSegments.append(id)
                let scan = try scan(segment, verifyPayloads: false, tail: nil)
                for entry in scan.entries { replay.add(segment, Int(entry.offset), entry.header) }
                hintsToRewrite.append(HintFile(segmentID: id, segmentLength: UInt64(segment.length), entries: scan.entries))
            }
        }
        // The mark is read before the segment's size: beside a writer, the size read after it can only be larger.
        let mark = readSyncedMark(directory)
        let active = try openSegment(directory, manifest.activeSegment, sealed: false, options: options)
        segments[active.id] = active
        // A clean close leaves a hint for the active segment's synced prefix: trust it like a sealed
        // segment's, and scan (with payload checksums, for a torn tail) only what was written after.
        let prefix = activePrefixHint(active)
        for entry in prefix?.entries ?? [] { replay.add(active, Int(entry.offset), entry.header) }
        let start = prefix.map { Int($0.segmentLength) } ?? SegmentHeader.size
        let tail = TailPolicy(active: active, prefixHint: prefix, mark: mark)
        guard tail.syncedEnd <= active.length else {
            throw TensorLogError(
                .corruption(segment: active.id, offset: active.length),
                "corruption in segment \(active.id): the file is \(active.length) bytes, but its first \(tail.syncedEnd) bytes "
                    + "were synced: acknowledged records are missing (was the file truncated or replaced?)")
        }
        var scan = try scan(active, from: start, verifyPayloads: true, tail: tail, privateTail: options.readOnly)
        let cut = scan.validLength < active.length
        if cut {
            report.truncatedBytes = active.length - scan.validLength
            report.truncatedAt = (active.id, scan.validLength)
            report.truncationReason = scan.tornReason
            active.length = scan.validLength
        }
        for entry in scan.entries { replay.add(active, Int(entry.offset), entry.header) }
        scan.entries = (prefix?.entries ?? []) + scan.entries

        var state = try replay.finish(segments: segments, active: active, manifest: manifest, activeEntries: scan.entries, report: &report)
        // Sequences of the records cut off may have been seen (by a reader, or in a report): never hand them out again.
        state.lastSequence = max(state.lastSequence, scan.cutSequence)

        var syncedFile: SystemFile? = nil
        if !options.readOnly {
            report.removedFiles += try removeLeftovers(directory, manifest)
            for hint in hintsToRewrite {
                // Rewrite a missing or damaged hint so the next open is fast again (best effort).
                try? FileSystem.writeAtomically(hint.encoded(), to: Segment.hintPath(directory, hint.segmentID), directory: directory)
            }
            if cut { try active.file.truncate(to: scan.validLength) }
            // From here on every byte of the active segment is on stable storage, and SYNCED says so.
            try active.file.sync()
            syncedFile = try openSyncedFile(directory)
            try writeSyncedMark(SyncedMark(segmentID: active.id, syncedLength: UInt64(active.length)), to: syncedFile!, durably: true)
            if scan.cutSequence > manifest.sequenceFloor, scan.cutSequence > 0 {
                var raised = manifest
                raised.sequenceFloor = state.lastSequence
                raised.writeVersion = SegmentHeader.writeVersion
                raised.readVersion = SegmentHeader.readVersion
                try FileSystem.writeAtomically(raised.encoded(), to: manifestPath, directory: directory)
                state.manifest = raised
            }
        }
        let store = TensorStore(
            directory: directory, options: options, recovery: report, lockFile: lockFile, syncedFile: syncedFile, state: state)
        store.startGroupCommitFlusher()
        return store
    }

    static func acquireLock(_ directory: String) throws -> SystemFile {
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
        try writeSyncedMark(SyncedMark(segmentID: first, syncedLength: UInt64(SegmentHeader.size)), to: try openSyncedFile(directory), durably: true)
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
        /// The largest sequence of a record header (checksum intact) in the bytes cut off, 0 if none.
        var cutSequence: UInt64 = 0
    }

    /// What recovery knows of the active segment's durable prefix, and so which damage is a torn
    /// tail it may cut (docs/FORMAT.md §10.2 step 7).
    struct TailPolicy {
        /// Bytes known to be on stable storage: damage below this is corruption, never a torn tail.
        let syncedEnd: Int
        /// Whether the SYNCED file was valid: only then is any damage past `syncedEnd` a torn tail (without
        /// it, only damage with no valid record after it is).
        let markIsValid: Bool

        init(active: Segment, prefixHint: HintFile?, mark: SyncedMark?) {
            let marked = mark.flatMap { $0.segmentID == active.id ? Int(clamping: $0.syncedLength) : nil } ?? 0
            syncedEnd = max(SegmentHeader.size, Int(clamping: prefixHint?.segmentLength ?? 0), marked)
            markIsValid = mark != nil
        }
    }

    /// Walks a segment's records from `start`. Without a tail policy (a sealed segment) any bad record
    /// is corruption. In the active segment, a bad record below the synced end is corruption (cutting
    /// there would drop acknowledged writes); past it, the scan stops there: a torn tail. With `privateTail` (a read-only open beside
    /// a writer), the bytes past the synced end are read into a private copy, not through the mapping.
    static func scan(
        _ segment: Segment, from start: Int = SegmentHeader.size, verifyPayloads: Bool, tail: TailPolicy?, privateTail: Bool = false
    ) throws -> ScanResult {
        guard segment.length >= SegmentHeader.size else {
            throw TensorLogError.corruption("segment file is \(segment.length) bytes, shorter than its header", segment: segment.id, offset: 0)
        }
        try checkSegmentHeader(segment)
        var file = FileBytes(segment.region, length: segment.length)
        var copy: UnsafeMutableRawBufferPointer? = nil
        defer { copy?.deallocate() }
        var result = ScanResult(validLength: segment.length)
        var offset = start
        while offset < file.end {
            if privateTail, let tail, copy == nil, offset >= tail.syncedEnd {
                let tailBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: file.end - offset, alignment: 64)
                copy = tailBytes
                let read = try segment.file.read(into: tailBytes, at: offset)  // short if the writer cut the tail meanwhile
                file = FileBytes(buffer: UnsafeRawBufferPointer(rebasing: tailBytes[0..<read]), origin: offset)
                result.validLength = file.end
                continue
            }
            switch readRecord(file, at: offset, verifyPayload: verifyPayloads) {
            case .success(let header):
                result.entries.append(HintFile.Entry(offset: UInt64(offset), header: header))
                offset += header.recordLength
            case .failure(let error):
                if error.isUnsupportedVersion {
                    throw TensorLogError(.unsupportedFormatVersion, "\(segment.path): \(error.message)")
                }
                guard let tail else { throw TensorLogError.corruption(error.message, segment: segment.id, offset: offset) }
                guard offset >= tail.syncedEnd else {
                    throw TensorLogError.corruption(
                        "\(error.message), inside data that was synced (up to offset \(tail.syncedEnd)): acknowledged records "
                            + "would be lost by cutting here. Nothing was changed; `tensorlog salvage` keeps every intact record "
                            + "and moves the damaged bytes aside", segment: segment.id, offset: offset)
                }
                // Past the synced end nothing was promised: writeback is unordered until fsync, so a crash can
                // leave any mix of written and unwritten sectors there, and the first bad record starts the torn
                // tail. Without a valid SYNCED mark recovery cannot tell where the promise ends: only damage
                // with no whole record after it (an ordinary torn last write) is cut.
                if !tail.markIsValid, let next = nextValidRecord(file, after: offset) {
                    throw TensorLogError.corruption(
                        "\(error.message), followed by a valid record at offset \(next), and no valid SYNCED mark says "
                            + "the bytes here were never synced. Nothing was changed; `tensorlog salvage` keeps every intact "
                            + "record and moves the damaged bytes aside", segment: segment.id, offset: offset)
                }
                result.validLength = offset
                result.tornReason = error.message
                result.cutSequence = largestSequence(file, in: offset..<file.end)
                return result
            }
        }
        return result
    }

    /// The largest sequence among record headers with intact checksums that start in `range`.
    static func largestSequence(_ file: FileBytes, in range: Range<Int>) -> UInt64 {
        var largest: UInt64 = 0
        forEachIntactHeader(file, in: range) { largest = max(largest, $0.sequence) }
        return largest
    }

    static let syncedName = "SYNCED"

    /// The SYNCED mark, or nil when the file is missing or damaged (then no hole is taken for an unwritten page).
    static func readSyncedMark(_ directory: String) -> SyncedMark? {
        let path = directory + "/" + syncedName
        guard FileSystem.exists(path), let bytes = try? SystemFile(path: path, mode: .readOnly).readAll() else { return nil }
        return try? bytes.withBytes { (buffer) throws(FormatError) in try SyncedMark.decode(buffer) }
    }

    static func openSyncedFile(_ directory: String) throws(SystemError) -> SystemFile {
        try SystemFile(path: directory + "/" + syncedName, mode: .createReadWrite)
    }

    /// Overwrites the SYNCED mark in place (32 bytes, one sector). It must only ever claim bytes that
    /// an fsync already made durable; `durably` fsyncs it too.
    static func writeSyncedMark(_ mark: SyncedMark, to file: borrowing SystemFile, durably: Bool) throws(SystemError) {
        try file.write(mark.encoded(), at: 0)
        if durably { try file.sync() }
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
    static func readRecord(_ file: FileBytes, at offset: Int, verifyPayload: Bool) -> Result<RecordHeader, FormatError> {
        let length = file.end
        let available = file.bytes(offset..<length)
        do throws(FormatError) {
            let header = try RecordHeader.decode(available, fileOffset: offset)
            let end = offset.addingReportingOverflow(header.recordLength)
            guard !end.overflow, end.partialValue <= length else {
                throw FormatError("record of \(header.recordLength) bytes runs past the segment end \(length)", offset: offset)
            }
            if verifyPayload, let mismatch = header.payloadChecksums(recordOffset: offset).checkAll(in: file.bytes(file.origin..<length), origin: file.origin) {
                throw FormatError("\(mismatch) ('\(header.key)' seq \(header.sequence))", offset: offset)
            }
            return .success(header)
        } catch {
            return .failure(error)
        }
    }

    /// Where the first whole, valid record past `offset` starts (at a 64-byte boundary), if any.
    static func nextValidRecord(_ file: FileBytes, after offset: Int) -> Int? {
        let length = file.end
        var candidate = alignUp(offset + 1, to: RecordHeader.alignment)
        while candidate + RecordHeader.fixedSize <= length {
            let magic = file.bytes(candidate..<candidate + 4).loadUnaligned(as: UInt32.self)
            if UInt32(littleEndian: magic) == RecordHeader.magic,
               case .success = readRecord(file, at: candidate, verifyPayload: true) {
                return candidate
            }
            candidate += RecordHeader.alignment
        }
        return nil
    }
}
