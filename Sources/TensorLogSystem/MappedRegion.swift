#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A read-only shared memory mapping of a file, unmapped when the last
/// reference goes away.
///
/// The mapping may extend past the file's current end (the store maps an
/// active segment once, larger than it is, and appends under it). Only bytes
/// below the file's length may be read: touching a page wholly past the end
/// raises SIGBUS, so callers check lengths against what has been written.
/// Pointers into the region are valid as long as the region object is alive.
public final class MappedRegion: @unchecked Sendable {
    /// Start of the mapping (nil for an empty one).
    public let base: UnsafeRawPointer?
    public let length: Int
    public let path: String

    /// Maps `length` bytes of `file` from offset 0.
    public init(file: borrowing SystemFile, length: Int) throws(SystemError) {
        self.length = length
        self.path = file.path
        guard length > 0 else {
            base = nil
            return
        }
        try checkFault(.mmap, file.path)
        let address = mmap(nil, length, PROT_READ, MAP_SHARED, file.descriptor, 0)
        guard let address, address != MAP_FAILED else { throw SystemError(.mmap, path: file.path, errno: errno) }
        base = UnsafeRawPointer(address)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), length) }
    }

    /// The bytes at `range`; the range must lie inside the mapping and the file.
    /// Valid while this region is alive.
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "range outside mapping")
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    public enum Advice: Sendable {
        /// Will be read soon: start reading ahead.
        case willNeed
        /// Read in order: read ahead aggressively.
        case sequential
        /// Done with these pages: they may be dropped from this process's resident set.
        case dontNeed
    }

    /// Passes a paging hint for a range to the kernel (page-aligned inward). Errors are ignored: it is a hint.
    public func advise(_ advice: Advice, range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound & ~(page - 1)
        let end = min(length, range.upperBound)
        guard end > start else { return }
        let flag: Int32 = switch advice {
        case .willNeed: MADV_WILLNEED
        case .sequential: MADV_SEQUENTIAL
        case .dontNeed: MADV_DONTNEED
        }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, flag)
    }
}
