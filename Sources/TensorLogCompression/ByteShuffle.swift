/// Byte shuffling (Blosc's "shuffle" filter): transposes an array of fixed-size elements so
/// that byte 0 of every element comes first, then byte 1 of every element, and so on.
///
/// Neighbouring numbers in a tensor usually share their high bytes (sign, exponent), so after
/// shuffling those bytes form long runs that LZ4 compresses well, where the interleaved
/// original barely compresses at all.
///
/// Layout for `n = count / elementSize` whole elements: `dst[k * n + i] = src[i * elementSize + k]`.
/// The `count % elementSize` bytes after the last whole element are copied unchanged at the end.
/// Source and destination must not overlap.
public enum ByteShuffle {
    /// Bytes of interleaved elements per block in the generic path: one block stays in L1
    /// while it is visited once per byte lane.
    private static let blockBytes = 16 * 1024

    /// Shuffles `src` into `dst`, grouping byte k of every `elementSize`-byte element together
    /// (all byte 0s, then all byte 1s, ...), as Blosc's shuffle does. Bytes past the last whole
    /// element are copied unchanged at the end. Requires `src.count == dst.count`,
    /// `elementSize >= 1` and non-overlapping buffers.
    public static func shuffle(
        _ src: UnsafeRawBufferPointer, elementSize: Int, into dst: UnsafeMutableRawBufferPointer
    ) {
        precondition(src.count == dst.count, "ByteShuffle.shuffle: src.count != dst.count")
        precondition(elementSize >= 1, "ByteShuffle.shuffle: elementSize must be at least 1")
        let count = src.count
        guard count > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = count / elementSize
        let whole = n &* elementSize
        if elementSize == 1 || n <= 1 {
            d.copyMemory(from: s, byteCount: count)
            return
        }
        switch elementSize {
        case 2: shuffle2(s, d, n)
        case 4: shuffle4(s, d, n)
        case 8: shuffle8(s, d, n)
        default: shuffleGeneric(s, d, n, elementSize)
        }
        if whole < count {
            (d + whole).copyMemory(from: s + whole, byteCount: count &- whole)
        }
    }

    /// Inverts ``shuffle(_:elementSize:into:)``: scatters the byte lanes of `src` back into
    /// interleaved `elementSize`-byte elements in `dst`. Bytes past the last whole element are
    /// copied unchanged. Requires `src.count == dst.count`, `elementSize >= 1` and
    /// non-overlapping buffers.
    public static func unshuffle(
        _ src: UnsafeRawBufferPointer, elementSize: Int, into dst: UnsafeMutableRawBufferPointer
    ) {
        precondition(src.count == dst.count, "ByteShuffle.unshuffle: src.count != dst.count")
        precondition(elementSize >= 1, "ByteShuffle.unshuffle: elementSize must be at least 1")
        let count = src.count
        guard count > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        let n = count / elementSize
        let whole = n &* elementSize
        if elementSize == 1 || n <= 1 {
            d.copyMemory(from: s, byteCount: count)
            return
        }
        switch elementSize {
        case 2: unshuffle2(s, d, n)
        case 4: unshuffle4(s, d, n)
        case 8: unshuffle8(s, d, n)
        default: unshuffleGeneric(s, d, n, elementSize)
        }
        if whole < count {
            (d + whole).copyMemory(from: s + whole, byteCount: count &- whole)
        }
    }

    // MARK: - Fixed element sizes
    //
    // SIMD main loops over 16 elements at a time, then a scalar loop for the remaining
    // elements (fewer than 16). Only baseline x86_64 (SSE2) / NEON operations are needed:
    // shuffling is a narrowing of wider lanes (mask + pack), unshuffling an interleave through
    // `evenHalf`/`oddHalf` of a twice-as-wide vector, which LLVM lowers to punpck{l,h}bw/wd
    // (zip1/zip2 on arm64). Words are read as little endian so "byte k" always means the k-th
    // byte in memory. All accesses go through raw pointers (no memory binding involved).

    private typealias Bytes16 = SIMD16<UInt8>

    /// Interleaves two vectors: a0 b0 a1 b1 ... (32 bytes).
    @inline(__always)
    private static func zip(_ a: Bytes16, _ b: Bytes16) -> SIMD32<UInt8> {
        var v = SIMD32<UInt8>()
        v.evenHalf = a
        v.oddHalf = b
        return v
    }

