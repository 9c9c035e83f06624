import FuzzSupport
import TensorLogFormat

// RecordHeader.headerLength(fixedPart:) and RecordHeader.decode over arbitrary bytes, as
// given and with the header CRC repaired. Properties of every header that decodes:
//   - decode(header.encoded()) == header
//   - header.encoded() is exactly the bytes it was decoded from (the encoding is canonical)
//   - headerLength(fixedPart:) agrees with header.headerLength

/// The first byte picks the record's file offset (a multiple of 64), so the payload
/// alignment check sees offsets other than 0; the rest is the header.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let selector = input.first else { return 0 }
    let fileOffset = 64 * Int(selector)
    let bytes = Array(input.dropFirst())
    check(bytes, fileOffset: fileOffset)
    var repaired = bytes
    if Repair.recordHeader(&repaired, at: 0, fileOffset: fileOffset) != nil, repaired != bytes {
        check(repaired, fileOffset: fileOffset)
    }
    return 0
}

private func check(_ bytes: [UInt8], fileOffset: Int) {
    let length = bytes.withUnsafeBytes { buffer in
        try? RecordHeader.headerLength(fixedPart: buffer, fileOffset: fileOffset)
    }
    let decoded = bytes.withUnsafeBytes { buffer in
        try? RecordHeader.decode(buffer, fileOffset: fileOffset)
    }
    guard let header = decoded else { return }
    require(length == header.headerLength, "headerLength(fixedPart:) \(String(describing: length)) != decoded headerLength \(header.headerLength)")
    let encoded = header.encoded()
    require(encoded.count == header.headerLength, "encoded \(encoded.count) bytes, headerLength says \(header.headerLength)")
    require(encoded[...] == bytes[0..<encoded.count], "re-encoding the decoded header gives different bytes")
    let again = encoded.withUnsafeBytes { buffer in
        Result { () throws(FormatError) in try RecordHeader.decode(buffer, fileOffset: fileOffset) }
    }
    switch again {
    case .success(let header2):
        require(header2 == header, "decode(encode(header)) != header: \(header2) vs \(header)")
    case .failure(let error):
        propertyFailure("decode(encode(header)) failed: \(error)")
    }
    _ = header.recordLength
    _ = header.payloadOffset(atFileOffset: fileOffset)
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("record_header_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
