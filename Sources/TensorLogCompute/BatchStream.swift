import TensorLog

/// How an epoch visits the rows of a data set. Every mode is reproducible from the seed and epoch.
public enum ShuffleMode: String, Sendable, Codable, CaseIterable {
    /// Rows in stored order.
    case none
    /// Chunks (row blocks) in random order, then contiguous batches within each chunk in random order.
    /// Keeps locality and zero-copy batches for float32 uncompressed data.
    case batches
    /// Chunks in random order, then rows within each chunk in random order; batches are gathered (copied).
    case rows
}

/// Mini-batches of a data set stored as tensors: features [N, D...] in any numeric dtype
/// and optional labels [N] (integer classes) or [N, K] / [N] (float targets).
///
/// Rows are visited chunk by chunk, where a chunk is a row block of the store
/// (large uncompressed blocks are split into chunks of at most `maxChunkBytes`).
/// A batch of float32 rows inside an uncompressed block is a pointer into the
/// mapped block (zero copy); other dtypes are converted, and compressed blocks
/// decoded once per chunk, into buffers allocated once and reused (as are batches
/// of a model trained with feature scaling, scaled on the way). The next
/// chunk is advised `willNeed` and a consumed one `dontNeed`, so resident memory
/// stays flat however large the data set.
public final class BatchStream {
    /// One mini-batch; its pointers are valid only inside the `forEachBatch` body.
    public struct Batch {
        /// Number of rows.
        public let rows: Int
        /// rows x width float32 features, row-major.
        public let features: UnsafeBufferPointer<Float>
        /// Class indices (classification labels), one per row.
        public let classes: UnsafeBufferPointer<Int32>?
        /// rows x targetWidth float targets (regression labels).
        public let targets: UnsafeBufferPointer<Float>?
        /// True when `features` points straight into the store's mapped block.
        public let isZeroCopy: Bool
        /// Row of the first element in the tensor, for contiguous batches (nil for gathered ones).
        public let firstRow: Int?
    }

    struct Chunk {
        let rows: Range<Int>
        /// A zero-copy view of exactly these rows when they are uncompressed in one block.
        let view: TensorView?
    }

    /// The snapshot every batch is read from (its versions stay readable while the stream lives).
    public let snapshot: Snapshot
    /// Key of the features tensor.
    public let featureKey: String
    /// Key of the labels tensor, if any.
    public let labelKey: String?
    /// Stored dtype of the features.
    public let featureType: DType
    /// Stored dtype of the labels.
    public let labelType: DType?
    /// Rows N.
    public let rowCount: Int
    /// Feature elements per row D.
    public let width: Int
    /// Label elements per row (1 for classes).
    public let labelWidth: Int
    /// How labels are interpreted.
    public let task: Task?
    /// Largest batch, in rows.
    public let batchSize: Int
    let chunks: [Chunk]
    let maxChunkRows: Int

    /// Batches served straight from mapped memory / through a buffer, since creation.
    public private(set) var zeroCopyBatches = 0
    public private(set) var copiedBatches = 0
    /// Peak RssAnon sampled after each chunk.
    public var memory = PeakMemoryTracker()
    /// Feature scaling applied to every batch (into the batch buffer, so batches are then copies, not views).
    var scaler: FeatureScaler? {
        didSet { precondition(scaler.map { $0.width == width } ?? true, "scaling of \(scaler!.width) columns for \(width) features") }
    }

    // Reusable buffers, allocated once.
    let batchBuffer: UnsafeMutablePointer<Float>
    var chunkBytes: UnsafeMutableRawBufferPointer?
    let labelBytes: UnsafeMutableRawBufferPointer
    let chunkClasses: UnsafeMutablePointer<Int32>
    let chunkTargets: UnsafeMutablePointer<Float>
    let batchClasses: UnsafeMutablePointer<Int32>
    let batchTargets: UnsafeMutablePointer<Float>

