import Foundation
import Testing
import TensorLog
@testable import TensorLogCompute

@Suite("Batch streaming")
struct StreamTests {
    /// Rows whose first feature is the row number; labels are row % 5.
    func writeIndexed(_ store: TensorStore, rows: Int, width: Int, options: WriteOptions) throws {
        var x = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows { for j in 0..<width { x[r * width + j] = Float(r) + Float(j) / 100 } }
        try store.put("x", x, shape: [rows, width], options: options)
        try store.put("x16", x.map { Float16($0) }, shape: [rows, width], options: options)
        try store.put("y", (0..<rows).map { Int32($0 % 5) }, shape: [rows], options: options)
    }

    @Test("float32 uncompressed batches are pointers into the mapped block: batch address equals the view's address")
    func zeroCopyPointer() throws {
        let tmp = try TemporaryStore()
        try writeIndexed(tmp.store, rows: 100, width: 4, options: WriteOptions(blockBytes: 40 * 16))
        let snapshot = tmp.store.snapshot()
        #expect(try snapshot.info("x").blockCount == 3)
        let stream = try BatchStream(snapshot: snapshot, features: "x", labels: "y", batchSize: 8)
        var seen = 0
        try stream.forEachBatch(epoch: 0, seed: 1, shuffle: .batches) { batch in
            #expect(batch.isZeroCopy)
            let first = try #require(batch.firstRow)
            let view = try snapshot.view("x", rows: first..<first + batch.rows)
            let address = view.withUnsafeBytes { $0.baseAddress }
            #expect(UnsafeRawPointer(batch.features.baseAddress!) == address)
            for i in 0..<batch.rows { #expect(batch.classes![i] == Int32((first + i) % 5)) }
            seen += batch.rows
        }
        #expect(seen == 100)
        #expect(stream.zeroCopyBatches == stream.copiedBatches + 5 + 5 + 3 && stream.copiedBatches == 0)
    }

    @Test("every shuffle mode visits each row once with its own label, for raw, compressed and float16 data; order is reproducible per (seed, epoch)")
    func shuffleCoverage() throws {
        for compression in [Compression.none, .shuffleLZ4, .lz4] {
            let tmp = try TemporaryStore()
            try writeIndexed(tmp.store, rows: 203, width: 3, options: WriteOptions(compression: compression, blockBytes: 64 * 12))
            let snapshot = tmp.store.snapshot()
            for key in ["x", "x16"] {
                let stream = try BatchStream(snapshot: snapshot, features: key, labels: "y", batchSize: 10)
                for mode in ShuffleMode.allCases {
                    func order(epoch: Int) throws -> [Int] {
                        var rows: [Int] = []
                        try stream.forEachBatch(epoch: epoch, seed: 42, shuffle: mode) { batch in
                            for i in 0..<batch.rows {
                                let row = Int(batch.features[i * 3].rounded())
                                #expect(abs(batch.features[i * 3 + 2] - (Float(row) + 0.02)) < 0.5)
                                #expect(batch.classes![i] == Int32(row % 5))
                                rows.append(row)
                            }
                            if compression != .none || key == "x16" { #expect(!batch.isZeroCopy) }
                        }
                        return rows
                    }
                    let first = try order(epoch: 0)
                    #expect(first.sorted() == Array(0..<203), "\(compression) \(key) \(mode)")
                    #expect(try order(epoch: 0) == first)
                    if mode == .none {
                        #expect(first == Array(0..<203))
                    } else {
                        #expect(try order(epoch: 1) != first)
                    }
                }
            }
        }
    }

    @Test("float targets of shape [N] and [N, K] stream as regression targets")
    func regressionTargets() throws {
        let tmp = try TemporaryStore()
        try tmp.store.put("x", (0..<20).map { Float($0) }, shape: [10, 2])
        try tmp.store.put("t", (0..<30).map { Double($0) }, shape: [10, 3])
        let stream = try BatchStream(snapshot: tmp.store.snapshot(), features: "x", labels: "t", batchSize: 4)
        #expect(stream.task == .regression && stream.labelWidth == 3)
        try stream.forEachBatch { batch in
            let first = batch.firstRow!
            #expect(Array(batch.targets!) == (first * 3..<(first + batch.rows) * 3).map { Float($0) })
        }
    }
}
