#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: which call, on what path, and the errno it returned.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    public let call: SystemCall
    public let path: String
    public let errno: Int32

    public init(_ call: SystemCall, path: String, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    /// The errno's symbolic name and text, e.g. "ENOSPC (No space left on device)".
    public var errnoDescription: String {
        let name = Self.names[errno] ?? "errno \(errno)"
        return "\(name) (\(String(cString: strerror(errno))))"
    }

    public var description: String { "\(call.rawValue) \(path): \(errnoDescription)" }

    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EEXIST: "EEXIST", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR",
        EINVAL: "EINVAL", EMFILE: "EMFILE", EFBIG: "EFBIG", ENOSPC: "ENOSPC", EROFS: "EROFS",
        EDQUOT: "EDQUOT", ENAMETOOLONG: "ENAMETOOLONG",
    ]
}

/// Every system call the engine makes, by name. Fault injection targets these.
public enum SystemCall: String, Sendable, CaseIterable {
    case open, close, pread, pwrite, fsync, ftruncate, fstat, rename, unlink, mkdir, mmap, flock, readdir
}
