/// The one error thrown by the `.npy` and `.safetensors` parsers and writers.
///
/// `message` says what is wrong and where: the format, the byte offset in the
/// file and, for safetensors, the tensor name, e.g.
/// `safetensors: tensor 'w': data_offsets [0, 100) exceed the data section of 64 bytes`.
public struct InteropError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The full human-readable message, including the format prefix (`npy:` or `safetensors:`).
    public var message: String
    /// The byte offset in the file the problem was found at, when there is one.
    public var byteOffset: Int?

    public init(_ message: String, byteOffset: Int? = nil) {
        self.message = message
        self.byteOffset = byteOffset
    }

    public var description: String { message }
}
