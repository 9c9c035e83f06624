/// The one summation every side of a sum benchmark uses (TensorLog's view, anonymous memory, a plain
/// mapping), so that they differ only in where the bytes are: 8 independent accumulators so the loop vectorises.
@inline(never)
public func sum(_ buffer: UnsafeBufferPointer<Float>) -> Float {
    var lanes = SIMD8<Float>()
    let base = UnsafeRawPointer(buffer.baseAddress!)
    let wide = buffer.count / 8
    for index in 0..<wide {
        lanes += base.loadUnaligned(fromByteOffset: index * 32, as: SIMD8<Float>.self)
    }
    var total = lanes.sum()
    for index in wide * 8..<buffer.count { total += buffer[index] }
    return total
}
