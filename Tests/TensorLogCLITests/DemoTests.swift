import Foundation
import Testing

@Suite("Demo: the newcomer's first command")
struct DemoTests {
    @Test("tensorlog demo builds a healthy store, shows every step, and wipes only a previous demo store")
    func demo() throws {
        let directory = TemporaryDirectory()
        let result = try tensorlog(["demo", "ds"], in: directory.path)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        for expected in ["tensorlog import ds", "in one atomic batch", "40 row blocks", "tensorlog dump ds", "sequence",
                         "compaction", "without copying", "tensorlog train ds", "validation loss", "tensorlog infer ds", "rows/s",
                         "compacted segment(s)", "healthy", "byte-identical"] {
            #expect(result.stdout.contains(expected), "demo output lacks \"\(expected)\"")
        }
        let store = directory.file("ds")
        try succeed("verify", store)
        let keys = try listing(store).compactMap { $0["key"] as? String }
        #expect(keys.filter { !$0.hasPrefix("models/util/") }
            == ["features", "model/b1", "model/w1", "model/w2", "node1/predicted", "node1/utilisation"])
        #expect(keys.contains("models/util/config") && keys.contains("models/util/lstm0/wx"))

        // Run again: the previous demo store is wiped and rebuilt.
        let again = try tensorlog(["demo", "ds"], in: directory.path)
        #expect(again.status == 0, "\(again)")
        #expect(try listing(store).count == keys.count)

        // A directory that is not a store is never wiped.
        let other = directory.file("precious")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: other + "/notes.txt"))
        expectFailure(try tensorlog(["demo", other]), status: 2, mentioning: ["refusing"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: other) == ["notes.txt"])
    }
}
