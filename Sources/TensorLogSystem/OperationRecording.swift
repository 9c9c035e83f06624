#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One file-system operation that changed state, as the engine issued it
/// (recorded after it succeeded; for a write, the bytes actually written).
///
/// File operations carry the inode they acted on, so a trace can follow a file
/// across renames (`MANIFEST.tmp` becoming `MANIFEST`).
public enum RecordedOperation: Sendable, Equatable {
    /// `open` with `O_CREAT` (the file may have existed already).
    case create(path: String, inode: UInt64)
    /// `pwrite` of `bytes` at `offset`.
    case write(path: String, inode: UInt64, offset: Int, bytes: [UInt8])
    /// `fdatasync` of a file.
    case sync(path: String, inode: UInt64)
    case truncate(path: String, inode: UInt64, length: Int)
    case rename(from: String, to: String)
    case unlink(path: String)
    case mkdir(path: String)
    /// `fsync` of a directory.
    case syncDirectory(path: String)
}

/// A test-only hook that sees every state-changing file-system operation of
/// the engine (reads and mappings are not reported).
///
/// Like `FaultInjection` it is process-wide and installed for the duration of
/// a closure; with no observer installed the cost is one uncontended lock per
/// operation. Observers are called on the thread that made the call, after it
/// returned, and must be thread-safe.
public enum OperationRecording {
    public typealias Observer = @Sendable (RecordedOperation) -> Void

    private final class Slot: @unchecked Sendable {
        let lock = Lock()
        var observer: Observer?
    }

    private static let slot = Slot()

    /// Installs `observer` for the duration of `body`, then removes it.
    public static func with<T>(_ observer: @escaping Observer, _ body: () throws -> T) rethrows -> T {
        slot.lock.withLock { slot.observer = observer }
        defer { slot.lock.withLock { slot.observer = nil } }
        return try body()
    }

    static var current: Observer? { slot.lock.withLock { slot.observer } }

    /// Reports an operation if an observer is installed (the operation is built only then).
    @inline(__always)
    static func record(_ operation: () -> RecordedOperation) {
        guard let observer = current else { return }
        observer(operation())
    }

    /// The inode of an open descriptor (0 if fstat fails).
    static func inode(_ descriptor: Int32) -> UInt64 {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? UInt64(info.st_ino) : 0
    }
}
