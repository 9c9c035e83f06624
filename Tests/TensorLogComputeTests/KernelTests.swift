import Foundation
import Testing
@testable import TensorLogCompute

@Suite("Kernels")
struct KernelTests {
    @Test("sgemm through CBLAS matches a naive triple loop for random odd shapes and every transpose")
    func gemmMatchesReference() {
        var rng = Xoshiro256(seed: 1)
        for trial in 0..<24 {
            let m = 1 + rng.nextInt(below: 37), n = 1 + rng.nextInt(below: 41), k = 1 + rng.nextInt(below: 29)
            let ta = trial % 2 == 1, tb = (trial / 2) % 2 == 1
            let a = randomArray(m * k, rng: &rng), b = randomArray(k * n, rng: &rng)
            var c = randomArray(m * n, rng: &rng)
            let expected = referenceMatmul(a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            c.withUnsafeMutableBufferPointer { cp in
                Kernels.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n, c: cp.baseAddress!, ldc: n)
            }
            #expect(maxAbsDifference(c, expected) < 1e-4, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb)")
        }
    }

    @Test("sgemm with beta accumulates into C and k = 0 only scales C")
    func gemmBetaAndEmptyK() {
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [1, 0, 0, 1], b: [Float] = [5, 6, 7, 8]
        c.withUnsafeMutableBufferPointer { Kernels.gemm(m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, beta: 1, c: $0.baseAddress!, ldc: 2) }
        #expect(c == [6, 8, 10, 12])
        c.withUnsafeMutableBufferPointer { Kernels.gemm(m: 2, n: 2, k: 0, a: a, lda: 1, b: b, ldb: 2, beta: 0.5, c: $0.baseAddress!, ldc: 2) }
        #expect(c == [3, 4, 5, 6])
    }

