#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Process memory figures from /proc/self/status (Linux).
public enum ProcessMemory {
    /// Current anonymous resident memory (RssAnon) in bytes: heap and other
    /// private memory, excluding the file-backed pages of mapped segments. Nil where unavailable.
    public static func rssAnonBytes() -> Int? { field("RssAnon:") }

    /// Peak resident set size (VmHWM) in bytes, file-backed pages included.
    public static func peakResidentBytes() -> Int? { field("VmHWM:") }

    static func field(_ name: String) -> Int? {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        var total = 0
        while total < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n <= 0 { break }
            total += n
        }
        let text = String(decoding: bytes[0..<total], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let value = parts.first.flatMap({ Int($0) }) else { return nil }
            return parts.count > 1 && parts[1] == "kB" ? value * 1024 : value
        }
        return nil
    }
}

/// Tracks the largest RssAnon seen across samples.
public struct PeakMemoryTracker: Sendable {
    /// Largest RssAnon sampled so far, in bytes.
    public private(set) var peakRssAnonBytes = 0
    /// A tracker with no samples.
    public init() {}
    /// Reads RssAnon now and keeps the maximum.
    public mutating func sample() {
        if let now = ProcessMemory.rssAnonBytes(), now > peakRssAnonBytes { peakRssAnonBytes = now }
    }
}
