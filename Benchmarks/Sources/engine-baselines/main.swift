// Side-by-side measurements of the engine against the machine's own limits,
// in one run on the same file system, reported as medians and ratios:
//   - sequential put of a 1 GiB tensor vs `dd` writing 1 GiB (without fsync, and with fsync at the end)
//   - summing a cached 1 GiB float32 tensor through its zero-copy view vs the same bytes in anonymous memory
//   - the cost of getting a view; the first, verified view of it in a fresh open vs an unverified one; a one-row read
//   - point reads of 1 KiB tensors; open with hint files vs scanning
//
// Usage: swift run -c release engine-baselines [--dir DIR] [--repeats N] [--keys N] [--gib N]
// With TENSORLOG_BENCH_SMOKE=1 (scripts/bench-smoke) it checks that everything runs: 64 MiB instead of 1 GiB,
// one repeat, 10,000 keys, 100,000 reads, and the page cache is not dropped. Its figures mean nothing.
import FloatSum
import Foundation
import TensorLog

struct Options {
    static let smoke = ProcessInfo.processInfo.environment["TENSORLOG_BENCH_SMOKE"] == "1"
    var directory = FileManager.default.currentDirectoryPath + "/.bench-data"
    var repeats = Self.smoke ? 1 : 5
    var keys = Self.smoke ? 10_000 : 1_000_000
    var gib = 1

    init() {
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--dir": directory = arguments.next() ?? directory
            case "--repeats": repeats = Int(arguments.next() ?? "") ?? repeats
            case "--keys": keys = Int(arguments.next() ?? "") ?? keys
            case "--gib": gib = Int(arguments.next() ?? "") ?? gib
            default: fatalError("unknown argument \(argument)")
            }
        }
    }
}

