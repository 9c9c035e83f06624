import CLZ4
import Synchronization
import TensorLogFormat

/// A block could not be encoded or decoded: bad sizes, a destination that is too small, or
/// malformed compressed bytes.
public struct CodecError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in words.
    public let message: String

    /// Creates an error carrying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "CodecError: \(message)" }
}

/// Encodes and decodes one payload block with a ``Codec`` (raw, LZ4, or byte-shuffle + LZ4).
///
/// An LZ4 block is exactly one `LZ4_compress_default` block; it carries no size or checksum of
/// its own, so the caller stores the raw size (and a CRC) in the record header and hands the
/// exact raw size to ``decode(_:codec:elementSize:into:)``. Source and destination buffers must
/// not overlap.
public enum BlockCodec {
    /// The largest raw block LZ4 can take (LZ4_MAX_INPUT_SIZE).
    public static let maxRawBlockSize: Int = Int(LZ4_MAX_INPUT_SIZE)

    /// An upper bound on encode's output for rawSize bytes (rawSize for .none).
    /// For the LZ4 codecs this is LZ4's `LZ4_COMPRESSBOUND` formula, `n + n / 255 + 16`.
    public static func maxEncodedSize(rawSize: Int, codec: Codec) -> Int {
        let n = Swift.max(rawSize, 0)
        switch codec {
        case .none: return n
        case .lz4, .shuffleLZ4:
            // Saturating, so a size read from a hostile header cannot trap here.
            let (withMargin, overflow1) = n.addingReportingOverflow(n / 255)
            let (bound, overflow2) = withMargin.addingReportingOverflow(16)
            return overflow1 || overflow2 ? Int.max : bound
        }
    }

    /// Encodes src with codec into dst (dst.count >= maxEncodedSize). Returns bytes written.
    /// Throws CodecError if src is larger than maxRawBlockSize (for lz4 codecs) or dst is too small
    /// (smaller than ``maxEncodedSize(rawSize:codec:)``, whatever the data).
    /// `elementSize` is the dtype's size in bytes; only `.shuffleLZ4` uses it (must be >= 1).
    public static func encode(
        _ src: UnsafeRawBufferPointer, codec: Codec, elementSize: Int,
        into dst: UnsafeMutableRawBufferPointer
    ) throws(CodecError) -> Int {
        let required = maxEncodedSize(rawSize: src.count, codec: codec)
        if codec != .none && src.count > maxRawBlockSize {
            throw CodecError("raw block of \(src.count) bytes exceeds the LZ4 limit of \(maxRawBlockSize)")
        }
        guard dst.count >= required else {
            throw CodecError("destination of \(dst.count) bytes is smaller than the \(required) bytes \(codec) may need")
        }
        switch codec {
        case .none:
            copy(src, into: dst)
            return src.count
        case .lz4:
            return try compressOrThrow(src, into: dst)
        case .shuffleLZ4:
            guard elementSize >= 1 else { throw CodecError("element size \(elementSize) is not positive") }
            if elementSize == 1 { return try compressOrThrow(src, into: dst) }
            let scratch = ScratchPool.take(src.count)
            defer { ScratchPool.give(scratch) }
            ByteShuffle.shuffle(src, elementSize: elementSize, into: scratch)
            return try compressOrThrow(UnsafeRawBufferPointer(scratch), into: dst)
        }
    }

    /// Decodes exactly dst.count raw bytes. Uses LZ4_decompress_safe only; throws CodecError (never traps)
    /// when the input is malformed, decodes to a different size than dst.count, or sizes overflow Int32.
    /// Safe on arbitrary hostile input bytes. On error, dst's contents are unspecified.
    public static func decode(
        _ src: UnsafeRawBufferPointer, codec: Codec, elementSize: Int,
        into dst: UnsafeMutableRawBufferPointer
    ) throws(CodecError) {
        switch codec {
        case .none:
            guard src.count == dst.count else {
                throw CodecError("raw block of \(src.count) bytes where \(dst.count) were expected")
            }
            copy(src, into: dst)
        case .lz4:
            try decompress(src, into: dst)
        case .shuffleLZ4:
            guard elementSize >= 1 else { throw CodecError("element size \(elementSize) is not positive") }
            if elementSize == 1 {
                try decompress(src, into: dst)
                return
            }
            // Reject bad sizes before allocating a scratch buffer as large as dst.
            try checkDecodeSizes(src, dst)
            let scratch = ScratchPool.take(dst.count)
            defer { ScratchPool.give(scratch) }
            try decompress(src, into: scratch)
            ByteShuffle.unshuffle(UnsafeRawBufferPointer(scratch), elementSize: elementSize, into: dst)
        }
    }

