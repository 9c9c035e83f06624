import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The numerical kernels. Matrix products go to OpenBLAS (`cblas_sgemm`);
/// everything else is plain loops over pointers that the compiler vectorises.
///
/// All matrices are row-major float32; kernels take pointers (into the store's
/// mapped blocks, or into buffers the caller owns) and never allocate.
public enum Kernels {
    /// C = alpha * op(A) * op(B) + beta * C, row-major, where op(A) is m x k and op(B) is k x n.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            scale(c, rows: m, cols: n, stride: ldc, by: beta)
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    static func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, cols: Int, stride: Int, by beta: Float) {
        for r in 0..<rows {
            let row = c + r * stride
            for j in 0..<cols { row[j] = beta == 0 ? 0 : row[j] * beta }
        }
    }

    /// Adds `bias` (length `cols`) to every row of the rows x cols matrix `c`.
    public static func addBias(_ c: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = c + r * cols
            for j in 0..<cols { row[j] += bias[j] }
        }
    }

    /// Column sums of a rows x cols matrix into `out` (length cols): the bias gradient.
    public static func sumColumns(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: cols)
        for r in 0..<rows {
            let row = a + r * cols
            for j in 0..<cols { out[j] += row[j] }
        }
    }

    /// Sum of `count` values (accumulated in Double for accuracy).
    public static func sum(_ a: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0
        for i in 0..<count { total += Double(a[i]) }
        return total
    }

    /// Largest of `count` values (-infinity when empty).
    public static func max(_ a: UnsafePointer<Float>, count: Int) -> Float {
        var best = -Float.infinity
        for i in 0..<count where a[i] > best { best = a[i] }
        return best
    }

    /// Index of the largest value of each row (the first on ties).
    public static func argmaxRows(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Int32>) {
        for r in 0..<rows {
            let row = a + r * cols
            var best = 0
            for j in 1..<Swift.max(cols, 1) where row[j] > row[best] { best = j }
            out[r] = Int32(best)
        }
    }

    // MARK: Activations (in place) and their gradients

    /// x = max(x, 0).
    public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = Swift.max(x[i], 0) }
    }

    /// grad *= (activation > 0): ReLU's backward pass given its output.
    public static func reluBackward(_ grad: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { grad[i] = output[i] > 0 ? grad[i] : 0 }
    }

    /// x = tanh(x).
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = tanhf(x[i]) }
    }

    /// grad *= 1 - y^2 where y = tanh(x) is the forward output.
    public static func tanhBackward(_ grad: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { grad[i] *= 1 - output[i] * output[i] }
    }

    /// x = 1 / (1 + exp(-x)), stable for large |x|.
    public static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            if v >= 0 {
                x[i] = 1 / (1 + expf(-v))
            } else {
                let e = expf(v)
                x[i] = e / (1 + e)
            }
        }
    }

    /// grad *= y (1 - y) where y = sigmoid(x) is the forward output.
    public static func sigmoidBackward(_ grad: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { grad[i] *= output[i] * (1 - output[i]) }
    }

    // MARK: Softmax and losses

    /// Row-wise softmax in place, numerically stable (the row maximum is subtracted first).
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r * cols
            let top = max(row, count: cols)
            var total: Float = 0
            for j in 0..<cols {
                let e = expf(row[j] - top)
                row[j] = e
                total += e
            }
            let inverse = 1 / total
            for j in 0..<cols { row[j] *= inverse }
        }
    }

    /// Mean cross-entropy of row-wise softmax probabilities against class labels.
    /// Probabilities are clamped at 1e-12 so a confident mistake costs ~27.6, not infinity.
    public static func crossEntropy(probabilities p: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, cols: Int) -> Double {
        guard rows > 0 else { return 0 }
        var total = 0.0
        for r in 0..<rows {
            let label = Int(labels[r])
            precondition(label >= 0 && label < cols, "class label \(label) outside 0..<\(cols)")
            total -= Double(logf(Swift.max(p[r * cols + label], 1e-12)))
        }
        return total / Double(rows)
    }

    /// Softmax + mean cross-entropy: turns `logits` into probabilities in place, writes
    /// d(loss)/d(logits) = (p - onehot) / rows into `gradient`, returns the loss.
    public static func softmaxCrossEntropy(
        logits: UnsafeMutablePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, cols: Int,
        gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        softmaxRows(logits, rows: rows, cols: cols)
        let loss = crossEntropy(probabilities: logits, labels: labels, rows: rows, cols: cols)
        let inverse = 1 / Float(rows)
        for i in 0..<rows * cols { gradient[i] = logits[i] * inverse }
        for r in 0..<rows { gradient[r * cols + Int(labels[r])] -= inverse }
        return loss
    }

    /// Mean squared error over all `count` elements.
    public static func meanSquaredError(_ prediction: UnsafePointer<Float>, _ target: UnsafePointer<Float>, count: Int) -> Double {
        guard count > 0 else { return 0 }
        var total = 0.0
        for i in 0..<count {
            let d = Double(prediction[i] - target[i])
            total += d * d
        }
        return total / Double(count)
    }

    /// Mean squared error and its gradient 2 (prediction - target) / count.
    public static func meanSquaredErrorGradient(
        _ prediction: UnsafePointer<Float>, _ target: UnsafePointer<Float>, count: Int, gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        let scale = 2 / Float(Swift.max(count, 1))
        for i in 0..<count { gradient[i] = (prediction[i] - target[i]) * scale }
        return meanSquaredError(prediction, target, count: count)
    }
}
