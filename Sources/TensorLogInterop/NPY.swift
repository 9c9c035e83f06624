import TensorLogFormat

/// Parsing and writing of numpy `.npy` files (format versions 1.0, 2.0 and 3.0), on bytes in memory.
///
/// Layout: the magic `\x93NUMPY`, a major and minor version byte, the header
/// length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), the header
/// (a Python dict literal with exactly the keys `descr`, `fortran_order` and
/// `shape`; latin-1 in 1.0/2.0, UTF-8 in 3.0), then the data.
///
/// Element types (`descr`):
///
/// | descr | DType |
/// |---|---|
/// | `<f8` `<f4` `<f2` | float64 float32 float16 |
/// | `<i8` `<i4` `<i2` `|i1` | int64 int32 int16 int8 |
/// | `|u1` `|b1` | uint8 bool |
/// | `<V2` | bfloat16 (what numpy writes for an `ml_dtypes.bfloat16` array) |
/// | `<f1` | float8_e5m2 (what numpy writes for an `ml_dtypes.float8_e5m2` array) |
///
/// numpy's own untyped void is written `|V2`, so `<V2` is taken to be
/// ml_dtypes' bfloat16, the only 2-byte ml_dtypes type. The ml_dtypes float8
/// `float8_e4m3fn` (and every other 1-byte ml_dtypes type but `float8_e5m2`)
/// is written `<V1`, which cannot be told apart: reading such a file needs an
/// explicit dtype (`parse(_:dtype:)`, the command line's `--dtype`).
/// Big-endian data, `fortran_order: True`, unsigned types wider than a byte,
/// complex, object, string, datetime and structured dtypes are refused.
public enum NPY {
    /// The 6-byte magic string every `.npy` file starts with.
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Data starts at a multiple of this many bytes in files `header(for:)` writes (as numpy does).
    public static let alignment = 64

    /// The `descr` that `header(for:)` writes for a dtype. bfloat16 is `<V2` and both
    /// float8 types are `<V1`: numpy loads these as raw void arrays (view them with
    /// the ml_dtypes type), and `parse` needs an explicit dtype for `<V1`.
    public static func descr(for dtype: DType) -> String {
        switch dtype {
        case .float64: "<f8"
        case .float32: "<f4"
        case .float16: "<f2"
        case .bfloat16: "<V2"
        case .int64: "<i8"
        case .int32: "<i4"
        case .int16: "<i2"
        case .int8: "|i1"
        case .uint8: "|u1"
        case .bool: "|b1"
        case .float8E4M3, .float8E5M2: "<V1"
        }
    }

