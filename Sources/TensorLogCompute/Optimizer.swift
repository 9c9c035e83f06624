#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which optimiser updates the parameters, and its settings.
public struct OptimizerSpec: Sendable, Equatable, Codable {
    /// SGD with momentum, or Adam.
    public enum Kind: String, Sendable, Codable, CaseIterable { case sgd, adam }

    /// Which update rule.
    public var kind: Kind
    /// Learning rate.
    public var learningRate: Float
    /// SGD momentum (0 for plain SGD); ignored by Adam.
    public var momentum: Float
    /// L2 weight decay added to the gradient of weights (not biases): g += weightDecay * w.
    public var weightDecay: Float
    /// Adam's decay rates and epsilon.
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    /// An optimiser specification; see the properties.
    public init(
        kind: Kind = .adam, learningRate: Float = 1e-3, momentum: Float = 0.9, weightDecay: Float = 0,
        beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    ) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// SGD with momentum.
    public static func sgd(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) -> OptimizerSpec {
        OptimizerSpec(kind: .sgd, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
    }

    /// Adam.
    public static func adam(learningRate: Float = 1e-3, weightDecay: Float = 0, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) -> OptimizerSpec {
        OptimizerSpec(kind: .adam, learningRate: learningRate, weightDecay: weightDecay, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }
}

/// Update rules, one parameter tensor at a time.
public enum OptimizerKernels {
    /// SGD with momentum (PyTorch's form): g' = g + wd w; v = mu v + g'; w -= lr v.
    public static func sgdStep(
        weights w: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, velocity v: UnsafeMutablePointer<Float>,
        count: Int, learningRate lr: Float, momentum mu: Float, weightDecay wd: Float
    ) {
        for i in 0..<count {
            let grad = g[i] + wd * w[i]
            let velocity = mu * v[i] + grad
            v[i] = velocity
            w[i] -= lr * velocity
        }
    }

    /// Adam with bias correction at step `step` (1 for the first update); weight decay as L2 on the gradient.
    public static func adamStep(
        weights w: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, step: Int,
        learningRate lr: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay wd: Float
    ) {
        let correction1 = 1 - powf(beta1, Float(step))
        let correction2 = 1 - powf(beta2, Float(step))
        let stepSize = lr / correction1
        let inverseRootCorrection2 = 1 / correction2.squareRoot()
        for i in 0..<count {
            let grad = g[i] + wd * w[i]
            let mi = beta1 * m[i] + (1 - beta1) * grad
            let vi = beta2 * v[i] + (1 - beta2) * grad * grad
            m[i] = mi
            v[i] = vi
            w[i] -= stepSize * mi / (vi.squareRoot() * inverseRootCorrection2 + epsilon)
        }
    }
}
