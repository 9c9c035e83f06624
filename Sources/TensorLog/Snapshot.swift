import TensorLogCompression
import TensorLogFormat
import TensorLogSystem

/// One row block of a stored tensor.
public struct BlockInfo: Sendable, Equatable {
    /// The rows (along axis 0) the block holds.
    public let rows: Range<Int>
    public let codec: Codec
    public let storedBytes: Int
    public let rawBytes: Int
}

/// Facts about one stored tensor, as a snapshot sees it.
public struct TensorInfo: Sendable, Equatable {
    public let key: String
    public let dtype: DType
    public let shape: [Int]
    /// Sequence of the put that started this version.
    public let version: UInt64
    /// Row blocks the tensor is stored in.
    public let blockCount: Int
    /// Codecs of its blocks (one entry when they agree).
    public let codecs: [Codec]
    public let storedBytes: Int
    public let rawBytes: Int
    public let metadata: [String: String]
    /// Its row blocks in row order (one for a tensor stored whole).
    public let blocks: [BlockInfo]
}

/// A consistent, read-only view of a store at one sequence number.
///
/// Readers never block each other and wait for a writer only while it
/// publishes a change. While a snapshot exists, the versions it sees stay
/// readable even if they are overwritten, deleted or compacted away.
public final class Snapshot: @unchecked Sendable {
    public let sequence: UInt64
    let store: TensorStore

    init(store: TensorStore, sequence: UInt64) {
        self.store = store
        self.sequence = sequence
    }

    deinit { store.unpin(sequence) }

    func version(_ key: String) throws(TensorLogError) -> TensorVersion {
        let found = store.stateLock.withReadLock { store.index[key]?.version(at: sequence) }
        guard let found else { throw .notFound(key) }
        return found
    }

    /// Keys visible in this snapshot, sorted, optionally only those starting with `prefix`.
    public func keys(prefix: String = "") -> [String] {
        store.stateLock.withReadLock {
            store.index.compactMap { key, entry in
                key.hasPrefix(prefix) && entry.version(at: sequence) != nil ? key : nil
            }
        }.sorted()
    }

    public func contains(_ key: String) -> Bool {
        (try? version(key)) != nil
    }

