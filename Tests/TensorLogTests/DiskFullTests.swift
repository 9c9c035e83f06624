import Foundation
import Testing
@testable import TensorLog

/// A store on a real, small file system that fills up: writes must fail with a clear error
/// naming ENOSPC, reads keep working, nothing acknowledged is lost, and once space is freed
/// the store reopens intact and takes writes again.
///
/// Needs to mount a file system: a 4 MiB tmpfs, or failing that a loop-mounted 4 MiB ext4
/// image (root, or CAP_SYS_ADMIN). If neither can be mounted the test FAILS and says why; it
/// never passes without having filled a disk.
@Suite("Disk full", .serialized)
struct DiskFullTests {
    /// A mounted small file system, unmounted (and its image removed) by `unmount()`.
    final class SmallFileSystem {
        let mountPoint: String
        let kind: String
        private let image: String?

        private init(mountPoint: String, kind: String, image: String?) {
            self.mountPoint = mountPoint
            self.kind = kind
            self.image = image
        }

        /// Mounts a tmpfs of `megabytes` MiB, or a loop-mounted ext4 image of that size.
        /// Throws with every attempt's error output when neither works.
        static func mount(megabytes: Int) throws -> SmallFileSystem {
            let base = NSTemporaryDirectory() + "tensorlog-diskfull-\(UUID().uuidString.prefix(8))"
            let mountPoint = base + "/mnt"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            var failures: [String] = []
            let tmpfs = run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", mountPoint])
            if tmpfs.status == 0 { return SmallFileSystem(mountPoint: mountPoint, kind: "tmpfs", image: nil) }
            failures.append("mount -t tmpfs: exit \(tmpfs.status): \(tmpfs.output)")

            let image = base + "/fs.img"
            let steps: [(String, [String])] = [
                ("/usr/bin/truncate", ["-s", "\(megabytes)M", image]),
                ("/sbin/mkfs.ext4", ["-q", "-F", image]),
                ("/bin/mount", ["-o", "loop", image, mountPoint]),
            ]
            for (tool, arguments) in steps {
                let result = run(tool, arguments)
                if result.status != 0 {
                    failures.append("\(tool) \(arguments.joined(separator: " ")): exit \(result.status): \(result.output)")
                    try? FileManager.default.removeItem(atPath: base)
                    throw MountFailure(reasons: failures)
                }
            }
            return SmallFileSystem(mountPoint: mountPoint, kind: "ext4 (loop)", image: image)
        }

        func unmount() {
            var result = Self.run("/bin/umount", [mountPoint])
            if result.status != 0 {
                // Something still holds a file open: detach lazily so the mount never leaks.
                result = Self.run("/bin/umount", ["-l", mountPoint])
            }
            let base = (mountPoint as NSString).deletingLastPathComponent
            try? FileManager.default.removeItem(atPath: base)
            _ = image
        }

        @discardableResult
        static func run(_ tool: String, _ arguments: [String]) -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            do {
                try process.run()
            } catch {
                return (-1, "cannot run \(tool): \(error)")
            }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    struct MountFailure: Error, CustomStringConvertible {
        let reasons: [String]
        var description: String {
            "DiskFullTests needs a small real file system but could not mount one (run as root, or with CAP_SYS_ADMIN): "
                + reasons.joined(separator: "; ")
        }
    }

    /// The value written under `key`: 16 KiB of float32 that depend on the key's index.
    static func values(_ index: Int) -> [Float] {
        (0..<4096).map { Float(index * 4096 + $0) }
    }

    static func bytes(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    /// Segment sizes: 8 MiB never rolls over on a 4 MiB disk, so the append itself hits ENOSPC;
    /// with 1 MiB the disk fills around roll-overs (hint file, new segment, manifest).
    @Test(
        "writes fail with ENOSPC, reads keep working, nothing acknowledged is lost, the store recovers once space is freed",
        arguments: [8 << 20, 1 << 20])
    func diskFull(segmentSize: Int) throws {
        let fileSystem: SmallFileSystem
        do {
            fileSystem = try SmallFileSystem.mount(megabytes: 4)
        } catch {
            Issue.record("\(error)")
            throw error
        }
        defer { fileSystem.unmount() }

        // A filler file on the same file system, deleted later to free space.
        let filler = fileSystem.mountPoint + "/filler"
        #expect(FileManager.default.createFile(
            atPath: filler, contents: Data(repeating: 0xAB, count: 1 << 20)), "cannot create the filler file")

