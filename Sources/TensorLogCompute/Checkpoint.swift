import Foundation
import TensorLog

/// Where a model lives in the store. Every checkpoint rewrites these keys in one atomic
/// batch, so each is a new version of the same keys (see `TensorStore.history`):
///
/// - `<model>/config`: uint8 tensor holding `ModelConfig` as JSON
/// - `<model>/layer<i>/weight` [in, out] and `<model>/layer<i>/bias` [out], float32, uncompressed (viewed zero-copy)
/// - `<model>/optimizer/velocity/layer<i>/...` (SGD) or `<model>/optimizer/m/...` and `.../v/...` (Adam)
/// - `<model>/scaling/shift` and `<model>/scaling/scale` [D], float32, when the config has `scaling`
///   (forecasters always have them): features enter the first layer as (x - shift) / scale
public enum ModelKeys {
    /// `<model>/config`: the model's configuration as a uint8 JSON tensor.
    public static func config(_ model: String) -> String { "\(model)/config" }
    /// `<model>/layer<i>/weight`: float32 [in, out].
    public static func weight(_ model: String, layer: Int) -> String { "\(model)/layer\(layer)/weight" }
    /// `<model>/layer<i>/bias`: float32 [out].
    public static func bias(_ model: String, layer: Int) -> String { "\(model)/layer\(layer)/bias" }

    /// Keys under `<model>/` that a checkpoint writes (parameters, optimiser state, scaling), excluding `config`.
    /// Used to delete leftovers of an earlier, differently shaped model of the same name.
    static func isCheckpointKey(_ key: String, model: String) -> Bool {
        guard key.hasPrefix(model + "/") else { return false }
        var rest = Substring(key.dropFirst(model.count + 1))
        if rest.hasPrefix("optimizer/") {
            rest = rest.dropFirst("optimizer/".count)
            guard let slash = rest.firstIndex(of: "/"), ["velocity", "m", "v"].contains(rest[..<slash]) else { return false }
            rest = rest[rest.index(after: slash)...]
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        func numbered(_ part: Substring, _ stem: String) -> Bool {
            part.hasPrefix(stem) && part.count > stem.count && part.dropFirst(stem.count).allSatisfy(\.isNumber)
        }
        switch (parts[0], parts[1]) {
        case (let layer, "weight"), (let layer, "bias"): return numbered(layer, "layer") || layer == "head"
        case (let layer, "wx"), (let layer, "wh"): return numbered(layer, "lstm")
        case ("scaling", "shift"), ("scaling", "scale"): return true
        default: return false
        }
    }

    /// Deletes (in `batch`) checkpoint keys of `model` visible in `snapshot` that are not in `keeping`.
    static func deleteStale(_ batch: inout Batch, snapshot: Snapshot, model: String, keeping: Set<String>) {
        for key in snapshot.keys(prefix: model + "/") where isCheckpointKey(key, model: model) && !keeping.contains(key) {
            batch.delete(key)
        }
    }
    static func parameters(_ model: String, layers: Int) -> [String] { ParameterSet.names(layers: layers, prefix: "\(model)/") }
    static func optimizerState(_ model: String, kind: OptimizerSpec.Kind) -> [String] {
        switch kind {
        case .sgd: ["\(model)/optimizer/velocity/"]
        case .adam: ["\(model)/optimizer/m/", "\(model)/optimizer/v/"]
        }
    }
}

/// Optimiser state shaped like the parameters.
final class OptimizerState {
    let kind: OptimizerSpec.Kind
    let slots: [ParameterSet]

    convenience init(kind: OptimizerSpec.Kind, widths: [Int]) {
        self.init(kind: kind, shapes: ParameterSet.shapes(widths: widths))
    }

    init(kind: OptimizerSpec.Kind, shapes: [[Int]]) {
        self.kind = kind
        slots = (0..<(kind == .sgd ? 1 : 2)).map { _ in ParameterSet(shapes: shapes) }
    }

    /// One update of every parameter tensor with `gradients`; weight decay applies to weights only.
    func step(_ params: ParameterSet, gradients: ParameterSet, spec: OptimizerSpec, step: Int) {
        for i in 0..<params.count {
            let w = params.buffers[i].baseAddress!, g = gradients.buffers[i].baseAddress!
            let count = params.buffers[i].count
            let decay = params.shapes[i].count == 2 ? spec.weightDecay : 0
            switch kind {
            case .sgd:
                OptimizerKernels.sgdStep(
                    weights: w, gradient: g, velocity: slots[0].buffers[i].baseAddress!, count: count,
                    learningRate: spec.learningRate, momentum: spec.momentum, weightDecay: decay)
            case .adam:
                OptimizerKernels.adamStep(
                    weights: w, gradient: g, m: slots[0].buffers[i].baseAddress!, v: slots[1].buffers[i].baseAddress!,
                    count: count, step: step, learningRate: spec.learningRate, beta1: spec.beta1, beta2: spec.beta2,
                    epsilon: spec.epsilon, weightDecay: decay)
            }
        }
    }
}

enum Checkpoint {
    static let uncompressed = WriteOptions(compression: Compression.none)

