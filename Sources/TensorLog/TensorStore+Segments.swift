import Foundation
import TensorLogFormat
import TensorLogSystem

extension TensorStore {
    /// Seals the active segment (fsync, hint file) and starts a new one; the
    /// manifest switch makes the change atomic. Writer lock held.
    func rollOver() throws(TensorLogError) {
        try syncActive(markDurably: true)
        let hint = HintFile(segmentID: active.id, segmentLength: UInt64(appendOffset), entries: activeEntries)
        do {
            try FileSystem.writeAtomically(hint.encoded(), to: active.hintPath, directory: directory)
        } catch {
            throw .io(error)
        }
        let newID = reserveSegmentID()
        let segment: Segment
        do {
            let file = try Self.createSegmentFile(directory, newID)
            segment = try Segment(
                id: newID, directory: directory, file: file, length: SegmentHeader.size, sealed: false,
                mapCapacity: options.segmentSize + (1 << 20))
        } catch {
            throw .io(error)
        }
        var next = manifest
        next.sealedSegments.append(active.id)
        next.activeSegment = newID
        next.nextSegmentID = max(next.nextSegmentID, newID + 1)
        next.sequenceFloor = lastSequence
        do {
            try installManifest(next)
        } catch {
            // Remove the new file only if the manifest never named it (the rename did not happen).
            if manifest.activeSegment != newID { try? FileSystem.remove(segment.path) }
            throw error
        }
        let sealed = active
        let sealedLength = appendOffset
        stateLock.withWriteLock {
            segments[newID] = segment
            sealed.length = sealedLength
            sealed.sealed = true
        }
        active = segment
        appendOffset = segment.length
        activeEntries = []
        if let threshold = options.autoCompactDeadFraction, sealedLength > SegmentHeader.size {
            scheduleAutoCompaction(threshold: threshold)
        }
    }

    /// After a sync, records a hint for the active segment's synced prefix, so
    /// the next open need not read and checksum every payload written so far.
    /// Best effort: without it, open scans the whole segment.
    func writeActivePrefixHint() {
        guard appendOffset > SegmentHeader.size else { return }
        let hint = HintFile(segmentID: active.id, segmentLength: UInt64(appendOffset), entries: activeEntries)
        try? FileSystem.writeAtomically(hint.encoded(), to: active.hintPath, directory: directory)
    }

    /// Replaces the manifest atomically. Before the rename nothing changed; a
    /// failure after it (the directory fsync) leaves it unknown whether the
    /// switch survives a crash, so writing stops until the store is reopened.
    func installManifest(_ proposed: Manifest) throws(TensorLogError) {
        var next = proposed
        next.writeVersion = SegmentHeader.writeVersion
        next.readVersion = SegmentHeader.readVersion
        let path = directory + "/" + Self.manifestName
        let temporary = path + ".tmp"
        do {
            let file = try SystemFile(path: temporary, mode: .createReadWrite)
            try file.truncate(to: 0)
            try file.write(next.encoded(), at: 0)
            try file.sync()
            try FileSystem.rename(temporary, to: path)
        } catch {
            try? FileSystem.remove(temporary)
            throw .io(error)
        }
        manifest = next
        do {
            try FileSystem.syncDirectory(directory)
        } catch {
            writerFailure = .io(error)
            throw .io(error)
        }
    }

    /// With group commit, a background thread fsyncs writes that have waited
    /// for the interval, so an idle store does not keep them unsynced until
    /// its next write. It ends when the store is closed or released.
    func startGroupCommitFlusher() {
        guard !options.readOnly, case .groupCommit(_, let milliseconds) = options.durability else { return }
        let interval = Double(max(milliseconds, 1)) / 1000
        let thread = Thread { [weak self] in
            while true {
                Thread.sleep(forTimeInterval: interval)
                guard let store = self, store.flushIfDue(interval: interval) else { return }
            }
        }
        thread.name = "tensorlog-group-commit"
        thread.start()
    }

    /// fsyncs if writes have waited at least `interval` seconds; false once the store is closed.
    private func flushIfDue(interval: Double) -> Bool {
        writerLock.withLock {
            guard !isClosed else { return false }
            let waited = ContinuousClock.now - lastSync
            if writerFailure == nil, unsyncedBytes > 0, waited >= .milliseconds(Int(interval * 1000)) {
                try? syncActive()
            }
            return true
        }
    }
}
