import FuzzSupport
import TensorLogFormat
import TensorLogInterop

// NPY.parse over arbitrary files, without and with an explicit dtype. Properties of every
// file that parses to a description d with data range r:
//   - r runs to the end of the file and holds exactly d.byteCount bytes
//   - NPY.header(for: d) followed by d.byteCount data bytes parses back to d (with d.dtype
//     given explicitly; and without it whenever the header alone names the type), with the
//     data starting at a multiple of 64
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let parsed = try? NPY.parse(bytes) {
        check(parsed.0, parsed.dataRange, fileSize: bytes.count)
    }
    // The explicit-dtype path, with a dtype picked from the input size.
    let override = DType.allCases[bytes.count % DType.allCases.count]
    if let parsed = try? NPY.parse(bytes, dtype: override) {
        require(parsed.0.dtype == override, "parse(dtype: \(override)) returned \(parsed.0.dtype)")
        check(parsed.0, parsed.dataRange, fileSize: bytes.count)
    }
    return 0
}

private func check(_ description: TensorDescription, _ range: Range<Int>, fileSize: Int) {
    guard let byteCount = description.byteCount else {
        propertyFailure("parsed description \(description) has no byte count")
    }
    require(range.upperBound == fileSize && range.count == byteCount,
            "data range \(range) of a \(fileSize)-byte file for \(description) (\(byteCount) bytes)")
    let header: [UInt8]
    do {
        header = try NPY.header(for: description)
    } catch {
        propertyFailure("NPY.header(for: \(description)) failed after a successful parse: \(error)")
    }
    require(header.count % NPY.alignment == 0, "generated header of \(header.count) bytes is not aligned")
    let file = header + [UInt8](repeating: 0, count: byteCount)
    do {
        let again = try NPY.parse(file, dtype: description.dtype)
        require(again.0 == description, "regenerated header parses to \(again.0), not \(description)")
        require(again.dataRange == header.count..<file.count, "regenerated file's data range \(again.dataRange)")
    } catch {
        propertyFailure("regenerated header for \(description) does not parse: \(error): \(String(decoding: header, as: UTF8.self))")
    }
    if let plain = try? NPY.parse(file) {
        require(plain.0 == description, "regenerated header parses (no dtype) to \(plain.0), not \(description)")
    }
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("npy_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