let options = Options()
if let keep = ProcessInfo.processInfo.environment["TENSORLOG_BENCH_ONLY_OPEN"] {
    // Profiling aid: time opens of an existing store.
    var pointOptions = StoreOptions()
    pointOptions.autoCompactDeadFraction = nil
    for _ in 0..<3 {
        let start = ContinuousClock.now
        var store: TensorStore? = try TensorStore.open(at: keep, options: pointOptions)
        print("open:", ContinuousClock.now - start)
        store = nil  // freeing the index is not part of opening
        _ = store
    }
    exit(0)
}
let smoke = Options.smoke
let bytes = smoke ? 64 << 20 : options.gib << 30
let sizeLabel = smoke ? "64 MiB" : "\(options.gib) GiB"
if ProcessInfo.processInfo.environment["TENSORLOG_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: options.directory) }
try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func shell(_ command: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try! process.run()
    process.waitUntilExit()
    precondition(process.terminationStatus == 0, "command failed: \(command)")
}

/// Flushes and drops the page cache (as root), so every timed write starts from the same state.
/// Not in smoke mode, whose figures mean nothing: it would only slow whatever else runs on the machine.
func settle() {
    if smoke { return }
    shell("sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true")
}

func gbps(_ seconds: Double, _ count: Int = bytes) -> Double { Double(count) / seconds / 1e9 }


var rows: [(String, String, String, String)] = []
@MainActor func report(_ name: String, _ tensorlog: String, _ baseline: String, _ ratio: String) {
    rows.append((name, tensorlog, baseline, ratio))
    print("\(name): \(tensorlog) vs \(baseline) -> \(ratio)")
}

// The source data: 1 GiB (64 MiB in smoke mode) of float32 in anonymous memory, touched so it is resident.
let count = bytes / 4
let source = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
for index in 0..<count { source[index] = Float(index & 1023) * 0.5 }
defer { source.deallocate() }
let sourcePath = "/dev/shm/tensorlog-bench-source-\(ProcessInfo.processInfo.processIdentifier).bin"
FileManager.default.createFile(atPath: sourcePath, contents: Data(buffer: source))
defer { try? FileManager.default.removeItem(atPath: sourcePath) }

// 1. Sequential write: dd and put alternate, so both see the same machine state.
var ddNoSync: [Double] = [], ddSync: [Double] = [], putNoSync: [Double] = [], putSync: [Double] = []
var storeOptions = StoreOptions()
storeOptions.segmentSize = bytes + (64 << 20)
storeOptions.durability = .none
storeOptions.autoCompactDeadFraction = nil
for round in 0..<options.repeats {
    let ddPath = options.directory + "/dd.bin"
    // dd copies the same bytes TensorLog writes, from tmpfs (memory), so neither side writes zeros.
    settle()
    ddNoSync.append(seconds { shell("dd if=\(sourcePath) of=\(ddPath) bs=1M") })
    shell("rm -f \(ddPath)")
    settle()
    ddSync.append(seconds { shell("dd if=\(sourcePath) of=\(ddPath) bs=1M conv=fsync") })
    shell("rm -f \(ddPath)")

    let storePath = options.directory + "/put\(round)"
    let store = try TensorStore.open(at: storePath, options: storeOptions)
    settle()
    putNoSync.append(try seconds {
        try store.put("w", dtype: .float32, shape: [count / 1024, 1024], bytes: UnsafeRawBufferPointer(source))
    })
    try store.close()
    shell("rm -rf \(storePath)")
    let synced = try TensorStore.open(at: storePath, options: storeOptions)
    settle()
    putSync.append(try seconds {
        try synced.put("w", dtype: .float32, shape: [count / 1024, 1024], bytes: UnsafeRawBufferPointer(source))
        try synced.sync()
    })
    try synced.close()
    shell("rm -rf \(storePath)")
}
func samples(_ name: String, _ values: [Double]) {
    print("  \(name) samples (GB/s): " + values.map { String(format: "%.2f", gbps($0)) }.joined(separator: " "))
}
samples("put", putNoSync)
samples("dd", ddNoSync)
samples("put+fsync", putSync)
samples("dd conv=fsync", ddSync)
report("sequential write \(sizeLabel), no fsync (GB/s)", String(format: "%.2f", gbps(median(putNoSync))),
       String(format: "dd %.2f", gbps(median(ddNoSync))), String(format: "%.0f%%", 100 * median(ddNoSync) / median(putNoSync)))
report("sequential write \(sizeLabel), fsync at end (GB/s)", String(format: "%.2f", gbps(median(putSync))),
       String(format: "dd conv=fsync %.2f", gbps(median(ddSync))), String(format: "%.0f%%", 100 * median(ddSync) / median(putSync)))

// 2. Summing a cached tensor through its zero-copy view vs anonymous memory.
let storePath = options.directory + "/read"
let store = try TensorStore.open(at: storePath, options: storeOptions)
try store.put("w", dtype: .float32, shape: [count / 1024, 1024], bytes: UnsafeRawBufferPointer(source))
try store.sync()
let snapshot = store.snapshot()
let view = try snapshot.view("w")
_ = try view.withUnsafeBufferPointer(as: Float.self) { sum($0) }  // fault the pages in: "cached"
var viewSums: [Double] = [], anonymousSums: [Double] = []
var sink: Float = 0
for _ in 0..<max(options.repeats, 5) {
    anonymousSums.append(seconds { sink += sum(UnsafeBufferPointer(source)) })
    viewSums.append(try seconds { sink += try view.withUnsafeBufferPointer(as: Float.self) { sum($0) } })
}
report("sum \(sizeLabel) float32 (GB/s)", String(format: "view %.2f", gbps(median(viewSums))),
       String(format: "anonymous %.2f", gbps(median(anonymousSums))), String(format: "%.0f%%", 100 * median(anonymousSums) / median(viewSums)))

// 3. Getting a view: no copy, so it should cost microseconds.
var viewCosts: [Double] = []
for _ in 0..<1000 {
    viewCosts.append(try seconds { _ = try snapshot.view("w") })
}
report("get a zero-copy view of a \(sizeLabel) tensor (µs)", String(format: "%.2f", median(viewCosts) * 1e6), "-", "-")
try store.close()

// 3b. Verification: the first view of the cached tensor in a freshly opened store checksums every 1 MiB chunk
// once (later views are free); against an unverified view. And a one-row read, which checks one chunk only.
var readOnly = storeOptions
readOnly.readOnly = true
var verifiedFirst: [Double] = [], unverifiedFirst: [Double] = [], verifiedSum: [Double] = [], unverifiedSum: [Double] = []
var oneRow: [Double] = []
for _ in 0..<max(options.repeats, 5) {
    do {
        let fresh = try TensorStore.open(at: storePath, options: readOnly).snapshot()
        var first: TensorView?
        verifiedFirst.append(try seconds { first = try fresh.view("w") })
        verifiedSum.append(try seconds { sink += try first!.withUnsafeBufferPointer(as: Float.self) { sum($0) } })
    }
    do {
        let fresh = try TensorStore.open(at: storePath, options: readOnly).snapshot()
        var first: TensorView?
        unverifiedFirst.append(try seconds { first = try fresh.view("w", verify: false) })
        unverifiedSum.append(try seconds { sink += try first!.withUnsafeBufferPointer(as: Float.self) { sum($0) } })
    }
    do {
        let fresh = try TensorStore.open(at: storePath, options: readOnly).snapshot()
        oneRow.append(try seconds { sink += try fresh.read("w", rows: 0..<1).values(as: Float.self)[0] })
    }
}
samples("first verified view", verifiedFirst)
report("first view of a cached \(sizeLabel) tensor in a fresh open, then a sum (ms)",
       String(format: "verified %.1f + %.1f", median(verifiedFirst) * 1e3, median(verifiedSum) * 1e3),
       String(format: "unverified %.3f + %.1f", median(unverifiedFirst) * 1e3, median(unverifiedSum) * 1e3),
       String(format: "%.0f%%", 100 * (median(unverifiedFirst) + median(unverifiedSum)) / (median(verifiedFirst) + median(verifiedSum))))
report("checksum rate of the first verified view (GB/s)", String(format: "%.2f", gbps(median(verifiedFirst))), "-", "-")
report("one-row read of a \(sizeLabel) tensor in a fresh open (ms; checks one 1 MiB chunk)", String(format: "%.3f", median(oneRow) * 1e3), "-", "-")

// 4. Point reads of small tensors, and open with and without hint files.
let pointPath = options.directory + "/points"
var pointOptions = StoreOptions()
pointOptions.durability = .none
pointOptions.autoCompactDeadFraction = nil
let loadTime = try seconds {
    let points = try TensorStore.open(at: pointPath, options: pointOptions)
    let value = [Float](repeating: 1, count: 256)  // 1 KiB
    for index in 0..<options.keys {
        try points.put("tensor/\(index)", value)
    }
    try points.close()
}
print("loaded \(options.keys) 1 KiB tensors in \(String(format: "%.1f", loadTime)) s")
/// Times an open; the store is released after the clock stops (freeing the index is not opening).
func timeOpen(_ path: String, _ options: StoreOptions) throws -> Double {
    var store: TensorStore?
    let elapsed = try seconds { store = try TensorStore.open(at: path, options: options) }
    store = nil
    _ = store
    return elapsed
}
var openWithHints: [Double] = []
for _ in 0..<5 { openWithHints.append(try timeOpen(pointPath, pointOptions)) }
let points = try TensorStore.open(at: pointPath, options: pointOptions)
let pointSnapshot = points.snapshot()
var generator = SystemRandomNumberGenerator()
let reads = smoke ? 100_000 : 1_000_000
let readTime = try seconds {
    for _ in 0..<reads {
        let key = "tensor/\(Int.random(in: 0..<options.keys, using: &generator))"
        sink += try pointSnapshot.view(key).withUnsafeBufferPointer(as: Float.self) { $0[0] + $0[255] }
    }
}
report("random point reads of 1 KiB tensors among \(options.keys) (reads/s)", String(format: "%.0f", Double(reads) / readTime), "-", "-")
try points.close()
for name in try FileManager.default.contentsOfDirectory(atPath: pointPath) where name.hasSuffix(".hint") {
    try FileManager.default.removeItem(atPath: pointPath + "/" + name)
}
// The first open after removing the hints scans and rewrites them: time scans read-only, which writes nothing.
var scanOptions = pointOptions
scanOptions.readOnly = true
var openScanning: [Double] = []
for _ in 0..<3 { openScanning.append(try timeOpen(pointPath, scanOptions)) }
report("open a store of \(options.keys) keys (s)", String(format: "hint files %.3f", median(openWithHints)),
       String(format: "scanning %.3f", median(openScanning)), "-")

print("\n| measurement | TensorLog | baseline | TensorLog / baseline speed |")
print("|---|---|---|---|")
for row in rows { print("| \(row.0) | \(row.1) | \(row.2) | \(row.3) |") }
print("\n(checksum of sums, ignore: \(sink))")
if ProcessInfo.processInfo.environment["TENSORLOG_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: options.directory) }
