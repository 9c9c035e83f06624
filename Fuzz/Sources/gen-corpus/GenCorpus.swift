import Foundation
import FuzzSupport
import TensorLog
import TensorLogCompression
import TensorLogFormat
import TensorLogInterop

// Writes the seed corpus: gen-corpus OUTPUT_DIR (normally Fuzz/Corpus). Every input is made
// with the library's own encoders (or from a real store the library wrote), plus a few
// near-valid variants. File names are content hashes, so rerunning is idempotent.

@main
struct GenCorpus {
    static func main() throws {
        let arguments = CommandLine.arguments
        let output = arguments.count > 1 ? arguments[1] : "Corpus"
        var corpus = Corpus(root: output)
        try recordHeaders(&corpus)
        try storeFiles(&corpus)
        try codecBlocks(&corpus)
        try npyFiles(&corpus)
        try safetensorsFiles(&corpus)
        try overflowingRowShapes(&corpus)
        for (target, count) in corpus.counts.sorted(by: { $0.key < $1.key }) {
            print("\(target): \(count) files")
        }
    }
}

/// This entry point is never called: the fuzz build (-sanitize=fuzzer) links libFuzzer into
/// every executable, and its objects refer to the symbol.
@_cdecl("LLVMFuzzerTestOneInput")
public func unusedFuzzEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { 0 }

struct Corpus {
    let root: String
    var counts: [String: Int] = [:]

    mutating func add(_ target: String, _ bytes: [UInt8]) throws {
        let directory = root + "/" + target
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let name = String(hash, radix: 16).leftPadded(to: 16)
        let path = directory + "/" + name
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw CocoaError(.fileWriteUnknown)
            }
            counts[target, default: 0] += 1
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

func floats(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

// MARK: - Record headers

func sampleHeaders() -> [RecordHeader] {
    var headers: [RecordHeader] = []
    func make(
        _ kind: RecordKind, key: String, sequence: UInt64 = 1, batchID: UInt64 = 0, inBatch: Bool = false,
        previous: RecordPointer? = nil, rowStart: UInt64 = 0, dtype: DType? = nil, shape: [Int] = [],
        codec: Codec = .none, storedSize: UInt64? = nil, metadata: [MetadataEntry] = [], payloadCRC: UInt32 = 0
    ) -> RecordHeader {
        let raw = dtype.flatMap { byteCount(dtype: $0, shape: shape) }.map(UInt64.init) ?? 0
        var header = RecordHeader(
            kind: kind, inBatch: inBatch, sequence: sequence, batchID: batchID, previous: previous,
            rowStart: rowStart, storedSize: storedSize ?? raw, rawSize: raw, payloadCRC: payloadCRC,
            payloadOffset: 0, key: key, dtype: dtype, shape: shape, codec: codec, metadata: metadata)
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: 64))
        return header
    }
    headers.append(make(.put, key: "w", dtype: .float32, shape: [2, 2], payloadCRC: 0x9EBA_690A))
    headers.append(make(.put, key: "model/w1", sequence: 7, dtype: .float64, shape: [16, 4],
                        codec: .lz4, storedSize: 100, metadata: [MetadataEntry("unit", "m/s")]))
    headers.append(make(.put, key: "scalar", sequence: 3, dtype: .int32, shape: []))
    headers.append(make(.append, key: "sensors/node1", sequence: 9, previous: RecordPointer(segment: 1, offset: 128),
                        rowStart: 100, dtype: .float32, shape: [100, 2], codec: .shuffleLZ4, storedSize: 300))
    headers.append(make(.put, key: "batch/member", sequence: 6, batchID: 6, inBatch: true, dtype: .bfloat16, shape: [3]))
    headers.append(make(.commit, key: "", sequence: 10, batchID: 6, rowStart: 4))
    headers.append(make(.delete, key: "model/old", sequence: 11, previous: RecordPointer(segment: 2, offset: 4096)))
    headers.append(make(.put, key: "ключ/データ", sequence: 12, dtype: .uint8, shape: [0, 5],
                        metadata: [MetadataEntry("a", ""), MetadataEntry("описание", "x")]))
    headers.append(make(.put, key: "big", sequence: 13, dtype: .int8, shape: [1 << 20]))
    headers.append(make(.put, key: "r8", sequence: 14, dtype: .bool, shape: [1, 1, 1, 1, 1, 1, 1, 2]))
    headers.append(make(.put, key: "rows-overflow", sequence: 15, dtype: .float64, shape: [0, 1 << 62]))
    return headers
}

