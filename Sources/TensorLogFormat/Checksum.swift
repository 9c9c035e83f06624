import CCRC32C

/// CRC32C (Castagnoli), hardware accelerated where the CPU has it.
public enum CRC32C {
    /// The CRC32C of `bytes`, continuing from `crc` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return tl_crc32c_extend(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// Stored checksums are masked (as LevelDB does) so that a CRC computed over
    /// bytes that themselves contain CRCs stays strong.
    @inlinable
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    @inlinable
    public static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xA282_EAD8
        return (rotated >> 17) | (rotated << 15)
    }

    /// Whether the hardware instruction path is in use (for benchmark reports).
    public static var usesHardware: Bool { tl_crc32c_uses_hardware() != 0 }
}
