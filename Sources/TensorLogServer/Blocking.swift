import NIOConcurrencyHelpers
import NIOPosix

/// Runs blocking store work (file I/O, page faults on mapped segments, compute) on NIO's
/// thread pool, off the event loops and Swift's cooperative threads.
///
/// When the calling task is cancelled (request timeout, shutdown) this returns at once with
/// `CancellationError`; the work itself runs to its end and its result is dropped, so a
/// store write is never interrupted half way.
func runBlocking<T: Sendable>(_ work: @Sendable @escaping () throws -> T) async throws -> T {
    let once = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            once.withLockedValue { $0 = continuation }
            NIOThreadPool.singleton.submit { state in
                let result: Result<T, any Error> = state == .active ? Result { try work() } : .failure(CancellationError())
                once.withLockedValue { pending in
                    pending?.resume(with: result)
                    pending = nil
                }
            }
            if Task.isCancelled { resumeCancelled(once) }
        }
    } onCancel: {
        resumeCancelled(once)
    }
}

private func resumeCancelled<T>(_ once: NIOLockedValueBox<CheckedContinuation<T, any Error>?>) {
    once.withLockedValue { pending in
        pending?.resume(throwing: CancellationError())
        pending = nil
    }
}
