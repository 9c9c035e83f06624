// The format's value types (DType, Codec, RecordPointer...) are part of the store's API.
@_exported import TensorLogFormat