        let directory = fileSystem.mountPoint + "/store"
        var options = StoreOptions()
        options.segmentSize = segmentSize
        options.durability = .everyWrite
        options.autoCompactDeadFraction = nil

        var acknowledged: [Int] = []
        var smallWriteAcknowledged = false
        var failure: TensorLogError?
        do {
            let store = try TensorStore.open(at: directory, options: options)
            // Fill the disk: 16 KiB tensors until a write fails (at most 4 MiB / 16 KiB = 256 fit).
            for index in 0..<1000 {
                do {
                    _ = try store.put("t/\(index)", Self.values(index), shape: [64, 64])
                    acknowledged.append(index)
                } catch {
                    failure = error
                    break
                }
            }
            let error = try #require(failure, "the disk never filled (\(acknowledged.count) writes succeeded on \(fileSystem.kind))")
            #expect(error.description.contains("ENOSPC"), "the write error does not name ENOSPC: \(error)")
            #expect(error.code == .io(errno: ENOSPC) || error.description.contains("ENOSPC"), "error code \(error.code)")
            print("DiskFullTests: segment size \(segmentSize >> 20) MiB: \(acknowledged.count) writes acknowledged on a 4 MiB \(fileSystem.kind), then: \(error)")
            #expect(acknowledged.count > 10, "only \(acknowledged.count) writes fit before ENOSPC")

            // Another write as large still does not fit: it fails too, with a clear error (ENOSPC
            // again, or "stopped writing" if the failure hit a roll-over and stopped the writer).
            do {
                _ = try store.put("t/retry", Self.values(5000), shape: [64, 64])
                Issue.record("a 16 KiB write succeeded on a full disk")
            } catch {
                #expect(error.description.contains("ENOSPC") || error.code == .closed, "retry failed unclearly: \(error)")
            }
            // A tiny write may still fit (a failed append cuts its partial bytes and the writer goes
            // on) or fail; if it is acknowledged it must survive like any other write.
            smallWriteAcknowledged = (try? store.put("small", [Float(7)], shape: [1])) != nil

            // Reads keep working: every acknowledged tensor, through a new snapshot.
            let snapshot = store.snapshot()
            for index in acknowledged {
                let tensor = try snapshot.read("t/\(index)")
                #expect(tensor.bytes == Self.bytes(Self.values(index)), "t/\(index) reads back wrong while the disk is full")
            }
            #expect(!snapshot.contains("t/retry"), "a failed write became visible")
            #expect(snapshot.contains("small") == smallWriteAcknowledged)
            try? store.close()
        }

        // Free space, reopen: everything acknowledged is there, the store is healthy and writable.
        try FileManager.default.removeItem(atPath: filler)
        do {
            let store = try TensorStore.open(at: directory, options: options)
            let snapshot = store.snapshot()
            for index in acknowledged {
                let tensor = try snapshot.read("t/\(index)")
                #expect(tensor.bytes == Self.bytes(Self.values(index)), "acknowledged t/\(index) lost or damaged after reopen")
            }
            #expect(!snapshot.contains("t/retry"), "a write that failed became visible after reopen")
            if smallWriteAcknowledged {
                #expect(try snapshot.read("small").bytes == Self.bytes([7]), "the acknowledged small write was lost")
            }
            let report = store.verify()
            #expect(report.isHealthy, "verify after reopen: \(report.problems)")
            _ = try store.put("after-reopen", Self.values(9999), shape: [64, 64])
            _ = try store.delete("t/0")
            try store.close()
        }
        do {
            let store = try TensorStore.open(at: directory, options: options)
            defer { try? store.close() }
            let snapshot = store.snapshot()
            #expect(try snapshot.read("after-reopen").bytes == Self.bytes(Self.values(9999)))
            #expect(!snapshot.contains("t/0"))
            for index in acknowledged.dropFirst() {
                #expect(snapshot.contains("t/\(index)"), "t/\(index) missing after the second reopen")
            }
            #expect(store.verify().isHealthy)
        }
    }
}
