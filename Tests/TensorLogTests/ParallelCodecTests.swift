import Foundation
import Testing
@testable import TensorLog
import TensorLogFormat

/// Tensors of several compressed row blocks are encoded on write and verified + decoded on read
/// on several threads (ParallelBlocks); these check that the pieces land in the right places and
/// that a damaged block is still reported.
@Suite("Parallel block codecs: multi-block compressed tensors")
struct ParallelCodecTests {
    /// A smooth, compressible signal of `count` floats.
    private func smooth(_ count: Int) -> [Float] {
        (0..<count).map { Float((100 * sin(Double($0) * 1e-3)).rounded() / 8) }
    }

    @Test("multi-block compressed tensors of every codec and element size round-trip, whole and by row range")
    func multiBlockRoundTrips() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 64 << 20))
        var generator = SeededGenerator(seed: 21)
        let rows = 1531, columns = 613  // about 3.6 MiB of float32, rows not a multiple of anything
        let values = smooth(rows * columns)
        var tensors: [String: Tensor] = [:]
        for compression in [Compression.lz4, .shuffleLZ4, .auto] {
            try store.put("f32-\(compression)", values, shape: [rows, columns],
                          options: WriteOptions(compression: compression, blockBytes: 256 << 10))
            tensors["f32-\(compression)"] = try Tensor(values, shape: [rows, columns])
        }
        for dtype in [DType.float64, .int16, .bfloat16, .uint8, .int32] {
            let count = 2_000_003 / dtype.size / 7 * 7
            var bytes = randomBytes(count * dtype.size, &generator)
            for index in stride(from: 0, to: bytes.count, by: dtype.size) { bytes[index] = 0 }  // compressible
            let tensor = try Tensor(dtype: dtype, shape: [count / 7, 7], bytes: bytes)
            try store.put("\(dtype.name)", tensor, options: WriteOptions(compression: .shuffleLZ4, blockBytes: 100_000))
            tensors[dtype.name] = tensor
        }
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 64 << 20))
        let snapshot = reopened.snapshot()
        for (key, tensor) in tensors {
            #expect(try snapshot.info(key).blockCount > 4, "\(key)")
            #expect(try snapshot.read(key) == tensor, "\(key)")
            let rowBytes = tensor.bytes.count / tensor.rows
            let range = 3..<(tensor.rows - 5)
            let part = try snapshot.read(key, rows: range)
            #expect(part.bytes == Array(tensor.bytes[range.lowerBound * rowBytes..<range.upperBound * rowBytes]), "\(key)")
        }
        #expect(try snapshot.info("f32-shuffleLZ4").codecs == [.shuffleLZ4])
    }

    @Test("a damaged payload in one block of a multi-block compressed tensor is reported by read, not returned")
    func damagedBlockIsReported() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 64 << 20))
        let rows = 1000, columns = 1024
        try store.put("x", smooth(rows * columns), shape: [rows, columns],
                      options: WriteOptions(compression: .shuffleLZ4, blockBytes: 256 << 10))
        // The payload of the fifth block: flip one byte of it in the file, under the live mapping.
        var target: (segment: UInt64, offset: Int)?
        var blocks = 0
        for id in UInt64(1)...4 {
            _ = try? store.records(inSegment: id) { summary in
                guard summary.header.key == "x", summary.header.storedSize > 100 else { return }
                blocks += 1
                if blocks == 5 {
                    target = (summary.segment, summary.offset + Int(summary.header.payloadOffset) + Int(summary.header.storedSize) / 2)
                }
            }
        }
        let (segment, offset) = try #require(target)
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: directory.store + "/" + String(format: "%08d.seg", segment)))
        try file.seek(toOffset: UInt64(offset))
        let original = try #require(try file.read(upToCount: 1)?.first)
        try file.seek(toOffset: UInt64(offset))
        try file.write(contentsOf: Data([original ^ 0x5A]))
        try file.close()

        let snapshot = store.snapshot()
        #expect(throws: TensorLogError.self) { try snapshot.read("x") }
        // Rows of undamaged blocks still read.
        #expect(try snapshot.read("x", rows: 0..<64).bytes.count == 64 * columns * 4)
    }
}