func recordHeaders(_ corpus: inout Corpus) throws {
    for header in sampleHeaders() {
        let encoded = header.encoded()
        try corpus.add("record-header", [1] + encoded)  // selector 1: file offset 64
        // Near-valid: version 2 (unsupported), truncated, flipped kind (bad CRC).
        var newer = encoded
        newer[4] = 2
        Repair.recordHeader(&newer, at: 0, fileOffset: 64)
        try corpus.add("record-header", [1] + newer)
        try corpus.add("record-header", [1] + encoded.prefix(encoded.count - 1))
        var flipped = encoded
        flipped[6] ^= 0x07
        try corpus.add("record-header", [1] + flipped)
    }
}

// MARK: - Stores: segments, hint files, manifests

func temporaryDirectory() -> String {
    var template = Array((NSTemporaryDirectory() + "/tensorlog-corpus-XXXXXX").utf8CString)
    return String(cString: mkdtemp(&template)!)
}

func readFile(_ path: String) -> [UInt8] {
    Array(FileManager.default.contents(atPath: path) ?? Data())
}

/// Builds a store with `build`, returns its directory (caller removes it).
func makeStore(segmentSize: Int, _ build: (TensorStore) throws -> Void) throws -> String {
    let directory = temporaryDirectory()
    var options = StoreOptions()
    options.segmentSize = segmentSize
    options.durability = .none
    options.autoCompactDeadFraction = nil
    let store = try TensorStore.open(at: directory, options: options)
    try build(store)
    try store.close()
    return directory
}

func storeFiles(_ corpus: inout Corpus) throws {
    let bigSegment = 1 << 20
    var scenarios: [(String, Int, (TensorStore) throws -> Void)] = []
    scenarios.append(("one put", bigSegment, { store in
        _ = try store.put("w", [Float(1), 2, 3, 4], shape: [2, 2])
    }))
    scenarios.append(("puts, append, delete", bigSegment, { store in
        _ = try store.put("model/w1", (0..<64).map { Float($0) }, shape: [16, 4])
        _ = try store.put("model/b1", [Double(0.5), -1], shape: [2], options: WriteOptions(metadata: ["unit": "m/s"]))
        _ = try store.put("sensors/node1", (0..<20).map { Float($0) }, shape: [10, 2])
        _ = try store.append("sensors/node1", (0..<6).map { Float($0) }, shape: [3, 2])
        _ = try store.put("scalar", [Int32(42)], shape: [])
        _ = try store.delete("model/b1")
    }))
    scenarios.append(("batch", bigSegment, { store in
        _ = try store.put("a", [Int64(1), 2], shape: [2])
        _ = try store.write { batch in
            try batch.put("b", [Int16(1), 2, 3], shape: [3])
            try batch.put("c", [UInt8(7)], shape: [1])
            batch.delete("a")
        }
        _ = try store.put("d", (0..<64).map { Double($0) }, shape: [16, 4], options: WriteOptions(blockBytes: 128))
    }))
    scenarios.append(("compressed", bigSegment, { store in
        _ = try store.put("lz4", [Float](repeating: 1.5, count: 256), shape: [16, 16], options: WriteOptions(compression: .lz4))
        _ = try store.put("shuffle", (0..<256).map { Float($0) * 0.25 }, shape: [256], options: WriteOptions(compression: .shuffleLZ4))
        _ = try store.put("auto", [Int32](repeating: 3, count: 128), shape: [128], options: WriteOptions(compression: .auto))
        _ = try store.put("rows", (0..<64).map { Double($0) }, shape: [8, 8], options: WriteOptions(compression: .shuffleLZ4))
        _ = try store.append("rows", (0..<64).map { Double($0) }, shape: [8, 8], options: WriteOptions(compression: .lz4))
    }))
    scenarios.append(("rolled over", 4096, { store in
        for i in 0..<12 {
            _ = try store.put("k\(i % 5)", (0..<(40 * (i + 1))).map { Float($0) }, shape: [i + 1, 40])
        }
        _ = try store.delete("k1")
        _ = try store.put("series", [Float](repeating: 2, count: 30), shape: [10, 3])
        _ = try store.append("series", [Float](repeating: 3, count: 30), shape: [10, 3])
    }))

    for (_, segmentSize, build) in scenarios {
        let directory = try makeStore(segmentSize: segmentSize, build)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        try corpus.add("manifest", readFile(directory + "/MANIFEST"))
        for name in names where name.hasSuffix(".hint") {
            try corpus.add("hint-file", readFile(directory + "/" + name))
        }
        for name in names where name.hasSuffix(".seg") {
            let segment = readFile(directory + "/" + name)
            try corpus.add("manifest", Array(segment.prefix(SegmentHeader.size)))
            let body = Array(segment.dropFirst(SegmentHeader.size))
            guard !body.isEmpty, body.count <= 64 * 1024 else { continue }
            try corpus.add("segment-recovery", body)
            // Torn tails: cut in the middle of the last record, and a zeroed last 64 bytes.
            try corpus.add("segment-recovery", Array(body.prefix(body.count - 37)))
            var zeroed = body
            for i in (body.count - 64)..<body.count { zeroed[i] = 0 }
            try corpus.add("segment-recovery", zeroed)
        }
    }
    // Hand-made manifests and hint files, including sealed segments and a newer writer.
    try corpus.add("manifest", Manifest(sealedSegments: [1, 2, 4], activeSegment: 5, nextSegmentID: 6, sequenceFloor: 99).encoded())
    try corpus.add("manifest", Manifest(sealedSegments: [], activeSegment: 1, nextSegmentID: 2, sequenceFloor: 0, writeVersion: 2).encoded())
    var offset: UInt64 = 64
    var entries: [HintFile.Entry] = []
    for var header in sampleHeaders() where header.storedSize < 4096 {
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: Int(offset)))
        entries.append(HintFile.Entry(offset: offset, header: header))
        offset += UInt64(header.recordLength)
    }
    try corpus.add("hint-file", HintFile(segmentID: 3, segmentLength: offset, entries: entries).encoded())
    try corpus.add("hint-file", HintFile(segmentID: 1, segmentLength: 64, entries: []).encoded())
}

