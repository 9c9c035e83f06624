/// What an injected fault does to one system call.
public enum Fault: Sendable, Equatable {
    /// The call fails with this errno and has no effect.
    case fail(errno: Int32)
    /// A write stores only its first `bytes` bytes, then fails with `errno`
    /// (a torn write, as a crash or a full disk leaves it).
    case partialWrite(bytes: Int, errno: Int32)
}

/// A test-only hook through which every system call of the engine passes.
///
/// Tests install a `FaultInjection.Rule` to make the n-th matching call fail;
/// with no rule installed the cost is one uncontended lock per call. Rules are
/// process-wide, so tests that install them must not run in parallel with
/// each other (they use a serialized suite).
public enum FaultInjection {
    /// Decides, for a call about to happen, whether it fails and how.
    public typealias Rule = @Sendable (_ call: SystemCall, _ path: String) -> Fault?

    private final class Slot: @unchecked Sendable {
        let lock = Lock()
        var rule: Rule?
    }

    private static let slot = Slot()

    /// Installs `newRule` for the duration of `body`, then removes it.
    public static func with<T>(_ newRule: @escaping Rule, _ body: () throws -> T) rethrows -> T {
        slot.lock.withLock { slot.rule = newRule }
        defer { slot.lock.withLock { slot.rule = nil } }
        return try body()
    }

    /// The fault for this call, if a rule asks for one.
    static func fault(for call: SystemCall, path: String) -> Fault? {
        guard let current = slot.lock.withLock({ slot.rule }) else { return nil }
        return current(call, path)
    }

    /// A rule that fails the `n`-th (0-based) call matching `calls` with `fault`,
    /// and counts matching calls in `counter` so a test can learn how many
    /// failure points an operation has.
    public static func failNth(
        _ n: Int, of calls: Set<SystemCall>, with fault: Fault, counter: Counter,
        pathContains: String? = nil
    ) -> Rule {
        { call, path in
            guard calls.contains(call) else { return nil }
            if let pathContains, !path.contains(pathContains) { return nil }
            let index = counter.next()
            return index == n ? fault : nil
        }
    }

    /// A thread-safe counter for rules.
    public final class Counter: @unchecked Sendable {
        private let lock = Lock()
        private var value = 0

        public init() {}

        public func next() -> Int {
            lock.withLock {
                defer { value += 1 }
                return value
            }
        }

        public var count: Int { lock.withLock { value } }
    }
}
