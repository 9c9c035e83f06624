import Foundation
import Testing
@testable import TensorLog

@Suite("Round trips: what is written is read back, byte for byte")
struct RoundTripTests {
    @Test("every dtype round-trips through put, reopen and read")
    func everyDTypeRoundTrips() throws {
        let directory = TemporaryDirectory()
        var generator = SeededGenerator(seed: 1)
        var expected: [String: Tensor] = [:]
        do {
            let store = try TensorStore.open(at: directory.store, options: smallOptions())
            for dtype in DType.allCases {
                let shape = [3, 5]
                let tensor = try Tensor(dtype: dtype, shape: shape, bytes: randomBytes(15 * dtype.size, &generator))
                try store.put("t/\(dtype.name)", tensor)
                expected["t/\(dtype.name)"] = tensor
            }
            try store.close()
        }
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        let snapshot = store.snapshot()
        #expect(snapshot.keys() == expected.keys.sorted())
        for (key, tensor) in expected {
            #expect(try snapshot.read(key) == tensor)
            let info = try snapshot.info(key)
            #expect(info.dtype == tensor.dtype)
            #expect(info.shape == tensor.shape)
        }
    }

    @Test("shape edge cases: rank 0, zero-size dimensions, rank 8")
    func shapeEdgeCases() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        let cases: [[Int]] = [[], [0], [4, 0, 3], [1, 1, 1, 1, 1, 1, 1, 2], [7]]
        for (number, shape) in cases.enumerated() {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { Float($0) + 0.5 }
            try store.put("shape\(number)", values, shape: shape)
        }
        #expect(throws: TensorLogError.self) { try store.put("rank9", [Float](repeating: 0, count: 1), shape: [1, 1, 1, 1, 1, 1, 1, 1, 1]) }
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions())
        let snapshot = reopened.snapshot()
        for (number, shape) in cases.enumerated() {
            let tensor = try snapshot.read("shape\(number)")
            #expect(tensor.shape == shape)
            #expect(try tensor.values(as: Float.self) == (0..<shape.reduce(1, *)).map { Float($0) + 0.5 })
        }
    }

    @Test("a zero-copy view reads the mapped bytes in place")
    func zeroCopyView() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        let values = (0..<1000).map { Float($0) }
        try store.put("w", values, shape: [100, 10])
        let view = try store.snapshot().view("w")
        #expect(view.shape == [100, 10])
        let sum = try view.withUnsafeBufferPointer(as: Float.self) { buffer in
            #expect(Int(bitPattern: buffer.baseAddress) % 64 == 0)
            return buffer.reduce(0, +)
        }
        #expect(sum == values.reduce(0, +))
        #expect(throws: TensorLogError.self) { try view.withUnsafeBufferPointer(as: Double.self) { _ in 0 } }
        let rows = try store.snapshot().view("w", rows: 10..<12)
        #expect(try rows.toArray(of: Float.self) == Array(values[100..<120]))
    }

    @Test("large payloads split into row blocks across segments, and row ranges gather across them")
    func largePayloadAcrossSegments() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 64 << 10))
        let rows = 2000, columns = 33
        let values = (0..<rows * columns).map { Float($0 % 977) * 0.25 }
        try store.put("big", values, shape: [rows, columns], options: WriteOptions(blockBytes: 20_000))
        let info = try store.snapshot().info("big")
        #expect(info.blockCount > 5)
        #expect(info.blocks.count == info.blockCount)
        #expect(info.blocks.first?.rows.lowerBound == 0 && info.blocks.last?.rows.upperBound == rows)
        #expect(zip(info.blocks, info.blocks.dropFirst()).allSatisfy { $0.rows.upperBound == $1.rows.lowerBound })
        #expect(info.shape == [rows, columns])
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 64 << 10))
        let snapshot = reopened.snapshot()
        #expect(try snapshot.read("big").values(as: Float.self) == values)
        let slice = try snapshot.read("big", rows: 150..<1234)
        #expect(try slice.values(as: Float.self) == Array(values[150 * columns..<1234 * columns]))
        #expect(throws: TensorLogError.self) { try snapshot.view("big") }
        let views = try snapshot.blockViews("big")
        #expect(views.reduce(0) { $0 + $1.shape[0] } == rows)
    }

    @Test("compressed codecs round-trip and auto keeps incompressible data raw")
    func compressionRoundTrips() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        var generator = SeededGenerator(seed: 7)
        let smooth = (0..<50_000).map { Float(sin(Double($0) / 100)) }
        let noise = randomBytes(40_000, &generator)
        for compression in [Compression.lz4, .shuffleLZ4, .auto] {
            try store.put("smooth-\(compression)", smooth, shape: [500, 100], options: WriteOptions(compression: compression, blockBytes: 64_000))
            try store.put("noise-\(compression)", noise, shape: [40_000], options: WriteOptions(compression: compression))
        }
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        let snapshot = reopened.snapshot()
        for compression in [Compression.lz4, .shuffleLZ4, .auto] {
            #expect(try snapshot.read("smooth-\(compression)").values(as: Float.self) == smooth)
            #expect(try snapshot.read("smooth-\(compression)", rows: 123..<377).values(as: Float.self) == Array(smooth[12300..<37700]))
            #expect(try snapshot.read("noise-\(compression)").values(as: UInt8.self) == noise)
        }
        #expect(try snapshot.info("smooth-auto").codecs == [.shuffleLZ4])
        #expect(try snapshot.info("smooth-auto").storedBytes < 200_000 * 9 / 10)
        #expect(try snapshot.info("noise-auto").codecs == [Codec.none])
        _ = try snapshot.view("noise-auto")
    }

    @Test("appended rows grow a tensor; older snapshots keep the old shape")
    func appendGrowsTensor() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        try store.put("series", [Float](repeating: 1, count: 6), shape: [3, 2])
        let before = store.snapshot()
        try store.append("series", [Float](repeating: 2, count: 4), shape: [2, 2])
        try store.append("series", [Float](repeating: 3, count: 2), shape: [1, 2])
        #expect(throws: TensorLogError.self) { try store.append("series", [Float](repeating: 3, count: 3), shape: [1, 3]) }
        #expect(throws: TensorLogError.self) { try store.append("series", [Double](repeating: 3, count: 2), shape: [1, 2]) }
        #expect(throws: TensorLogError.self) { try store.append("missing", [Float](repeating: 3, count: 2), shape: [1, 2]) }
        #expect(try before.info("series").shape == [3, 2])
        #expect(try store.snapshot().read("series").values(as: Float.self) == [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions())
        #expect(try reopened.snapshot().info("series").shape == [6, 2])
        #expect(try reopened.snapshot().read("series", rows: 2..<4).values(as: Float.self) == [1, 1, 2, 2])
    }

    @Test("versions: history lists earlier versions and each can be read")
    func versionsAndHistory() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        let first = try store.put("k", [Int32(1), 2, 3])
        let second = try store.put("k", [Int32(4), 5])
        try store.delete("k")
        let fourth = try store.put("k", [Int32(9)])
        let history = try store.history("k")
        #expect(history.map(\.sequence) == [fourth, fourth - 1, second, first])
        #expect(history.map(\.isDeletion) == [false, true, false, false])
        #expect(try store.read("k", version: first).values(as: Int32.self) == [1, 2, 3])
        #expect(try store.read("k", version: second).values(as: Int32.self) == [4, 5])
        #expect(throws: TensorLogError.self) { try store.read("k", version: 12345) }
    }

    @Test("atomic batches apply together")
    func batchesApplyTogether() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        try store.put("old", [Float(1)])
        try store.write { batch in
            try batch.put("a", [Float(1), 2])
            try batch.put("b", [Int64(7)])
            batch.delete("old")
        }
        let snapshot = store.snapshot()
        #expect(snapshot.keys() == ["a", "b"])
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions())
        #expect(reopened.snapshot().keys() == ["a", "b"])
        #expect(try reopened.snapshot().read("b").values(as: Int64.self) == [7])
    }
}
