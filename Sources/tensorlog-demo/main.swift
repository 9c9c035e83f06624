// The demo: builds a store in a local folder, streams a time series into it,
// stores a data set compressed and a weight matrix raw, reads them back
// zero-copy, overwrites and compacts, and prints what the store holds at each step.
import Foundation
import TensorLog

let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "demo-store"
try? FileManager.default.removeItem(atPath: path)

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

func printStatistics(_ store: TensorStore) {
    let stats = store.statistics()
    print("  keys \(stats.keys), sequence \(stats.sequence), \(stats.segments.count) segments, "
        + "\(megabytes(stats.totalBytes)) on disk, \(megabytes(stats.sealedDeadBytes)) reclaimable, "
        + String(format: "compression %.2fx", stats.compressionRatio))
    for segment in stats.segments {
        print("    segment \(segment.id): \(megabytes(segment.bytes)) (\(megabytes(segment.liveBytes)) live) \(segment.sealed ? "sealed" : "active")")
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

do {
    var options = StoreOptions()
    options.segmentSize = 32 << 20
    let store = try TensorStore.open(at: path, options: options)
    print("TensorLog demo: store at \(path)")

    // 1. A node's CPU and memory utilisation, streamed in as rows arrive.
    let rowsPerChunk = 500
    var generator = SystemRandomNumberGenerator()
    func utilisation(_ start: Int) -> [Float] {
        (start..<start + rowsPerChunk).flatMap { t -> [Float] in
            let cpu = 50 + 30 * sin(Float(t) / 60) + Float.random(in: -5...5, using: &generator)
            let memory = 40 + 10 * sin(Float(t) / 400) + Float.random(in: -2...2, using: &generator)
            return [cpu, memory]
        }
    }
    try store.put("node1/utilisation", utilisation(0), shape: [rowsPerChunk, 2], options: WriteOptions(metadata: ["columns": "cpu,memory"]))
    for chunk in 1..<40 {
        try store.append("node1/utilisation", utilisation(chunk * rowsPerChunk), shape: [rowsPerChunk, 2])
    }
    let series = try store.snapshot().info("node1/utilisation")
    print("\n1. streamed a utilisation series in 40 appends: shape \(series.shape), \(series.blockCount) row blocks")

    // 2. A data set (smooth features: they compress) and a weight matrix.
    let samples = 20_000, features = 256
    var data = [Float](repeating: 0, count: samples * features)
    for row in 0..<samples {
        for column in 0..<features { data[row * features + column] = sin(Float(row) / 50) * cos(Float(column) / 10) }
    }
    let labels = (0..<samples).map { Int32($0 % 10) }
    let weights = (0..<features * 128).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
    let writeTime = try seconds {
        try store.write { batch in
            batch.put("mnist-like/labels", try Tensor(labels))
            batch.put("model/w1", try Tensor(weights, shape: [features, 128]))
        }
        try store.put("mnist-like/features", data, shape: [samples, features], options: WriteOptions(compression: .auto))
        try store.sync()
    }
    let featureInfo = try store.snapshot().info("mnist-like/features")
    print("\n2. stored a [\(samples), \(features)] float32 data set (\(featureInfo.codecs.map(\.name).joined(separator: ","))): "
        + "\(megabytes(featureInfo.rawBytes)) raw -> \(megabytes(featureInfo.storedBytes)) stored, in \(String(format: "%.3f", writeTime)) s")
    printStatistics(store)

    // 3. Zero-copy reads: the weight matrix is used in place.
    let snapshot = store.snapshot()
    var sum: Float = 0
    let viewTime = try seconds {
        let view = try snapshot.view("model/w1")
        sum = try view.withUnsafeBufferPointer(as: Float.self) { $0.reduce(0, +) }
    }
    print("\n3. summed model/w1 through a zero-copy view in \(String(format: "%.1f", viewTime * 1e6)) µs: \(sum)")
    let window = try snapshot.read("node1/utilisation", rows: 9_990..<10_010)
    print("   rows 9990..<10010 of the series gathered across blocks: shape \(window.shape)")

    // 4. Overwrite, delete, compact: old versions stay readable until compacted away.
    for epoch in 1...3 {
        try store.put("model/w1", weights.map { $0 * Float(epoch) }, shape: [features, 128])
    }
    try store.delete("mnist-like/labels")
    print("\n4. model/w1 history: \(try store.history("model/w1").map(\.sequence))")
    let report = try store.compact(CompactionOptions(full: true))
    print("   full compaction: segments \(report.compactedSegments) -> \(report.newSegments), "
        + "\(megabytes(report.bytesBefore)) -> \(megabytes(report.bytesAfter)), \(report.tombstonesDropped) tombstone(s) dropped")
    try store.close()

    // 5. Reopen: the index is rebuilt from hint files.
    let reopenTime = try seconds { _ = try TensorStore.open(at: path, options: options) }
    let reopened = try TensorStore.open(at: path, options: { var o = options; o.readOnly = true; return o }())
    print("\n5. reopened in \(String(format: "%.1f", reopenTime * 1000)) ms; keys: \(reopened.snapshot().keys())")
    printStatistics(reopened)
} catch {
    FileHandle.standardError.write(Data("demo failed: \(error)\n".utf8))
    exit(1)
}
