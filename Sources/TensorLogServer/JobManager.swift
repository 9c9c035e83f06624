import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import TensorLogAPI
import TensorLogCompute

/// Runs training jobs on their own threads (never on the event loops or the thread pool that
/// serves requests), at most `maxRunning` at once; keeps their progress for polling and
/// following; and, on graceful shutdown, stops them at their next batch and waits for them.
final class JobManager: Service, Sendable {
    typealias Work = @Sendable (TrainingControl, @escaping @Sendable (EpochProgress) -> Void) throws -> [String: String]

    private struct Entry {
        var status: JobStatus
        let control: TrainingControl
        var followers: [UUID: AsyncStream<JobEvent>.Continuation] = [:]
    }

    private let entries = NIOLockedValueBox<(jobs: [String: Entry], order: [String], next: Int)>(([:], [], 1))
    private let maxRunning: Int
    private let logger: Logger
    /// Finished jobs kept for status queries; older ones are forgotten.
    private let keepFinished = 100

    init(maxRunning: Int, logger: Logger) {
        self.maxRunning = maxRunning
        self.logger = logger
    }

    /// Starts `work` on a new thread; refuses with 429 when `maxRunning` jobs are running.
    func start(kind: String, request: TrainingRequest, work: @escaping Work) throws -> JobStatus {
        let control = TrainingControl()
        let status: JobStatus = try entries.withLockedValue { state in
            let running = state.jobs.values.filter { $0.status.state == .running }.count
            guard running < maxRunning else {
                throw APIError(.tooManyRequests, "too_many_jobs", "\(running) job(s) are running, the server's limit; retry when one ends")
            }
            let id = "job-\(state.next)"
            state.next += 1
            let status = JobStatus(
                id: id, kind: kind, state: .running, request: request, epochs: [], error: nil, result: nil,
                createdAt: Date().timeIntervalSince1970, finishedAt: nil)
            state.jobs[id] = Entry(status: status, control: control)
            state.order.append(id)
            forgetOldJobs(&state)
            return status
        }
        let id = status.id
        let thread = Thread { [self] in
            let outcome = Result { try work(control) { progress in self.record(id, progress) } }
            self.finish(id, outcome)
        }
        thread.name = "tensorlog \(id)"
        thread.stackSize = 8 << 20
        thread.start()
        logger.info("started \(id): \(kind)")
        return status
    }

    func status(_ id: String) -> JobStatus? {
        entries.withLockedValue { $0.jobs[id]?.status }
    }

    func list() -> [JobStatus] {
        entries.withLockedValue { state in state.order.compactMap { state.jobs[$0]?.status } }
    }

    /// Asks a running job to stop; it becomes `cancelled` once it has.
    func cancel(_ id: String) throws -> JobStatus {
        try entries.withLockedValue { state in
            guard let entry = state.jobs[id] else { throw APIError.notFound("no job '\(id)'") }
            entry.control.requestStop()
            return entry.status
        }
    }

    /// The job's events from now on: each epoch, then its final status; ends when the job does.
    func follow(_ id: String) throws -> AsyncStream<JobEvent> {
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let follower = UUID()
        continuation.onTermination = { [weak self] _ in
            self?.entries.withLockedValue { state in _ = state.jobs[id]?.followers.removeValue(forKey: follower) }
        }
        let finished: JobStatus? = try entries.withLockedValue { state in
            guard let entry = state.jobs[id] else { throw APIError.notFound("no job '\(id)'") }
            for epoch in entry.status.epochs { continuation.yield(.epoch(epoch)) }
            guard entry.status.state == .running else { return entry.status }
            state.jobs[id]!.followers[follower] = continuation
            return nil
        }
        if let finished {
            continuation.yield(.finished(finished))
            continuation.finish()
        }
        return stream
    }

    /// Waits for graceful shutdown, then stops every running job and waits for them to end.
    func run() async throws {
        try? await gracefulShutdown()
        let running = entries.withLockedValue { state in
            state.jobs.values.filter { $0.status.state == .running }.map { entry in
                entry.control.requestStop()
                return entry.status.id
            }
        }
        if !running.isEmpty { logger.info("stopping \(running.count) running job(s) at their next batch") }
        while entries.withLockedValue({ $0.jobs.values.contains { $0.status.state == .running } }) {
            try? await _Concurrency.Task.sleep(for: .milliseconds(20))
        }
    }

    private func record(_ id: String, _ progress: EpochProgress) {
        entries.withLockedValue { state in
            guard state.jobs[id] != nil else { return }
            state.jobs[id]!.status.epochs.append(progress)
            for follower in state.jobs[id]!.followers.values { follower.yield(.epoch(progress)) }
        }
    }

    private func finish(_ id: String, _ outcome: Result<[String: String], any Error>) {
        // Followers are told outside the lock: finishing a stream runs its onTermination, which takes the lock.
        let (status, followers): (JobStatus?, [AsyncStream<JobEvent>.Continuation]) = entries.withLockedValue { state in
            guard var entry = state.jobs[id] else { return (nil, []) }
            switch outcome {
            case .success(let result):
                entry.status.state = .succeeded
                entry.status.result = result
            case .failure(let error as TrainingStopped):
                entry.status.state = .cancelled
                entry.status.error = error.description
            case .failure(let error):
                entry.status.state = .failed
                entry.status.error = APIError.from(error).message
            }
            entry.status.finishedAt = Date().timeIntervalSince1970
            let followers = Array(entry.followers.values)
            entry.followers = [:]
            state.jobs[id] = entry
            return (entry.status, followers)
        }
        for follower in followers {
            if let status { follower.yield(.finished(status)) }
            follower.finish()
        }
        if let status { logger.info("\(id) \(status.state.rawValue)\(status.error.map { ": \($0)" } ?? "")") }
    }

    private func forgetOldJobs(_ state: inout (jobs: [String: Entry], order: [String], next: Int)) {
        let finished = state.order.filter { state.jobs[$0]?.status.state != .running }
        for id in finished.dropLast(keepFinished) {
            state.jobs[id] = nil
            state.order.removeAll { $0 == id }
        }
    }
}

/// One line of `GET /v1/jobs/{id}/events` (newline-delimited JSON).
enum JobEvent: Sendable {
    case epoch(EpochProgress)
    case finished(JobStatus)

    struct Line: Encodable {
        let event: String
        let epoch: EpochProgress?
        let job: JobStatus?
    }

    var line: Line {
        switch self {
        case .epoch(let progress): Line(event: "epoch", epoch: progress, job: nil)
        case .finished(let status): Line(event: "finished", epoch: nil, job: status)
        }
    }
}
