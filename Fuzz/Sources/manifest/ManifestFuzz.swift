import FuzzSupport
import TensorLogFormat

// Manifest.decode and SegmentHeader.decode (the two small file headers) over arbitrary
// bytes, as given and with the trailing CRC repaired. Properties:
//   - decode(manifest.encoded()) == manifest, and encoded() is exactly the input
//   - the same for a segment header (its first 64 bytes; bytes only when write_version is 1)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    checkManifest(bytes)
    var repaired = bytes
    Repair.manifest(&repaired)
    if repaired != bytes { checkManifest(repaired) }

    checkSegmentHeader(bytes)
    var repairedHeader = bytes
    Repair.fileHeader(&repairedHeader, size: SegmentHeader.size)
    if repairedHeader != bytes { checkSegmentHeader(repairedHeader) }
    return 0
}

private func checkManifest(_ bytes: [UInt8]) {
    let decoded = bytes.withUnsafeBytes { buffer in try? Manifest.decode(buffer) }
    guard let manifest = decoded else { return }
    let encoded = manifest.encoded()
    require(encoded == bytes, "re-encoding the decoded manifest gives different bytes")
    let again = encoded.withUnsafeBytes { buffer in
        Result { () throws(FormatError) in try Manifest.decode(buffer) }
    }
    switch again {
    case .success(let manifest2): require(manifest2 == manifest, "decode(encode(manifest)) != manifest")
    case .failure(let error): propertyFailure("decode(encode(manifest)) failed: \(error)")
    }
}

private func checkSegmentHeader(_ bytes: [UInt8]) {
    let decoded = bytes.withUnsafeBytes { buffer in try? SegmentHeader.decode(buffer) }
    guard let header = decoded else { return }
    let encoded = header.encoded()
    // A writer writes its own versions (docs/FORMAT.md §3): bytes match only when the file carries them.
    if bytes.u16(at: 8) == SegmentHeader.writeVersion, bytes.u16(at: 10) == SegmentHeader.readVersion {
        require(encoded[...] == bytes.prefix(SegmentHeader.size), "re-encoding the decoded segment header gives different bytes")
    }
    let again = encoded.withUnsafeBytes { buffer in try? SegmentHeader.decode(buffer) }
    require(again == header, "decode(encode(segment header)) != segment header")
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("manifest_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
