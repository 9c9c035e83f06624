import FuzzSupport
import TensorLogFormat
import TensorLogInterop

// SafeTensors.parse over arbitrary files. Properties of every file that parses:
//   - the entries' data ranges are sorted, lie in the file, tile the data section, and each
//     holds exactly its description's byte count
//   - SafeTensors.header(for:metadata:) over the parsed entries (in the order returned),
//     followed by the data section, parses back to the same names, descriptions, ranges
//     (relative to the data section) and metadata
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let parsed = try? SafeTensors.parse(bytes) else { return 0 }
    let dataStart = 8 + Int(bytes.u64(at: 0))
    let dataLength = bytes.count - dataStart
    var expected = dataStart
    for entry in parsed.entries {
        require(entry.dataRange.lowerBound == expected, "entry '\(entry.name)' starts at \(entry.dataRange.lowerBound), expected \(expected)")
        require(entry.dataRange.count == entry.description.byteCount, "entry '\(entry.name)' range \(entry.dataRange) for \(entry.description)")
        expected = entry.dataRange.upperBound
    }
    require(expected == bytes.count, "entries end at \(expected), file at \(bytes.count)")

    let regenerated: (header: [UInt8], ranges: [Range<Int>])
    do {
        regenerated = try SafeTensors.header(
            for: parsed.entries.map { ($0.name, $0.description) }, metadata: parsed.metadata)
    } catch {
        propertyFailure("SafeTensors.header(for:) failed after a successful parse: \(error); names \(parsed.entries.map { Array($0.name.utf8) })")
    }
    require(regenerated.header.count % 8 == 0, "regenerated header of \(regenerated.header.count) bytes is not 8-aligned")
    for (entry, range) in zip(parsed.entries, regenerated.ranges) {
        require(range == (entry.dataRange.lowerBound - dataStart)..<(entry.dataRange.upperBound - dataStart),
                "regenerated range \(range) for '\(entry.name)' at \(entry.dataRange)")
    }
    let file = regenerated.header + [UInt8](repeating: 0, count: dataLength)
    do {
        let again = try SafeTensors.parse(file)
        require(again.metadata == parsed.metadata, "metadata \(again.metadata) != \(parsed.metadata)")
        require(again.entries.count == parsed.entries.count, "\(again.entries.count) entries != \(parsed.entries.count)")
        let newStart = regenerated.header.count
        for (a, b) in zip(again.entries, parsed.entries) {
            require(Array(a.name.utf8) == Array(b.name.utf8), "name \(Array(a.name.utf8)) != \(Array(b.name.utf8))")
            require(a.description == b.description, "'\(a.name)': \(a.description) != \(b.description)")
            require(a.dataRange.lowerBound - newStart == b.dataRange.lowerBound - dataStart
                    && a.dataRange.count == b.dataRange.count, "'\(a.name)': range \(a.dataRange) vs \(b.dataRange)")
        }
    } catch {
        propertyFailure("regenerated safetensors header does not parse: \(error): \(String(decoding: regenerated.header, as: UTF8.self))")
    }
    return 0
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("safetensors_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
