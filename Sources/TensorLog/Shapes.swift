import TensorLogFormat

// Readers compute row sizes through these, never with a bare product: a store written by an
// older version, or a hostile file, may hold a tensor whose total is 0 bytes but whose rows
// (product of the inner dimensions x element size) overflow `Int`. Such a tensor is listed
// and described, but reading it is an error, not a trap.

extension TensorVersion {
    /// Bytes of one row along axis 0 (the element size for rank 0 and 1).
    /// As `rowByteCount(dtype:shape:)` computes it, without building a shape array (reads are hot).
    func rowBytes(_ key: String) throws(TensorLogError) -> Int {
        var bytes = dtype.size
        for dimension in innerShape.reversed() {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
            guard dimension >= 0, !overflow else {
                throw .invalid("'\(key)' has rows of shape \(innerShape) of \(dtype), more bytes than fit in a 64-bit integer; it cannot be read")
            }
            bytes = product
        }
        return bytes
    }

    /// Bytes of `rows` rows (of the one element for rank 0), overflow-checked.
    func bytes(rows: Int, key: String) throws(TensorLogError) -> Int {
        let rowBytes = try rowBytes(key)
        guard rank > 0 else { return rowBytes }
        let (bytes, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw .invalid("\(rows) rows of '\(key)' have more bytes than fit in a 64-bit integer") }
        return bytes
    }
}

extension TensorInfo {
    /// Bytes of one row along axis 0 (the element size for rank 0 and 1); throws when the shape's
    /// rows or total overflow `Int`, which the store refuses to write but an old or hostile file may hold.
    public func rowBytes() throws(TensorLogError) -> Int {
        guard shapeFits(dtype: dtype, shape: shape), let bytes = rowByteCount(dtype: dtype, shape: shape) else {
            throw .invalid("'\(key)' has shape \(shape) of \(dtype): one row along axis 0 has more bytes than fit in a 64-bit integer; it cannot be read")
        }
        return bytes
    }

    /// Elements in one row along axis 0 (1 for rank 0 and 1); throws as `rowBytes()` does.
    public func rowElements() throws(TensorLogError) -> Int {
        try rowBytes() / dtype.size
    }
}
