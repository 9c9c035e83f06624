import TensorLogFormat

/// Records encoded back to back, as they will lie in a segment, so that a
/// write of many small records goes to the file in one `pwrite` instead of
/// one per record.
///
/// Owned by the store and used only under its writer lock, one write at a
/// time: it never holds bytes between two writes, so nothing a reader could
/// look up (nothing published) is ever only here.
final class RecordBuffer {
    private var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes encoded so far.
    private(set) var count = 0
    /// File offset of the first byte (meaningful while `count > 0`).
    var fileOffset = 0
    /// Hint entries of the records encoded so far, in order.
    var entries: [HintFile.Entry] = []

    /// Payloads up to this size are copied in; larger ones are written from the caller's memory.
    static let maxBufferedPayload = 64 << 10
    /// A run is written out once it reaches this many bytes.
    static let flushThreshold = 4 << 20
    /// Capacity kept between writes; a larger buffer is given back after the write that grew it.
    static let retainedCapacity = flushThreshold + 2 * maxBufferedPayload

    init(capacity: Int = 16 << 10) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// File offset just past the last record encoded.
    var endOffset: Int { fileOffset + count }

    /// Appends one record placed at `endOffset`: header (its payload offset set
    /// for that position), zero padding, payload, zero padding to a multiple of
    /// 64, exactly as `Segment.writeRecord` writes a record without a chunk table. Returns the record length.
    @discardableResult
    func append(_ header: inout RecordHeader, payload: UnsafeRawBufferPointer) -> Int {
        precondition(header.chunkTableCount == 0, "buffered payloads fit in one checksum chunk")
        let offset = endOffset
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: offset))
        let recordLength = header.recordLength
        let record = grow(by: recordLength)
        let headerLength = header.encode(into: record)
        let payloadStart = Int(header.payloadOffset)
        let payloadEnd = payloadStart + payload.count
        if payloadStart > headerLength {
            UnsafeMutableRawBufferPointer(rebasing: record[headerLength..<payloadStart]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        if !payload.isEmpty {
            UnsafeMutableRawBufferPointer(rebasing: record[payloadStart..<payloadEnd]).copyMemory(from: payload)
        }
        if recordLength > payloadEnd {
            UnsafeMutableRawBufferPointer(rebasing: record[payloadEnd..<recordLength]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        entries.append(HintFile.Entry(offset: UInt64(offset), header: header))
        return recordLength
    }

    /// Forgets the contents (after they were written, or when the write failed), starting the next run at `offset`.
    func reset(at offset: Int) {
        count = 0
        fileOffset = offset
        entries.removeAll(keepingCapacity: true)
    }

    /// Gives back memory a large batch made the buffer grow to.
    func shrinkIfLarge() {
        guard count == 0, capacity > Self.retainedCapacity else { return }
        base.deallocate()
        capacity = 16 << 10
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        entries = []
    }

    /// Extends the contents by `extra` uninitialized bytes and returns them.
    private func grow(by extra: Int) -> UnsafeMutableRawBufferPointer {
        if count + extra > capacity {
            var newCapacity = max(capacity, 1 << 12)
            while newCapacity < count + extra { newCapacity *= 2 }
            let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 64)
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = newBase
            capacity = newCapacity
        }
        let slice = UnsafeMutableRawBufferPointer(start: base + count, count: extra)
        count += extra
        return slice
    }
}