    /// Interleaves two vectors of 16-bit units: a0 b0 a1 b1 ... (64 bytes).
    @inline(__always)
    private static func zip(_ a: SIMD16<UInt16>, _ b: SIMD16<UInt16>) -> SIMD32<UInt16> {
        var v = SIMD32<UInt16>()
        v.evenHalf = a
        v.oddHalf = b
        return v
    }

    private static func shuffle2(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int) {
        let d1 = d + n
        var i = 0
        while i &+ 16 <= n {
            let w = SIMD16<UInt16>(littleEndianBytes: s, at: i &* 2)
            d.storeBytes(of: Bytes16(truncatingIfNeeded: w), toByteOffset: i, as: Bytes16.self)
            d1.storeBytes(of: Bytes16(truncatingIfNeeded: w &>> 8), toByteOffset: i, as: Bytes16.self)
            i &+= 16
        }
        while i < n {
            let w = UInt16(littleEndian: s.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
            d.storeBytes(of: UInt8(truncatingIfNeeded: w), toByteOffset: i, as: UInt8.self)
            d1.storeBytes(of: UInt8(truncatingIfNeeded: w &>> 8), toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }

    private static func unshuffle2(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int) {
        let s1 = s + n
        var i = 0
        while i &+ 16 <= n {
            let l0 = s.loadUnaligned(fromByteOffset: i, as: Bytes16.self)
            let l1 = s1.loadUnaligned(fromByteOffset: i, as: Bytes16.self)
            d.storeBytes(of: zip(l0, l1), toByteOffset: i &* 2, as: SIMD32<UInt8>.self)
            i &+= 16
        }
        while i < n {
            let b0 = UInt16(s.load(fromByteOffset: i, as: UInt8.self))
            let b1 = UInt16(s1.load(fromByteOffset: i, as: UInt8.self))
            d.storeBytes(of: (b0 | b1 &<< 8).littleEndian, toByteOffset: i &* 2, as: UInt16.self)
            i &+= 1
        }
    }

    private static func shuffle4(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int) {
        let d1 = d + n, d2 = d1 + n, d3 = d2 + n
        var i = 0
        while i &+ 16 <= n {
            let w = SIMD16<UInt32>(littleEndianBytes: s, at: i &* 4)
            d.storeBytes(of: Bytes16(truncatingIfNeeded: w), toByteOffset: i, as: Bytes16.self)
            d1.storeBytes(of: Bytes16(truncatingIfNeeded: w &>> 8), toByteOffset: i, as: Bytes16.self)
            d2.storeBytes(of: Bytes16(truncatingIfNeeded: w &>> 16), toByteOffset: i, as: Bytes16.self)
            d3.storeBytes(of: Bytes16(truncatingIfNeeded: w &>> 24), toByteOffset: i, as: Bytes16.self)
            i &+= 16
        }
        while i < n {
            let w = UInt32(littleEndian: s.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
            d.storeBytes(of: UInt8(truncatingIfNeeded: w), toByteOffset: i, as: UInt8.self)
            d1.storeBytes(of: UInt8(truncatingIfNeeded: w &>> 8), toByteOffset: i, as: UInt8.self)
            d2.storeBytes(of: UInt8(truncatingIfNeeded: w &>> 16), toByteOffset: i, as: UInt8.self)
            d3.storeBytes(of: UInt8(truncatingIfNeeded: w &>> 24), toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }

    private static func unshuffle4(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int) {
        let s1 = s + n, s2 = s1 + n, s3 = s2 + n
        var i = 0
        while i &+ 16 <= n {
            // A 4 x 16 byte transpose: bytes 0 and 1 of 16 elements interleaved into 16-bit
            // units, likewise bytes 2 and 3, then those units interleaved.
            let l01 = zip(s.loadUnaligned(fromByteOffset: i, as: Bytes16.self),
                          s1.loadUnaligned(fromByteOffset: i, as: Bytes16.self))
            let l23 = zip(s2.loadUnaligned(fromByteOffset: i, as: Bytes16.self),
                          s3.loadUnaligned(fromByteOffset: i, as: Bytes16.self))
            let words = zip(unsafeBitCast(l01, to: SIMD16<UInt16>.self), unsafeBitCast(l23, to: SIMD16<UInt16>.self))
            d.storeBytes(of: words, toByteOffset: i &* 4, as: SIMD32<UInt16>.self)
            i &+= 16
        }
        while i < n {
            let b0 = UInt32(s.load(fromByteOffset: i, as: UInt8.self))
            let b1 = UInt32(s1.load(fromByteOffset: i, as: UInt8.self))
            let b2 = UInt32(s2.load(fromByteOffset: i, as: UInt8.self))
            let b3 = UInt32(s3.load(fromByteOffset: i, as: UInt8.self))
            let w = b0 | b1 &<< 8 | b2 &<< 16 | b3 &<< 24
            d.storeBytes(of: w.littleEndian, toByteOffset: i &* 4, as: UInt32.self)
            i &+= 1
        }
    }

    // Eight-byte elements, shuffle: the byte-at-a-time loop does not vectorise well on baseline
    // x86_64 (no SSSE3 byte shuffles), and narrowing 64-bit lanes is no faster, so groups of
    // eight elements are transposed as an 8 x 8 byte matrix in 64-bit registers (three rounds
    // of masked swaps), which is its own inverse.

    private typealias Rows = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    @inline(__always)
    private static func swapBlocks(_ x: inout UInt64, _ y: inout UInt64, _ shift: UInt64, _ mask: UInt64) {
        let t = ((x &>> shift) ^ y) & mask
        y ^= t
        x ^= t &<< shift
    }

    /// Transposes the 8 x 8 byte matrix whose row r is `rows.r` (byte c = column c, little endian).
    @inline(__always)
    private static func transpose8x8(_ a: inout Rows) {
        swapBlocks(&a.0, &a.4, 32, 0x0000_0000_FFFF_FFFF)
        swapBlocks(&a.1, &a.5, 32, 0x0000_0000_FFFF_FFFF)
        swapBlocks(&a.2, &a.6, 32, 0x0000_0000_FFFF_FFFF)
        swapBlocks(&a.3, &a.7, 32, 0x0000_0000_FFFF_FFFF)
        swapBlocks(&a.0, &a.2, 16, 0x0000_FFFF_0000_FFFF)
        swapBlocks(&a.1, &a.3, 16, 0x0000_FFFF_0000_FFFF)
        swapBlocks(&a.4, &a.6, 16, 0x0000_FFFF_0000_FFFF)
        swapBlocks(&a.5, &a.7, 16, 0x0000_FFFF_0000_FFFF)
        swapBlocks(&a.0, &a.1, 8, 0x00FF_00FF_00FF_00FF)
        swapBlocks(&a.2, &a.3, 8, 0x00FF_00FF_00FF_00FF)
        swapBlocks(&a.4, &a.5, 8, 0x00FF_00FF_00FF_00FF)
        swapBlocks(&a.6, &a.7, 8, 0x00FF_00FF_00FF_00FF)
    }

    /// Loads eight little-endian words `stride` bytes apart starting at `offset`.
    @inline(__always)
    private static func loadRows(_ p: UnsafeRawPointer, _ offset: Int, stride: Int) -> Rows {
        @inline(__always) func word(_ r: Int) -> UInt64 {
            UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset &+ r &* stride, as: UInt64.self))
        }
        return (word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7))
    }

    /// Stores eight words little endian, `stride` bytes apart starting at `offset`.
    @inline(__always)
    private static func storeRows(_ a: Rows, _ p: UnsafeMutableRawPointer, _ offset: Int, stride: Int) {
        p.storeBytes(of: a.0.littleEndian, toByteOffset: offset, as: UInt64.self)
        p.storeBytes(of: a.1.littleEndian, toByteOffset: offset &+ stride, as: UInt64.self)
        p.storeBytes(of: a.2.littleEndian, toByteOffset: offset &+ 2 &* stride, as: UInt64.self)
        p.storeBytes(of: a.3.littleEndian, toByteOffset: offset &+ 3 &* stride, as: UInt64.self)
        p.storeBytes(of: a.4.littleEndian, toByteOffset: offset &+ 4 &* stride, as: UInt64.self)
        p.storeBytes(of: a.5.littleEndian, toByteOffset: offset &+ 5 &* stride, as: UInt64.self)
        p.storeBytes(of: a.6.littleEndian, toByteOffset: offset &+ 6 &* stride, as: UInt64.self)
        p.storeBytes(of: a.7.littleEndian, toByteOffset: offset &+ 7 &* stride, as: UInt64.self)
    }

    private static func shuffle8(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i &+ 8 <= n {
            // Eight consecutive elements in, eight bytes out to each of the eight lanes.
            var rows = loadRows(s, i &* 8, stride: 8)
            transpose8x8(&rows)
            storeRows(rows, d, i, stride: n)
            i &+= 8
        }
        while i < n {
            for k in 0..<8 {
                let b = s.load(fromByteOffset: i &* 8 &+ k, as: UInt8.self)
                d.storeBytes(of: b, toByteOffset: k &* n &+ i, as: UInt8.self)
            }
            i &+= 1
        }
    }

    /// Unshuffling eight lanes is three rounds of interleaving (bytes, then 16-bit, then 32-bit
    /// units), 16 elements at a time; the transposes above are the tail's fallback.
    private static func unshuffle8(_ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i &+ 16 <= n {
            @inline(__always) func lane(_ k: Int) -> Bytes16 {
                s.loadUnaligned(fromByteOffset: k &* n &+ i, as: Bytes16.self)
            }
            @inline(__always) func pair(_ k: Int) -> SIMD16<UInt16> {
                unsafeBitCast(zip(lane(k), lane(k &+ 1)), to: SIMD16<UInt16>.self)
            }
            let low = unsafeBitCast(zip(pair(0), pair(2)), to: SIMD16<UInt32>.self)
            let high = unsafeBitCast(zip(pair(4), pair(6)), to: SIMD16<UInt32>.self)
            var words = SIMD32<UInt32>()
            words.evenHalf = low
            words.oddHalf = high
            d.storeBytes(of: words, toByteOffset: i &* 8, as: SIMD32<UInt32>.self)
            i &+= 16
        }
        while i &+ 8 <= n {
            var rows = loadRows(s, i, stride: n)
            transpose8x8(&rows)
            storeRows(rows, d, i &* 8, stride: 8)
            i &+= 8
        }
        while i < n {
            for k in 0..<8 {
                let b = s.load(fromByteOffset: k &* n &+ i, as: UInt8.self)
                d.storeBytes(of: b, toByteOffset: i &* 8 &+ k, as: UInt8.self)
            }
            i &+= 1
        }
    }

    // MARK: - Any element size, in cache-sized blocks of elements

    private static func shuffleGeneric(
        _ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int, _ size: Int
    ) {
        let block = Swift.max(16, blockBytes / size)
        var start = 0
        while start < n {
            let m = Swift.min(block, n &- start)
            let base = s + start &* size
            for k in 0..<size {
                let lane = d + (k &* n &+ start)
                for i in 0..<m {
                    let b = base.load(fromByteOffset: i &* size &+ k, as: UInt8.self)
                    lane.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
                }
            }
            start &+= m
        }
    }

    private static func unshuffleGeneric(
        _ s: UnsafeRawPointer, _ d: UnsafeMutableRawPointer, _ n: Int, _ size: Int
    ) {
        let block = Swift.max(16, blockBytes / size)
        var start = 0
        while start < n {
            let m = Swift.min(block, n &- start)
            let base = d + start &* size
            for k in 0..<size {
                let lane = s + (k &* n &+ start)
                for i in 0..<m {
                    let b = lane.load(fromByteOffset: i, as: UInt8.self)
                    base.storeBytes(of: b, toByteOffset: i &* size &+ k, as: UInt8.self)
                }
            }
            start &+= m
        }
    }
}

extension SIMD where Scalar: FixedWidthInteger {
    /// Loads `Self.scalarCount` little-endian words from `base + offset` (any alignment).
    @inline(__always)
    fileprivate init(littleEndianBytes base: UnsafeRawPointer, at offset: Int) {
        let v = base.loadUnaligned(fromByteOffset: offset, as: Self.self)
        #if _endian(big)
        var swapped = Self()
        for k in v.indices { swapped[k] = v[k].byteSwapped }
        self = swapped
        #else
        self = v
        #endif
    }
}
