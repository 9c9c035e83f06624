import Foundation
import Testing
import TensorLog

/// A flipped bit in stored weights or data: training, inference and evaluation refuse to compute
/// on it (exit 1, naming where), and a store whose synced data is damaged is reported by verify,
/// refused by writers, and rebuilt by salvage without losing the records after the damage.
@Suite("Damaged bytes: commands refuse to compute on them")
struct DamageTests {
    /// The file and offset of the middle of `key`'s (last) payload, from `dump --json`.
    func payloadMiddle(_ store: String, key: String) throws -> (file: String, offset: Int) {
        let dump = try #require(try succeed("dump", store, "--key", key, "--json").json() as? [String: Any])
        let segments = try #require(dump["segments"] as? [[String: Any]])
        let records = segments.flatMap { ($0["records"] as? [[String: Any]]) ?? [] }
        let record = try #require(records.last)
        let segment = try #require(record["segment"] as? Int)
        let start = try #require(record["payload_offset"] as? Int)
        let size = try #require(record["stored_bytes"] as? Int)
        let name = String(repeating: "0", count: max(0, 8 - String(segment).count)) + String(segment) + ".seg"
        return (store + "/" + name, start + size / 2)
    }

    @Test("a flipped bit in a trained model's weights: eval and infer fail with the damage's place; a flipped bit in the features: train fails")
    func computeRefusesDamagedBytes() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        try succeed("train", store, "--data", "x", "--labels", "y", "--model", "mlp", "--hidden", "8", "--epochs", "2", "--save", "models/m")
        let keys = try listing(store).compactMap { $0["key"] as? String }
        let weight = try #require(keys.first { $0.hasPrefix("models/m/") && $0.hasSuffix("w1") } ?? keys.first { $0.hasPrefix("models/m/") && $0.contains("w") })
        let place = try payloadMiddle(store, key: weight)
        try flipByte(place.file, at: place.offset)

        let evaluated = try tensorlog("eval", store, "--model", "models/m", "--data", "x", "--labels", "y")
        expectFailure(evaluated, status: 1, mentioning: ["corruption", "segment"])
        let inferred = try tensorlog("infer", store, "--model", "models/m", "--data", "x", "--output", "pred")
        expectFailure(inferred, status: 1, mentioning: ["corruption"])
        #expect(!(try listing(store).contains { $0["key"] as? String == "pred" }), "no prediction may be stored from damaged weights")

        let features = try payloadMiddle(store, key: "x")
        try flipByte(features.file, at: features.offset)
        let trained = try tensorlog("train", store, "--data", "x", "--labels", "y", "--model", "softmax", "--epochs", "1", "--save", "models/s")
        expectFailure(trained, status: 1, mentioning: ["corruption", "'x'"])
    }

    @Test("the trust issue's reproduction: verify reports a flipped bit in synced zeros, import refuses, salvage keeps b and c")
    func flippedZerosThenSalvage() throws {
        let directory = TemporaryDirectory()
        let store = directory.store
        try directory.write(npyBytes(dtype: .float32, shape: [8192, 16], data: [UInt8](repeating: 0, count: 8192 * 16 * 4)), to: "a.npy")
        var rng = SplitMix64(seed: 5)
        for name in ["b", "c", "d"] {
            let values = (0..<4096 * 16).map { _ in Float.random(in: -1...1, using: &rng) }
            try directory.write(npyBytes(dtype: .float32, shape: [4096, 16], data: bytes(of: values)), to: "\(name).npy")
        }
        for name in ["a", "b", "c"] { try succeed("import", store, directory.file("\(name).npy"), "--key", name) }
        let bBefore = try succeed("get", store, "b", "--slice", "0:2").stdout
        for name in try FileManager.default.contentsOfDirectory(atPath: store) where name.hasSuffix(".hint") {
            try FileManager.default.removeItem(atPath: store + "/" + name)
        }
        let place = try payloadMiddle(store, key: "a")
        try flipByte(place.file, at: place.offset)

        let verified = try tensorlog("verify", store)
        #expect(verified.status == 1, "\(verified)")
        #expect((verified.stdout + verified.stderr).contains("segment 1"), "\(verified)")
        let before = storeFiles(store)
        let imported = try tensorlog("import", store, directory.file("d.npy"), "--key", "d")
        expectFailure(imported, status: 1, mentioning: ["salvage"])
        #expect(storeFiles(store) == before, "a refused writer changes no file")

        let salvaged = try succeed("salvage", store)
        #expect(salvaged.stdout.contains("moved to damaged/"), "\(salvaged.stdout)")
        #expect(salvaged.stdout.contains("keys affected") && salvaged.stdout.contains("a"), "\(salvaged.stdout)")
        try succeed("verify", store)
        #expect(try succeed("get", store, "b", "--slice", "0:2").stdout == bBefore)
        try succeed("get", store, "c", "--slice", "0:1")
        try succeed("import", store, directory.file("d.npy"), "--key", "d")
        #expect(try succeed("salvage", store).stdout.contains("nothing to salvage"))
    }
}
