import ArgumentParser
import Foundation
import TensorLog
import TensorLogAPI
import TensorLogCompute

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a stored model on stored labelled data (read-only).",
        discussion: """
            Classifiers: accuracy and mean cross-entropy; regressors: mean squared error. Streams the data \
            and uses the weights in place from the mapped checkpoint; opens the store read-only, so it can \
            run beside a writer. --json prints {"model", "task", "rows", "accuracy", "loss"} or \
            {"model", "task", "rows", "mse"}.

            Examples:
              tensorlog eval my-store --model models/digits --data digits/x_test --labels digits/y_test
              tensorlog eval my-store --model models/digits --data digits/x_test --labels digits/y_test --json
            """
    )

    @OptionGroup var target: StoreArgument
    @Option(help: ArgumentHelp("Key prefix of the stored model (train's --save).", valueName: "model")) var model: String
    @Option(help: ArgumentHelp("Key of the features [N, D].", valueName: "key")) var data: String
    @Option(help: ArgumentHelp("Key of the labels [N] or targets [N] / [N, K].", valueName: "key")) var labels: String
    @Option(help: ArgumentHelp("Rows per batch.", valueName: "n")) var batchSize = 4096
    @OptionGroup var format: JSONOption

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        let result: EvaluationScores
        if let url = target.remoteURL {
            let client = try remoteClient(url)
            let request = EvalRequest(model: model, data: data, labels: labels, batchSize: batchSize)
            let scores = try remote { try await client.evaluate(request) }
            result = EvaluationScores(task: scores.task, rows: scores.rows, accuracy: scores.accuracy, crossEntropy: scores.loss, meanSquaredError: scores.mse)
        } else {
            let store = try openStore(target.store, .readOnly)
            let kind = try storedModelKind(store.snapshot(), model: model)
            guard kind != "lstm" else {
                throw CLIError("'\(model)' is an lstm forecaster: eval scores classifiers and regressors (train prints the forecaster's validation loss)")
            }
            let local = try computing {
                try Evaluation.evaluate(store: store, model: model, data: data, labels: labels, batchSize: batchSize)
            }
            result = EvaluationScores(
                task: local.task.rawValue, rows: local.rows, accuracy: local.accuracy, crossEntropy: local.crossEntropy,
                meanSquaredError: local.meanSquaredError)
        }
        if format.json {
            var members: [(String, JSON)] = [("model", .string(model)), ("task", .string(result.task)), ("rows", .int(result.rows))]
            if let accuracy = result.accuracy { members.append(("accuracy", .double(accuracy))) }
            if let loss = result.crossEntropy { members.append(("loss", .double(loss))) }
            if let mse = result.meanSquaredError { members.append(("mse", .double(mse))) }
            printJSON(.object(members))
        } else if let accuracy = result.accuracy, let loss = result.crossEntropy {
            let correct = Int((accuracy * Double(result.rows)).rounded())
            print(String(format: "accuracy %.4f (%d/%d rows), mean cross-entropy %.6f", accuracy, correct, result.rows, loss))
        } else if let mse = result.meanSquaredError {
            print(String(format: "mean squared error %.6g over %d rows", mse, result.rows))
        }
    }
}

/// What eval prints, from a local evaluation or a server's.
struct EvaluationScores {
    var task: String
    var rows: Int
    var accuracy: Double?
    var crossEntropy: Double?
    var meanSquaredError: Double?
}
