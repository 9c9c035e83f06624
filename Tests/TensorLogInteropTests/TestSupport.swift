import Testing
import TensorLogFormat
@testable import TensorLogInterop

/// `count` bytes of plausible element data for `dtype` (bools are 0 or 1).
func sampleData(_ dtype: DType, count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    if dtype == .bool { return (0..<count).map { _ in UInt8(rng.next() & 1) } }
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// A complete .npy file written with `NPY.header(for:)`.
func npyFile(_ description: TensorDescription, seed: UInt64 = 1) throws -> (file: [UInt8], data: [UInt8]) {
    let data = sampleData(description.dtype, count: description.byteCount!, seed: seed)
    return (try NPY.header(for: description) + data, data)
}

/// A hand-built .npy file: preamble for `version`, `header` text verbatim (no padding), then `dataCount` zero bytes.
func rawNPY(_ header: String, version: UInt8 = 1, dataCount: Int = 0) -> [UInt8] {
    let text = Array(header.utf8)
    var out = NPY.magic + [version, 0]
    if version == 1 {
        out += [UInt8(text.count & 0xFF), UInt8(text.count >> 8 & 0xFF)]
    } else {
        out += (0..<4).map { UInt8(truncatingIfNeeded: text.count >> (8 * $0)) }
    }
    return out + text + [UInt8](repeating: 0, count: dataCount)
}

/// A hand-built .safetensors file: the length of `json`, `json` verbatim, then `dataCount` zero bytes.
func rawSafeTensors(_ json: String, dataCount: Int = 0) -> [UInt8] {
    let text = Array(json.utf8)
    return rawSafeTensors(bytes: text, dataCount: dataCount)
}

func rawSafeTensors(bytes text: [UInt8], dataCount: Int = 0) -> [UInt8] {
    let length = UInt64(text.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + text
        + [UInt8](repeating: 0, count: dataCount)
}

func npyError(_ bytes: [UInt8], dtype: DType? = nil) -> InteropError? {
    do {
        _ = try NPY.parse(bytes, dtype: dtype)
        return nil
    } catch {
        return error
    }
}

func safeTensorsError(_ bytes: [UInt8]) -> InteropError? {
    do {
        _ = try SafeTensors.parse(bytes)
        return nil
    } catch {
        return error
    }
}

/// Expects `NPY.parse` to throw an error whose message contains every one of `words`.
func expectNPYError(
    _ bytes: [UInt8], dtype: DType? = nil, _ words: String..., sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = npyError(bytes, dtype: dtype) else {
        Issue.record("expected an error mentioning \(words), but the file parsed", sourceLocation: sourceLocation)
        return
    }
    #expect(error.message.hasPrefix("npy: "), "\(error)", sourceLocation: sourceLocation)
    for word in words where !error.message.contains(word) {
        Issue.record("error \"\(error)\" does not mention \"\(word)\"", sourceLocation: sourceLocation)
    }
}

/// Expects `SafeTensors.parse` to throw an error whose message contains every one of `words`.
func expectSafeTensorsError(
    _ bytes: [UInt8], _ words: String..., sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = safeTensorsError(bytes) else {
        Issue.record("expected an error mentioning \(words), but the file parsed", sourceLocation: sourceLocation)
        return
    }
    #expect(error.message.hasPrefix("safetensors: "), "\(error)", sourceLocation: sourceLocation)
    for word in words where !error.message.contains(word) {
        Issue.record("error \"\(error)\" does not mention \"\(word)\"", sourceLocation: sourceLocation)
    }
}

/// Shapes covering 0-d, zero-size dimensions, odd sizes and the maximum rank.
let sampleShapes: [[Int]] = [[], [0], [1], [7], [3, 5], [2, 0, 4], [1, 1, 1], [2, 3, 1, 5], [1, 2, 1, 2, 1, 2, 1, 2]]