    public func info(_ key: String) throws(TensorLogError) -> TensorInfo {
        let version = try version(key)
        let blocks = version.visibleBlocks(at: sequence)
        var codecs: [Codec] = []
        for block in blocks where !codecs.contains(block.codec) { codecs.append(block.codec) }
        return TensorInfo(
            key: key, dtype: version.dtype, shape: version.shape(at: sequence), version: version.sequence,
            blockCount: blocks.count, codecs: codecs, storedBytes: blocks.reduce(0) { $0 + $1.storedSize },
            rawBytes: blocks.reduce(0) { $0 + $1.rawSize },
            metadata: Dictionary(version.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
            blocks: blocks.map {
                BlockInfo(rows: $0.rowStart..<$0.rowStart + $0.rows, codec: $0.codec, storedBytes: $0.storedSize, rawBytes: $0.rawSize)
            })
    }

    /// A zero-copy view of the whole tensor. It must be stored uncompressed in
    /// a single block (use `read` or `blocks` otherwise).
    ///
    /// The bytes are checked against their stored checksums first (each 1 MiB chunk once per open
    /// store; the first view of a large tensor reads it once). `verify: false` skips that, for a
    /// caller that checks each part with `TensorView.verify()` just before it uses it.
    public func view(_ key: String, verify: Bool = true) throws(TensorLogError) -> TensorView {
        let version = try version(key)
        let blocks = version.visibleBlocks(at: sequence)
        guard blocks.count == 1 else {
            throw .invalid("'\(key)' is stored in \(blocks.count) row blocks; read it with read(_:) or blockViews(_:)")
        }
        return try blockView(blocks[0], version: version, key: key, verify: verify)
    }

    /// Zero-copy views of the tensor's row blocks, in row order. Every block must be uncompressed.
    /// Verified as `view(_:verify:)` says.
    public func blockViews(_ key: String, verify: Bool = true) throws(TensorLogError) -> [TensorView] {
        let version = try version(key)
        var views: [TensorView] = []
        for block in version.visibleBlocks(at: sequence) {
            views.append(try blockView(block, version: version, key: key, verify: verify))
        }
        return views
    }

    /// A zero-copy view of `rows` when they lie in one uncompressed block. Only the checksum
    /// chunks under those rows are verified (unless `verify: false`).
    public func view(_ key: String, rows: Range<Int>, verify: Bool = true) throws(TensorLogError) -> TensorView {
        let version = try version(key)
        let total = version.rows(at: sequence)
        guard version.rank > 0, rows.lowerBound >= 0, rows.upperBound <= total else {
            throw .invalid("rows \(rows) out of bounds for '\(key)' with \(total) rows")
        }
        guard let block = version.visibleBlocks(at: sequence).first(where: {
            $0.rowStart <= rows.lowerBound && rows.upperBound <= $0.rowStart + $0.rows
        }) else {
            throw .invalid("rows \(rows) of '\(key)' span several blocks; use read(_:rows:)")
        }
        let view = try blockView(block, version: version, key: key, verify: false)
            .rows(rows.lowerBound - block.rowStart..<rows.upperBound - block.rowStart)
        if verify { try view.verify() }
        return view
    }

    private func blockView(_ block: BlockRef, version: TensorVersion, key: String, verify: Bool) throws(TensorLogError) -> TensorView {
        guard block.codec == .none else {
            throw .invalid("'\(key)' is stored \(block.codec)-compressed: no zero-copy view; read it with read(_:)")
        }
        let region = store.stateLock.withReadLock { block.segment.region }
        let range = block.payloadStart..<block.payloadStart + block.storedSize
        if verify { try block.verify(in: region, key: key) }
        _ = try version.rowBytes(key)  // so that TensorView.rows(_:) cannot overflow
        let shape = version.rank == 0 ? [] : [block.rows] + version.innerShape
        return TensorView(dtype: version.dtype, shape: shape, region: region, range: range, source: (block, key))
    }

    /// Copies (decoding where compressed) the tensor, or a row range of it,
    /// into a new `Tensor`. Every block read is checksum-verified.
    public func read(_ key: String, rows: Range<Int>? = nil) throws(TensorLogError) -> Tensor {
        let version = try version(key)
        let total = version.rows(at: sequence)
        let range = rows ?? 0..<total
        guard range.lowerBound >= 0, range.upperBound <= total else {  // before allocating for them
            throw .invalid("rows \(range) out of bounds for '\(key)' with \(total) rows")
        }
        // Not zero-filled first: read(_:rows:into:) writes every byte (its blocks tile the rows).
        let count = try version.bytes(rows: range.count, key: key)
        var failure: TensorLogError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(TensorLogError) {
                adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
                try read(key, rows: range, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        let shape = version.rank == 0 ? [] : [range.count] + version.innerShape
        let metadata = Dictionary(version.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        return try Tensor(dtype: version.dtype, shape: shape, bytes: bytes, metadata: metadata)
    }

    /// Gathers `rows` of the tensor into `destination`, which must be exactly
    /// rows.count x row bytes long. Compressed blocks are decoded straight into
    /// it; every block read is checksum-verified. From 1 MiB of blocks up, the
    /// blocks are verified and decoded on several threads (the call returns when all are done).
    public func read(_ key: String, rows: Range<Int>, into destination: UnsafeMutableRawBufferPointer) throws(TensorLogError) {
        let version = try version(key)
        let total = version.rows(at: sequence)
        guard rows.lowerBound >= 0, rows.upperBound <= total else {
            throw .invalid("rows \(rows) out of bounds for '\(key)' with \(total) rows")
        }
        let rowBytes = try version.rowBytes(key)
        let expected = try version.bytes(rows: rows.count, key: key)
        guard destination.count == expected else {
            throw .invalid("destination holds \(destination.count) bytes; rows \(rows) of '\(key)' need \(expected)")
        }
        // The blocks that overlap `rows` are independent: each is verified and decoded (or copied)
        // into its own part of `destination`, on several threads when there is enough to do.
        var pieces: [(block: BlockRef, overlap: Range<Int>)] = []
        var pieceBytes = 0
        for block in version.visibleBlocks(at: sequence) {
            let lower = max(rows.lowerBound, block.rowStart)
            let upper = min(rows.upperBound, block.rowStart + block.rows)
            guard lower < upper || version.rank == 0 else { continue }
            pieces.append((block, lower..<max(lower, upper)))
            pieceBytes += block.rawSize
        }
        let parallel = pieceBytes >= ParallelBlocks.minimumParallelBytes
        try ParallelBlocks.forEach(pieces.count, parallel: parallel) { (index) throws(TensorLogError) in
            let (block, overlap) = pieces[index]
            let region = store.stateLock.withReadLock { block.segment.region }
            let target = version.rank == 0
                ? destination
                : UnsafeMutableRawBufferPointer(rebasing: destination[(overlap.lowerBound - rows.lowerBound) * rowBytes..<(overlap.upperBound - rows.lowerBound) * rowBytes])
            let skip = version.rank == 0 ? 0 : (overlap.lowerBound - block.rowStart) * rowBytes
            // Uncompressed: only the chunks under the rows read. Compressed: the whole block is decoded.
            try block.verify(block.codec == .none ? skip..<skip + target.count : nil, in: region, key: key)
            let payload = region.bytes(block.payloadStart..<block.payloadStart + block.storedSize)
            if block.codec == .none {
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[skip..<skip + target.count]))
            } else if skip == 0, target.count == block.rawSize {
                try decode(payload, block: block, dtype: version.dtype, into: target)
            } else {
                var scratch = [UInt8](repeating: 0, count: block.rawSize)
                try scratch.withMutableBytes { (whole) throws(TensorLogError) in
                    try decode(payload, block: block, dtype: version.dtype, into: whole)
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[skip..<skip + target.count]))
                }
            }
        }
    }

