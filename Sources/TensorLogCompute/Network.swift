/// What model to train.
public struct ModelSpec: Sendable, Equatable, Codable {
    /// Model families.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Linear regression: one affine layer, squared loss.
        case linear
        /// Multinomial logistic regression: one affine layer, softmax, cross-entropy.
        case softmax
        /// Multi-layer perceptron: `hidden` layers with `activation`, then an affine output layer;
        /// a classifier (softmax + cross-entropy) for integer labels, a regressor (squared loss) for float targets.
        case mlp
    }

    /// Hidden-layer activation of an MLP.
    public enum Activation: String, Sendable, Codable, CaseIterable { case relu, tanh }

    /// Model family.
    public var kind: Kind
    /// Hidden-layer widths (MLP only).
    public var hidden: [Int]
    /// Hidden-layer activation (MLP only).
    public var activation: Activation

    /// A model specification; `hidden` is ignored unless `kind` is `.mlp`.
    public init(kind: Kind, hidden: [Int] = [], activation: Activation = .relu) {
        self.kind = kind
        self.hidden = kind == .mlp ? hidden : []
        self.activation = activation
    }
}

/// Whether a model predicts classes or real values.
public enum Task: String, Sendable, Codable {
    case classification, regression
}

/// Everything needed to rebuild a model and continue training it; stored as
/// JSON in `<model>/config` (a uint8 tensor) with every checkpoint.
public struct ModelConfig: Sendable, Equatable, Codable {
    /// Version of this JSON layout.
    public var formatVersion = 1
    /// Architecture.
    public var spec: ModelSpec
    /// Classification (integer labels) or regression (float targets).
    public var task: Task
    /// Feature width D.
    public var inputs: Int
    /// Classes (classification) or target width (regression).
    public var outputs: Int
    /// Optimiser of the last run.
    public var optimizer: OptimizerSpec
    /// Seed of the last run.
    public var seed: UInt64
    /// Batch size of the last run.
    public var batchSize: Int
    /// Epochs trained so far.
    public var epochsCompleted: Int
    /// Optimiser updates so far (Adam's bias correction needs it).
    public var step: Int
    /// Keys trained on (informational).
    public var data: String
    /// Key of the labels trained on.
    public var labels: String
    /// Feature scaling applied before the first layer (statistics in `<model>/scaling/shift` and `/scale`);
    /// nil (absent from the JSON, as in models saved before scaling existed): the features are used as stored.
    public var scaling: FeatureScaling?

    /// Layer widths from input to output.
    public var widths: [Int] { [inputs] + spec.hidden + [outputs] }
}

/// Parameter tensors in owned, aligned memory: weights [in, out] and biases [out] per layer.
final class ParameterSet {
    let shapes: [[Int]]
    let buffers: [UnsafeMutableBufferPointer<Float>]

    static func shapes(widths: [Int]) -> [[Int]] {
        var shapes: [[Int]] = []
        for l in 0..<widths.count - 1 {
            shapes.append([widths[l], widths[l + 1]])
            shapes.append([widths[l + 1]])
        }
        return shapes
    }

    convenience init(widths: [Int]) {
        self.init(shapes: ParameterSet.shapes(widths: widths))
    }

    /// Zeroed tensors of the given shapes; rank-2 tensors are weights (weight decay applies), others biases.
    init(shapes: [[Int]]) {
        self.shapes = shapes
        buffers = shapes.map { shape in
            let count = shape.reduce(1, *)
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: Swift.max(count, 1))
            buffer.initialize(repeating: 0)
            return UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
        }
    }

    deinit { for b in buffers { b.baseAddress.map { $0.deallocate() } } }

    /// Store key suffixes, in order: layer0/weight, layer0/bias, ...
    static func names(layers: Int, prefix: String = "") -> [String] {
        (0..<layers).flatMap { ["\(prefix)layer\($0)/weight", "\(prefix)layer\($0)/bias"] }
    }

    var count: Int { buffers.count }
    func weight(_ layer: Int) -> UnsafeMutableBufferPointer<Float> { buffers[2 * layer] }
    func bias(_ layer: Int) -> UnsafeMutableBufferPointer<Float> { buffers[2 * layer + 1] }

    /// Glorot (Xavier) uniform weights in ±sqrt(6 / (fan_in + fan_out)) for every layer, as scikit-learn's
    /// MLPClassifier and MLPRegressor initialise relu, tanh and identity networks; zero biases.
    func initialize(config: ModelConfig, rng: inout Xoshiro256) {
        let widths = config.widths
        for l in 0..<widths.count - 1 {
            let limit = (6 / Float(widths[l] + widths[l + 1])).squareRoot()
            let w = weight(l)
            for i in 0..<w.count { w[i] = (rng.nextUniform() * 2 - 1) * limit }
            bias(l).update(repeating: 0)
        }
    }
}