    /// Automatic choice: tries shuffle-lz4 when elementSize > 1 (else lz4); keeps the encoded form only if it
    /// saves at least `minSavings` (default 0.10) of the raw size, otherwise returns .none and 0 (caller stores raw bytes).
    /// Returns the codec chosen and the encoded byte count written into dst (dst.count >= maxEncodedSize(rawSize:, codec: .lz4)).
    ///
    /// `elementSize` <= 1 means plain LZ4. Empty input and input larger than ``maxRawBlockSize`` give
    /// `.none` (the caller stores raw bytes, or splits the block). `minSavings` is clamped to
    /// 0...1 (NaN counts as 0). LZ4 is run with an output limit of the largest size that still saves
    /// enough, so it stops early on incompressible data. Throws CodecError if dst is too small.
    public static func encodeAuto(
        _ src: UnsafeRawBufferPointer, elementSize: Int, minSavings: Double = 0.10,
        into dst: UnsafeMutableRawBufferPointer
    ) throws(CodecError) -> (codec: Codec, count: Int) {
        let raw = src.count
        guard raw > 0, raw <= maxRawBlockSize else { return (.none, 0) }
        let required = maxEncodedSize(rawSize: raw, codec: .lz4)
        guard dst.count >= required else {
            throw CodecError("destination of \(dst.count) bytes is smaller than the \(required) bytes lz4 may need")
        }
        let savings = minSavings.isNaN ? 0 : Swift.min(Swift.max(minSavings, 0), 1)
        // count <= raw - savings * raw  <=>  count <= raw - ceil(savings * raw)
        let limit = raw - Int((savings * Double(raw)).rounded(.up))
        guard limit > 0 else { return (.none, 0) }
        let capped = UnsafeMutableRawBufferPointer(rebasing: dst[0..<limit])

        let written: Int
        let codec: Codec
        if elementSize > 1 {
            let scratch = ScratchPool.take(raw)
            defer { ScratchPool.give(scratch) }
            ByteShuffle.shuffle(src, elementSize: elementSize, into: scratch)
            written = compress(UnsafeRawBufferPointer(scratch), into: capped)
            codec = .shuffleLZ4
        } else {
            written = compress(src, into: capped)
            codec = .lz4
        }
        return written > 0 ? (codec, written) : (.none, 0)
    }

    // MARK: - LZ4 calls

    private static func copy(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) {
        if let s = src.baseAddress, let d = dst.baseAddress, src.count > 0 {
            d.copyMemory(from: s, byteCount: src.count)
        }
    }

