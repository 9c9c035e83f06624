import Foundation
@testable import TensorLog
import TensorLogFormat
import TensorLogTestSupport

// A bit-flip sweep: one flipped bit at a time in every file of a small store,
// each on a fresh copy; then open (read-only and as a writer), verify, and read
// every key whole and through zero-copy views. Each flip must be reported (an
// error or a verify finding) or harmless (every key reads back exactly what was
// written); anything else (a wrong value without an error, a key missing or
// reverted while nothing reported damage) is a violation.

enum FlipOutcome: String {
    case reported, harmless, violation
}

struct SweepResult {
    var tried = 0
    var reported = 0
    var harmless = 0
    var violations: [String] = []

    mutating func add(_ other: SweepResult) {
        tried += other.tried
        reported += other.reported
        harmless += other.harmless
        violations += other.violations
    }

    var summary: String {
        "flips tried: \(tried), reported: \(reported), harmless: \(harmless), violations: \(violations.count)"
    }
}

enum BitFlipSweep {
    enum Variant: String, CaseIterable {
        /// Closed cleanly: every segment synced, the active one with its prefix hint.
        case closed
        /// As after kill -9 once everything was synced: the active segment's hint file is gone.
        case noActiveHint
    }

    static var options: StoreOptions {
        var options = StoreOptions()
        options.segmentSize = 16 << 10
        options.durability = .everyWrite
        options.autoCompactDeadFraction = nil
        return options
    }

    /// Builds the store in `directory` and returns what every key must read back as (nil: deleted).
    static func build(_ directory: String, _ variant: Variant) throws -> [String: Tensor] {
        var expected: [String: Tensor] = [:]
        let store = try TensorStore.open(at: directory, options: options)
        func put(_ key: String, _ tensor: Tensor) throws {
            try store.put(key, tensor)
            expected[key] = tensor
        }
        // Sealed segments: a few tensors, an append, a batch and a delete.
        try put("w1", taggedTensor(1, rows: 40))
        try put("w2", taggedTensor(2, rows: 40))
        let rows = taggedTensor(3, rows: 4)
        try rows.bytes.withUnsafeBytes { _ = try store.append("w1", dtype: .float32, shape: [4, 16], bytes: $0) }
        expected["w1"]!.shape[0] += 4
        expected["w1"]!.bytes += rows.bytes
        try store.write { batch in
            batch.put("b1", taggedTensor(4, rows: 30))
            batch.put("b2", taggedTensor(5, rows: 30))
        }
        expected["b1"] = taggedTensor(4, rows: 30)
        expected["b2"] = taggedTensor(5, rows: 30)
        try put("gone", taggedTensor(6, rows: 10))
        try store.delete("gone")
        expected["gone"] = nil
        try put("w3", taggedTensor(7, rows: 60))
        try put("w4", taggedTensor(11, rows: 60))
        // Start a fresh active segment, so the zero tensor and the records after it are in it.
        try store.writerLock.withLock { () throws(TensorLogError) in try store.rollOver() }
        // The active segment: a zero tensor with two whole zero pages of payload, then later records.
        try put("after0", taggedTensor(8, rows: 2))
        try put("zero", try Tensor([Float](repeating: 0, count: 2048), shape: [128, 16]))
        try put("after1", taggedTensor(9, rows: 8))
        try put("after2", taggedTensor(10, rows: 8))
        try store.delete("w2")
        expected["w2"] = nil
        let segments = store.statistics().segments.count
        try store.close()
        precondition(segments >= 3, "the sweep store should have sealed segments and an active one")
        if variant == .noActiveHint {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/MANIFEST")))
            let manifest = try bytes.withUnsafeBytes { (buffer) throws in try Manifest.decode(buffer) }
            let active = Segment.paddedID(manifest.activeSegment) + ".hint"
            precondition(names.contains(active), "the clean close should have left a prefix hint")
            try FileManager.default.removeItem(atPath: directory + "/" + active)
        }
        return expected
    }

