import Foundation
import FuzzSupport
import TensorLog
import TensorLogFormat

// TensorStore.open (recovery) over an arbitrary active segment: in a fresh temporary
// directory, a valid MANIFEST names segment 1 as the only (active) segment, whose file is a
// valid 64-byte segment header followed by the fuzz input. If the input has record headers
// whose checksums do not match, it is run a second time with every record-header and
// payload checksum repaired, so mutations reach replay and not only the checksum checks.
//
// For every open that succeeds: info, read, verified view and history of every key, and
// verify(). Properties:
//   - recovery is idempotent: after close, a second open succeeds, cuts nothing more, and
//     shows the same keys with the same read results
//   - the store takes a write after recovery, and the write survives a reopen
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    run(bytes)
    let repaired = repairRecords(bytes)
    if repaired != bytes { run(repaired) }
    return 0
}

private let temporaryRoot: String = {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory), isDirectory.boolValue {
        return "/dev/shm"
    }
    return NSTemporaryDirectory()
}()

private func options() -> StoreOptions {
    var options = StoreOptions()
    options.create = false
    options.durability = .none
    options.autoCompactDeadFraction = nil
    options.segmentSize = 1 << 20
    return options
}

/// What a reader sees: each key's read result (or the error's code).
private func observe(_ store: TensorStore) -> [String: String] {
    let snapshot = store.snapshot()
    var seen: [String: String] = [:]
    for key in snapshot.keys() {
        _ = try? snapshot.info(key)
        _ = try? snapshot.view(key, verify: true)
        _ = try? store.history(key)
        do {
            let tensor = try snapshot.read(key)
            seen[key] = "\(tensor.dtype) \(tensor.shape) \(tensor.bytes.count) \(CRC32C.checksum(tensor.bytes))"
        } catch {
            seen[key] = "error \(error.code)"
        }
    }
    return seen
}

private func run(_ segmentBody: [UInt8]) {
    var template = Array("\(temporaryRoot)/tensorlog-fuzz-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else { propertyFailure("mkdtemp failed: errno \(errno)") }
    let directory = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: directory) }

    let manifest = Manifest(sealedSegments: [], activeSegment: 1, nextSegmentID: 2, sequenceFloor: 0)
    let segment = SegmentHeader(segmentID: 1).encoded() + segmentBody
    guard FileManager.default.createFile(atPath: directory + "/MANIFEST", contents: Data(manifest.encoded())),
          FileManager.default.createFile(atPath: directory + "/00000001.seg", contents: Data(segment))
    else { propertyFailure("cannot write the store files in \(directory)") }

    guard let store = try? TensorStore.open(at: directory, options: options()) else { return }
    let before = observe(store)
    _ = store.verify()
    let wrote = (try? store.put("fuzz/after-recovery", [Float(1), 2, 3], shape: [3])) != nil
    do {
        try store.close()
    } catch {
        propertyFailure("close after a successful open failed: \(error)")
    }

    let reopened: TensorStore
    do {
        reopened = try TensorStore.open(at: directory, options: options())
    } catch {
        propertyFailure("reopening a store that opened (and was recovered) fails: \(error)")
    }
    defer { try? reopened.close() }
    require(reopened.recovery.truncatedBytes == 0,
            "second open cut \(reopened.recovery.truncatedBytes) more bytes (\(reopened.recovery.truncationReason ?? "?"))")
    var after = observe(reopened)
    if wrote {
        require(after.removeValue(forKey: "fuzz/after-recovery") == "float32 [3] 12 \(CRC32C.checksum([0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40] as [UInt8]))",
                "the write after recovery did not survive a reopen")
    } else {
        after.removeValue(forKey: "fuzz/after-recovery")
    }
    var beforeWithoutProbe = before
    if wrote { beforeWithoutProbe.removeValue(forKey: "fuzz/after-recovery") }
    require(after == beforeWithoutProbe, "reopen shows different keys or reads: \(before) then \(after)")
    _ = reopened.verify()
}

/// Repairs the checksums of every record header found at a 64-byte boundary of the
/// segment (the input starts at file offset 64): the payload CRC of a decodable header whose
/// payload lies in the file, then the header CRC.
private func repairRecords(_ body: [UInt8]) -> [UInt8] {
    var bytes = body
    var position = 0
    while position + RecordHeader.fixedSize <= bytes.count {
        let fileOffset = position + SegmentHeader.size
        if let length = Repair.recordHeader(&bytes, at: position, fileOffset: fileOffset) {
            let header = bytes.withUnsafeBytes { buffer in
                try? RecordHeader.decode(UnsafeRawBufferPointer(rebasing: buffer[position...]), fileOffset: fileOffset)
            }
            if let header, header.hasPayload {
                let start = position + Int(header.payloadOffset)
                let (end, overflow) = start.addingReportingOverflow(Int(header.storedSize))
                if !overflow, end <= bytes.count {
                    bytes.put(u32: bytes.maskedCRC(start..<end), at: position + 64)
                    Repair.recordHeader(&bytes, at: position, fileOffset: fileOffset)
                }
            }
            _ = length
        }
        position += RecordHeader.alignment
    }
    return bytes
}

/// The entry point SwiftPM links as `main` (see runLibFuzzer in FuzzSupport).
@_cdecl("segment_recovery_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, data == nil ? 0 : size)
    }
}
