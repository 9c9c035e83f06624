"""Target 1 (accuracy): scikit-learn's bundled digits data set, 75/25 split (fixed seed), features / 16.

TensorLog (tensorlog import / train / eval) vs sklearn MLPClassifier (same hidden layers, adam, lr,
batch size, max_iter = epochs, no early stopping, alpha = 0 to match weight decay 0) and
LogisticRegression (lbfgs, default C). Repeated over several seeds; prints medians and every run.

usage: python3 digits.py [--seeds 5] [--epochs 200] [--hidden 128] [--lr 0.001] [--batch-size 64]
"""
import argparse
import os
import shutil
import tempfile
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from common import median, tl

parser = argparse.ArgumentParser()
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--epochs", type=int, default=200)
parser.add_argument("--softmax-epochs", type=int, default=200)
parser.add_argument("--hidden", default="128")
parser.add_argument("--lr", type=float, default=0.001)
parser.add_argument("--softmax-lr", type=float, default=0.01)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--split-seed", type=int, default=0)
parser.add_argument("--shuffle", default="rows", help="tensorlog train --shuffle (sklearn shuffles rows every epoch)")
args = parser.parse_args()
hidden = tuple(int(h) for h in args.hidden.split(","))

digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
y = digits.target.astype(np.int64)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=args.split_seed, stratify=y)
print(f"digits: train {x_train.shape}, test {x_test.shape}, split seed {args.split_seed}")

work = tempfile.mkdtemp(prefix="tl-digits-")
try:
    for name, array in [("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)]:
        np.save(os.path.join(work, name + ".npy"), array)
    store = os.path.join(work, "store")
    tl("init", store)
    tl("import", store, *[os.path.join(work, n + ".npy") for n in ("x_train", "y_train", "x_test", "y_test")], "--prefix", "digits/")

    rows = {"tensorlog mlp": [], "sklearn MLPClassifier": [], "tensorlog softmax": [], "sklearn LogisticRegression": []}
    times = {k: [] for k in rows}
    for seed in range(args.seeds):
        _, t = tl("train", store, "--data", "digits/x_train", "--labels", "digits/y_train", "--model", "mlp", "--hidden", args.hidden,
                  "--optimizer", "adam", "--lr", args.lr, "--epochs", args.epochs, "--batch-size", args.batch_size,
                  "--seed", seed, "--shuffle", args.shuffle, "--save", f"models/mlp{seed}", "--json", json_output=True)
        times["tensorlog mlp"].append(t)
        result, _ = tl("eval", store, "--model", f"models/mlp{seed}", "--data", "digits/x_test", "--labels", "digits/y_test", "--json",
                       json_output=True)
        rows["tensorlog mlp"].append(result["accuracy"])

        _, t = tl("train", store, "--data", "digits/x_train", "--labels", "digits/y_train", "--model", "softmax",
                  "--optimizer", "adam", "--lr", args.softmax_lr, "--epochs", args.softmax_epochs, "--batch-size", args.batch_size,
                  "--seed", seed, "--shuffle", args.shuffle, "--save", f"models/softmax{seed}", "--json", json_output=True)
        times["tensorlog softmax"].append(t)
        result, _ = tl("eval", store, "--model", f"models/softmax{seed}", "--data", "digits/x_test", "--labels", "digits/y_test",
                       "--json", json_output=True)
        rows["tensorlog softmax"].append(result["accuracy"])

        import time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            mlp = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=args.lr, batch_size=args.batch_size,
                                max_iter=args.epochs, early_stopping=False, n_iter_no_change=args.epochs + 1, tol=0.0, alpha=0.0,
                                random_state=seed).fit(x_train, y_train)
            times["sklearn MLPClassifier"].append(time.perf_counter() - start)
        rows["sklearn MLPClassifier"].append(mlp.score(x_test, y_test))
        start = time.perf_counter()
        logistic = LogisticRegression(max_iter=5000).fit(x_train, y_train)
        times["sklearn LogisticRegression"].append(time.perf_counter() - start)
        rows["sklearn LogisticRegression"].append(logistic.score(x_test, y_test))

    print(f"{'model':28} {'median test acc':>15} {'min':>7} {'max':>7} {'median fit s':>12}  runs")
    for name, values in rows.items():
        print(f"{name:28} {median(values):15.4f} {min(values):7.4f} {max(values):7.4f} {median(times[name]):12.2f}  "
              + " ".join(f"{v:.4f}" for v in values))
finally:
    shutil.rmtree(work)
