import Dispatch

/// Runs async work from a synchronous command and waits for it. The command line's entry
/// point is synchronous; the main thread blocks here while the work runs on Swift's
/// cooperative threads (the main thread is not one of them on Linux).
func runAsync<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let outcome = OutcomeBox<T>()
    Task {
        do { outcome.result = .success(try await body()) } catch { outcome.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try outcome.result!.get()
}

/// Written by the task before it signals, read by the waiting thread after: the semaphore orders the two.
private final class OutcomeBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
