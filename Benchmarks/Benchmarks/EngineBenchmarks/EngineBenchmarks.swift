// The engine's benchmarks (package-benchmark). Run from Benchmarks/:
//   swift package benchmark --target EngineBenchmarks
// Side-by-side figures against dd and anonymous memory come from `swift run -c release engine-baselines`.
// With TENSORLOG_BENCH_SMOKE=1 (scripts/bench-smoke) every benchmark runs briefly on small data.
import Benchmark
import BenchmarkSupport
import Foundation
import TensorLog

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident],
        maxDuration: .seconds(3),
        maxIterations: 1000)
    // The large tensors: [rows, 1024] float32, 256 MiB (4 MiB in smoke mode).
    let bigRows = Smoke.size(65_536, smoke: 1_024)
    let bigLabel = "\(bigRows / 256) MiB"
    // Key counts of the many-small-tensors benchmarks.
    let (keys, keysLabel) = Smoke.size((100_000, "100,000"), smoke: (5_000, "5,000"))

    for (label, count) in [("4 KiB", 1024), ("1 MiB", 1 << 18)] {
        let values = floats(count)
        Benchmark("put \(label) (durability none)", configuration: .init(scalingFactor: .kilo)) { benchmark in
            let scratch = ScratchStore("put")
            defer { scratch.remove() }
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations {
                try scratch.store.put("k\(index % 64)", values)
            }
            benchmark.stopMeasurement()
        }
    }
    Benchmark("put 1 MiB (fsync every write)", configuration: .init(maxIterations: 200)) { benchmark in
        let scratch = ScratchStore("putsync", durability: .everyWrite)
        defer { scratch.remove() }
        let values = floats(1 << 18)
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations { try scratch.store.put("k\(index % 64)", values) }
        benchmark.stopMeasurement()
    }
    Benchmark("put \(bigLabel)", configuration: .init(maxIterations: 10)) { benchmark in
        let scratch = ScratchStore("putbig", segmentSize: 1 << 30)
        defer { scratch.remove() }
        let values = floats(bigRows * 1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try scratch.store.put("big", values, shape: [bigRows, 1024]) }
        benchmark.stopMeasurement()
    }
    Benchmark("append 1 KiB rows to a growing data set", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let scratch = ScratchStore("append")
        defer { scratch.remove() }
        let row = floats(256)
        try scratch.store.put("series", row, shape: [1, 256])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try scratch.store.append("series", row, shape: [1, 256]) }
        benchmark.stopMeasurement()
    }

    Benchmark("get a zero-copy view", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let scratch = ScratchStore("view")
        defer { scratch.remove() }
        try scratch.store.put("w", floats(1 << 20), shape: [1024, 1024])
        let snapshot = scratch.store.snapshot()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try snapshot.view("w")) }
        benchmark.stopMeasurement()
    }
    Benchmark("sum a cached \(bigLabel) tensor through its view", configuration: .init(maxIterations: 50)) { benchmark in
        let scratch = ScratchStore("sum", segmentSize: 1 << 30)
        defer { scratch.remove() }
        try scratch.store.put("w", floats(bigRows * 1024), shape: [bigRows, 1024])
        let view = try scratch.store.snapshot().view("w")
        _ = try view.withUnsafeBufferPointer(as: Float.self) { $0.reduce(0, +) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try view.withUnsafeBufferPointer(as: Float.self) { buffer in
                var lanes = SIMD8<Float>()
                let base = UnsafeRawPointer(buffer.baseAddress!)
                for index in 0..<buffer.count / 8 { lanes += base.loadUnaligned(fromByteOffset: index * 32, as: SIMD8<Float>.self) }
                return lanes.sum()
            })
        }
        benchmark.stopMeasurement()
    }
    Benchmark("point read of a 1 KiB tensor among \(keysLabel)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let scratch = ScratchStore("points")
        defer { scratch.remove() }
        let value = floats(256)
        for index in 0..<keys { try scratch.store.put("t/\(index)", value) }
        let snapshot = scratch.store.snapshot()
        var generator = SystemRandomNumberGenerator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let key = "t/\(Int.random(in: 0..<keys, using: &generator))"
            blackHole(try snapshot.view(key).withUnsafeBufferPointer(as: Float.self) { $0[0] })
        }
        benchmark.stopMeasurement()
    }

    for compression in [Compression.lz4, .shuffleLZ4] {
        Benchmark("put 4 MiB smooth float32, \(compression)", configuration: .init(maxIterations: 200)) { benchmark in
            let scratch = ScratchStore("codec")
            defer { scratch.remove() }
            let values = (0..<(1 << 20)).map { Float(sin(Double($0) / 300)) }
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations {
                try scratch.store.put("k\(index % 16)", values, options: WriteOptions(compression: compression))
            }
            benchmark.stopMeasurement()
        }
        Benchmark("read 4 MiB smooth float32, \(compression)", configuration: .init(maxIterations: 200)) { benchmark in
            let scratch = ScratchStore("decode")
            defer { scratch.remove() }
            try scratch.store.put("k", (0..<(1 << 20)).map { Float(sin(Double($0) / 300)) }, options: WriteOptions(compression: compression))
            let snapshot = scratch.store.snapshot()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try snapshot.read("k")) }
            benchmark.stopMeasurement()
        }
    }

    Benchmark("open a store of \(keysLabel) keys from hint files", configuration: .init(maxIterations: 20)) { benchmark in
        let scratch = ScratchStore("open", segmentSize: 16 << 20)
        let value = floats(256)
        for index in 0..<keys { try scratch.store.put("t/\(index)", value) }
        try scratch.store.close()
        defer { try? FileManager.default.removeItem(atPath: scratch.path) }
        var options = StoreOptions()
        options.readOnly = true
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try TensorStore.open(at: scratch.path, options: options)) }
        benchmark.stopMeasurement()
    }
    // 256 puts of 256 KiB (32 in smoke mode) over half as many keys, in segments of an eighth of that.
    let compactPuts = Smoke.size(256, smoke: 32)
    Benchmark("compact \(compactPuts / 4) MiB of segments, half dead", configuration: .init(maxIterations: 10)) { benchmark in
        for _ in benchmark.scaledIterations {
            let scratch = ScratchStore("compact", segmentSize: compactPuts << 15)
            defer { scratch.remove() }
            let value = floats(1 << 16)  // 256 KiB
            for index in 0..<compactPuts { try scratch.store.put("k\(index % (compactPuts / 2))", value) }
            benchmark.startMeasurement()
            blackHole(try scratch.store.compact(CompactionOptions(deadFraction: 0.3)))
            benchmark.stopMeasurement()
        }
    }
    Benchmark("recover from a torn tail (reopen, 10,000 records)", configuration: .init(maxIterations: 20)) { benchmark in
        let scratch = ScratchStore("recover", segmentSize: 64 << 20)
        for index in 0..<10_000 { try scratch.store.put("t/\(index)", floats(256)) }
        try scratch.store.close()
        defer { try? FileManager.default.removeItem(atPath: scratch.path) }
        let segment = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasSuffix(".seg") }.max()!
        let handle = FileHandle(forWritingAtPath: scratch.path + "/" + segment)!
        for _ in benchmark.scaledIterations {
            // Tear the last record: cut it in the middle of its payload.
            let size = try handle.seekToEnd()
            try handle.truncate(atOffset: size - 300)
            benchmark.startMeasurement()
            blackHole(try TensorStore.open(at: scratch.path))
            benchmark.stopMeasurement()
        }
    }
    Smoke.limitRegisteredBenchmarks()
}