    /// Checks one damaged store, opened in one mode. Returns the outcome and, for a violation, why.
    static func check(_ directory: String, readOnly: Bool, expected: [String: Tensor]) -> (FlipOutcome, String) {
        var options = options
        options.readOnly = readOnly
        options.create = false
        let store: TensorStore
        do {
            store = try TensorStore.open(at: directory, options: options)
        } catch {
            // Reported means a clear error that says where: corruption (segment, offset) or a newer format version.
            switch error.code {
            case .corruption, .unsupportedFormatVersion: return (.reported, "open: \(error)")
            default: return (.violation, "open failed with an error that names no damage: \(error)")
            }
        }
        defer { if !readOnly { try? store.close() } }
        var reported = !store.verify().isHealthy
        var wrong: [String] = []
        var missing: [String] = []
        let snapshot = store.snapshot()
        let keys = Set(snapshot.keys())
        for key in keys where expected[key] == nil {
            missing.append("'\(key)' present (deleted or never written)")
        }
        for (key, value) in expected.sorted(by: { $0.key < $1.key }) {
            do {
                let tensor = try snapshot.read(key)
                if tensor.dtype != value.dtype || tensor.shape != value.shape || tensor.bytes != value.bytes {
                    wrong.append("read('\(key)') returned a wrong value without an error")
                }
            } catch where error.code == .notFound {
                missing.append("'\(key)' missing")
                continue
            } catch {
                // Still look at the views below: a view must not return wrong bytes either.
                if case .corruption = error.code { reported = true } else { wrong.append("read('\(key)') failed with an error that names no damage: \(error)") }
            }
            // A view is checked before it is handed out; an unverified one (the documented opt-in) must
            // fail its own verify() instead of passing wrong bytes on.
            for verify in [true, false] {
                do {
                    let view = try snapshot.view(key, verify: verify)
                    if !verify { try view.verify() }
                    let bytes = view.withUnsafeBytes { Array($0) }
                    if view.dtype != value.dtype || view.shape != value.shape || bytes != value.bytes {
                        wrong.append("view('\(key)', verify: \(verify)) returned wrong bytes without an error")
                    }
                } catch where error.code == .invalidArgument {
                    break // several blocks or compressed: no whole view
                } catch {
                    reported = true
                }
            }
        }
        if !wrong.isEmpty { return (.violation, wrong.joined(separator: "; ")) }
        if !missing.isEmpty {
            return reported ? (.reported, "damage reported") : (.violation, missing.joined(separator: "; ") + " with no damage reported")
        }
        return (reported ? .reported : .harmless, "")
    }

    /// Flips bits in the files of a store built for `variant`: in each file, `bytesPerFile` bytes
    /// (nil: every byte), one seeded random bit per byte (every bit for files up to 128 bytes).
    static func sweep(_ variant: Variant, bytesPerFile: Int?, seed: UInt64, progress: String? = nil) throws -> SweepResult {
        let temporary = TemporaryDirectory("sweep\(variant.rawValue)")
        let pristine = temporary.path + "/pristine"
        let expected = try build(pristine, variant)
        // The undamaged store must read back exactly.
        for readOnly in [true, false] {
            let copy = temporary.path + "/check"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: pristine, toPath: copy)
            let (outcome, why) = check(copy, readOnly: readOnly, expected: expected)
            precondition(outcome == .harmless, "undamaged store does not read back: \(outcome) \(why)")
        }
        var files: [(String, [UInt8])] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: pristine).sorted() {
            files.append((name, [UInt8](try Data(contentsOf: URL(fileURLWithPath: pristine + "/" + name)))))
        }
        var generator = SeededGenerator(seed: seed)
        var result = SweepResult()
        let work = temporary.path + "/work"
        for (name, original) in files {
            var flips: [(Int, UInt8)] = []
            if original.count <= 128 {
                for offset in original.indices { for bit in 0..<8 { flips.append((offset, UInt8(1) << bit)) } }
            } else {
                for offset in original.indices { flips.append((offset, UInt8(1) << UInt8(generator.int(0...7)))) }
            }
            if let bytesPerFile, flips.count > bytesPerFile {
                flips.shuffle(using: &generator)
                flips = Array(flips.prefix(bytesPerFile)).sorted { $0.0 < $1.0 }
            }
            for (offset, mask) in flips {
                let label = "\(variant.rawValue): \(name) byte \(offset) (of \(original.count)) ^ 0x\(String(mask, radix: 16))"
                if let progress { try? label.write(toFile: progress, atomically: false, encoding: .utf8) }
                try? FileManager.default.removeItem(atPath: work)
                try FileManager.default.copyItem(atPath: pristine, toPath: work)
                var damaged = original
                damaged[offset] ^= mask
                try Data(damaged).write(to: URL(fileURLWithPath: work + "/" + name))
                result.tried += 1
                var outcome = FlipOutcome.harmless
                var reasons: [String] = []
                for readOnly in [true, false] {
                    let (found, why) = check(work, readOnly: readOnly, expected: expected)
                    if found == .violation { reasons.append("\(readOnly ? "read-only" : "writable"): \(why)") }
                    if found == .violation || (found == .reported && outcome == .harmless) { outcome = found }
                }
                switch outcome {
                case .reported: result.reported += 1
                case .harmless: result.harmless += 1
                case .violation: result.violations.append("\(label): \(reasons.joined(separator: " | "))")
                }
            }
        }
        return result
    }
}
