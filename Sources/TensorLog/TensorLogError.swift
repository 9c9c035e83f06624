import TensorLogFormat
import TensorLogSystem

/// The one error type of the store: a code to branch on and a message that
/// says what went wrong and where.
public struct TensorLogError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// No such key (or version) in the snapshot read.
        case notFound
        /// Stored bytes fail a check; `segment` and `offset` say where.
        case corruption(segment: UInt64, offset: Int)
        /// A system call failed with `errno`.
        case io(errno: Int32)
        /// The caller passed something the store refuses (bad key, shape, dtype, range...).
        case invalidArgument
        /// The store was written by a newer format version.
        case unsupportedFormatVersion
        /// Another writer holds the store's lock.
        case locked(pid: Int32?)
        /// The store (or its writer) is closed, or was stopped by an earlier I/O failure.
        case closed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func invalid(_ message: String) -> TensorLogError { TensorLogError(.invalidArgument, message) }

    static func notFound(_ key: String) -> TensorLogError { TensorLogError(.notFound, "no tensor '\(key)' in the store") }

    static func io(_ error: SystemError) -> TensorLogError { TensorLogError(.io(errno: error.errno), "I/O error: \(error)") }

    static func corruption(_ message: String, segment: UInt64, offset: Int) -> TensorLogError {
        TensorLogError(.corruption(segment: segment, offset: offset), "corruption in segment \(segment) at offset \(offset): \(message)")
    }

    static func format(_ error: FormatError, segment: UInt64, file: String) -> TensorLogError {
        if error.isUnsupportedVersion {
            return TensorLogError(.unsupportedFormatVersion, "\(file): \(error.message)")
        }
        return corruption("\(file): \(error.message)", segment: segment, offset: error.offset)
    }
}