// MARK: - Codecs

func codecBlocks(_ corpus: inout Corpus) throws {
    var raws: [[UInt8]] = [[], [0], Array("hello hello hello hello".utf8), [UInt8](repeating: 0, count: 1000)]
    raws.append(floats((0..<256).map { Float($0) * 0.5 }))
    raws.append((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
    raws.append(Array("The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.".utf8))
    raws.append((0..<64).map { Double($0) }.withUnsafeBytes { Array($0) })
    for raw in raws {
        for codec in [Codec.lz4, .shuffleLZ4] {
            for (selector, elementSize) in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 3)] {
                if codec == .lz4 && elementSize != 1 { continue }
                var encoded = [UInt8](repeating: 0, count: BlockCodec.maxEncodedSize(rawSize: raw.count, codec: codec))
                let written = try raw.withUnsafeBytes { src in
                    try encoded.withUnsafeMutableBytes { dst in
                        try BlockCodec.encode(src, codec: codec, elementSize: elementSize, into: dst)
                    }
                }
                let input = CodecInput.encode(rawSize: raw.count, block: Array(encoded[0..<written]))
                if codec == .lz4 {
                    try corpus.add("lz4-block", input)
                } else {
                    try corpus.add("shuffle-lz4-block", [UInt8(selector)] + input)
                }
            }
        }
    }
}

// MARK: - npy

