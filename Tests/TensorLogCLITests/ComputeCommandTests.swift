import Foundation
import Testing
import TensorLog
import TensorLogInterop

/// A store with a learnable three-class problem written through the library:
/// `x` float32 [rows, 4], `y` int32 [rows] (class = arg-max of a fixed linear map, so a
/// softmax regression can reach high accuracy), `t` float32 [rows] (a linear target),
/// and `series` float32 [400, 2] (two smooth periodic columns).
func makeComputeFixture(_ directory: TemporaryDirectory, rows: Int = 600) throws {
    var rng = SplitMix64(seed: 7)
    var x: [Float] = [], y: [Int32] = [], t: [Float] = []
    let w: [[Float]] = [[2, -1, 0], [0, 1.5, -1], [-1, 0, 2], [0.5, 0.5, -0.5]]
    for _ in 0..<rows {
        let row = (0..<4).map { _ in Float.random(in: -1...1, using: &rng) }
        x += row
        let scores = (0..<3).map { c in (0..<4).reduce(Float(0)) { $0 + row[$1] * w[$1][c] } }
        y.append(Int32(scores.indices.max { scores[$0] < scores[$1] }!))
        t.append(3 * row[0] - 2 * row[1] + 0.5)
    }
    var series: [Float] = []
    for i in 0..<400 {
        let s = Float(i)
        series += [50 + 20 * sinf(s / 8), 40 + 10 * cosf(s / 13)]
    }
    let store = try TensorStore.open(at: directory.store, options: smallStoreOptions())
    try store.put("x", x, shape: [rows, 4])
    try store.put("y", y, shape: [rows])
    try store.put("t", t, shape: [rows])
    try store.put("series", series, shape: [400, 2])
    try store.close()
}

