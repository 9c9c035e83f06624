import Foundation
import Testing
@testable import TensorLog

/// Risk covered: readers on many threads see a torn or inconsistent state,
/// crash on a segment that compaction retired, or block behind a writer.
@Suite("Concurrency: readers on many threads during writes and compaction")
struct ConcurrencyTests {
    /// Every value is [version, version, ...]: a reader can tell a whole value from a mix.
    static func value(_ version: Int, length: Int) -> [Int64] { [Int64](repeating: Int64(version), count: length) }

    @Test("snapshots stay consistent while a writer overwrites and compaction rewrites segments")
    func readersDuringWritesAndCompaction() async throws {
        let directory = TemporaryDirectory()
        var options = smallOptions(segmentSize: 32 << 10)
        options.autoCompactDeadFraction = 0.3  // compaction also starts by itself on roll-over
        let store = try TensorStore.open(at: directory.store, options: options)
        let keys = (0..<16).map { "k\($0)" }
        for key in keys { try store.put(key, Self.value(0, length: 64)) }
        let rounds = 150

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for version in 1...rounds {
                    try store.write { batch in
                        // A batch writes every key with the same version: snapshots must never mix versions.
                        for key in keys { batch.put(key, try Tensor(Self.value(version, length: 16 + version % 50))) }
                    }
                    if version % 25 == 0 { try store.compact(CompactionOptions(full: version % 50 == 0)) }
                }
                return 0
            }
            for reader in 0..<4 {
                group.addTask {
                    var reads = 0
                    var lastSeen = 0
                    while lastSeen < rounds {
                        let snapshot = store.snapshot()
                        var versions = Set<Int64>()
                        for key in keys.shuffled() {
                            let view = try snapshot.view(key)
                            let values = try view.toArray(of: Int64.self)
                            #expect(Set(values).count == 1, "reader \(reader): torn value in '\(key)'")
                            versions.insert(values[0])
                            reads += 1
                        }
                        #expect(versions.count == 1, "reader \(reader): snapshot mixes versions \(versions)")
                        let seen = Int(versions.first ?? 0)
                        #expect(seen >= lastSeen, "reader \(reader): went back from \(lastSeen) to \(seen)")
                        lastSeen = seen
                    }
                    return reads
                }
            }
            var total = 0
            for try await reads in group { total += reads }
            #expect(total > 0)
        }
        #expect(store.statistics().segments.count >= 1)
        try store.close()
        let reopened = try TensorStore.open(at: directory.store, options: options)
        for key in keys { #expect(try reopened.snapshot().read(key).values(as: Int64.self).first == Int64(rounds)) }
    }

    @Test("read-only opens racing the writer's compactions always open and read whole values")
    func readOnlyOpensDuringCompaction() async throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 16 << 10))
        for round in 0..<40 { try store.put("k\(round % 8)", Self.value(round, length: 200)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for round in 40..<200 {
                    try store.put("k\(round % 8)", Self.value(round, length: 200))
                    if round % 10 == 0 { try store.compact(CompactionOptions(full: true)) }
                }
            }
            group.addTask {
                var options = smallOptions(segmentSize: 16 << 10)
                options.readOnly = true
                for _ in 0..<60 {
                    let reader = try TensorStore.open(at: directory.store, options: options)
                    for key in reader.snapshot().keys() {
                        let values = try reader.snapshot().read(key).values(as: Int64.self)
                        #expect(Set(values).count == 1, "torn value in '\(key)'")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("verify in read-only opens beside a writer that writes, syncs and compacts finds no damage")
    func verifyBesideCompaction() async throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 16 << 10, durability: .everyWrite))
        for round in 0..<40 { try store.put("k\(round % 8)", Self.value(round, length: 200)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for round in 40..<240 {
                    try store.put("k\(round % 8)", Self.value(round, length: 200))
                    if round % 10 == 0 { try store.compact(CompactionOptions(full: round % 20 == 0)) }
                }
            }
            group.addTask {
                var options = smallOptions(segmentSize: 16 << 10)
                options.readOnly = true
                for _ in 0..<60 {
                    let reader = try TensorStore.open(at: directory.store, options: options)
                    let report = reader.verify()
                    #expect(report.isHealthy, "\(report.problems)")
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("read-only opens while a torn tail appears and is cut again never touch the cut bytes (no SIGBUS)")
    func readOnlyOpensBesideTailCuts() async throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 1 << 20))
        for round in 0..<20 { try store.put("k\(round)", Self.value(round, length: 100)) }
        try store.close()
        let segment = directory.store + "/00000001.seg"
        let length = UInt64(fileSize(segment))
        // What a dying writer and the next writer's open do to the tail, as fast as possible: a partial
        // record (a valid-looking header, then garbage) appears, then is cut off.
        let garbage = Data([UInt8](repeating: 0xA5, count: 256 << 10))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let handle = try #require(FileHandle(forUpdatingAtPath: segment))
                defer { try? handle.close() }
                for _ in 0..<300 {
                    try handle.seek(toOffset: length)
                    try handle.write(contentsOf: garbage)
                    try handle.truncate(atOffset: length)
                }
            }
            group.addTask {
                var options = smallOptions(segmentSize: 1 << 20)
                options.readOnly = true
                for _ in 0..<100 {
                    let reader = try TensorStore.open(at: directory.store, options: options)
                    #expect(reader.snapshot().keys().count == 20)
                    for key in reader.snapshot().keys() { _ = try reader.snapshot().read(key) }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("a view taken before compaction stays readable after its segment is retired")
    func viewOutlivesCompaction() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions(segmentSize: 8 << 10))
        try store.put("keep", (0..<500).map { Float($0) })
        for round in 0..<20 { try store.put("churn", [Float](repeating: Float(round), count: 400)) }
        let view = try store.snapshot().view("keep")
        let before = try FileManager.default.contentsOfDirectory(atPath: directory.store).filter { $0.hasSuffix(".seg") }
        try store.compact(CompactionOptions(full: true))
        #expect(try view.toArray(of: Float.self) == (0..<500).map { Float($0) })
        let after = try FileManager.default.contentsOfDirectory(atPath: directory.store).filter { $0.hasSuffix(".seg") }
        #expect(Set(before) != Set(after))
    }
}