    private func decode(_ payload: UnsafeRawBufferPointer, block: BlockRef, dtype: DType, into target: UnsafeMutableRawBufferPointer) throws(TensorLogError) {
        do {
            try BlockCodec.decode(payload, codec: block.codec, elementSize: dtype.size, into: target)
        } catch {
            throw .corruption("cannot decode \(block.codec) block: \(error)", segment: block.segment.id, offset: block.offset)
        }
    }
}

/// A zero-copy, read-only view of stored tensor bytes in a mapped segment.
///
/// Lifetime: the view keeps the mapping it points into alive, so its bytes
/// stay valid as long as the view exists, even after the store is closed or
/// the segment compacted away. Pointers handed to the `withUnsafe...`
/// closures are valid only inside them. The memory is read-only: writing
/// through it crashes. Another process writing the store never cuts bytes a
/// view points into: writers truncate only torn tails and failed appends,
/// which no reader indexes (docs/FORMAT.md §10.6).
///
/// Verification: views from `Snapshot.view` and `blockViews` were checked
/// against their checksums unless `verify: false` was passed; `verify()`
/// checks an unverified one (only the 1 MiB chunks under it).
public struct TensorView: @unchecked Sendable {
    public let dtype: DType
    public let shape: [Int]
    let region: MappedRegion
    let range: Range<Int>
    /// The stored block the bytes belong to, and its key: what `verify()` checks them against.
    let source: (block: BlockRef, key: String)

    init(dtype: DType, shape: [Int], region: MappedRegion, range: Range<Int>, source: (block: BlockRef, key: String)) {
        self.dtype = dtype
        self.shape = shape
        self.region = region
        self.range = range
        self.source = source
    }

    /// Checks this view's bytes against their stored checksums: the 1 MiB chunks under the view,
    /// each once per open store (later calls on checked bytes cost a lookup). A mismatch throws a
    /// corruption error naming the key, segment and record offset.
    public func verify() throws(TensorLogError) {
        let start = source.block.payloadStart
        try source.block.verify(range.lowerBound - start..<range.upperBound - start, in: region, key: source.key)
    }

    public var byteCount: Int { range.count }
    public var elementCount: Int { range.count / dtype.size }

    /// The raw bytes, valid inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(region.bytes(range))
    }

    /// The elements as `T`, which must match the dtype; valid inside `body`.
    /// Payloads are at least 64-byte aligned, so the cast is always aligned.
    public func withUnsafeBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) throws -> R {
        guard T.dtype == dtype else { throw TensorLogError.invalid("view is \(dtype), not \(T.dtype)") }
        return try body(region.bytes(range).assumingMemoryBound(to: T.self))
    }

    /// A copy of the elements.
    public func toArray<T: TensorElement>(of type: T.Type) throws -> [T] {
        try withUnsafeBufferPointer(as: T.self) { Array($0) }
    }

    /// The sub-view of rows `rows` (axis 0).
    public func rows(_ rows: Range<Int>) -> TensorView {
        let rowBytes = shape.dropFirst().reduce(dtype.size, *)
        let start = range.lowerBound + rows.lowerBound * rowBytes
        return TensorView(
            dtype: dtype, shape: [rows.count] + shape.dropFirst(), region: region,
            range: start..<start + rows.count * rowBytes, source: source)
    }

    /// How a view's bytes are about to be used, passed on to the kernel.
    public enum AccessAdvice: Sendable {
        /// Read soon: start reading ahead now.
        case willNeed
        /// Read front to back: read ahead aggressively.
        case sequential
        /// Done for now: the pages may leave this process's resident memory (they stay in the page cache).
        case dontNeed
    }

    /// Hints the kernel about how these bytes will be used (read-ahead, release).
    public func advise(_ advice: AccessAdvice) {
        switch advice {
        case .willNeed: region.advise(.willNeed, range: range)
        case .sequential: region.advise(.sequential, range: range)
        case .dontNeed: region.advise(.dontNeed, range: range)
        }
    }
}
