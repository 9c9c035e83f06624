import Foundation
import Hummingbird
import TensorLog
import TensorLogInterop
import TensorLogSystem

/// A request body written to a file before it reaches the store, so that a tensor of any size
/// is received with flat memory and becomes visible only once it has arrived whole.
/// The file is unlinked as soon as it is mapped; the mapping lives as long as this object.
final class SpooledBody: @unchecked Sendable {
    let region: MappedRegion?
    let count: Int

    /// All bytes of the body; valid while this object is alive.
    var bytes: UnsafeRawBufferPointer {
        region.map { $0.bytes(0..<count) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Receives `body` into a new file under `directory`, refusing more than `limit` bytes.
    static func receive(_ body: RequestBody, declaredLength: Int?, limit: Int, directory: String) async throws -> SpooledBody {
        if let declaredLength, declaredLength > limit {
            throw APIError(.contentTooLarge, "body_too_large", "the body of \(declaredLength) bytes exceeds the server's limit of \(limit) bytes")
        }
        let path = directory + "/body-" + UUID().uuidString
        let file: SpoolFile
        do { file = try SpoolFile(path: path) } catch { throw storeError(error, "creating a spool file in \(directory)") }
        defer { try? FileSystem.remove(path) }
        // Chunks arrive in tens of KiB; they are gathered into 4 MiB writes.
        var written = 0
        var staged = ByteBuffer()
        staged.reserveCapacity(4 << 20)
        func flush() throws {
            guard staged.readableBytes > 0 else { return }
            do {
                try staged.withUnsafeReadableBytes { (bytes) throws(SystemError) in try file.file.write(bytes, at: written) }
            } catch {
                throw storeError(error, "spooling the request body")
            }
            written += staged.readableBytes
            staged.clear()
        }
        for try await var buffer in body {
            guard written + staged.readableBytes + buffer.readableBytes <= limit else {
                throw APIError(.contentTooLarge, "body_too_large", "the body exceeds the server's limit of \(limit) bytes")
            }
            staged.writeBuffer(&buffer)
            if staged.readableBytes >= 4 << 20 { try flush() }
        }
        try flush()
        guard written > 0 else { return SpooledBody(region: nil, count: 0) }
        do {
            return SpooledBody(region: try MappedRegion(file: file.file, length: written), count: written)
        } catch {
            throw storeError(error, "mapping the spooled body")
        }
    }

    private init(region: MappedRegion?, count: Int) {
        self.region = region
        self.count = count
    }

    /// The tensor in the body: a `.npy` file, or a `.safetensors` file holding one tensor
    /// (or the one called `name`). Returns its description, metadata and data bytes.
    func tensor(name: String?) throws -> (TensorDescription, metadata: [String: String], data: UnsafeRawBufferPointer) {
        let all = bytes
        guard !all.isEmpty else { throw APIError.badBody("the body is empty; send a .npy or .safetensors file") }
        if all.count >= NPY.magic.count, NPY.magic.indices.allSatisfy({ all[$0] == NPY.magic[$0] }) {
            guard name == nil else { throw APIError.invalid("'name' selects a tensor of a .safetensors body; this body is .npy") }
            let (description, range) = try NPY.parse(all)
            return (description, [:], UnsafeRawBufferPointer(rebasing: all[range]))
        }
        let entries: [SafeTensors.Entry], metadata: [String: String]
        do {
            (entries, metadata) = try SafeTensors.parse(all)
        } catch {
            throw APIError.badBody("the body is not a .npy file (no \\x93NUMPY magic) and not a valid .safetensors file: \(error.message)")
        }
        let entry: SafeTensors.Entry
        if let name {
            guard let found = entries.first(where: { $0.name == name }) else {
                throw APIError.badBody("the .safetensors body has no tensor named '\(name)' (it has \(entries.map(\.name).sorted()))")
            }
            entry = found
        } else {
            guard entries.count == 1 else {
                throw APIError.badBody("the .safetensors body holds \(entries.count) tensors; choose one with ?name=")
            }
            entry = entries[0]
        }
        // SafeTensors.parse checked the range (absolute in the body) against the body's length.
        return (entry.description, metadata, UnsafeRawBufferPointer(rebasing: all[entry.dataRange]))
    }
}

/// Owns the spool file's descriptor (a class, so it can live across the awaits of a body's arrival).
private final class SpoolFile {
    let file: SystemFile

    init(path: String) throws(SystemError) {
        file = try SystemFile(path: path, mode: .createExclusive)
    }
}

/// A system error met by the server itself, as an API error that names what was being done.
func storeError(_ error: SystemError, _ doing: String) -> APIError {
    if error.errno == ENOSPC {
        return APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), "disk_full", "\(doing): no space left on the device")
    }
    return APIError(.internalServerError, "io_error", "\(doing): \(error)")
}
