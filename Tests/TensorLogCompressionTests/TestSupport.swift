import Foundation

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        let word = rng.next()
        for k in 0..<8 where i + k < count { out[i + k] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(k))) }
        i += 8
    }
    return out
}

func bytesOf<T>(_ values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

/// Float32 samples of a slowly varying signal: neighbours share sign, exponent and high mantissa bits.
func smoothFloat32(_ count: Int) -> [UInt8] {
    bytesOf((0..<count).map { Float(sin(Double($0) * 0.001)) * 3.5 })
}

func randomFloat32(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    return bytesOf((0..<count).map { _ in Float.random(in: -1000...1000, using: &rng) })
}
