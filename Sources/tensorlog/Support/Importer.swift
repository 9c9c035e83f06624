import Foundation
import TensorLog
import TensorLogInterop

/// What `import` does, planned in full before the store is touched: every file
/// is mapped and parsed, every key and metadata map checked, so that bad input
/// fails before the first write and leaves the store (or its absence) as it was.
struct ImportPlan {
    struct Item {
        var key: String
        var description: TensorDescription
        /// The tensor's bytes inside `file`.
        var range: Range<Int>
        var metadata: [String: String]
        var file: MappedFile

        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: file.bytes[range]) }
    }

    enum Format: String { case npy, safetensors }

    /// The tensors of one input file.
    struct Group {
        var path: String
        var format: Format
        var items: [Item]
        var metadata: [String: String]
        var dataBytes: Int { items.reduce(0) { $0 + $1.range.count } }
    }

    struct Settings {
        /// The key of a single `.npy` file (the file name without extension otherwise).
        var key: String?
        /// Prepended to every key.
        var prefix = ""
        var compression: Compression?
        /// The element type of `.npy` files whose header does not say it (`<V1`).
        var dtype: DType?
        /// A `.safetensors` file whose data is at most this many bytes goes in one atomic batch;
        /// a larger one is imported tensor by tensor straight from the mapping.
        var batchLimit = 1 << 30
    }

    var groups: [Group] = []
    var settings: Settings
    var totalBytes: Int { groups.reduce(0) { $0 + $1.dataBytes } }
    var tensorCount: Int { groups.reduce(0) { $0 + $1.items.count } }

    static func format(of path: String) throws -> Format {
        switch (path as NSString).pathExtension.lowercased() {
        case "npy": return .npy
        case "safetensors": return .safetensors
        default: throw CLIError("\(path): unsupported file type (expected a .npy or .safetensors file)")
        }
    }

    init(files: [String], settings: Settings) throws {
        self.settings = settings
        let formats = try files.map(Self.format(of:))
        if settings.key != nil {
            guard files.count == 1, formats[0] == .npy else {
                throw CLIError("--key names the tensor of a single .npy file; use --prefix for several files or .safetensors files")
            }
        }
        if settings.dtype != nil, let index = formats.firstIndex(of: .safetensors) {
            throw CLIError("\(files[index]): --dtype applies to .npy files only (a .safetensors header names every tensor's dtype)")
        }
        var seen: [String: String] = [:]
        for (path, format) in zip(files, formats) {
            let file = try MappedFile(path: path)
            var group = Group(path: path, format: format, items: [], metadata: [:])
            switch format {
            case .npy:
                let (description, range) = try Self.parseNPY(file, dtype: settings.dtype)
                let name = settings.key ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                group.items = [Item(key: settings.prefix + name, description: description, range: range, metadata: [:], file: file)]
            case .safetensors:
                let parsed: (entries: [SafeTensors.Entry], metadata: [String: String])
                do {
                    parsed = try SafeTensors.parse(file.bytes)
                } catch {
                    throw CLIError(error, file: path)
                }
                group.metadata = parsed.metadata
                group.items = parsed.entries.map {
                    Item(key: settings.prefix + $0.name, description: $0.description, range: $0.dataRange, metadata: parsed.metadata, file: file)
                }
                try checkMetadata(parsed.metadata, source: path)
            }
            for item in group.items {
                try checkKey(item.key, source: path)
                if let other = seen[item.key] {
                    throw CLIError("\(path): key '\(item.key)' is also imported from \(other); use --prefix or --key to tell them apart")
                }
                seen[item.key] = path
            }
            groups.append(group)
        }
    }

    private static func parseNPY(_ file: MappedFile, dtype: DType?) throws -> (TensorDescription, Range<Int>) {
        do {
            return try NPY.parse(file.bytes, dtype: dtype)
        } catch {
            throw CLIError(error, file: file.path)
        }
    }

    /// How one group was written.
    struct GroupResult {
        var group: Group
        var atomicBatch: Bool
    }

    /// Writes every group: a `.npy` file as one put, a `.safetensors` file as one
    /// atomic batch (or, above the batch limit, one put per tensor from the mapping).
    /// Tensors are written from the mapped file; only batches copy.
    func run(on store: TensorStore, progress: ProgressBar? = nil) throws -> [GroupResult] {
        var results: [GroupResult] = []
        var options = WriteOptions()
        options.compression = settings.compression
        for group in groups {
            let batched = group.format == .safetensors && group.items.count > 1 && group.dataBytes <= settings.batchLimit
            try reporting("importing \(group.path)") {
                if batched {
                    // TensorStore.write(batch) holds owned tensors: the one copy the batch needs.
                    try store.write { batch in
                        for item in group.items {
                            let tensor = try Tensor(
                                dtype: item.description.dtype, shape: item.description.shape, bytes: [UInt8](item.bytes),
                                metadata: item.metadata)
                            batch.put(item.key, tensor, options: options)
                        }
                    }
                    progress?.advance(by: group.dataBytes)
                } else {
                    for item in group.items {
                        var itemOptions = options
                        itemOptions.metadata = item.metadata
                        try store.put(
                            item.key, dtype: item.description.dtype, shape: item.description.shape, bytes: item.bytes,
                            options: itemOptions)
                        progress?.advance(by: item.range.count)
                    }
                }
            }
            results.append(GroupResult(group: group, atomicBatch: batched))
        }
        return results
    }
}

