import Foundation
import Testing
import TensorLog
@testable import TensorLogCompute

@Suite("Conversions")
struct ConversionTests {
    @Test("float16 to float32 is exact for all 65536 bit patterns (Swift's Float16 as reference; NaNs stay NaN)")
    func halfExhaustive() throws {
        let bits = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: bits.count)
        try bits.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer { try Convert.toFloat(src.baseAddress!, dtype: .float16, count: bits.count, into: $0.baseAddress!) }
        }
        var mismatches = 0
        for b in bits {
            let expected = Float(Float16(bitPattern: b))
            let got = out[Int(b)]
            if expected.isNaN {
                if !got.isNaN { mismatches += 1 }
            } else if got.bitPattern != expected.bitPattern {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test("bfloat16 to float32 is exact for all 65536 bit patterns (sign, exponent, mantissa decoded by hand)")
    func bfloat16Exhaustive() throws {
        let bits = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: bits.count)
        try bits.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer { try Convert.toFloat(src.baseAddress!, dtype: .bfloat16, count: bits.count, into: $0.baseAddress!) }
        }
        var mismatches = 0
        for b in bits {
            let sign: Double = b & 0x8000 != 0 ? -1 : 1
            let exponent = Int((b >> 7) & 0xFF), mantissa = Double(b & 0x7F)
            let expected: Double = switch exponent {
            case 0: sign * mantissa / 128 * pow(2, -126)
            case 255: mantissa == 0 ? sign * .infinity : .nan
            default: sign * (1 + mantissa / 128) * pow(2, Double(exponent - 127))
            }
            let got = Double(out[Int(b)])
            if expected.isNaN ? !got.isNaN : (got != expected || (got == 0 && got.sign != expected.sign)) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("int8, uint8, int16, int32, int64 and float64 convert to float32 like Float(_:)")
    func integersAndDoubles() throws {
        func check<T: TensorElement & BinaryInteger>(_ values: [T]) throws {
            var out = [Float](repeating: .nan, count: values.count)
            try values.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { try Convert.toFloat(src.baseAddress!, dtype: T.dtype, count: values.count, into: $0.baseAddress!) }
            }
            #expect(out == values.map { Float($0) })
        }
        try check((Int8.min...Int8.max).map { $0 })
        try check((0...UInt8.max).map { $0 })
        try check([Int16.min, -1, 0, 1, Int16.max])
        try check([Int32.min, -7, 0, 16_777_217, Int32.max])
        try check([Int64.min, -3, 0, 1 << 40, Int64.max])
        let doubles: [Double] = [0, -0.0, 1.5, -2.25, 1e-40, 3.4e38, 1e300, .infinity, -.infinity]
        var out = [Float](repeating: 0, count: doubles.count)
        try doubles.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer { try Convert.toFloat(src.baseAddress!, dtype: .float64, count: doubles.count, into: $0.baseAddress!) }
        }
        #expect(out.map(\.bitPattern) == doubles.map { Float($0).bitPattern })
    }

    @Test("class labels convert from every integer dtype; out-of-range int64 and float labels are refused")
    func classLabels() throws {
        let values: [Int64] = [0, 5, 2, 1 << 20]
        var out = [Int32](repeating: -1, count: 4)
        try values.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer { try Convert.toClassIndices(src.baseAddress!, dtype: .int64, count: 4, into: $0.baseAddress!) }
        }
        #expect(out == [0, 5, 2, 1 << 20])
        let big: [Int64] = [1 << 40]
        #expect(throws: ComputeError.self) {
            try big.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { try Convert.toClassIndices(src.baseAddress!, dtype: .int64, count: 1, into: $0.baseAddress!) }
            }
        }
        #expect(throws: ComputeError.self) {
            try big.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { try Convert.toClassIndices(src.baseAddress!, dtype: .float32, count: 1, into: $0.baseAddress!) }
            }
        }
        let bytes: [UInt8] = [0, 255]
        try bytes.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer { try Convert.toClassIndices(src.baseAddress!, dtype: .uint8, count: 2, into: $0.baseAddress!) }
        }
        #expect(out[0] == 0 && out[1] == 255)
    }
}

@Suite("Optimisers and random numbers")
struct OptimizerTests {
    @Test("SGD with momentum and weight decay matches hand-computed steps")
    func sgd() {
        var w: [Float] = [1, -2], v: [Float] = [0, 0]
        let g: [Float] = [0.5, 0.25]
        for _ in 0..<2 {
            w.withUnsafeMutableBufferPointer { wp in
                v.withUnsafeMutableBufferPointer { vp in
                    OptimizerKernels.sgdStep(weights: wp.baseAddress!, gradient: g, velocity: vp.baseAddress!, count: 2, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
                }
            }
        }
        // Step 1: g' = [0.51, 0.23], v = g', w = [0.949, -2.023].
        // Step 2: g' = [0.5 + 0.00949, 0.25 - 0.02023] = [0.50949, 0.22977]; v = 0.9 v + g' = [0.96849, 0.43677]; w -= 0.1 v.
        #expect(abs(v[0] - 0.96849) < 1e-6 && abs(v[1] - 0.43677) < 1e-6)
        #expect(abs(w[0] - (0.949 - 0.096849)) < 1e-6 && abs(w[1] - (-2.023 - 0.043677)) < 1e-6)
    }

    @Test("Adam's first two steps match hand-computed bias-corrected updates")
    func adam() {
        var w: [Float] = [1], m: [Float] = [0], v: [Float] = [0]
        let grads: [[Float]] = [[0.5], [-1]]
        for (i, g) in grads.enumerated() {
            w.withUnsafeMutableBufferPointer { wp in
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        OptimizerKernels.adamStep(
                            weights: wp.baseAddress!, gradient: g, m: mp.baseAddress!, v: vp.baseAddress!, count: 1, step: i + 1,
                            learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0)
                    }
                }
            }
        }
        // Step 1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25, w = 1 - 0.01 * 0.5 / 0.5 = 0.99.
        // Step 2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975,
        //         m^ = -0.055 / 0.19, v^ = 0.00124975 / 0.001999, w = 0.99 - 0.01 m^ / sqrt(v^).
        let mHat = -0.055 / 0.19, vHat = 0.00124975 / (1 - 0.999 * 0.999)
        let expected = 0.99 - 0.01 * mHat / (vHat.squareRoot() + 1e-8)
        #expect(abs(Double(m[0]) + 0.055) < 1e-7 && abs(Double(v[0]) - 0.00124975) < 1e-4 * 0.00124975)
        #expect(abs(Double(w[0]) - expected) < 1e-6)
    }

    @Test("SplitMix64 reproduces the reference sequence; xoshiro streams are reproducible and distinct")
    func generators() {
        var mix = SplitMix64(seed: 1_234_567)
        #expect((0..<5).map { _ in mix.next() } == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423, 4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
        var a = Xoshiro256(seed: 9), b = Xoshiro256(seed: 9), c = Xoshiro256(seed: 10), d = Xoshiro256(seed: 9, stream: 1)
        let sa = (0..<8).map { _ in a.next() }
        #expect(sa == (0..<8).map { _ in b.next() })
        #expect(sa != (0..<8).map { _ in c.next() })
        #expect(sa != (0..<8).map { _ in d.next() })
        var rng = Xoshiro256(seed: 11)
        let normals = (0..<20_000).map { _ in Double(rng.nextNormal()) }
        let mean = normals.reduce(0, +) / 20_000
        let variance = normals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20_000
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[rng.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
        var array = Array(0..<50)
        rng.shuffle(&array)
        #expect(array.sorted() == Array(0..<50) && array != Array(0..<50))
    }
}