func npyFiles(_ corpus: inout Corpus) throws {
    for dtype in DType.allCases {
        for shape in [[], [3], [2, 3], [0, 4], [1, 1, 2]] {
            let description = TensorDescription(dtype: dtype, shape: shape)
            let header = try NPY.header(for: description)
            let count = description.byteCount!
            try corpus.add("npy", header + (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        }
    }
    // Hand-written headers in the spellings numpy and others produce.
    func handmade(_ dict: String, major: UInt8 = 1, data: Int) -> [UInt8] {
        var text = Array(dict.utf8)
        let prefix = major == 1 ? 10 : 12
        while (prefix + text.count + 1) % 64 != 0 { text.append(UInt8(ascii: " ")) }
        text.append(UInt8(ascii: "\n"))
        var out = NPY.magic + [major, 0]
        let length = text.count
        for i in 0..<(prefix - 8) { out.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
        return out + text + [UInt8](repeating: 1, count: data)
    }
    try corpus.add("npy", handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data: 16))
    try corpus.add("npy", handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", major: 2, data: 16))
    try corpus.add("npy", handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", major: 3, data: 16))
    try corpus.add("npy", handmade("{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (3L,)}", data: 24))
    try corpus.add("npy", handmade("{'descr': '|b1', 'fortran_order': False, 'shape': (5,)}", data: 5))
    try corpus.add("npy", handmade("{'descr': '<V2', 'fortran_order': False, 'shape': (2,)}", data: 4))
    try corpus.add("npy", handmade("{'descr': '|V1', 'fortran_order': False, 'shape': (4,)}", data: 4))
    try corpus.add("npy", handmade("{'descr': '<f1', 'fortran_order': False, 'shape': (4,)}", data: 4))
    try corpus.add("npy", handmade("{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}", data: 8))
    try corpus.add("npy", handmade("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data: 16))
    try corpus.add("npy", handmade("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: 4))
    try corpus.add("npy", handmade("{'descr': '<U3', 'fortran_order': False, 'shape': (), }", data: 12))
    try corpus.add("npy", handmade("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: 8))
}

// MARK: - safetensors

func safetensorsFiles(_ corpus: inout Corpus) throws {
    func file(_ tensors: [(String, TensorDescription)], metadata: [String: String] = [:]) throws -> [UInt8] {
        let (header, ranges) = try SafeTensors.header(for: tensors, metadata: metadata)
        let dataLength = ranges.last?.upperBound ?? 0
        return header + (0..<dataLength).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    }
    try corpus.add("safetensors", try file([]))
    try corpus.add("safetensors", try file([("w", TensorDescription(dtype: .float32, shape: [2, 2]))]))
    try corpus.add("safetensors", try file(
        [("model.w1", TensorDescription(dtype: .float16, shape: [3, 4])),
         ("model.b1", TensorDescription(dtype: .bfloat16, shape: [4])),
         ("empty", TensorDescription(dtype: .int64, shape: [0, 3])),
         ("scalar", TensorDescription(dtype: .float64, shape: []))],
        metadata: ["format": "pt", "note": "quote \" backslash \\ tab \t é ✓"]))
    var all: [(String, TensorDescription)] = []
    for dtype in DType.allCases { all.append(("t_\(dtype.name)", TensorDescription(dtype: dtype, shape: [2]))) }
    try corpus.add("safetensors", try file(all))
    try corpus.add("safetensors", try file([("ключ \u{1F600}", TensorDescription(dtype: .uint8, shape: [1, 1, 3]))]))
    // Hand-written JSON: escapes, whitespace, unknown keys, out-of-order offsets.
    func handmade(_ json: String, data: Int) -> [UInt8] {
        var bytes = Array(json.utf8)
        var out: [UInt8] = []
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: bytes.count >> (8 * i))) }
        out += bytes
        bytes = out
        return bytes + [UInt8](repeating: 2, count: data)
    }
    try corpus.add("safetensors", handmade(
        #"{ "b" : {"dtype":"F32","shape":[1],"data_offsets":[4,8]}, "a\u00e9\n":{"shape":[1],"dtype":"I32","data_offsets":[0,4],"extra":[1,{"x":null}]} }"#,
        data: 8))
    try corpus.add("safetensors", handmade(#"{"__metadata__":{"k":"v","\ud83d\ude00":"1e3"},"x":{"dtype":"BOOL","shape":[2,1],"data_offsets":[0,2]}}"#, data: 2))
    try corpus.add("safetensors", handmade(#"{"x":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,3]},"y":{"dtype":"U8","shape":[],"data_offsets":[3,4]}}"#, data: 4))
}

// MARK: - Shapes whose rows overflow

/// Shapes with no element whose rows (inner dimensions x element size) or a stride within a row
/// overflow Int, which writers and importers refuse and readers report (issue 11); and two with
/// huge dimensions that fit, which must keep working.
let overflowingRowShapeCases: [(descr: String, safetensors: String, dtype: DType, shape: [Int])] = [
    ("<f8", "F64", .float64, [0, 1 << 62]), ("|i1", "I8", .int8, [0, 1 << 62, 2]), ("<i2", "I16", .int16, [1, 0, 1 << 62, 4]),
    ("<f8", "F64", .float64, [1 << 62, 0]), ("<f8", "F64", .float64, [0, 1 << 59]),
]

func overflowingRowShapes(_ corpus: inout Corpus) throws {
    for (descr, name, _, shape) in overflowingRowShapeCases {
        let tuple = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        while (10 + text.count + 1) % 64 != 0 { text.append(UInt8(ascii: " ")) }
        text.append(UInt8(ascii: "\n"))
        try corpus.add("npy", NPY.magic + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text)
        let json = Array(#"{"z":{"dtype":"\#(name)","shape":[\#(shape.map(String.init).joined(separator: ","))],"data_offsets":[0,0]}}"#.utf8)
        try corpus.add("safetensors", withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json)
    }
    // A segment body: a put of each shape (no payload), then an ordinary put that recovery must reach.
    var body: [UInt8] = []
    func place(_ header: RecordHeader, payload: [UInt8]) {
        var header = header
        let fileOffset = SegmentHeader.size + body.count
        header.payloadCRC = CRC32C.checksum(payload)
        header.payloadOffset = UInt32(header.payloadOffset(atFileOffset: fileOffset))
        var bytes = header.encoded()
        bytes += [UInt8](repeating: 0, count: Int(header.payloadOffset) - bytes.count) + payload
        bytes += [UInt8](repeating: 0, count: header.recordLength - bytes.count)
        body += bytes
    }
    for (index, (_, _, dtype, shape)) in overflowingRowShapeCases.enumerated() {
        place(RecordHeader(kind: .put, sequence: UInt64(index + 1), key: "z\(index)", dtype: dtype, shape: shape), payload: [])
    }
    place(RecordHeader(kind: .put, sequence: UInt64(overflowingRowShapeCases.count + 1), storedSize: 8, rawSize: 8, key: "w", dtype: .float32, shape: [2]),
          payload: floats([1, 2]))
    try corpus.add("segment-recovery", body)
}
