import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// The built `tensorlog` binary: found next to the test bundle (resolve /proc/self/exe
/// and walk up to the directory that holds it).
let tensorlogPath: String = {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = executable.deletingLastPathComponent()
    func isBinary(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: url.path)
    }
    while !isBinary(directory.appendingPathComponent("tensorlog")), directory.path != "/" {
        directory = directory.deletingLastPathComponent()
    }
    return directory.appendingPathComponent("tensorlog").path
}()

/// What a run of the binary printed and returned.
struct RunResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    /// The parsed JSON on stdout.
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])
    }

    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

/// Runs `tensorlog ARGUMENTS` in `directory`, capturing stdout, stderr and the exit status.
@discardableResult
func tensorlog(_ arguments: [String], in directory: String? = nil) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tensorlogPath)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    // Files, not pipes: a full pipe would block the child.
    let capture = FileManager.default.temporaryDirectory.appendingPathComponent("tensorlog-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: capture, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: capture) }
    let outURL = capture.appendingPathComponent("out"), errURL = capture.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return RunResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

func tensorlog(_ arguments: String..., in directory: String? = nil) throws -> RunResult {
    try tensorlog(arguments, in: directory)
}

/// Runs a command that must succeed (exit 0, nothing on stderr) and returns its output.
@discardableResult
func succeed(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> RunResult {
    try succeed(arguments, sourceLocation: sourceLocation)
}

@discardableResult
func succeed(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> RunResult {
    let result = try tensorlog(arguments)
    #expect(result.status == 0, "tensorlog \(arguments.joined(separator: " ")): \(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.isEmpty, "tensorlog \(arguments.joined(separator: " ")) wrote to stderr: \(result.stderr)", sourceLocation: sourceLocation)
    return result
}

/// Expects one line `tensorlog: error: ...` on stderr mentioning every word, and the exit status.
func expectFailure(
    _ result: RunResult, status: Int32, mentioning words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == status, "expected exit \(status): \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "expected one stderr line: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasPrefix("tensorlog: error: "), "\(result)", sourceLocation: sourceLocation)
    for word in words where !result.stderr.contains(word) {
        Issue.record("stderr does not mention \"\(word)\": \(result.stderr)", sourceLocation: sourceLocation)
    }
}

/// A fresh directory under the system temp dir, removed when the test ends.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ name: String = #function) {
        let safe = name.filter { $0.isLetter || $0.isNumber }.prefix(40)
        path = NSTemporaryDirectory() + "tensorlog-cli-\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var store: String { path + "/store" }
    func file(_ name: String) -> String { path + "/" + name }

    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }

    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }

    func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// The store's files and their bytes, except LOCK (a writer's open rewrites the pid in it):
/// equal before and after means a command left the store as it was.
func storeFiles(_ path: String) -> [String: Data] {
    var files: [String: Data] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name != "LOCK" {
        files[name] = try? Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
    }
    return files
}

/// `ls --json` of a store, parsed, for before/after comparisons.
func listing(_ store: String) throws -> [[String: Any]] {
    let result = try tensorlog("ls", store, "--json")
    #expect(result.status == 0, "\(result)")
    return try #require(try result.json() as? [[String: Any]], "ls --json is not an array of objects: \(result.stdout)")
}

/// The keys, dtypes and shapes of `ls --json` as comparable text.
func listingText(_ store: String) throws -> String {
    try listing(store).map { "\($0["key"] ?? "")|\($0["dtype"] ?? "")|\($0["shape"] ?? "")|\($0["raw_bytes"] ?? "")|\($0["version"] ?? "")" }
        .joined(separator: "\n")
}

/// A .npy file for `values` of `dtype`, built with the interop header writer.
func npyBytes(dtype: DType, shape: [Int], data: [UInt8]) throws -> [UInt8] {
    try NPY.header(for: TensorDescription(dtype: dtype, shape: shape)) + data
}

func bytes<T>(of values: [T]) -> [UInt8] {
    values.withUnsafeBytes { [UInt8]($0) }
}

/// Options for stores the tests write through the library: small segments, no auto-compaction.
func smallStoreOptions(segmentSize: Int = 64 << 10) -> StoreOptions {
    var options = StoreOptions()
    options.segmentSize = segmentSize
    options.durability = .none
    options.autoCompactDeadFraction = nil
    return options
}

/// Flips one byte of a file.
func flipByte(_ path: String, at offset: Int) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data[offset] ^= 0xFF
    try data.write(to: URL(fileURLWithPath: path))
}

// MARK: Python

/// Runs a script in the test's temporary directory (see TensorLogTestSupport's runPython).
@discardableResult
func runPython(_ script: String, arguments: [String], in directory: TemporaryDirectory) throws -> String {
    try runPython(script, named: "script-\(UUID().uuidString.prefix(8)).py", arguments: arguments, directory: directory.path)
}

