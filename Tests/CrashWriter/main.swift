// The crash test's victim: writes to a store as fast as it can and prints an
// acknowledgement line after every durable write returns, until the test
// kills it with SIGKILL. Usage: tensorlog-crash-writer STORE write|compact SEED
//
// Every value is self-checking: element 0 is the write's counter, the rest a
// pattern derived from it, so the test can tell a whole value from a torn one.
import Foundation
import TensorLog

let arguments = CommandLine.arguments
guard arguments.count == 4, let seed = UInt64(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: tensorlog-crash-writer STORE write|compact SEED\n".utf8))
    exit(2)
}
let path = arguments[1]
let compacting = arguments[2] == "compact"

/// The value written with `counter`: [counter, counter*31+1, ...] of varying length.
func value(_ counter: Int64, length: Int) -> [Int64] {
    [counter] + (1..<length).map { counter &* 31 &+ Int64($0) }
}

/// Prints one line with a single write(2), so a kill never leaves a buffered acknowledgement behind.
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

struct Random {
    var state: UInt64
    mutating func callAsFunction(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}
var random = Random(state: seed)

var options = StoreOptions()
options.segmentSize = 64 << 10
options.durability = .everyWrite
options.autoCompactDeadFraction = compacting ? 0.3 : nil

do {
    let store = try TensorStore.open(at: path, options: options)
    var counter = Int64(store.sequence) * 1000 + 1
    say("open")
    while true {
        counter += 1
        switch random(10) {
        case 0:
            // A batch: three keys that must always hold the same counter.
            try store.write { batch in
                for name in ["batch/a", "batch/b", "batch/c"] {
                    batch.put(name, try Tensor(value(counter, length: 3 + random(200))))
                }
            }
            say("ack batch \(counter)")
        case 1 where compacting:
            try store.compact(CompactionOptions(full: random(2) == 0, deadFraction: 0.2))
            say("compacted")
        default:
            let key = "key\(random(40))"
            let compression: Compression = random(3) == 0 ? .lz4 : .none
            try store.put(key, value(counter, length: 1 + random(2000)), options: WriteOptions(compression: compression, blockBytes: random(4) == 0 ? 1024 : nil))
            say("ack \(key) \(counter)")
        }
    }
} catch {
    FileHandle.standardError.write(Data("crash writer failed: \(error)\n".utf8))
    exit(1)
}
