import Foundation

/// Why a Python run failed: the interpreter or a package is missing, or the script failed.
public struct PythonFailure: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Runs `script` (saved as `directory/name`) with `$TENSORLOG_PYTHON` or `python3`
/// from PATH and returns its combined output. Throws, so the test FAILS (never
/// skips), when the interpreter is missing, a package is missing (the scripts
/// exit 3 for that), or the script exits non-zero.
@discardableResult
public func runPython(_ script: String, named name: String, arguments: [String], directory: String) throws -> String {
    let scriptPath = directory + "/" + name
    try Data(script.utf8).write(to: URL(fileURLWithPath: scriptPath))
    let outputPath = scriptPath + ".out"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    let process = Process()
    if let python = ProcessInfo.processInfo.environment["TENSORLOG_PYTHON"], !python.isEmpty {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [scriptPath] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptPath] + arguments
    }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = output
    do {
        try process.run()
    } catch {
        throw PythonFailure(description: "could not start Python (\(error)); run scripts/setup or set TENSORLOG_PYTHON")
    }
    process.waitUntilExit()
    let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: outputPath))) ?? Data(), as: UTF8.self)
    switch process.terminationStatus {
    case 0: return text
    case 127: throw PythonFailure(description: "python3 not found on PATH (set TENSORLOG_PYTHON or run scripts/setup): \(text)")
    case 3: throw PythonFailure(description: "a Python package is missing (run scripts/setup): \(text)")
    default: throw PythonFailure(description: "\(name) exited with status \(process.terminationStatus):\n\(text)")
    }
}