    @Test("bias add, column sums, sum, max and argmax agree with plain loops")
    func reductions() {
        var rng = Xoshiro256(seed: 2)
        let rows = 13, cols = 7
        let a = randomArray(rows * cols, rng: &rng)
        let bias = randomArray(cols, rng: &rng)
        var c = a
        c.withUnsafeMutableBufferPointer { Kernels.addBias($0.baseAddress!, rows: rows, cols: cols, bias: bias) }
        for r in 0..<rows { for j in 0..<cols { #expect(c[r * cols + j] == a[r * cols + j] + bias[j]) } }
        var sums = [Float](repeating: 9, count: cols)
        sums.withUnsafeMutableBufferPointer { Kernels.sumColumns(a, rows: rows, cols: cols, into: $0.baseAddress!) }
        for j in 0..<cols {
            let expected = (0..<rows).reduce(Float(0)) { $0 + a[$1 * cols + j] }
            #expect(abs(sums[j] - expected) < 1e-5)
        }
        #expect(abs(Kernels.sum(a, count: a.count) - a.reduce(0.0) { $0 + Double($1) }) < 1e-9)
        #expect(Kernels.max(a, count: a.count) == a.max()!)
        var arg = [Int32](repeating: -1, count: rows)
        arg.withUnsafeMutableBufferPointer { Kernels.argmaxRows(a, rows: rows, cols: cols, into: $0.baseAddress!) }
        for r in 0..<rows {
            let row = Array(a[r * cols..<(r + 1) * cols])
            #expect(Int(arg[r]) == row.firstIndex(of: row.max()!)!)
        }
        var ties: [Int32] = [7]
        ties.withUnsafeMutableBufferPointer { Kernels.argmaxRows([1, 3, 3], rows: 1, cols: 3, into: $0.baseAddress!) }
        #expect(ties == [1])
    }

    @Test("ReLU, tanh and sigmoid match libm, and their backward passes match finite differences")
    func activations() {
        var rng = Xoshiro256(seed: 3)
        let x = randomArray(101, rng: &rng, scale: 4) + [0.5, -0.5, 30, -30, 100, -100]
        typealias Forward = (UnsafeMutablePointer<Float>, Int) -> Void
        typealias Backward = (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void
        let cases: [(String, Forward, Backward, (Double) -> Double)] = [
            ("relu", Kernels.relu, Kernels.reluBackward, { max($0, 0) }),
            ("tanh", Kernels.tanh, Kernels.tanhBackward, { Foundation.tanh($0) }),
            ("sigmoid", Kernels.sigmoid, Kernels.sigmoidBackward, { 1 / (1 + Foundation.exp(-$0)) }),
        ]
        for (name, forward, backward, reference) in cases {
            var y = x
            y.withUnsafeMutableBufferPointer { forward($0.baseAddress!, $0.count) }
            for i in x.indices { #expect(abs(Double(y[i]) - reference(Double(x[i]))) < 1e-6, "\(name)(\(x[i]))") }
            var grad = [Float](repeating: 1, count: x.count)
            grad.withUnsafeMutableBufferPointer { backward($0.baseAddress!, y, $0.count) }
            for i in x.indices where abs(x[i]) > 1e-2 {
                let h = 1e-4
                let numeric = (reference(Double(x[i]) + h) - reference(Double(x[i]) - h)) / (2 * h)
                #expect(abs(Double(grad[i]) - numeric) < 1e-3, "\(name)'(\(x[i])) = \(grad[i]) vs \(numeric)")
            }
        }
    }

    @Test("softmax is numerically stable (huge logits) and sums to one per row")
    func softmaxStable() {
        var x: [Float] = [1000, 1001, 1002, -1000, 0, 1000, 1, 2, 3]
        x.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: 3, cols: 3) }
        #expect(x.allSatisfy { $0.isFinite })
        for r in 0..<3 { #expect(abs(x[3 * r] + x[3 * r + 1] + x[3 * r + 2] - 1) < 1e-6) }
        let e = [exp(-2.0), exp(-1.0), 1.0]
        let total = e.reduce(0, +)
        for j in 0..<3 {
            #expect(abs(Double(x[j]) - e[j] / total) < 1e-6)
            #expect(abs(Double(x[6 + j]) - e[j] / total) < 1e-6)
        }
        #expect(x[3] == 0 && x[4] < 1e-30 && x[5] == 1)
    }

    @Test("softmax cross-entropy loss and gradient match a reference and finite differences")
    func crossEntropyGradient() {
        var rng = Xoshiro256(seed: 4)
        let rows = 5, cols = 4
        let logits = randomArray(rows * cols, rng: &rng, scale: 3)
        let labels: [Int32] = [0, 3, 1, 2, 3]
        func loss(_ z: [Float]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                let row = z[r * cols..<(r + 1) * cols].map(Double.init)
                let top = row.max()!
                let lse = top + log(row.reduce(0) { $0 + exp($1 - top) })
                total += lse - row[Int(labels[r])]
            }
            return total / Double(rows)
        }
        var z = logits
        var grad = [Float](repeating: 0, count: rows * cols)
        let value = z.withUnsafeMutableBufferPointer { zp in
            grad.withUnsafeMutableBufferPointer { gp in
                Kernels.softmaxCrossEntropy(logits: zp.baseAddress!, labels: labels, rows: rows, cols: cols, gradient: gp.baseAddress!)
            }
        }
        #expect(abs(value - loss(logits)) < 1e-5)
        for i in logits.indices {
            var plus = logits, minus = logits
            plus[i] += 1e-2
            minus[i] -= 1e-2
            let numeric = (loss(plus) - loss(minus)) / 2e-2
            #expect(abs(Double(grad[i]) - numeric) < 1e-3)
        }
    }

    @Test("mean squared error and its gradient match a reference and finite differences")
    func mseGradient() {
        var rng = Xoshiro256(seed: 5)
        let p = randomArray(9, rng: &rng), t = randomArray(9, rng: &rng)
        var g = [Float](repeating: 0, count: 9)
        let value = g.withUnsafeMutableBufferPointer { Kernels.meanSquaredErrorGradient(p, t, count: 9, gradient: $0.baseAddress!) }
        let reference = zip(p, t).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / 9
        #expect(abs(value - reference) < 1e-6)
        for i in 0..<9 { #expect(abs(g[i] - 2 * (p[i] - t[i]) / 9) < 1e-6) }
    }

    @Test("MLP backpropagation matches finite differences of the loss for every parameter (relu/tanh, classifier/regressor)")
    func networkGradientCheck() {
        for (activation, task) in [(ModelSpec.Activation.tanh, Task.classification), (.relu, .regression), (.tanh, .regression), (.relu, .classification)] {
            var rng = Xoshiro256(seed: 6)
            let widths = [5, 4, 3, task == .classification ? 3 : 2]
            let rows = 7
            let config = ModelConfig(
                spec: ModelSpec(kind: .mlp, hidden: [4, 3], activation: activation), task: task, inputs: 5, outputs: widths.last!,
                optimizer: .sgd(learningRate: 0.1), seed: 0, batchSize: rows, epochsCompleted: 0, step: 0, data: "", labels: "")
            let params = ParameterSet(widths: widths)
            params.initialize(config: config, rng: &rng)
            for l in 0..<3 { for i in 0..<params.bias(l).count { params.bias(l)[i] = rng.nextUniform() * 0.2 } }
            let x = randomArray(rows * 5, rng: &rng)
            let classes: [Int32] = (0..<rows).map { Int32($0 % 3) }
            let targets = randomArray(rows * 2, rng: &rng)
            let ws = Workspace(widths: widths, activation: activation, capacity: rows, training: true)
            let weights = (0..<3).map { UnsafePointer(params.weight($0).baseAddress!) }
            let biases = (0..<3).map { UnsafePointer(params.bias($0).baseAddress!) }
            func lossValue(gradient: Bool) -> Double {
                ws.forward(input: x, rows: rows, weights: weights, biases: biases)
                return ws.loss(task: task, rows: rows, classes: classes, targets: targets, gradient: gradient)
            }
            _ = lossValue(gradient: true)
            let grads = ParameterSet(widths: widths)
            ws.backward(input: x, rows: rows, weights: weights, gradients: grads)
            var worst: Double = 0
            for p in 0..<params.count {
                for i in 0..<params.buffers[p].count {
                    let saved = params.buffers[p][i]
                    params.buffers[p][i] = saved + 1e-2
                    let up = lossValue(gradient: false)
                    params.buffers[p][i] = saved - 1e-2
                    let down = lossValue(gradient: false)
                    params.buffers[p][i] = saved
                    let numeric = (up - down) / 2e-2
                    worst = max(worst, abs(numeric - Double(grads.buffers[p][i])) / max(1, abs(numeric)))
                }
            }
            #expect(worst < 2e-2, "\(activation) \(task): worst relative error \(worst)")
        }
    }
}