/// Exports tensors to a `.npy` or `.safetensors` file, written beside the
/// destination and renamed into place when complete.
struct Exporter {
    enum Format { case npy, safetensors }

    static func format(of path: String) throws -> Format {
        switch (path as NSString).pathExtension.lowercased() {
        case "npy": return .npy
        case "safetensors": return .safetensors
        default: throw CLIError("--output \(path): the file name must end in .npy (one key) or .safetensors")
        }
    }

    /// Writes `keys` (with names = keys minus `stripPrefix`) and returns the bytes written.
    static func export(
        _ snapshot: Snapshot, keys: [String], names: [String], to path: String, format: Format, showProgress: Bool = true
    ) throws -> Int {
        let infos = try keys.map { key in try reporting { try snapshot.info(key) } }
        for info in infos { _ = try reporting { try info.rowBytes() } }  // a shape the store cannot read: an error naming the key
        let header: [UInt8]
        switch format {
        case .npy:
            guard infos.count == 1 else {
                throw CLIError("a .npy file holds one tensor; \(infos.count) keys given (export them to a .safetensors file)")
            }
            do {
                header = try NPY.header(for: TensorDescription(dtype: infos[0].dtype, shape: infos[0].shape))
            } catch {
                throw CLIError(error, file: path)
            }
        case .safetensors:
            // Metadata of the exported tensors, merged (the first key listed wins a conflict).
            var metadata: [String: String] = [:]
            for info in infos {
                metadata.merge(info.metadata) { first, _ in first }
            }
            let tensors = zip(names, infos).map { (name: $0, description: TensorDescription(dtype: $1.dtype, shape: $1.shape)) }
            do {
                header = try SafeTensors.header(for: tensors, metadata: metadata).header
            } catch {
                throw CLIError(error, file: path)
            }
        }
        let total = infos.reduce(0) { $0 + $1.rawBytes }
        let progress = showProgress ? ProgressBar("export", total: total) : nil
        defer { progress?.finish() }
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(header)
        for info in infos {
            try writeTensor(info, from: snapshot, to: writer, progress: progress)
        }
        try writer.commit()
        return writer.bytesWritten
    }

    /// Streams one tensor's bytes: uncompressed blocks straight from the mapped
    /// segments (checksums verified), compressed ones decoded a few MiB at a time.
    private static func writeTensor(_ info: TensorInfo, from snapshot: Snapshot, to writer: AtomicFileWriter, progress: ProgressBar?) throws {
        if info.codecs.allSatisfy({ $0 == .none }) {
            let views = try reporting { try snapshot.blockViews(info.key, verify: true) }
            for view in views {
                try view.withUnsafeBytes { try writer.write($0) }
                progress?.advance(by: view.byteCount)
            }
            return
        }
        guard !info.shape.isEmpty else {
            let tensor = try reporting { try snapshot.read(info.key) }
            try writer.write(tensor.bytes)
            progress?.advance(by: tensor.bytes.count)
            return
        }
        let rows = info.shape[0]
        let rowBytes = try reporting { try info.rowBytes() }
        guard rows > 0, rowBytes > 0 else { return }
        let rowsPerChunk = max(1, (4 << 20) / rowBytes)
        var scratch = [UInt8](repeating: 0, count: min(rows, rowsPerChunk) * rowBytes)
        var row = 0
        while row < rows {
            let count = min(rowsPerChunk, rows - row)
            let range = row..<row + count
            try scratch.withUnsafeMutableBytes { buffer in
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count * rowBytes])
                try reporting { try snapshot.read(info.key, rows: range, into: chunk) }
                try writer.write(UnsafeRawBufferPointer(chunk))
            }
            progress?.advance(by: count * rowBytes)
            row += count
        }
    }
}
