import Foundation
import Synchronization

/// Whether stderr is a terminal: progress is drawn only then, so pipes and logs stay clean.
let stderrIsTerminal = isatty(STDERR_FILENO) == 1

/// A progress bar on stderr for long operations (import, export, verify), drawn
/// only when stderr is a terminal and at most ten times a second.
final class ProgressBar {
    let label: String
    let total: Int
    private let enabled: Bool
    private var done = 0
    private var lastDraw: ContinuousClock.Instant?
    private var drawn = false

    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
        enabled = stderrIsTerminal && total > 0
    }

    func advance(by bytes: Int) { update(done + bytes) }

    func update(_ bytes: Int) {
        done = min(bytes, total)
        guard enabled else { return }
        let now = ContinuousClock.now
        if let lastDraw, now - lastDraw < .milliseconds(100), done < total { return }
        lastDraw = now
        let width = 30
        let fraction = Double(done) / Double(max(total, 1))
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        writeStderr("\r\u{1B}[K\(label) [\(bar)] \(Int(fraction * 100))% \(formatBytes(done)) / \(formatBytes(total))")
        drawn = true
    }

    /// Clears the bar's line.
    func finish() {
        if drawn { writeStderr("\r\u{1B}[K") }
        drawn = false
    }

    deinit { finish() }
}

/// An elapsed-time indicator for operations that report no progress (compaction):
/// a background thread redraws `label... 2.3 s` on stderr while `body` runs, when stderr is a terminal.
func withSpinner<R>(_ label: String, _ body: () throws -> R) rethrows -> R {
    guard stderrIsTerminal else { return try body() }
    let spinner = Spinner(label: label)
    spinner.start()
    defer { spinner.stop() }
    return try body()
}

private final class Spinner: Sendable {
    let label: String
    let running = Atomic<Bool>(true)
    let stopped = DispatchSemaphore(value: 0)

    init(label: String) { self.label = label }

    func start() {
        let thread = Thread { [self] in
            let start = ContinuousClock.now
            let frames = ["|", "/", "-", "\\"]
            var frame = 0
            while running.load(ordering: .acquiring) {
                let elapsed = ContinuousClock.now - start
                if elapsed > .milliseconds(300) {
                    writeStderr("\r\u{1B}[K\(label) \(frames[frame % 4]) \(formatSeconds(elapsed))")
                    frame += 1
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            writeStderr("\r\u{1B}[K")
            stopped.signal()
        }
        thread.start()
    }

    func stop() {
        running.store(false, ordering: .releasing)
        stopped.wait()
    }
}