    /// Parses the preamble and header of a `.npy` file.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - dtype: an explicit element type, for files whose `descr` does not say
    ///     it (a void type such as `<V1` or `|V2`, or ml_dtypes' `<f1`); its size
    ///     must equal the descr's item size. A descr that names a numpy type must
    ///     match it exactly (`<f4` cannot be read as int32).
    /// - Returns: the description and the byte range of the data inside `bytes`,
    ///   which runs to the end of the file and is exactly `product(shape) * size` long.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, dtype override: DType? = nil
    ) throws(InteropError) -> (TensorDescription, dataRange: Range<Int>) {
        let total = bytes.count
        let magicLength = min(total, magic.count)
        for i in 0..<magicLength where bytes[i] != magic[i] {
            throw InteropError(
                "npy: byte \(i): not a .npy file (bad magic \(Bytes.quoted(UnsafeRawBufferPointer(rebasing: bytes[0..<magicLength]))), expected '\\x93NUMPY')",
                byteOffset: i)
        }
        guard total >= 8 else {
            throw InteropError("npy: file is \(total) bytes, too short for the magic and version", byteOffset: total)
        }
        let major = bytes[6]
        let minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else {
            throw InteropError("npy: byte 6: unsupported format version \(major).\(minor) (1.0, 2.0 and 3.0 are supported)", byteOffset: 6)
        }
        let prefix = major == 1 ? 10 : 12
        guard total >= prefix else {
            throw InteropError(
                "npy: file is \(total) bytes, too short for the \(prefix)-byte preamble of format \(major).0", byteOffset: total)
        }
        var headerLength = 0
        for i in 8..<prefix { headerLength |= Int(bytes[i]) << (8 * (i - 8)) }
        guard headerLength <= total - prefix else {
            throw InteropError(
                "npy: byte 8: header length \(headerLength) runs past the end of the file (\(total - prefix) bytes follow the preamble)",
                byteOffset: 8)
        }
        let headerRange = prefix..<(prefix + headerLength)
        if major == 3, let bad = Bytes.firstInvalidUTF8(bytes, headerRange) {
            throw InteropError("npy: byte \(bad): header of a format 3.0 file is not valid UTF-8", byteOffset: bad)
        }

        var reader = PyLiteralReader(bytes, range: headerRange, allowLongSuffix: major < 3)
        let members = try reader.topLevelDict()
        var descrValue: (PyValue, Int)?
        var fortranValue: (PyValue, Int)?
        var shapeValue: (PyValue, Int)?
        for member in members {
            switch member.key {
            case Array("descr".utf8): descrValue = (member.value, member.valueOffset)
            case Array("fortran_order".utf8): fortranValue = (member.value, member.valueOffset)
            case Array("shape".utf8): shapeValue = (member.value, member.valueOffset)
            default:
                throw reader.error(
                    "unexpected key \(Bytes.quoted(member.key)) (a header has exactly 'descr', 'fortran_order' and 'shape')",
                    at: member.keyOffset)
            }
        }
        for (name, value) in [("descr", descrValue), ("fortran_order", fortranValue), ("shape", shapeValue)]
        where value == nil {
            throw reader.error("missing key '\(name)'", at: prefix)
        }
        let (fortran, fortranOffset) = fortranValue!
        guard case .bool(let isFortran) = fortran else {
            throw reader.error("'fortran_order' must be True or False, found \(fortran.typeName)", at: fortranOffset)
        }
        guard !isFortran else {
            throw reader.error(
                "fortran_order True (column-major data) is not supported; save a C-contiguous array (numpy.ascontiguousarray)",
                at: fortranOffset)
        }
        let (shapeLiteral, shapeOffset) = shapeValue!
        guard case .tuple(let dims) = shapeLiteral else {
            throw reader.error("'shape' must be a tuple, found \(shapeLiteral.typeName)", at: shapeOffset)
        }
        guard dims.count <= TensorDescription.maxRank else {
            throw reader.error("rank \(dims.count) exceeds the maximum of \(TensorDescription.maxRank)", at: shapeOffset)
        }
        var shape: [Int] = []
        for (index, dim) in dims.enumerated() {
            switch dim {
            case .int(let value?): shape.append(value)
            case .int(nil): throw reader.error("shape dimension \(index) is too large", at: shapeOffset)
            case .negativeInt: throw reader.error("shape dimension \(index) is negative", at: shapeOffset)
            default: throw reader.error("shape dimension \(index) must be an integer, found \(dim.typeName)", at: shapeOffset)
            }
        }
        let (descrLiteral, descrOffset) = descrValue!
        let dtype = try elementType(descrLiteral, override: override, reader: reader, at: descrOffset)

        let description = TensorDescription(dtype: dtype, shape: shape)
        let dataStart = headerRange.upperBound
        let needed = try Checked.byteCount(of: description, what: "npy: byte \(shapeOffset)", byteOffset: shapeOffset)
        let available = total - dataStart
        guard available == needed else {
            let problem = available < needed ? "the file is truncated" : "\(available - needed) trailing bytes follow the data"
            throw InteropError(
                "npy: byte \(dataStart): shape \(Checked.formatShape(shape)) of \(dtype.name) needs \(needed) data bytes but \(available) follow the header: \(problem)",
                byteOffset: dataStart)
        }
        return (description, dataStart..<total)
    }

    /// `parse` on an array.
    public static func parse(
        _ bytes: [UInt8], dtype override: DType? = nil
    ) throws(InteropError) -> (TensorDescription, dataRange: Range<Int>) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(InteropError) in try parse(buffer, dtype: override) }
        }
        return try result.get()
    }

    /// Maps a `descr` literal to a DType, honouring an explicit override.
    private static func elementType(
        _ literal: PyValue, override: DType?, reader: PyLiteralReader, at offset: Int
    ) throws(InteropError) -> DType {
        let text: [UInt8]
        switch literal {
        case .string(let s): text = s
        case .list: throw reader.error("structured dtypes (a list descr) are not supported", at: offset)
        default: throw reader.error("'descr' must be a string, found \(literal.typeName)", at: offset)
        }
        let quoted = Bytes.quoted(text)
        // descr = byte order, kind, decimal item size, nothing else.
        guard text.count >= 3, text.count <= 6,
            let order = text.first, [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: "=")].contains(order),
            text[2...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            text[2] != UInt8(ascii: "0")
        else {
            if text.count >= 2, [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: "=")].contains(text[0]) {
                if let reason = unsupportedKind(text[1]) {
                    throw reader.error("descr \(quoted): \(reason) are not supported", at: offset)
                }
            }
            throw reader.error("unsupported descr \(quoted)", at: offset)
        }
        let kind = text[1]
        var size = 0
        for digit in text[2...] { size = size * 10 + Int(digit - UInt8(ascii: "0")) }  // at most 4 digits: no overflow

        if let reason = unsupportedKind(kind) {
            throw reader.error("descr \(quoted): \(reason) are not supported", at: offset)
        }
        if size > 1 {
            switch order {
            case UInt8(ascii: ">"):
                throw reader.error(
                    "descr \(quoted): big-endian data is not supported; save a little-endian array (arr.astype(arr.dtype.newbyteorder('<')))",
                    at: offset)
            case UInt8(ascii: "="):
                throw reader.error("descr \(quoted): native byte order '=' is ambiguous; expected '<'", at: offset)
            case UInt8(ascii: "|") where kind != UInt8(ascii: "V"):
                throw reader.error("descr \(quoted): a \(size)-byte type needs a byte order; expected '<'", at: offset)
            default: break
            }
        }

        // The type the descr names by itself, and whether it may be overridden.
        var named: DType?
        var reinterpretable = false
        switch (kind, size) {
        case (UInt8(ascii: "f"), 8): named = .float64
        case (UInt8(ascii: "f"), 4): named = .float32
        case (UInt8(ascii: "f"), 2): named = .float16
        case (UInt8(ascii: "f"), 1): named = .float8E5M2; reinterpretable = true  // ml_dtypes float8_e5m2
        case (UInt8(ascii: "i"), 8): named = .int64
        case (UInt8(ascii: "i"), 4): named = .int32
        case (UInt8(ascii: "i"), 2): named = .int16
        case (UInt8(ascii: "i"), 1): named = .int8
        case (UInt8(ascii: "u"), 1): named = .uint8
        case (UInt8(ascii: "b"), 1): named = .bool
        case (UInt8(ascii: "V"), _):
            reinterpretable = true
            if order == UInt8(ascii: "<") && size == 2 { named = .bfloat16 }  // ml_dtypes bfloat16
        case (UInt8(ascii: "u"), _):
            throw reader.error("descr \(quoted): unsigned \(size * 8)-bit integers are not supported", at: offset)
        case (UInt8(ascii: "f"), _):
            throw reader.error("descr \(quoted): \(size * 8)-bit floats are not supported", at: offset)
        default:
            throw reader.error("unsupported descr \(quoted)", at: offset)
        }

        if let override {
            guard override == named || reinterpretable else {
                throw reader.error(
                    "descr \(quoted) is \(named?.name ?? "an unsupported type") and cannot be read as \(override.name)", at: offset)
            }
            guard override.size == size else {
                throw reader.error(
                    "descr \(quoted) has \(size)-byte elements; \(override.name) has \(override.size)-byte elements", at: offset)
            }
            return override
        }
        guard let named else {
            throw reader.error(
                "descr \(quoted) is an untyped \(size)-byte void (numpy's raw bytes; ml_dtypes saves float8_e4m3fn and most of its types as '<V1'): the element type cannot be told from the file and must be given explicitly (--dtype)",
                at: offset)
        }
        return named
    }

    private static func unsupportedKind(_ kind: UInt8) -> String? {
        switch kind {
        case UInt8(ascii: "O"): "object arrays (pickled Python objects)"
        case UInt8(ascii: "U"): "unicode string arrays"
        case UInt8(ascii: "S"), UInt8(ascii: "a"): "byte string arrays"
        case UInt8(ascii: "c"): "complex numbers"
        case UInt8(ascii: "M"), UInt8(ascii: "m"): "datetime and timedelta arrays"
        default: nil
        }
    }

    /// Builds the bytes that precede the data in a `.npy` file for `description`:
    /// magic, version (1.0, or 2.0 if the header does not fit in 1.0's 16-bit
    /// length), the header dict in numpy's own spelling, padded with spaces and a
    /// final newline so the data starts at a multiple of `alignment` bytes.
    ///
    /// - Throws: on negative dimensions, rank above `TensorDescription.maxRank`, or a byte size that overflows.
    public static func header(for description: TensorDescription) throws(InteropError) -> [UInt8] {
        _ = try Checked.byteCount(of: description, what: "npy")
        let shape = description.shape
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = Array(
            "{'descr': '\(descr(for: description.dtype))', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        for (major, prefix, limit) in [(UInt8(1), 10, Int(UInt16.max)), (UInt8(2), 12, Int(UInt32.max))] {
            let unpadded = prefix + dict.count + 1  // + "\n"
            let total = (unpadded + alignment - 1) / alignment * alignment
            let headerLength = total - prefix
            guard headerLength <= limit else { continue }
            var out = magic
            out.reserveCapacity(total)
            out.append(major)
            out.append(0)
            for i in 0..<(prefix - 8) { out.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
            out.append(contentsOf: dict)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: total - unpadded))
            out.append(UInt8(ascii: "\n"))
            return out
        }
        throw InteropError("npy: header too large")  // unreachable with rank <= maxRank
    }
}
