import Synchronization

/// Lets another thread stop a training run: the trainer checks it before every batch and
/// throws `TrainingStopped`, leaving the model at its last epoch's checkpoint (which
/// `resume` continues).
public final class TrainingControl: Sendable {
    private let stopRequested = Atomic<Bool>(false)

    public init() {}

    /// Asks the run to stop before its next batch.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    public var isStopRequested: Bool { stopRequested.load(ordering: .relaxed) }

    /// Throws `TrainingStopped` when a stop was requested.
    func check(epochsCompleted: Int) throws(TrainingStopped) {
        if isStopRequested { throw TrainingStopped(epochsCompleted: epochsCompleted) }
    }
}

/// Thrown by a training run stopped through its `TrainingControl`.
public struct TrainingStopped: Error, Sendable, CustomStringConvertible {
    /// Epochs whose checkpoint is in the store.
    public let epochsCompleted: Int

    public var description: String { "training stopped on request after \(epochsCompleted) completed epoch(s)" }
}