/// Activation and gradient buffers for batches of up to `capacity` rows, and the forward
/// and backward passes over parameters given as pointers (owned or mapped).
final class Workspace {
    let widths: [Int]
    let activation: ModelSpec.Activation
    let capacity: Int
    /// Output of each layer (post-activation for hidden layers, raw for the last).
    let outputs: [UnsafeMutablePointer<Float>]
    /// Gradient of the loss with respect to each layer's pre-activation.
    let deltas: [UnsafeMutablePointer<Float>]

    init(widths: [Int], activation: ModelSpec.Activation, capacity: Int, training: Bool) {
        self.widths = widths
        self.activation = activation
        self.capacity = capacity
        outputs = widths.dropFirst().map { UnsafeMutablePointer<Float>.allocate(capacity: capacity * $0) }
        deltas = training ? widths.dropFirst().map { UnsafeMutablePointer<Float>.allocate(capacity: capacity * $0) } : []
    }

    deinit {
        for p in outputs { p.deallocate() }
        for p in deltas { p.deallocate() }
    }

    var layers: Int { widths.count - 1 }
    var last: UnsafeMutablePointer<Float> { outputs[layers - 1] }

    /// Runs the network on `rows` rows at `input`; returns the last layer's raw output (logits or predictions).
    @discardableResult
    func forward(input: UnsafePointer<Float>, rows: Int, weights: [UnsafePointer<Float>], biases: [UnsafePointer<Float>]) -> UnsafeMutablePointer<Float> {
        precondition(rows <= capacity)
        var x = input
        for l in 0..<layers {
            let (n, k) = (widths[l + 1], widths[l])
            let y = outputs[l]
            Kernels.gemm(m: rows, n: n, k: k, a: x, lda: k, b: weights[l], ldb: n, c: y, ldc: n)
            Kernels.addBias(y, rows: rows, cols: n, bias: biases[l])
            if l < layers - 1 {
                switch activation {
                case .relu: Kernels.relu(y, count: rows * n)
                case .tanh: Kernels.tanh(y, count: rows * n)
                }
            }
            x = UnsafePointer(y)
        }
        return outputs[layers - 1]
    }

    /// Backpropagates from `deltas[last]` (already d loss / d output) into the gradients.
    func backward(input: UnsafePointer<Float>, rows: Int, weights: [UnsafePointer<Float>], gradients: ParameterSet) {
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let (n, k) = (widths[l + 1], widths[l])
            let previous: UnsafePointer<Float> = l == 0 ? input : UnsafePointer(outputs[l - 1])
            let delta = UnsafePointer(deltas[l])
            Kernels.gemm(transposeA: true, m: k, n: n, k: rows, a: previous, lda: k, b: delta, ldb: n, c: gradients.weight(l).baseAddress!, ldc: n)
            Kernels.sumColumns(delta, rows: rows, cols: n, into: gradients.bias(l).baseAddress!)
            if l > 0 {
                let below = deltas[l - 1]
                Kernels.gemm(transposeB: true, m: rows, n: k, k: n, a: delta, lda: n, b: weights[l], ldb: n, c: below, ldc: k)
                switch activation {
                case .relu: Kernels.reluBackward(below, output: outputs[l - 1], count: rows * k)
                case .tanh: Kernels.tanhBackward(below, output: outputs[l - 1], count: rows * k)
                }
            }
        }
    }

    /// Loss of the last forward pass against the batch's labels, and (when training) its gradient in `deltas[last]`.
    /// Classification turns the logits into probabilities in place.
    func loss(task: Task, rows: Int, classes: UnsafePointer<Int32>?, targets: UnsafePointer<Float>?, gradient: Bool) -> Double {
        let width = widths[layers]
        switch task {
        case .classification:
            if gradient {
                return Kernels.softmaxCrossEntropy(logits: last, labels: classes!, rows: rows, cols: width, gradient: deltas[layers - 1])
            }
            Kernels.softmaxRows(last, rows: rows, cols: width)
            return Kernels.crossEntropy(probabilities: last, labels: classes!, rows: rows, cols: width)
        case .regression:
            if gradient {
                return Kernels.meanSquaredErrorGradient(last, targets!, count: rows * width, gradient: deltas[layers - 1])
            }
            return Kernels.meanSquaredError(last, targets!, count: rows * width)
        }
    }
}

extension ModelSpec: CustomStringConvertible {
    /// `softmax`, `mlp [256, 128] relu`: for messages.
    public var description: String {
        kind == .mlp ? "\(kind.rawValue) \(hidden) \(activation.rawValue)" : kind.rawValue
    }
}
