import ArgumentParser
import Foundation
import TensorLog
import TensorLogAPI
import TensorLogCompute

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a stored model over stored data and write the predictions to the store.",
        discussion: """
            Classifiers write int32 class indices [N] (--probabilities: float32 [N, classes]); regressors \
            write float32 [N] or [N, K]. The weights are used in place from the mapped checkpoint and the \
            data is streamed, so memory stays flat. For an lstm forecaster give --series instead of --data: \
            the predictions of every window, in the series' units: float32 [T - window, targets] for a \
            one-step model (row i predicts series row window + i), [T - window - H + 1, H, targets] for one \
            trained with --horizon H > 1 ([i, s] predicts series row window + i + s). \
            The output key gets a new version; prints the rows written and rows per second.

            Examples:
              tensorlog infer my-store --model models/digits --data digits/x_test --output digits/predicted
              tensorlog infer my-store --model models/digits --data digits/x_test --output digits/p --probabilities
              tensorlog infer my-store --model models/util --series node1/utilisation --output node1/predicted
            """
    )

    @OptionGroup var target: StoreArgument
    @Option(help: ArgumentHelp("Key prefix of the stored model (train's --save).", valueName: "model")) var model: String
    @Option(help: ArgumentHelp("Key of the features [N, D].", valueName: "key")) var data: String?
    @Option(help: ArgumentHelp("Key of the time series [T, F] (lstm models).", valueName: "key")) var series: String?
    @Option(help: ArgumentHelp("Key to write the predictions to.", valueName: "key")) var output: String
    @Flag(help: "Classifiers: write class probabilities [N, classes] instead of class indices.") var probabilities = false
    @Option(help: ArgumentHelp("Rows per batch.", valueName: "n")) var batchSize = 4096
    @OptionGroup var format: JSONOption

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard (data == nil) != (series == nil) else { throw ValidationError("give exactly one of --data and --series") }
    }

    func run() throws {
        for key in [model, output, data, series].compactMap({ $0 }) { try checkKey(key) }
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let request = InferRequest(model: model, data: data, series: series, output: output, batchSize: batchSize, probabilities: probabilities)
            let result = try remote { try await client.infer(request) }
            return printSummary(rows: result.rows, seconds: result.seconds, dtype: result.dtype, shape: result.shape)
        }
        let store = try openStore(target.store, .write)
        let kind = try storedModelKind(store.snapshot(), model: model)
        let rows: Int, seconds: Double
        if kind == "lstm" {
            guard let series else { throw CLIError("'\(model)' is an lstm forecaster: give --series, not --data") }
            guard !probabilities else { throw CLIError("--probabilities is for classifiers; '\(model)' is an lstm forecaster") }
            let clock = ContinuousClock()
            let start = clock.now
            rows = try computing { try Forecaster.predict(store: store, model: model, series: series, output: output, batchSize: min(batchSize, 1024)) }
            seconds = (clock.now - start) / .seconds(1)
        } else {
            guard let data else { throw CLIError("'\(model)' is a \(kind) model: give --data, not --series") }
            let summary = try computing {
                try Inference.predict(store: store, model: model, data: data, output: output, batchSize: batchSize, probabilities: probabilities)
            }
            rows = summary.rows
            seconds = summary.seconds
        }
        let info = try reporting { try store.snapshot().info(output) }
        try closeStore(store)
        printSummary(rows: rows, seconds: seconds, dtype: info.dtype.name, shape: info.shape)
    }

    private func printSummary(rows: Int, seconds: Double, dtype: String, shape: [Int]) {
        let rate = seconds > 0 ? Double(rows) / seconds : 0
        if format.json {
            printJSON(.object([
                ("model", .string(model)), ("output", .string(output)), ("rows", .int(rows)), ("dtype", .string(dtype)),
                ("shape", .ints(shape)), ("seconds", .double(seconds)), ("rows_per_second", .double(rate)),
            ]))
        } else {
            print("wrote \(rows) predictions to '\(output)' (\(dtype) \(formatShape(shape))) in "
                + String(format: "%.3f s: %.0f rows/s", seconds, rate))
        }
    }
}
