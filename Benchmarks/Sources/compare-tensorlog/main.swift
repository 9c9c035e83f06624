// TensorLog's side of Benchmarks/compare: exactly the operations the Python peers do, one
// measurement per invocation, printed as one JSON object on stdout. The driver
// (Benchmarks/compare/compare.py) interleaves these runs with the peers' in the same rounds.
//
//   compare-tensorlog sum-anon      --file RAW                      sum of RAW's float32 in anonymous memory (machine limit)
//   compare-tensorlog sum-mmap      --file RAW                      sum of RAW through a plain mmap: first touch, then warm
//   compare-tensorlog prepare-view  --file RAW --store DIR --cols C [--seal]  store RAW as one uncompressed tensor "x" (not timed)
//   compare-tensorlog view-sum      --store DIR                      open + zero-copy view of "x" (load), then sum it
//   compare-tensorlog points-load   --store DIR --keys N [--batch B] N puts of 1 KiB float32 tensors "k/<i>" (no fsync), B per atomic batch
//   compare-tensorlog points-read   --store DIR --keys N --reads M   M random point reads, touching each value
//   compare-tensorlog compress-write --file RAW --store DIR --cols C  put RAW with shuffle-LZ4 (no fsync); store size
//   compare-tensorlog compress-read --store DIR                      decode "x" into a new buffer
import FloatSum
import Foundation
import TensorLog

