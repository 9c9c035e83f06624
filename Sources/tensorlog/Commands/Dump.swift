import ArgumentParser
import Foundation
import TensorLog

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a store's segments and every record in them.",
        discussion: """
            For each segment: its number, file, size, whether it is sealed or the active one, and its live \
            and dead bytes; then each record in file order: offset, sequence, kind (put, append, delete, \
            commit), batch, key, dtype, shape, codec, stored and raw payload sizes, payload checksum status \
            (ok / MISMATCH, or unchecked with --headers-only) and whether the record is live. Records that do \
            not decode end a segment's walk and are listed as problems; the exit status is then 1, as it is \
            for a checksum mismatch.

            Examples:
              tensorlog dump my-store
              tensorlog dump my-store --segment 2 --key model/w1 --hex 16
              tensorlog dump my-store --json
            """
    )

    @OptionGroup var target: StoreArgument
    @Option(help: "Only this segment (its number).") var segment: UInt64?
    @Option(help: "Only records of this key.") var key: String?
    @Option(help: ArgumentHelp("Show the first N payload bytes of each record in hex.", valueName: "N")) var hex = 0
    @Option(help: ArgumentHelp("Show at most N records per segment.", valueName: "N")) var limit: Int?
    @Flag(help: "Read headers only: do not read payloads to check their checksums.") var headersOnly = false
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard hex >= 0 else { throw ValidationError("--hex must be at least 0") }
        if let limit, limit < 0 { throw ValidationError("--limit must be at least 0") }
    }

    struct SegmentDump {
        var statistics: SegmentStatistics
        var records: [RecordSummary] = []
        var matched = 0
        var problems: [VerifyReport.Problem] = []
    }

    func run() throws {
        let store = try openStore(target.store, .readOnly)
        let stats = store.statistics()
        var segments = stats.segments
        if let segment {
            guard let found = segments.first(where: { $0.id == segment }) else {
                throw CLIError("no segment \(segment) in \(target.store) (segments: \(segments.map { String($0.id) }.joined(separator: ", ")))")
            }
            segments = [found]
        }
        var dumps: [SegmentDump] = []
        for statistics in segments {
            var dump = SegmentDump(statistics: statistics)
            dump.problems = try reporting {
                try store.records(inSegment: statistics.id, verifyPayloads: !headersOnly, payloadPrefix: hex) { record in
                    if let key, record.header.key != key { return }
                    dump.matched += 1
                    if let limit, dump.records.count >= limit { return }
                    dump.records.append(record)
                }
            }
            dumps.append(dump)
        }
        if let key, dumps.allSatisfy({ $0.matched == 0 }) {
            throw CLIError("no record of key '\(key)' in \(segment.map { "segment \($0) of " } ?? "")\(target.store)")
        }

        if output.json {
            printJSON(.object([
                ("store", .string(target.store)),
                ("sequence", .uint(stats.sequence)),
                ("segments", .array(dumps.map(json))),
            ]))
        } else {
            printText(dumps, stats: stats)
        }

        let mismatches = dumps.flatMap(\.records).filter { $0.payloadChecksum == .mismatch }.count
        let problems = dumps.reduce(0) { $0 + $1.problems.count }
        if mismatches + problems > 0 {
            printErrorLine("\(target.store) is damaged: \(mismatches) payload checksum mismatch(es), \(problems) undecodable record(s); run tensorlog verify")
            throw ExitWithStatus(status: ExitStatus.damage)
        }
    }

    private func printText(_ dumps: [SegmentDump], stats: StoreStatistics) {
        print("store \(target.store): sequence \(stats.sequence), \(stats.segments.count) segment(s), \(formatBytes(stats.totalBytes))")
        for dump in dumps {
            let segment = dump.statistics
            print("")
            print("segment \(segment.id) (\(segmentFileName(segment.id))): \(formatBytes(segment.bytes)), \(segment.sealed ? "sealed" : "active"), "
                + "\(formatBytes(segment.liveBytes)) live, \(formatBytes(segment.deadBytes)) dead")
            if dump.records.isEmpty && dump.problems.isEmpty {
                print("  (no records\(key == nil ? "" : " of this key"))")
                continue
            }
            var table = TextTable(
                ["OFFSET", "SEQ", "KIND", "BATCH", "KEY", "DTYPE", "SHAPE", "CODEC", "STORED", "RAW", "CRC", "LIVE"],
                rightAligned: [0, 1, 8, 9])
            var hexLines: [Int: String] = [:]
            for (index, record) in dump.records.enumerated() {
                let header = record.header
                table.add([
                    String(record.offset), String(header.sequence), header.kind.description,
                    header.inBatch || header.kind == .commit ? String(header.batchID) : "-",
                    header.kind == .commit ? "(\(header.rowStart) records)" : header.key,
                    header.dtype?.name ?? "-", header.hasPayload ? formatShape(header.shape) : "-",
                    header.hasPayload ? header.codec.name : "-",
                    String(header.storedSize), String(header.rawSize),
                    header.hasPayload ? Self.checksumText(record.payloadChecksum) : "-",
                    record.isLive ? "live" : "dead",
                ])
                if hex > 0, header.hasPayload { hexLines[index] = Self.hexString(record.payloadPrefix) }
            }
            let lines = table.render(indent: "  ").split(separator: "\n", omittingEmptySubsequences: false)
            print(lines[0])
            for (index, line) in lines.dropFirst().enumerated() {
                print(line)
                if let hexLine = hexLines[index] { print("      payload: \(hexLine.isEmpty ? "(empty)" : hexLine)") }
            }
            if dump.matched > dump.records.count {
                print("  ... \(dump.matched - dump.records.count) more record(s)")
            }
            for problem in dump.problems {
                print("  PROBLEM at offset \(problem.offset): \(problem.message) (the walk of this segment stops here)")
            }
        }
    }

    static func checksumText(_ status: RecordSummary.ChecksumStatus) -> String {
        switch status {
        case .ok: "ok"
        case .mismatch: "MISMATCH"
        case .unchecked: "unchecked"
        }
    }

    static func hexString(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    private func json(_ dump: SegmentDump) -> JSON {
        let segment = dump.statistics
        return .object([
            ("id", .uint(segment.id)),
            ("file", .string(segmentFileName(segment.id))),
            ("bytes", .int(segment.bytes)),
            ("sealed", .bool(segment.sealed)),
            ("live_bytes", .int(segment.liveBytes)),
            ("dead_bytes", .int(segment.deadBytes)),
            ("records_matched", .int(dump.matched)),
            ("records", .array(dump.records.map(recordJSON))),
            ("problems", .array(dump.problems.map {
                .object([("segment", .uint($0.segment)), ("offset", .int($0.offset)), ("message", .string($0.message))])
            })),
        ])
    }

    private func recordJSON(_ record: RecordSummary) -> JSON {
        let header = record.header
        var members: [(String, JSON)] = [
            ("segment", .uint(record.segment)),
            ("offset", .int(record.offset)),
            ("sequence", .uint(header.sequence)),
            ("kind", .string(header.kind.description)),
            ("key", .string(header.key)),
            ("dtype", header.dtype.map { .string($0.name) } ?? .null),
            ("shape", header.hasPayload ? .ints(header.shape) : .null),
            ("codec", header.hasPayload ? .string(header.codec.name) : .null),
            ("stored_bytes", .uint(header.storedSize)),
            ("raw_bytes", .uint(header.rawSize)),
            ("record_bytes", .int(header.recordLength)),
            ("payload_offset", .int(record.offset + Int(header.payloadOffset))),
            ("row_start", .uint(header.rowStart)),
            ("batch", header.inBatch || header.kind == .commit ? .uint(header.batchID) : .null),
            ("previous", header.previous.map { .object([("segment", .uint($0.segment)), ("offset", .uint($0.offset))]) } ?? .null),
            ("checksum", .string(record.payloadChecksum.rawValue)),
            ("live", .bool(record.isLive)),
            ("metadata", .dictionary(Dictionary(header.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))),
        ]
        if hex > 0 { members.append(("payload_hex", .string(record.payloadPrefix.map { String(format: "%02x", $0) }.joined()))) }
        return .object(members)
    }
}
