import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// `tensorlog serve` started as a child process on a free port, stopped with SIGTERM.
final class ServeProcess {
    let process = Process()
    let url: String
    let log: String

    init(store: String, arguments: [String] = [], directory: TemporaryDirectory) throws {
        log = directory.file("serve.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: tensorlogPath)
        process.arguments = ["serve", store, "--port", "0"] + arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // The first line names the port the kernel chose.
        var found: String?
        for _ in 0..<1000 where found == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"on http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                found = String(text[range].dropFirst(3))
            } else if !process.isRunning {
                break
            } else {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        guard let found else {
            process.terminate()
            throw TestFailure("tensorlog serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        url = found
    }

    /// Sends SIGTERM and waits; returns the exit status and everything the server printed.
    func stop() -> (status: Int32, output: String) {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    deinit { if process.isRunning { process.terminate() } }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Commands against a server (--remote)")
struct RemoteCommandTests {
    @Test("import, ls, get, stat, history, export, train, eval, infer and rm work through --remote as on a local store, with a token")
    func remoteWorkflow() throws {
        let directory = TemporaryDirectory()
        try succeed("init", directory.store)
        try Data("token-123\n".utf8).write(to: URL(fileURLWithPath: directory.file("token")))
        let server = try ServeProcess(store: directory.store, arguments: ["--token-file", directory.file("token")], directory: directory)
        let remote = ["--remote", server.url, "--token-file", directory.file("token")]

        // Three blobs, one per class, and a plain matrix.
        var features: [Float] = []
        var labels: [Int64] = []
        var generator = SeededGenerator(seed: 3)
        for row in 0..<300 {
            for column in 0..<3 { features.append((column == row % 3 ? 5 : 0) + Float.random(in: -1...1, using: &generator)) }
            labels.append(Int64(row % 3))
        }
        try directory.write(try npyBytes(dtype: .float32, shape: [300, 3], data: features.withUnsafeBytes { Array($0) }), to: "x.npy")
        try directory.write(try npyBytes(dtype: .int64, shape: [300], data: labels.withUnsafeBytes { Array($0) }), to: "y.npy")
        try succeed(["import"] + remote + [directory.file("x.npy"), directory.file("y.npy"), "--prefix", "blobs/"])

        let listed = try succeed(["ls"] + remote + ["--json"])
        let keys = (try listed.json() as? [[String: Any]])?.compactMap { $0["key"] as? String }
        #expect(keys == ["blobs/x", "blobs/y"])
        let printed = try succeed(["get"] + remote + ["blobs/y", "--slice", "0:4"])
        #expect(printed.stdout.contains("[0 1 2 0]"))
        #expect(try succeed(["stat"] + remote + ["--json"]).json() is [String: Any])
        #expect(try succeed(["history"] + remote + ["blobs/x"]).stdout.contains("1 version(s)"))

        let trained = try succeed(["train"] + remote + [
            "--data", "blobs/x", "--labels", "blobs/y", "--model", "softmax", "--optimizer", "sgd", "--lr", "0.05", "--epochs", "3",
            "--save", "models/blobs",
        ])
        #expect(trained.stdout.contains("epoch 3:"))
        let scores = try succeed(["eval"] + remote + ["--model", "models/blobs", "--data", "blobs/x", "--labels", "blobs/y", "--json"])
        #expect(((try scores.json() as? [String: Any])?["accuracy"] as? Double ?? 0) > 0.95)
        try succeed(["infer"] + remote + ["--model", "models/blobs", "--data", "blobs/x", "--output", "blobs/predicted"])

        try succeed(["export"] + remote + ["blobs/x", "--output", directory.file("back.npy")])
        let (description, range) = try NPY.parse(try directory.read("back.npy"))
        #expect(description == TensorDescription(dtype: .float32, shape: [300, 3]))
        #expect(Array(try directory.read("back.npy")[range]) == features.withUnsafeBytes { Array($0) })
        try succeed(["export"] + remote + ["blobs/x", "blobs/y", "--output", directory.file("back.safetensors")])
        let (entries, _) = try SafeTensors.parse(try directory.read("back.safetensors"))
        #expect(entries.map(\.name).sorted() == ["blobs/x", "blobs/y"])
        try succeed(["rm"] + remote + ["blobs/predicted"])

        // Without the token the server refuses; a missing key is an error naming it.
        expectFailure(try tensorlog(["ls", "--remote", server.url]), status: 2, mentioning: ["401"])
        expectFailure(try tensorlog(["get"] + remote + ["nope"]), status: 2, mentioning: ["nope"])
        // Commands that read segment files directly refuse --remote.
        expectFailure(try tensorlog(["dump", "--remote", server.url]), status: 64, mentioning: ["--remote"])

        let (status, output) = server.stop()
        #expect(status == 0, "\(output)")
        #expect(output.contains("stopped; store closed"))
        // Everything acknowledged is in the store, read locally after the server stopped.
        let local = try succeed("ls", directory.store, "--json")
        let localKeys = (try local.json() as? [[String: Any]])?.compactMap { $0["key"] as? String } ?? []
        #expect(localKeys.contains("blobs/x") && localKeys.contains("models/blobs/config") && !localKeys.contains("blobs/predicted"))
    }

    @Test("serve refuses a non-loopback address without a token, before it listens")
    func tokenRequired() throws {
        let directory = TemporaryDirectory()
        try succeed("init", directory.store)
        expectFailure(try tensorlog("serve", directory.store, "--host", "0.0.0.0", "--port", "0"), status: 2, mentioning: ["token"])
    }
}
