import TensorLog
import TensorLogAPI

extension TensorSummary {
    public init(_ info: TensorInfo) {
        self.init(
            key: info.key, dtype: info.dtype.name, shape: info.shape, version: info.version, blocks: info.blockCount,
            codecs: info.codecs.map(\.name), storedBytes: info.storedBytes, rawBytes: info.rawBytes, metadata: info.metadata)
    }
}