func argument(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
func required(_ name: String) -> String {
    guard let value = argument(name) else { fatalError("missing \(name)") }
    return value
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func emit(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}


/// Reads a raw little-endian float32 file into anonymous memory (touched, resident).
func loadRaw(_ path: String) -> UnsafeMutableRawBufferPointer {
    let handle = FileHandle(forReadingAtPath: path)!
    let size = Int(try! handle.seekToEnd())
    try! handle.seek(toOffset: 0)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    let fd = handle.fileDescriptor
    var done = 0
    while done < size {
        let n = pread(fd, buffer.baseAddress! + done, min(size - done, 64 << 20), off_t(done))
        precondition(n > 0, "short read of \(path)")
        done += n
    }
    try! handle.close()
    return buffer
}

func directoryBytes(_ path: String) -> Int {
    var total = 0
    for name in (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? [] {
        var info = stat()
        if stat(path + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { total += Int(info.st_size) }
    }
    return total
}

var writeOptions: StoreOptions {
    var options = StoreOptions()
    options.durability = .none
    options.autoCompactDeadFraction = nil
    options.segmentSize = 2 << 30  // the 1 GiB tensor stays one block, so it has one zero-copy view
    return options
}
var readOptions: StoreOptions {
    var options = StoreOptions()
    options.readOnly = true
    options.create = false
    options.autoCompactDeadFraction = nil
    return options
}

let command = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ""
switch command {
case "sum-anon":
    let raw = loadRaw(required("--file"))
    defer { raw.deallocate() }
    let floats = UnsafeBufferPointer(raw.bindMemory(to: Float.self))
    var total: Float = 0
    var times: [Double] = []
    for _ in 0..<Int(argument("--repeats") ?? "3")! { times.append(seconds { total += sum(floats) }) }
    emit(["seconds": times.min()!, "bytes": raw.count, "check": Double(total)])

case "sum-mmap":
    // The floor for a zero-copy read: mmap the cached file directly, sum it (first touch), then sum again (warm).
    let path = required("--file")
    var fd: Int32 = -1
    var size = 0
    var total: Float = 0
    var base: UnsafeMutableRawPointer?
    let mapping = seconds {  // open + size + map: what "load" is for a raw file
        fd = open(path, O_RDONLY)
        var info = stat()
        fstat(fd, &info)
        size = Int(info.st_size)
        base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
    }
    precondition(fd >= 0 && base != MAP_FAILED, "cannot map \(path)")
    let floats = UnsafeBufferPointer(start: base!.assumingMemoryBound(to: Float.self), count: size / 4)
    let first = seconds { total += sum(floats) }
    var warm: [Double] = []
    for _ in 0..<Int(argument("--repeats") ?? "3")! { warm.append(seconds { total += sum(floats) }) }
    munmap(base, size)
    close(fd)
    emit(["map_seconds": mapping, "first_seconds": first, "seconds": warm.min()!, "bytes": size, "check": Double(total)])

case "prepare-view":
    let raw = loadRaw(required("--file"))
    defer { raw.deallocate() }
    let cols = Int(required("--cols"))!
    // --seal: the library's default segment size (256 MiB), so the one-block 1 GiB record fills its segment, which is
    // sealed with a hint file; open then reads the hint instead of scanning (and checksumming) the active segment.
    let seal = CommandLine.arguments.contains("--seal")
    var options = writeOptions
    if seal { options.segmentSize = min(StoreOptions().segmentSize, raw.count) }
    let store = try TensorStore.open(at: required("--store"), options: options)
    try store.put("x", dtype: .float32, shape: [raw.count / 4 / cols, cols], bytes: UnsafeRawBufferPointer(raw),
                  options: WriteOptions(blockBytes: raw.count))
    if seal { try store.put("seal", [Float(0)]) }  // the next write rolls the full segment over
    try store.close()
    emit(["bytes": raw.count])

case "view-sum":
    var total: Float = 0
    var store: TensorStore?
    var view: TensorView?
    // A first open and view, released before the timed one, so the timed open finds the code paths warm (as the
    // Python peers do, running in a process that has loaded before) but maps the segment afresh.
    let firstLoad = try seconds {
        store = try TensorStore.open(at: required("--store"), options: readOptions)
        view = try store!.snapshot().view("x")
    }
    view = nil
    store = nil
    let load = try seconds {
        store = try TensorStore.open(at: required("--store"), options: readOptions)
        view = try store!.snapshot().view("x")
    }
    let summing = try seconds { total = try view!.withUnsafeBufferPointer(as: Float.self) { sum($0) } }
    let again = try seconds { total += try view!.withUnsafeBufferPointer(as: Float.self) { sum($0) } }
    emit(["first_load_seconds": firstLoad, "load_seconds": load, "sum_seconds": summing, "second_sum_seconds": again, "check": Double(total)])
    _ = store

case "points-load":
    let keys = Int(required("--keys"))!
    let store = try TensorStore.open(at: required("--store"), options: writeOptions)
    var value = [Float](repeating: 0, count: 256)  // 1 KiB
    let names = (0..<keys).map { String(format: "k/%08d", $0) }
    let batch = Int(argument("--batch") ?? "1")!
    let elapsed = try seconds {
        if batch <= 1 {
            for index in 0..<keys {
                value[0] = Float(index)
                try store.put(names[index], value)
            }
        } else {
            // Atomic batches of `batch` puts: one write each, like a transaction.
            for first in stride(from: 0, to: keys, by: batch) {
                try store.write { operations in
                    for index in first..<min(first + batch, keys) {
                        value[0] = Float(index)
                        try operations.put(names[index], value)
                    }
                }
            }
        }
    }
    let closing = try seconds { try store.close() }
    emit(["seconds": elapsed, "close_fsync_seconds": closing, "keys": keys])

case "points-read":
    let keys = Int(required("--keys"))!
    let reads = Int(required("--reads"))!
    var store: TensorStore?
    let open = try seconds { store = try TensorStore.open(at: required("--store"), options: readOptions) }
    let snapshot = store!.snapshot()
    var generator = SystemRandomNumberGenerator()
    let names = (0..<reads).map { _ in String(format: "k/%08d", Int.random(in: 0..<keys, using: &generator)) }
    var sink: Float = 0
    let elapsed = try seconds {
        for name in names {
            sink += try snapshot.view(name).withUnsafeBufferPointer(as: Float.self) { $0[0] + $0[255] }
        }
    }
    emit(["seconds": elapsed, "reads": reads, "open_seconds": open, "check": Double(sink)])

case "compress-write":
    let raw = loadRaw(required("--file"))
    defer { raw.deallocate() }
    let cols = Int(required("--cols"))!
    let path = required("--store")
    let store = try TensorStore.open(at: path, options: writeOptions)
    let elapsed = try seconds {
        try store.put("x", dtype: .float32, shape: [raw.count / 4 / cols, cols], bytes: UnsafeRawBufferPointer(raw),
                      options: WriteOptions(compression: .shuffleLZ4))
    }
    try store.close()
    emit(["seconds": elapsed, "bytes": raw.count, "stored_bytes": directoryBytes(path)])

case "compress-read":
    let store = try TensorStore.open(at: required("--store"), options: readOptions)
    let snapshot = store.snapshot()
    var total: Float = 0
    var bytes = 0
    let elapsed = try seconds {
        let tensor = try snapshot.read("x")  // a new buffer, decoded and checksum-verified, like zarr's arr[:]
        bytes = tensor.bytes.count
        total = tensor.bytes.withUnsafeBytes { $0.load(fromByteOffset: $0.count - 4, as: Float.self) }
    }
    emit(["seconds": elapsed, "bytes": bytes, "check": Double(total)])

default:
    FileHandle.standardError.write("usage: see the comment at the top of main.swift\n".data(using: .utf8)!)
    exit(64)
}
