import Foundation
import Testing
@testable import TensorLog

/// Risk covered: a process killed at any moment (mid-record, mid-roll-over,
/// mid-compaction) loses an acknowledged durable write, resurrects an old
/// value, tears a batch, or leaves a store that does not open.
@Suite("Crash: a writer killed with SIGKILL loses no acknowledged write", .serialized)
struct CrashTests {
    /// Iterations per mode: a short run by default, many with TENSORLOG_CRASH_ITERATIONS.
    static let iterations = Int(ProcessInfo.processInfo.environment["TENSORLOG_CRASH_ITERATIONS"] ?? "") ?? 6

    static var writerPath: String {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // The test bundle may sit inside an .xctest directory.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("tensorlog-crash-writer").path),
              directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("tensorlog-crash-writer").path
    }

    /// Runs the writer, kills it after `delay`, returns the acknowledged lines.
    static func runAndKill(store: String, mode: String, seed: UInt64, delay: Duration) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: writerPath)
        process.arguments = [store, mode, String(seed)]
        let output = Pipe()
        process.standardOutput = output
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stderr.isEmpty, "writer reported: \(stderr)")
        #expect(process.terminationReason == .uncaughtSignal, "writer exited by itself: \(stderr)")
        // The last line may be cut mid-write: keep whole lines only.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if !text.hasSuffix("\n") { lines.removeLast() }
        return lines.filter { !$0.isEmpty }
    }

    static func check(store path: String, acknowledged: [String: Int64], batch: Int64?) throws {
        var options = StoreOptions()
        options.segmentSize = 64 << 10
        options.autoCompactDeadFraction = nil
        let store = try TensorStore.open(at: path, options: options)
        let snapshot = store.snapshot()
        for (key, counter) in acknowledged {
            let values = try snapshot.read(key).values(as: Int64.self)
            let stored = try #require(values.first, "'\(key)' is empty")
            #expect(stored >= counter, "'\(key)' holds counter \(stored), older than the acknowledged \(counter)")
            let expected = [stored] + (1..<values.count).map { stored &* 31 &+ Int64($0) }
            #expect(values == expected, "'\(key)' holds a torn value")
        }
        if let batch {
            let counters = try ["batch/a", "batch/b", "batch/c"].map { try snapshot.read($0).values(as: Int64.self)[0] }
            #expect(Set(counters).count == 1, "batch torn: \(counters)")
            #expect(counters[0] >= batch)
        } else if snapshot.contains("batch/a") {
            let counters = try ["batch/a", "batch/b", "batch/c"].map { try snapshot.read($0).values(as: Int64.self)[0] }
            #expect(Set(counters).count == 1, "batch torn: \(counters)")
        }
        try store.close()
    }

    @Test("killed while writing and while compacting, over and over", arguments: ["write", "compact"])
    func killRepeatedly(mode: String) throws {
        let directory = TemporaryDirectory("crash\(mode)")
        var acknowledged: [String: Int64] = [:]
        var batch: Int64?
        var generator = SeededGenerator(seed: mode == "write" ? 11 : 12)
        var totalAcks = 0
        for iteration in 0..<Self.iterations {
            let delay = Duration.milliseconds(Int.random(in: 150...600, using: &generator))
            let lines = try Self.runAndKill(store: directory.store, mode: mode, seed: UInt64(iteration), delay: delay)
            for line in lines {
                let parts = line.split(separator: " ")
                if parts.count == 3, parts[0] == "ack", let counter = Int64(parts[2]) {
                    acknowledged[String(parts[1])] = counter
                    totalAcks += 1
                } else if parts.count == 3, parts[0] == "ack", parts[1] == "batch", let counter = Int64(parts[2]) {
                    batch = counter
                }
                if parts.count == 3, parts[1] == "batch", let counter = Int64(parts[2]) { batch = counter }
            }
            acknowledged = acknowledged.filter { $0.key != "batch" }
            try Self.check(store: directory.store, acknowledged: acknowledged, batch: batch)
        }
        #expect(totalAcks > Self.iterations * 10, "the writer made too little progress to test anything")
    }
}
