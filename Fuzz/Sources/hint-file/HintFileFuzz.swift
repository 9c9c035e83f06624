import FuzzSupport
import TensorLogFormat

// HintFile.decode over arbitrary bytes, as given and with every checksum repaired (entry
// header CRCs, body length, body CRC, header CRC). Properties of every file that decodes:
//   - decode(hint.encoded()) == hint
//   - hint.encoded() is exactly the input (the encoding is canonical) when its
//     write_version and read_version are this writer's (a writer writes its own versions)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    check(bytes)
    var repaired = bytes
    Repair.hintFile(&repaired)
    if repaired != bytes { check(repaired) }
    return 0
}

private func check(_ bytes: [UInt8]) {
    let decoded = bytes.withUnsafeBytes { buffer in try? HintFile.decode(buffer) }
    guard let hint = decoded else { return }
    let encoded = hint.encoded()
    // A writer writes its own versions (docs/FORMAT.md §3), so the bytes can only match
    // when the file carries them.
    if bytes.u16(at: 8) == SegmentHeader.writeVersion, bytes.u16(at: 10) == SegmentHeader.readVersion {
        require(encoded == bytes, "re-encoding the decoded hint file gives different bytes (\(encoded.count) vs \(bytes.count))")
    }
    let again = encoded.withUnsafeBytes { buffer in
        Result { () throws(FormatError) in try HintFile.decode(buffer) }
    }
    switch again {
    case .success(let hint2): require(hint2 == hint, "decode(encode(hint)) != hint")
    case .failure(let error): propertyFailure("decode(encode(hint)) failed: \(error)")
    }
    for entry in hint.entries {
        _ = entry.header.recordLength
    }
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("hint_file_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