    /// Plans the chunks of `features` (and checks `labels` against it).
    /// - Parameters:
    ///   - task: how to read labels; nil infers it (integer dtype: classification, float: regression).
    ///   - maxChunkBytes: upper bound on a zero-copy chunk, the unit of shuffling and of `advise`.
    public init(
        snapshot: Snapshot, features: String, labels: String? = nil, task: Task? = nil,
        batchSize: Int, maxChunkBytes: Int = 8 << 20
    ) throws {
        guard batchSize > 0 else { throw ComputeError("batch size must be positive") }
        let info = try snapshot.info(features)
        guard Convert.supportedFeatureTypes.contains(info.dtype) else {
            throw ComputeError("features '\(features)' are \(info.dtype); supported: float32/64, float16, bfloat16, int8/16/32/64, uint8")
        }
        guard let n = info.shape.first else { throw ComputeError("features '\(features)' must have a row axis") }
        self.snapshot = snapshot
        self.featureKey = features
        self.labelKey = labels
        self.featureType = info.dtype
        // Overflow-checked (a stored shape whose rows overflow is an error, not a trap); and no
        // zero-width rows, whose count is not bounded by any bytes in the store.
        let rowBytes = try info.rowBytes()
        guard rowBytes > 0 else { throw ComputeError("features '\(features)' have shape \(info.shape): rows of no values") }
        self.rowCount = n
        self.width = rowBytes / info.dtype.size
        self.batchSize = batchSize

        // Chunks: uncompressed blocks (split to maxChunkBytes), else an even split matching the writer's blocks.
        var chunks: [Chunk] = []
        let rowsPerChunkCap = Swift.max(1, maxChunkBytes / Swift.max(rowBytes, 1))
        // Views are planned unverified; each chunk is verified just before its batches use it
        // (forEachBatch), while its bytes are in cache for the kernels anyway.
        if let views = try? snapshot.blockViews(features, verify: false) {
            var start = 0
            for view in views {
                let rows = view.shape.first ?? 0
                var offset = 0
                while offset < rows {
                    let count = Swift.min(rowsPerChunkCap, rows - offset)
                    chunks.append(Chunk(rows: start + offset..<start + offset + count, view: view.rows(offset..<offset + count)))
                    offset += count
                }
                start += rows
            }
        } else {
            // The store does not expose block row ranges, so chunks follow the writer's even split
            // (exact for tensors written by one put); a chunk that lies in one raw block is still viewed.
            let blocks = Swift.max(info.blockCount, 1)
            let per = Swift.max(1, Swift.min((n + blocks - 1) / blocks, rowsPerChunkCap))
            var start = 0
            while start < n {
                let range = start..<Swift.min(n, start + per)
                chunks.append(Chunk(rows: range, view: try? snapshot.view(features, rows: range, verify: false)))
                start = range.upperBound
            }
        }
        self.chunks = chunks
        maxChunkRows = chunks.map(\.rows.count).max() ?? 0

        // Labels.
        var labelWidth = 1
        var labelType: DType? = nil
        var resolved = task
        if let labels {
            let labelInfo = try snapshot.info(labels)
            guard labelInfo.shape.first == n else {
                throw ComputeError("labels '\(labels)' have shape \(labelInfo.shape); features have \(n) rows")
            }
            labelWidth = try labelInfo.rowElements()
            labelType = labelInfo.dtype
            let isInteger = Convert.supportedLabelTypes.contains(labelInfo.dtype)
            if resolved == nil { resolved = isInteger ? .classification : .regression }
            if resolved == .classification {
                guard isInteger, labelWidth == 1 else {
                    throw ComputeError("classification needs integer labels of shape [N]; '\(labels)' is \(labelInfo.dtype) \(labelInfo.shape)")
                }
            } else {
                guard Convert.supportedFeatureTypes.contains(labelInfo.dtype) else {
                    throw ComputeError("regression targets '\(labels)' are \(labelInfo.dtype)")
                }
            }
        }
        self.labelWidth = labelWidth
        self.labelType = labelType
        self.task = resolved

        // Sized by rows that exist (a batch never crosses a chunk), not by the batch size alone: n rows of
        // `width` values are bytes in the store, so these products fit (a label row fits as the labels' shape does).
        let batchRows = Swift.min(batchSize, maxChunkRows)
        batchBuffer = .allocate(capacity: Swift.max(1, batchRows * width))
        labelBytes = .allocate(byteCount: Swift.max(1, maxChunkRows * labelWidth * (labelType?.size ?? 1)), alignment: 64)
        chunkClasses = .allocate(capacity: Swift.max(1, maxChunkRows))
        chunkTargets = .allocate(capacity: Swift.max(1, maxChunkRows * labelWidth))
        batchClasses = .allocate(capacity: Swift.max(1, batchRows))
        batchTargets = .allocate(capacity: Swift.max(1, batchRows * labelWidth))
    }

    deinit {
        batchBuffer.deallocate()
        chunkBytes?.deallocate()
        labelBytes.deallocate()
        chunkClasses.deallocate()
        chunkTargets.deallocate()
        batchClasses.deallocate()
        batchTargets.deallocate()
    }

    /// Number of chunks (the unit of shuffling and read-ahead).
    public var chunkCount: Int { chunks.count }

