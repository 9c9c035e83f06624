import Foundation
import Testing
@testable import TensorLog

/// Risk covered: any sequence of operations (puts, appends, deletes, batches,
/// reopen, compaction) leaves the store disagreeing with what was written.
@Suite("Model-based: random operation sequences agree with an in-memory model")
struct ModelTests {
    /// The model: key -> (dtype, shape, bytes).
    typealias Model = [String: Tensor]

    static func check(_ store: TensorStore, against model: Model, step: Int) throws {
        let snapshot = store.snapshot()
        #expect(snapshot.keys() == model.keys.sorted(), "keys differ at step \(step)")
        for (key, expected) in model {
            let actual = try snapshot.read(key)
            #expect(actual.dtype == expected.dtype && actual.shape == expected.shape && actual.bytes == expected.bytes,
                    "'\(key)' differs at step \(step)")
        }
    }

    @Test("random put/append/delete/batch/reopen/compact sequences", arguments: [UInt64(1), 2, 3, 4])
    func randomSequences(seed: UInt64) throws {
        let directory = TemporaryDirectory("model\(seed)")
        var generator = SeededGenerator(seed: seed)
        let options = smallOptions(segmentSize: 16 << 10)
        var store = try TensorStore.open(at: directory.store, options: options)
        var model: Model = [:]
        let keys = (0..<12).map { "key\($0)" }
        let compressions: [Compression] = [.none, .lz4, .shuffleLZ4, .auto]
        var segmentsCompacted = 0

        func randomTensor(rows: Int? = nil, like existing: Tensor? = nil) throws -> Tensor {
            let dtype = existing?.dtype ?? [DType.float32, .int16, .uint8, .float64].randomElement(using: &generator)!
            let inner = existing.map { Array($0.shape.dropFirst()) } ?? [Int.random(in: 1...6, using: &generator)]
            let count = rows ?? Int.random(in: 0...40, using: &generator)
            let shape = [count] + inner
            let elements = shape.reduce(1, *)
            // Half the time compressible (small values), half noise.
            let bytes = Bool.random(using: &generator)
                ? (0..<elements * dtype.size).map { UInt8($0 % 7) }
                : randomBytes(elements * dtype.size, &generator)
            return try Tensor(dtype: dtype, shape: shape, bytes: bytes)
        }

        for step in 0..<400 {
            let key = keys.randomElement(using: &generator)!
            let write = WriteOptions(
                compression: compressions.randomElement(using: &generator)!,
                blockBytes: Bool.random(using: &generator) ? 200 : nil)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<40:
                let tensor = try randomTensor()
                try store.put(key, tensor, options: write)
                model[key] = tensor
            case 40..<55:
                guard let existing = model[key] else { continue }
                let rows = try randomTensor(rows: Int.random(in: 1...10, using: &generator), like: existing)
                _ = try rows.bytes.withUnsafeBytes { buffer in
                    try store.append(key, dtype: rows.dtype, shape: rows.shape, bytes: buffer, options: write)
                }
                model[key]!.shape[0] += rows.shape[0]
                model[key]!.bytes += rows.bytes
            case 55..<65:
                if model[key] == nil {
                    #expect(throws: TensorLogError.self) { try store.delete(key) }
                } else {
                    try store.delete(key)
                    model[key] = nil
                }
            case 65..<80:
                var staged = model
                try store.write(options: write) { batch in
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        let batchKey = keys.randomElement(using: &generator)!
                        if staged[batchKey] != nil, Bool.random(using: &generator) {
                            batch.delete(batchKey)
                            staged[batchKey] = nil
                        } else {
                            let tensor = try randomTensor()
                            batch.put(batchKey, tensor)
                            staged[batchKey] = tensor
                        }
                    }
                }
                model = staged
            case 80..<90:
                try store.close()
                store = try TensorStore.open(at: directory.store, options: options)
            default:
                let report = try store.compact(CompactionOptions(keepVersions: Int.random(in: 1...2, using: &generator), full: Bool.random(using: &generator), deadFraction: 0.3))
                segmentsCompacted += report.compactedSegments.count
            }
            if step % 10 == 0 { try Self.check(store, against: model, step: step) }
        }
        try Self.check(store, against: model, step: 400)
        #expect(segmentsCompacted > 0, "the sequence never compacted anything")
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: options)
        try Self.check(reopened, against: model, step: 401)
        // Nothing left to reclaim after a full compaction: every byte is live.
        try reopened.compact(CompactionOptions(full: true))
        try Self.check(reopened, against: model, step: 402)
        let stats = reopened.statistics()
        #expect(stats.sealedDeadBytes == 0)
    }
}
