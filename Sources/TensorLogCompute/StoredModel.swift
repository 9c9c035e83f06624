import Foundation
import TensorLog

/// Facts about a model saved in a store, read from its `<model>/config` tensor.
public enum StoredModel {
    /// "lstm" for a forecaster, else the network's kind ("linear", "softmax", "mlp").
    public static func kind(_ snapshot: Snapshot, model: String) throws -> String {
        let key = ModelKeys.config(model)
        guard snapshot.contains(key) else { throw ComputeError("no model '\(model)' in the store (missing \(key))") }
        let bytes = try snapshot.read(key).values(as: UInt8.self)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw ComputeError("\(key) is not a model configuration")
        }
        if let kind = object["kind"] as? String { return kind }
        if let spec = object["spec"] as? [String: Any], let kind = spec["kind"] as? String { return kind }
        throw ComputeError("\(key) is not a model configuration")
    }
}