    /// Calls `body` with every batch of one epoch, in the order `shuffle` and (`seed`, `epoch`) determine.
    /// Batches never cross a chunk boundary, so a chunk's last batch may be short.
    public func forEachBatch(epoch: Int = 0, seed: UInt64 = 0, shuffle: ShuffleMode = .none, _ body: (Batch) throws -> Void) throws {
        var rng = Xoshiro256(seed: seed, stream: UInt64(epoch))
        var order = Array(chunks.indices)
        if shuffle != .none { rng.shuffle(&order) }
        order.first.flatMap { chunks[$0].view }?.advise(.willNeed)
        for (position, index) in order.enumerated() {
            let chunk = chunks[index]
            if position + 1 < order.count { chunks[order[position + 1]].view?.advise(.willNeed) }
            try loadLabels(chunk)
            if let view = chunk.view {
                try view.verify()
                try view.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
                    try runChunk(chunk, source: raw.baseAddress!, mapped: true, shuffle: shuffle, rng: &rng, body)
                }
                view.advise(.dontNeed)
            } else {
                let source = try decode(chunk)
                try runChunk(chunk, source: UnsafeRawPointer(source), mapped: false, shuffle: shuffle, rng: &rng, body)
            }
            memory.sample()
        }
    }

    /// Decodes (and checksum-verifies) a chunk that has no zero-copy view into the reusable chunk buffer.
    func decode(_ chunk: Chunk) throws -> UnsafeMutableRawPointer {
        let rowBytes = width * featureType.size
        if chunkBytes == nil {
            chunkBytes = .allocate(byteCount: Swift.max(1, maxChunkRows * rowBytes), alignment: 64)
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: chunkBytes![0..<chunk.rows.count * rowBytes])
        try snapshot.read(featureKey, rows: chunk.rows, into: target)
        return chunkBytes!.baseAddress!
    }

    func loadLabels(_ chunk: Chunk) throws {
        guard let labelKey, let labelType else { return }
        let count = chunk.rows.count * labelWidth
        func convert(_ source: UnsafeRawPointer) throws {
            if task == .classification {
                try Convert.toClassIndices(source, dtype: labelType, count: count, into: chunkClasses)
            } else {
                try Convert.toFloat(source, dtype: labelType, count: count, into: chunkTargets)
            }
        }
        // Uncompressed labels are converted straight from the mapped block; others are decoded first.
        if let view = try? snapshot.view(labelKey, rows: chunk.rows) {
            try view.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in try convert(raw.baseAddress!) }
            return
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: labelBytes[0..<count * labelType.size])
        try snapshot.read(labelKey, rows: chunk.rows, into: target)
        try convert(labelBytes.baseAddress!)
    }

    func runChunk(
        _ chunk: Chunk, source: UnsafeRawPointer, mapped: Bool, shuffle: ShuffleMode, rng: inout Xoshiro256,
        _ body: (Batch) throws -> Void
    ) throws {
        let rowBytes = width * featureType.size
        let hasClasses = labelKey != nil && task == .classification
        let hasTargets = labelKey != nil && task == .regression
        let n = chunk.rows.count
        if shuffle == .rows {
            var rows = Array(0..<n)
            rng.shuffle(&rows)
            var start = 0
            while start < n {
                let count = Swift.min(batchSize, n - start)
                for i in 0..<count {
                    let r = rows[start + i]
                    try Convert.toFloat(source + r * rowBytes, dtype: featureType, count: width, into: batchBuffer + i * width)
                    if hasClasses { batchClasses[i] = chunkClasses[r] }
                    if hasTargets { (batchTargets + i * labelWidth).update(from: chunkTargets + r * labelWidth, count: labelWidth) }
                }
                scaler?.apply(batchBuffer, rows: count, into: batchBuffer)
                copiedBatches += 1
                try body(Batch(
                    rows: count, features: UnsafeBufferPointer(start: batchBuffer, count: count * width),
                    classes: hasClasses ? UnsafeBufferPointer(start: batchClasses, count: count) : nil,
                    targets: hasTargets ? UnsafeBufferPointer(start: batchTargets, count: count * labelWidth) : nil,
                    isZeroCopy: false, firstRow: nil))
                start += count
            }
            return
        }
        var starts = Array(stride(from: 0, to: n, by: batchSize))
        if shuffle == .batches { rng.shuffle(&starts) }
        for start in starts {
            let count = Swift.min(batchSize, n - start)
            let features: UnsafePointer<Float>
            let zeroCopy: Bool
            if featureType == .float32 && scaler == nil {
                // Mapped block, or the chunk buffer a compressed block was decoded into: no further copy.
                features = (source + start * rowBytes).assumingMemoryBound(to: Float.self)
                zeroCopy = mapped
            } else {
                if featureType == .float32 {
                    scaler!.apply((source + start * rowBytes).assumingMemoryBound(to: Float.self), rows: count, into: batchBuffer)
                } else {
                    try Convert.toFloat(source + start * rowBytes, dtype: featureType, count: count * width, into: batchBuffer)
                    scaler?.apply(batchBuffer, rows: count, into: batchBuffer)
                }
                features = UnsafePointer(batchBuffer)
                zeroCopy = false
            }
            if zeroCopy { zeroCopyBatches += 1 } else { copiedBatches += 1 }
            try body(Batch(
                rows: count, features: UnsafeBufferPointer(start: features, count: count * width),
                classes: hasClasses ? UnsafeBufferPointer(start: chunkClasses + start, count: count) : nil,
                targets: hasTargets ? UnsafeBufferPointer(start: chunkTargets + start * labelWidth, count: count * labelWidth) : nil,
                isZeroCopy: zeroCopy, firstRow: chunk.rows.lowerBound + start))
        }
    }
}
