#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file mapped read-only: the importer hands the store pointers into it,
/// so tensor bytes go from the page cache to the segment with no copy.
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CLIError("\(path): \(systemMessage(errno))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw CLIError("\(path): \(systemMessage(errno))") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw CLIError("\(path): not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { throw CLIError("\(path): cannot map: \(systemMessage(errno))") }
        _ = madvise(address, size, MADV_SEQUENTIAL)
        base = address
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }
}

func systemMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// A file written to a temporary name beside its destination and renamed over
/// it only when complete, so a failed write leaves no partial file.
final class AtomicFileWriter {
    let destination: String
    let temporary: String
    private var descriptor: Int32
    private var finished = false
    private(set) var bytesWritten = 0

    init(destination: String) throws {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        guard !name.isEmpty else { throw CLIError("\(destination): not a file name") }
        var status = stat()
        if stat(destination, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            throw CLIError("\(destination) is a directory")
        }
        temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).tmp-\(getpid())"
        descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CLIError("cannot create \(temporary): \(systemMessage(errno))") }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let count = Glibc.write(descriptor, buffer.baseAddress! + done, buffer.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIError("writing \(destination): \(systemMessage(errno))")
            }
            done += count
        }
        bytesWritten += done
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Syncs, closes and renames the file into place (and syncs the directory).
    func commit() throws {
        guard fsync(descriptor) == 0 else { throw CLIError("syncing \(destination): \(systemMessage(errno))") }
        close(descriptor)
        descriptor = -1
        guard rename(temporary, destination) == 0 else {
            throw CLIError("cannot rename \(temporary) to \(destination): \(systemMessage(errno))")
        }
        finished = true
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let directoryDescriptor = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        if !finished { unlink(temporary) }
    }
}