    /// One LZ4 block of src into dst. Returns the bytes written, or 0 when the output does not
    /// fit in dst (or src is larger than LZ4 accepts).
    private static func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) -> Int {
        guard src.count <= maxRawBlockSize, dst.count > 0, let d = dst.baseAddress else { return 0 }
        let capacity = Int32(clamping: dst.count)
        let dstChars = d.assumingMemoryBound(to: CChar.self)
        var placeholder: CChar = 0 // a valid pointer for an empty source
        let written: Int32
        if let s = src.baseAddress, src.count > 0 {
            written = LZ4_compress_default(s.assumingMemoryBound(to: CChar.self), dstChars, Int32(src.count), capacity)
        } else {
            written = LZ4_compress_default(&placeholder, dstChars, 0, capacity)
        }
        return Int(Swift.max(written, 0))
    }

    private static func compressOrThrow(
        _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer
    ) throws(CodecError) -> Int {
        let written = compress(src, into: dst)
        guard written > 0 else {
            throw CodecError("LZ4 could not compress \(src.count) bytes into \(dst.count) bytes")
        }
        return written
    }

    private static func checkDecodeSizes(
        _ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer
    ) throws(CodecError) {
        guard src.count <= Int(Int32.max) else {
            throw CodecError("compressed block of \(src.count) bytes is larger than LZ4 accepts")
        }
        guard dst.count <= Int(Int32.max) else {
            throw CodecError("raw size \(dst.count) is larger than LZ4 accepts")
        }
        guard src.count > 0 else { throw CodecError("empty LZ4 block (even an empty payload encodes to 1 byte)") }
    }

    /// Decodes one LZ4 block of src into exactly dst.count bytes with LZ4_decompress_safe, which
    /// never reads past src or writes past dst whatever the input.
    private static func decompress(
        _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer
    ) throws(CodecError) {
        try checkDecodeSizes(src, dst)
        guard let s = src.baseAddress else { throw CodecError("empty LZ4 block") }
        var placeholder: CChar = 0 // a valid pointer for an empty destination
        let result: Int32
        if let d = dst.baseAddress, dst.count > 0 {
            result = LZ4_decompress_safe(
                s.assumingMemoryBound(to: CChar.self), d.assumingMemoryBound(to: CChar.self),
                Int32(src.count), Int32(dst.count))
        } else {
            result = LZ4_decompress_safe(s.assumingMemoryBound(to: CChar.self), &placeholder, Int32(src.count), 0)
        }
        guard result >= 0 else {
            throw CodecError("malformed LZ4 block of \(src.count) bytes for \(dst.count) raw bytes (LZ4 result \(result))")
        }
        guard Int(result) == dst.count else {
            throw CodecError("LZ4 block decoded to \(result) bytes where \(dst.count) were expected")
        }
    }
}

/// Scratch buffers for the shuffled form of a block, kept between calls.
///
/// A fresh 4 MiB allocation per block is a fresh mapping (or trimmed heap) whose pages fault
/// in on first touch, which cost about as much as the shuffle itself; a few buffers are kept
/// instead (at most ``maxPooled``, each at most ``maxPooledBytes``; larger ones are freed after
/// use), so encoding and decoding on several threads at once each find one.
enum ScratchPool {
    static let maxPooled = 4
    static let maxPooledBytes = 16 << 20

    /// Buffers and their capacities (the pointer is the buffer's start).
    private static let pool = Mutex<[(address: UInt, count: Int)]>([])

    /// A buffer of exactly `count` bytes (uninitialised); give it back with ``give(_:)``.
    static func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let found = pool.withLock { buffers -> (address: UInt, count: Int)? in
            guard let index = buffers.firstIndex(where: { $0.count >= count }) else { return nil }
            return buffers.remove(at: index)
        }
        if let found, let start = UnsafeMutableRawPointer(bitPattern: found.address) {
            return UnsafeMutableRawBufferPointer(start: start, count: count)
        }
        // Round up so that blocks of slightly different sizes share buffers.
        let capacity = count <= maxPooledBytes ? Swift.max(count, 64 << 10).roundedUpToPage : count
        let fresh = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        return UnsafeMutableRawBufferPointer(start: fresh.baseAddress, count: count)
    }

    /// Returns a buffer from ``take(_:)``.
    static func give(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let start = buffer.baseAddress else { return }
        let count = buffer.count
        let capacity = count <= maxPooledBytes ? Swift.max(count, 64 << 10).roundedUpToPage : count
        let kept = capacity <= maxPooledBytes && pool.withLock { buffers -> Bool in
            guard buffers.count < maxPooled else { return false }
            buffers.append((UInt(bitPattern: start), capacity))
            return true
        }
        if !kept { start.deallocate() }
    }
}

private extension Int {
    var roundedUpToPage: Int { (self + 4095) & ~4095 }
}