@Suite("Compute commands: train, infer, eval")
struct ComputeCommandTests {
    @Test("train an mlp: one line per epoch with loss, samples/s and peak RssAnon; eval scores it; infer writes classes and probabilities")
    func trainEvalInferClassifier() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        let trained = try succeed(
            "train", store, "--data", "x", "--labels", "y", "--model", "mlp", "--hidden", "16,8", "--optimizer", "adam",
            "--lr", "0.01", "--epochs", "15", "--batch-size", "32", "--seed", "3", "--save", "models/m")
        let lines = trained.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 16, "\(trained.stdout)")
        let epochLines = lines.filter { $0.hasPrefix("epoch ") }
        #expect(epochLines.count == 15)
        for (index, line) in epochLines.enumerated() {
            #expect(line.hasPrefix("epoch \(index + 1): loss "), "\(line)")
            #expect(line.contains("samples/s") && line.contains("peak RssAnon") && line.contains("iB"), "\(line)")
        }
        #expect(lines.last?.contains("saved mlp 4-16-8-3 (classification) as 'models/m' after epoch 15") == true, "\(trained.stdout)")

        let evaluated = try #require(try succeed("eval", store, "--model", "models/m", "--data", "x", "--labels", "y", "--json").json() as? [String: Any])
        let accuracy = try #require(evaluated["accuracy"] as? Double)
        #expect(accuracy > 0.9, "accuracy \(accuracy)")
        #expect(evaluated["loss"] is Double)
        #expect(evaluated["mse"] == nil)
        #expect(evaluated["rows"] as? Int == 600)
        #expect(evaluated["task"] as? String == "classification")
        let text = try succeed("eval", store, "--model", "models/m", "--data", "x", "--labels", "y").stdout
        #expect(text.hasPrefix("accuracy ") && text.contains("/600 rows") && text.contains("mean cross-entropy"), "\(text)")

        let inferred = try succeed("infer", store, "--model", "models/m", "--data", "x", "--output", "pred")
        #expect(inferred.stdout.contains("wrote 600 predictions to 'pred' (int32 [600])") && inferred.stdout.contains("rows/s"), "\(inferred.stdout)")
        let probabilities = try #require(
            try succeed("infer", store, "--model", "models/m", "--data", "x", "--output", "prob", "--probabilities", "--json").json() as? [String: Any])
        #expect(probabilities["shape"] as? [Int] == [600, 3])
        #expect(probabilities["dtype"] as? String == "float32")
        #expect(probabilities["rows_per_second"] is Double)

        // The stored predictions agree with eval's accuracy, and the probabilities with the classes.
        let reader = try TensorStore.open(at: store, options: { var o = smallStoreOptions(); o.readOnly = true; return o }())
        let snapshot = reader.snapshot()
        let predicted = try snapshot.read("pred").values(as: Int32.self)
        let labels = try snapshot.read("y").values(as: Int32.self)
        let correct = zip(predicted, labels).filter { $0 == $1 }.count
        #expect(abs(Double(correct) / 600 - accuracy) < 1e-9)
        let p = try snapshot.read("prob").values(as: Float.self)
        for row in 0..<600 {
            let values = Array(p[row * 3..<row * 3 + 3])
            #expect(abs(values.reduce(0, +) - 1) < 1e-4)
            #expect(Int32(values.indices.max { values[$0] < values[$1] }!) == predicted[row])
        }
        try reader.close()
        try succeed("verify", store)
    }

    @Test("train --json reports every epoch; --resume continues the epoch count and equals one longer run")
    func resume() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        let common = ["train", store, "--data", "x", "--labels", "y", "--model", "softmax", "--optimizer", "sgd", "--lr", "0.1",
                      "--momentum", "0.5", "--batch-size", "50", "--seed", "9"]
        let first = try #require(try succeed(common + ["--epochs", "2", "--save", "a", "--json"]).json() as? [String: Any])
        let epochs = try #require(first["epochs"] as? [[String: Any]])
        #expect(epochs.map { $0["epoch"] as? Int } == [1, 2])
        #expect(epochs.allSatisfy { ($0["peak_rss_anon_bytes"] as? Int ?? 0) > 0 && $0["samples"] as? Int == 600 && $0["loss"] is Double })
        #expect(first["widths"] as? [Int] == [4, 3])
        let resumed = try succeed(common + ["--epochs", "2", "--save", "a", "--resume"])
        #expect(resumed.stdout.hasPrefix("epoch 3: loss "), "\(resumed.stdout)")
        #expect(resumed.stdout.contains("epoch 4: loss ") && resumed.stdout.contains("after epoch 4"))
        try succeed(common + ["--epochs", "4", "--save", "b"])
        let a = try succeed("eval", store, "--model", "a", "--data", "x", "--labels", "y", "--json").stdout
        let b = try succeed("eval", store, "--model", "b", "--data", "x", "--labels", "y", "--json").stdout
        #expect(a.replacingOccurrences(of: "\"a\"", with: "\"b\"") == b)
    }

    @Test("train --scaling stores the statistics with the model and infer and eval apply them; --resume keeps the scaling")
    func scaling() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        // Features as uint8 pixels 0...255, as a user's raw images would be.
        let writer = try TensorStore.open(at: store, options: smallStoreOptions())
        let x = try writer.snapshot().read("x").values(as: Float.self)
        let pixels = x.map { UInt8(($0 + 1) * 127.5) }
        try writer.put("px", pixels, shape: [600, 4])
        try writer.close()
        let common = ["train", store, "--data", "px", "--labels", "y", "--model", "softmax", "--lr", "0.05", "--batch-size", "32", "--seed", "1"]
        let trained = try succeed(common + ["--epochs", "20", "--scaling", "standard", "--save", "s"])
        #expect(trained.stdout.contains("saved softmax 4-3 (classification, standard scaling) as 's' after epoch 20"), "\(trained.stdout)")
        let json = try #require(try succeed(common + ["--epochs", "1", "--scaling", "min-max", "--save", "mm", "--json"]).json() as? [String: Any])
        #expect(json["scaling"] as? String == "min-max")
        let plain = try #require(try succeed(common + ["--epochs", "1", "--save", "plain", "--json"]).json() as? [String: Any])
        #expect(plain["scaling"] as? String == "none")

        let evaluated = try #require(try succeed("eval", store, "--model", "s", "--data", "px", "--labels", "y", "--json").json() as? [String: Any])
        let accuracy = try #require(evaluated["accuracy"] as? Double)
        #expect(accuracy > 0.9, "accuracy \(accuracy)")
        try succeed("infer", store, "--model", "s", "--data", "px", "--output", "logits", "--probabilities")

        // The stored statistics are those of the pixels, and the probabilities are softmax((x - shift) / scale . W + b).
        let reader = try TensorStore.open(at: store, options: { var o = smallStoreOptions(); o.readOnly = true; return o }())
        let snapshot = reader.snapshot()
        let shift = try snapshot.read("s/scaling/shift").values(as: Float.self), scale = try snapshot.read("s/scaling/scale").values(as: Float.self)
        let w = try snapshot.read("s/layer0/weight").values(as: Float.self), b = try snapshot.read("s/layer0/bias").values(as: Float.self)
        let probabilities = try snapshot.read("logits").values(as: Float.self)
        var worst: Float = 0
        for j in 0..<4 {
            let column = (0..<600).map { Double(pixels[$0 * 4 + j]) }
            let mean = column.reduce(0, +) / 600
            let std = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 600).squareRoot()
            #expect(abs(Double(shift[j]) - mean) < 1e-4 && abs(Double(scale[j]) - std) < 1e-4, "column \(j)")
        }
        for row in 0..<600 {
            let scaled = (0..<4).map { (Float(pixels[row * 4 + $0]) - shift[$0]) / scale[$0] }
            let logits = (0..<3).map { c in (0..<4).reduce(b[c]) { $0 + scaled[$1] * w[$1 * 3 + c] } }
            let top = logits.max()!
            let exps = logits.map { expf($0 - top) }
            for c in 0..<3 { worst = max(worst, abs(exps[c] / exps.reduce(0, +) - probabilities[row * 3 + c])) }
        }
        #expect(worst < 1e-4, "largest probability difference \(worst)")
        try reader.close()

        try expectRefused(common + ["--epochs", "1", "--scaling", "min-max", "--save", "s", "--resume"], store: store, mentioning: ["scaling"])
        let resumed = try succeed(common + ["--epochs", "1", "--scaling", "standard", "--save", "s", "--resume"])
        #expect(resumed.stdout.contains("standard scaling) as 's' after epoch 21"), "\(resumed.stdout)")
    }

    @Test("linear regression: eval prints the mean squared error, --json has mse and no accuracy")
    func regression() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        try succeed("train", store, "--data", "x", "--labels", "t", "--model", "linear", "--lr", "0.05", "--epochs", "30",
                    "--batch-size", "32", "--save", "lin")
        let result = try #require(try succeed("eval", store, "--model", "lin", "--data", "x", "--labels", "t", "--json").json() as? [String: Any])
        let mse = try #require(result["mse"] as? Double)
        #expect(mse < 0.05, "mse \(mse)")
        #expect(result["accuracy"] == nil && result["loss"] == nil)
        #expect(result["task"] as? String == "regression")
        let text = try succeed("eval", store, "--model", "lin", "--data", "x", "--labels", "t").stdout
        #expect(text.hasPrefix("mean squared error "), "\(text)")
        let inferred = try succeed("infer", store, "--model", "lin", "--data", "x", "--output", "t_hat")
        #expect(inferred.stdout.contains("(float32 [600])"), "\(inferred.stdout)")
    }

    @Test("train --model lstm prints validation loss per epoch; infer --series writes one prediction per window")
    func forecaster() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        let trained = try succeed(
            "train", store, "--series", "series", "--model", "lstm", "--window", "6", "--horizon", "1", "--hidden", "8",
            "--layers", "1", "--target-columns", "0,1", "--lr", "0.01", "--epochs", "3", "--batch-size", "32", "--save", "fc")
        let lines = trained.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(trained.stdout)")
        for line in lines.prefix(3) {
            #expect(line.contains(", validation loss ") && line.contains("samples/s") && line.contains("peak RssAnon"), "\(line)")
        }
        // Chronological split: the last 20% of the 394 target rows are validation rows.
        #expect(lines[3].contains("training rows 6..<321, validation rows 321..<400"), "\(lines[3])")
        let json = try #require(try succeed(
            "train", store, "--series", "series", "--model", "lstm", "--window", "6", "--hidden", "8", "--target-columns", "0,1",
            "--lr", "0.01", "--epochs", "1", "--batch-size", "32", "--save", "fc", "--resume", "--json").json() as? [String: Any])
        let epochs = try #require(json["epochs"] as? [[String: Any]])
        #expect(epochs.first?["epoch"] as? Int == 4)
        #expect(epochs.first?["validation_loss"] is Double)
        #expect(json["validation_start"] as? Int == 321)

        let inferred = try #require(try succeed("infer", store, "--model", "fc", "--series", "series", "--output", "fc_pred", "--json").json() as? [String: Any])
        #expect(inferred["shape"] as? [Int] == [394, 2])
        #expect(inferred["rows"] as? Int == 394)
        try expectRefused(["eval", store, "--model", "fc", "--data", "x", "--labels", "y"], store: store, mentioning: ["lstm"])
        try expectRefused(["infer", store, "--model", "fc", "--data", "x", "--output", "z"], store: store, mentioning: ["--series"])
    }

    @Test("train --model lstm --horizon 3 reports validation loss per step; infer --series writes [T - window - 2, 3, targets]")
    func forecasterHorizon() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        let trained = try succeed(
            "train", store, "--series", "series", "--model", "lstm", "--window", "6", "--horizon", "3", "--hidden", "8",
            "--target-columns", "0,1", "--lr", "0.01", "--epochs", "2", "--batch-size", "32", "--save", "h3")
        let lines = trained.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(trained.stdout)")
        for line in lines.prefix(2) { #expect(line.contains(", validation loss ") && line.contains(" (per step "), "\(line)") }
        // 392 windows (last target rows 8...399); the last 78 are validation windows, split at their last target row.
        #expect(lines[2].contains("window 6, horizon 3,") && lines[2].contains("training rows 6..<322, validation rows 322..<400"), "\(lines[2])")
        let json = try #require(try succeed(
            "train", store, "--series", "series", "--model", "lstm", "--window", "6", "--horizon", "3", "--hidden", "8",
            "--target-columns", "0", "--epochs", "1", "--batch-size", "32", "--save", "h3one", "--json").json() as? [String: Any])
        #expect(json["horizon"] as? Int == 3 && json["validation_start"] as? Int == 322)
        let epochs = try #require(json["epochs"] as? [[String: Any]])
        #expect((epochs.first?["validation_loss_per_step"] as? [Double])?.count == 3)

        let inferred = try #require(try succeed("infer", store, "--model", "h3", "--series", "series", "--output", "p3", "--json").json() as? [String: Any])
        #expect(inferred["shape"] as? [Int] == [392, 3, 2] && inferred["rows"] as? Int == 392)
        let one = try #require(try succeed("infer", store, "--model", "h3one", "--series", "series", "--output", "p3one", "--json").json() as? [String: Any])
        #expect(one["shape"] as? [Int] == [392, 3, 1])
        // The horizon is part of the architecture: resuming with another one is refused.
        try expectRefused(["train", store, "--model", "lstm", "--series", "series", "--window", "6", "--horizon", "2", "--resume",
                           "--target-columns", "0", "--hidden", "8", "--save", "h3one"], store: store, mentioning: ["h3one"])
    }

    @Test("data imported from .npy files (float64 features, int64 labels) trains and evaluates")
    func importedNPY() throws {
        let directory = TemporaryDirectory()
        var features: [Double] = [], labels: [Int64] = []
        for i in 0..<200 {
            let a = Double(i % 10) / 10, b = Double((i * 7) % 13) / 13
            features += [a, b]
            labels.append(a > b ? 1 : 0)
        }
        try directory.write(try npyBytes(dtype: .float64, shape: [200, 2], data: bytes(of: features)), to: "features.npy")
        try directory.write(try npyBytes(dtype: .int64, shape: [200], data: bytes(of: labels)), to: "labels.npy")
        try succeed("init", directory.store)
        try succeed("import", directory.store, directory.file("features.npy"), directory.file("labels.npy"), "--compress", "lz4")
        try succeed("train", directory.store, "--data", "features", "--labels", "labels", "--model", "softmax", "--lr", "0.05",
                    "--epochs", "40", "--batch-size", "16", "--save", "clf")
        let result = try #require(try succeed("eval", directory.store, "--model", "clf", "--data", "features", "--labels", "labels", "--json").json() as? [String: Any])
        #expect((result["accuracy"] as? Double ?? 0) > 0.85, "\(result)")
    }

    @Test("errors: one stderr line, non-zero exit, store unchanged")
    func errors() throws {
        let directory = TemporaryDirectory()
        try makeComputeFixture(directory)
        let store = directory.store
        try succeed("train", store, "--data", "x", "--labels", "y", "--model", "softmax", "--epochs", "1", "--save", "m")
        let base = ["train", store, "--data", "x", "--labels", "y", "--save", "n"]
        // Usage errors (64).
        try expectRefused(base + ["--model", "cnn"], store: store, status: 64, mentioning: ["cnn"])
        try expectRefused(base + ["--model", "mlp", "--hidden", "16,x"], store: store, status: 64, mentioning: ["--hidden"])
        try expectRefused(base + ["--model", "mlp", "--batch-size", "0"], store: store, status: 64, mentioning: ["--batch-size"])
        try expectRefused(base + ["--model", "softmax", "--hidden", "8"], store: store, status: 64, mentioning: ["--hidden"])
        try expectRefused(base + ["--model", "mlp", "--lr", "-1"], store: store, status: 64, mentioning: ["--lr"])
        try expectRefused(["train", store, "--model", "lstm", "--data", "x", "--labels", "y", "--save", "n"], store: store, status: 64, mentioning: ["--series"])
        try expectRefused(["train", store, "--model", "lstm", "--series", "series", "--window", "6", "--horizon", "0", "--save", "n"],
                      store: store, status: 64, mentioning: ["--horizon"])
        try expectRefused(["train", store, "--model", "mlp", "--data", "x", "--save", "n"], store: store, status: 64, mentioning: ["--labels"])
        try expectRefused(["train", store, "--model", "lstm", "--series", "series", "--window", "6", "--scaling", "none", "--save", "n"],
                      store: store, status: 64, mentioning: ["--scaling"])
        try expectRefused(base + ["--model", "mlp", "--scaling", "z-score"], store: store, status: 64, mentioning: ["z-score"])
        try expectRefused(["infer", store, "--model", "m", "--output", "o"], store: store, status: 64, mentioning: ["--data"])
        try expectRefused(["eval", store, "--model", "m", "--data", "x"], store: store, status: 64, mentioning: ["--labels"])
        // Failures (2).
        try expectRefused(base + ["--model", "mlp", "--labels", "missing"], store: store, mentioning: ["missing"])
        try expectRefused(base + ["--model", "softmax", "--labels", "t"], store: store, mentioning: ["t"])
        try expectRefused(["train", store, "--model", "lstm", "--series", "series", "--window", "6", "--target-columns", "5", "--save", "n"],
                      store: store, mentioning: ["5"])
        try expectRefused(["train", store, "--model", "lstm", "--series", "series", "--window", "500", "--save", "n"], store: store, mentioning: ["window"])
        try expectRefused(["train", store, "--model", "lstm", "--series", "series", "--window", "6", "--horizon", "394", "--save", "n"],
                          store: store, mentioning: ["horizon 394"])
        try expectRefused(["train", store, "--data", "x", "--labels", "y", "--model", "mlp", "--resume", "--save", "m"], store: store, mentioning: ["m"])
        try expectRefused(["infer", store, "--model", "nomodel", "--data", "x", "--output", "o"], store: store, mentioning: ["nomodel"])
        try expectRefused(["infer", store, "--model", "m", "--data", "series", "--output", "o"], store: store, mentioning: ["features"])
        try expectRefused(["infer", store, "--model", "m", "--series", "series", "--output", "o"], store: store, mentioning: ["--data"])
        try expectRefused(["eval", store, "--model", "m", "--data", "series", "--labels", "y"], store: store, mentioning: ["features"])
        try expectRefused(["eval", store, "--model", "x", "--data", "x", "--labels", "y"], store: store, mentioning: ["x/config"])
        expectFailure(try tensorlog("train", directory.file("nostore"), "--data", "x", "--labels", "y", "--model", "mlp", "--save", "m"), status: 2)
        #expect(!FileManager.default.fileExists(atPath: directory.file("nostore")))
    }

    @Test("--help of train, infer and eval shows examples")
    func help() throws {
        for command in ["train", "infer", "eval"] {
            let result = try tensorlog(command, "--help")
            #expect(result.status == 0)
            #expect(result.stdout.contains("Example"), "\(command) --help")
            #expect(result.stdout.contains("tensorlog \(command) my-store"), "\(command) --help")
        }
        let root = try tensorlog("--help")
        for command in ["train", "infer", "eval"] { #expect(root.stdout.contains(command)) }
    }
}
