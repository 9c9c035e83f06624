import Foundation
@testable import TensorLog

/// A fresh directory under the system temp dir, removed when the test ends.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ name: String = #function) {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "tensorlog-\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The store directory inside it.
    var store: String { path + "/store" }
}

/// Options for small test stores: tiny segments so roll-over happens often.
func smallOptions(segmentSize: Int = 64 << 10, durability: Durability = .none) -> StoreOptions {
    var options = StoreOptions()
    options.segmentSize = segmentSize
    options.durability = durability
    options.autoCompactDeadFraction = nil
    return options
}

func randomBytes(_ count: Int, _ generator: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
}

/// The SYNCED file's bytes now. A crash leaves the mark of the last sync before it: tests that build
/// a crash state by hand take the mark at that sync and put it back with `restoreSyncedMark`.
func syncedMark(_ store: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: store + "/SYNCED"))
}

func restoreSyncedMark(_ mark: Data, in store: String) throws {
    try mark.write(to: URL(fileURLWithPath: store + "/SYNCED"))
}
