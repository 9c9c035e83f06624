import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs independent per-block work (encoding a tensor's row blocks on write, verifying and
/// decoding them on read) on several threads.
enum ParallelBlocks {
    /// Work smaller than this in total runs on the calling thread: handing it to other threads
    /// costs more than it saves.
    static let minimumParallelBytes = 1 << 20

    /// Calls `body` once for every index in `0..<count`, on up to one thread per core when
    /// `parallel` and `count > 1`, else in order on the calling thread. Throws the error of the
    /// lowest index that failed (every index still runs, so the outcome does not depend on timing).
    static func forEach<E: Error>(
        _ count: Int, parallel: Bool, _ body: (Int) throws(E) -> Void
    ) throws(E) {
        guard parallel, count > 1 else {
            for index in 0..<count { try body(index) }
            return
        }
        let failures = UnsafeMutableBufferPointer<E?>.allocate(capacity: count)
        failures.initialize(repeating: nil)
        defer {
            failures.deinitialize()
            failures.deallocate()
        }
        // Each index writes only its own slot; concurrentPerform returns after all have run.
        withoutActuallyEscaping(body) { body in
            let run = UnsafeSendable(body)
            let slots = UnsafeSendable(failures)
            DispatchQueue.concurrentPerform(iterations: count) { index in
                do throws(E) { try run.value(index) } catch { slots.value[index] = error }
            }
        }
        if let first = failures.first(where: { $0 != nil }), let error = first { throw error }
    }
}

/// Carries a value that is not `Sendable` into `concurrentPerform`, whose iterations touch
/// disjoint parts of it (see the call site).
private struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

extension ParallelBlocks {
    /// `(0..<count).map(body)`, run as ``forEach(_:parallel:_:)`` runs.
    static func map<T, E: Error>(
        _ count: Int, parallel: Bool, _ body: (Int) throws(E) -> T
    ) throws(E) -> [T] {
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let slots = UnsafeSendable(results)
        try forEach(count, parallel: parallel) { (index) throws(E) in slots.value[index] = try body(index) }
        return results.map { $0! }
    }
}

/// Asks for transparent huge pages under a large buffer about to be filled (as numpy does for
/// its arrays): with 4 KiB pages, first-touch page faults and page clearing cost as much as
/// decoding when a large tensor is read into fresh memory. Only the 2 MiB-aligned interior is
/// advised; it is a hint, and errors are ignored.
func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
    let huge = 2 << 20
    guard buffer.count >= 2 * huge, let base = buffer.baseAddress else { return }
    let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
    let end = (Int(bitPattern: base) + buffer.count) & ~(huge - 1)
    guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(pointer, end - start, MADV_HUGEPAGE)
    #endif
}