    /// Writes config, parameters, scaling statistics and optimiser state as one atomic batch; returns its sequence.
    /// Checkpoint keys of `model` not written (an earlier model's layers, state or scaling) are deleted.
    @discardableResult
    static func save(
        store: TensorStore, model: String, config: ModelConfig, params: ParameterSet, scaler: FeatureScaler?, optimizer: OptimizerState?
    ) throws -> UInt64 {
        precondition((config.scaling == nil) == (scaler == nil), "scaling statistics go with a config that has scaling")
        let json = try JSONEncoder().encode(config)
        let layers = config.widths.count - 1
        let snapshot = store.snapshot()
        return try store.write { batch in
            var written = Set(try scaler?.put(into: &batch, model: model) ?? [])
            batch.put(ModelKeys.config(model), try Tensor([UInt8](json), metadata: ["tensorlog.kind": "model-config"]), options: uncompressed)
            for (name, buffer, shape) in zip3(ModelKeys.parameters(model, layers: layers), params.buffers, params.shapes) {
                try batch.put(name, Array(buffer), shape: shape, options: uncompressed)
                written.insert(name)
            }
            if let optimizer {
                for (prefix, slot) in zip(ModelKeys.optimizerState(model, kind: optimizer.kind), optimizer.slots) {
                    for (name, buffer, shape) in zip3(ParameterSet.names(layers: layers, prefix: prefix), slot.buffers, slot.shapes) {
                        try batch.put(name, Array(buffer), shape: shape, options: uncompressed)
                        written.insert(name)
                    }
                }
            }
            ModelKeys.deleteStale(&batch, snapshot: snapshot, model: model, keeping: written)
        }
    }

    static func loadConfig(_ snapshot: Snapshot, model: String) throws -> ModelConfig {
        let key = ModelKeys.config(model)
        guard snapshot.contains(key) else { throw ComputeError("no model '\(model)' in the store (missing \(key))") }
        let bytes = try snapshot.read(key).values(as: UInt8.self)
        do {
            return try JSONDecoder().decode(ModelConfig.self, from: Data(bytes))
        } catch {
            throw ComputeError("cannot decode \(key): \(error)")
        }
    }

    /// Copies stored float32 tensors `names` into `set` (shapes must match).
    static func load(_ snapshot: Snapshot, names: [String], into set: ParameterSet) throws {
        for (name, (buffer, shape)) in zip(names, zip(set.buffers, set.shapes)) {
            let info = try snapshot.info(name)
            guard info.dtype == .float32, info.shape == shape else {
                throw ComputeError("'\(name)' is \(info.dtype) \(info.shape); expected float32 \(shape)")
            }
            try snapshot.read(name, rows: 0..<shape[0], into: UnsafeMutableRawBufferPointer(buffer))
        }
    }
}

func zip3<A: Sequence, B: Sequence, C: Sequence>(_ a: A, _ b: B, _ c: C) -> [(A.Element, B.Element, C.Element)] {
    zip(a, zip(b, c)).map { ($0, $1.0, $1.1) }
}

/// A stored model opened for inference: parameters are zero-copy views of the
/// mapped checkpoint when stored uncompressed (always, when written by the trainer),
/// otherwise decoded copies.
final class LoadedModel {
    let config: ModelConfig
    let views: [TensorView]
    let owned: ParameterSet?
    /// The stored feature scaling (nil for models trained without, and for models saved before scaling existed).
    let scaler: FeatureScaler?

    init(snapshot: Snapshot, model: String) throws {
        let config = try Checkpoint.loadConfig(snapshot, model: model)
        self.config = config
        scaler = try config.scaling.map { _ in try FeatureScaler.load(snapshot, model: model, width: config.inputs) }
        let names = ModelKeys.parameters(model, layers: config.widths.count - 1)
        var views: [TensorView] = []
        for name in names {
            guard let view = try? snapshot.view(name), view.dtype == .float32 else { break }
            views.append(view)
        }
        if views.count == names.count {
            let expected = ParameterSet.shapes(widths: config.widths)
            for (view, shape) in zip(views, expected) where view.shape != shape {
                throw ComputeError("stored parameter shape \(view.shape) does not match \(shape)")
            }
            self.views = views
            owned = nil
        } else {
            let set = ParameterSet(widths: config.widths)
            try Checkpoint.load(snapshot, names: names, into: set)
            self.views = []
            owned = set
        }
    }

    var isZeroCopy: Bool { owned == nil }

    /// Calls `body` with weight and bias pointers, valid inside it.
    func withParameters<R>(_ body: ([UnsafePointer<Float>], [UnsafePointer<Float>]) throws -> R) throws -> R {
        func split(_ all: [UnsafePointer<Float>]) throws -> R {
            try body(stride(from: 0, to: all.count, by: 2).map { all[$0] }, stride(from: 1, to: all.count, by: 2).map { all[$0] })
        }
        if let owned { return try split(owned.buffers.map { UnsafePointer($0.baseAddress!) }) }
        func nest(_ index: Int, _ collected: [UnsafePointer<Float>]) throws -> R {
            guard index < views.count else { return try split(collected) }
            return try views[index].withUnsafeBufferPointer(as: Float.self) { buffer in
                try nest(index + 1, collected + [buffer.baseAddress!])
            }
        }
        return try nest(0, [])
    }
}
