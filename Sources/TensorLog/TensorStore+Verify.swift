import TensorLogFormat
import TensorLogSystem

/// What a full check of the store's files found.
public struct VerifyReport: Sendable, Equatable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let segment: UInt64
        public let offset: Int
        public let message: String
        public var description: String { "segment \(segment) offset \(offset): \(message)" }
    }

    public var problems: [Problem] = []
    public var segmentsChecked = 0
    public var recordsChecked = 0
    public var bytesChecked = 0
    public var isHealthy: Bool { problems.isEmpty }
}

extension TensorStore {
    /// Reads every record of every live segment and checks every checksum,
    /// that padding is zero, and that each hint file matches its segment.
    /// `progress` is called with bytes checked so far and the total.
    public func verify(progress: ((Int, Int) -> Void)? = nil) -> VerifyReport {
        let live = stateLock.withReadLock { segments.values.map { ($0, $0.region, $0.length) } }.sorted { $0.0.id < $1.0.id }
        let total = live.reduce(0) { $0 + $1.2 }
        var report = VerifyReport()
        for (segment, region, length) in live {
            report.segmentsChecked += 1
            var entries: [HintFile.Entry] = []
            verifySegment(segment, region: region, length: length, report: &report, entries: &entries)
            verifyHint(segment, length: length, entries: entries, report: &report)
            report.bytesChecked += length
            progress?(report.bytesChecked, total)
        }
        verifySyncedMark(&report)
        return report
    }

    /// A damaged SYNCED file loses nothing (open is then more cautious), but it is damage on the device:
    /// reported, with segment 0 since it belongs to no segment. A missing one (a format 1 store) is not.
    private func verifySyncedMark(_ report: inout VerifyReport) {
        let path = directory + "/" + Self.syncedName
        guard FileSystem.exists(path) else { return }
        // A writer may be rewriting the mark as it is read: only a mark that fails three reads is damaged.
        var failure: FormatError?
        for _ in 1...3 {
            failure = Self.syncedMarkProblem(path)
            if failure == nil { return }
        }
        if let failure {
            report.problems.append(.init(segment: 0, offset: failure.offset, message: "\(failure.message) (a writer's next open rewrites it)"))
        }
    }

    /// Why the SYNCED file at `path` does not decode, or nil if it does.
    private static func syncedMarkProblem(_ path: String) -> FormatError? {
        guard let bytes = try? SystemFile(path: path, mode: .readOnly).readAll() else {
            return FormatError("SYNCED: cannot be read", offset: 0)
        }
        do {
            _ = try bytes.withBytes { (buffer) throws(FormatError) in try SyncedMark.decode(buffer) }
            return nil
        } catch {
            return error
        }
    }

    private func verifySegment(_ segment: Segment, region: MappedRegion, length: Int, report: inout VerifyReport, entries: inout [HintFile.Entry]) {
        func problem(_ offset: Int, _ message: String) {
            report.problems.append(.init(segment: segment.id, offset: offset, message: message))
        }
        guard length >= SegmentHeader.size else { return problem(0, "segment shorter than its header") }
        do {
            let header = try SegmentHeader.decode(region.bytes(0..<SegmentHeader.size))
            if header.segmentID != segment.id { problem(0, "header names segment \(header.segmentID)") }
        } catch {
            problem(error.offset, error.message)
        }
        var offset = SegmentHeader.size
        while offset < length {
            switch Self.readRecord(FileBytes(region, length: length), at: offset, verifyPayload: false) {
            case .success(let header):
                report.recordsChecked += 1
                entries.append(HintFile.Entry(offset: UInt64(offset), header: header))
                // A bad payload under a sound header: report it and go on to the next record.
                if let mismatch = header.payloadChecksums(recordOffset: offset).checkAll(in: region.bytes(0..<length)) {
                    problem(offset, "\(mismatch) ('\(header.key)' seq \(header.sequence))")
                }
                // Padding carries no data, but it must be zero: a flipped bit there is damage too.
                let payloadStart = offset + Int(header.payloadOffset)
                let payloadEnd = payloadStart + Int(header.storedSize)
                let gaps = [offset + header.headerLength..<payloadStart - 4 * header.chunkTableCount, payloadEnd..<offset + header.recordLength]
                for gap in gaps where !region.bytes(gap).allSatisfy({ $0 == 0 }) {
                    problem(gap.lowerBound, "nonzero padding in record '\(header.key)' seq \(header.sequence)")
                }
                offset += header.recordLength
            case .failure(let error):
                problem(offset, error.message)
                // Resynchronize at the next whole record, if any.
                var next = alignUp(offset + 1, to: RecordHeader.alignment)
                while next < length, case .failure = Self.readRecord(FileBytes(region, length: length), at: next, verifyPayload: false) {
                    next += RecordHeader.alignment
                }
                offset = next
            }
        }
    }

    /// Checks a segment's hint file against the records just read. A sealed segment's must
    /// exist and list them all; the active segment's (left by a clean close) is optional and
    /// must list exactly the records of the synced prefix it covers.
    private func verifyHint(_ segment: Segment, length: Int, entries: [HintFile.Entry], report: inout VerifyReport) {
        func problem(_ message: String) {
            report.problems.append(.init(segment: segment.id, offset: 0, message: "hint file: \(message)"))
        }
        guard FileSystem.exists(segment.hintPath) else {
            // A writer's compaction may have retired the segment since this store was opened: it removes
            // the segment file before its hint, so a missing hint beside a missing segment is no damage.
            if segment.sealed, FileSystem.exists(segment.path) { problem("missing (open scans the segment instead)") }
            return
        }
        do {
            let hint = try segment.readHint()
            let covered = segment.sealed ? entries[...] : entries.prefix { $0.offset < hint.segmentLength }
            let lengthFits = segment.sealed ? hint.segmentLength == UInt64(length) : hint.segmentLength <= UInt64(length)
            if hint.segmentID != segment.id || !lengthFits {
                problem("describes segment \(hint.segmentID) of \(hint.segmentLength) bytes")
            } else if hint.entries != Array(covered) {
                problem(segment.sealed ? "entries differ from the segment's records" : "entries differ from the records of the prefix it covers")
            }
        } catch {
            if segment.sealed, !FileSystem.exists(segment.path) { return }  // retired meanwhile, as above
            problem("\(error)")
        }
    }
}
