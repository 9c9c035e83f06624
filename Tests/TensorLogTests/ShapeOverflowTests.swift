import Foundation
import Testing
@testable import TensorLog

/// Risk covered: a shape with no elements but rows whose byte size overflows `Int` (e.g. [0, 2^62] of
/// float64: 0 bytes in all, so the format's product check passes) traps a reader that multiplies the
/// inner dimensions, or makes it allocate by shape. Writers refuse such shapes; readers of a store that
/// already holds one (an older version's or a hostile file) report an error.
@Suite("Shapes whose rows overflow: refused at the door, an error (not a trap) when already stored")
struct ShapeOverflowTests {
    /// Shapes with no element whose rows (or a stride within a row) overflow `Int`.
    static let overflowingRows: [(DType, [Int])] = [
        (.float64, [0, 1 << 62]), (.float32, [0, 1 << 62]), (.int16, [0, 1 << 62]), (.int8, [0, 1 << 62, 2]),
        (.float64, [0, 1 << 61]), (.int8, [1, 0, 1 << 62, 4]), (.float64, [0, 3, 1 << 61]),
    ]

    @Test("the rule: total bytes, row bytes and every stride fit in Int")
    func rule() {
        #expect(rowByteCount(dtype: .float64, shape: [0, 1 << 59]) == 1 << 62)
        #expect(rowByteCount(dtype: .float64, shape: [0, 1 << 60]) == nil)
        #expect(rowByteCount(dtype: .int8, shape: [1, 0, 1 << 62, 4]) == nil)  // 0 bytes per row, but a stride of 2^64
        #expect(rowByteCount(dtype: .float32, shape: [7]) == 4 && rowByteCount(dtype: .float32, shape: []) == 4)
        #expect(rowByteCount(dtype: .float32, shape: [3, 4, 5]) == 80)
        #expect(shapeFits(dtype: .int8, shape: [1 << 40, 0]) && shapeFits(dtype: .float64, shape: [1, 0, 1 << 59]))
        #expect(!shapeFits(dtype: .int8, shape: [1 << 62, 4]))  // the total overflows
        for (dtype, shape) in Self.overflowingRows { #expect(!shapeFits(dtype: dtype, shape: shape), "\(dtype) \(shape)") }
    }

    @Test("put, append, batches and Tensor refuse them with a clear error; zero-size tensors with sane shapes work")
    func refusedAtTheDoor() throws {
        let directory = TemporaryDirectory()
        let store = try TensorStore.open(at: directory.store, options: smallOptions())
        try store.put("rows", [Float](), shape: [0, 16])
        for (dtype, shape) in Self.overflowingRows {
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            for attempt in 0..<3 {
                do {
                    switch attempt {
                    case 0: try store.put("z", dtype: dtype, shape: shape, bytes: empty)
                    case 1: _ = try Tensor(dtype: dtype, shape: shape, bytes: [])
                    default: try store.append("rows", dtype: dtype, shape: shape, bytes: empty)
                    }
                    Issue.record("\(dtype) \(shape) accepted (attempt \(attempt))")
                } catch {
                    #expect(error.code == .invalidArgument)
                    #expect(error.message.contains("more bytes than fit in a 64-bit integer"), "\(error)")
                }
            }
        }
        #expect(!store.snapshot().contains("z"))
        // Sane zero-size shapes, and a huge one whose rows are empty, are stored and read back.
        try store.put("wide-empty", dtype: .int8, shape: [1 << 40, 0], bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        try store.put("deep-empty", dtype: .float64, shape: [1, 0, 1 << 59], bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        let snapshot = store.snapshot()
        #expect(try snapshot.read("rows").shape == [0, 16] && snapshot.read("rows").bytes.isEmpty)
        #expect(try snapshot.read("rows", rows: 0..<0).shape == [0, 16])
        #expect(try snapshot.read("wide-empty").shape == [1 << 40, 0] && snapshot.read("wide-empty", rows: 5..<7).shape == [2, 0])
        #expect(try snapshot.read("deep-empty").shape == [1, 0, 1 << 59])
        #expect(try snapshot.info("deep-empty").rowBytes() == 0 && snapshot.info("rows").rowElements() == 16)
        // Rows out of bounds are refused before anything is allocated for them.
        #expect(throws: TensorLogError.self) { try snapshot.read("rows", rows: 0..<(1 << 61)) }
        try store.close()
    }

    @Test("a store that already holds one opens and lists it; every read is an error naming the key", arguments: overflowingRows.indices)
    func alreadyStored(case index: Int) throws {
        let (dtype, shape) = Self.overflowingRows[index]
        let directory = TemporaryDirectory()
        try HostileStore.writeEmptyTensor(directory.store, key: "z", dtype: dtype, shape: shape)
        var options = smallOptions()
        options.create = false
        let store = try TensorStore.open(at: directory.store, options: options)
        let snapshot = store.snapshot()
        let info = try snapshot.info("z")
        #expect(info.shape == shape && info.dtype == dtype && info.rawBytes == 0)
        #expect(snapshot.keys() == ["z"])
        func expectUnreadable(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("\(what) of \(dtype) \(shape) did not fail")
            } catch let error as TensorLogError {
                #expect(error.code == .invalidArgument && error.message.contains("'z'") && error.message.contains("cannot be read"), "\(what): \(error)")
            } catch {
                Issue.record("\(what): \(error)")
            }
        }
        expectUnreadable("read") { _ = try snapshot.read("z") }
        expectUnreadable("read of no rows") { _ = try snapshot.read("z", rows: 0..<0) }
        expectUnreadable("read into") { try snapshot.read("z", rows: 0..<0, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        expectUnreadable("view") { _ = try snapshot.view("z") }
        expectUnreadable("blockViews") { _ = try snapshot.blockViews("z") }
        expectUnreadable("row bytes") { _ = try info.rowBytes() }
        // History reads rebuild the tensor, and Tensor refuses the shape.
        #expect(throws: TensorLogError.self) { try store.read("z", version: info.version) }
        // The store stays usable: the key can be overwritten.
        try store.put("z", [Float(1)])
        #expect(try store.snapshot().read("z").values(as: Float.self) == [1])
        try store.close()
    }
}
