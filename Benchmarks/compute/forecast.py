"""Target 4 (forecasting): a utilisation-like series [T, 2] (CPU %, memory %: daily and weekly sinusoids,
noise, spikes; fixed seed), look-back 6, one LSTM layer of 64 units, Adam lr 1e-3, batch 64, 100 epochs,
one-step-ahead prediction of both columns, the last 20% of target rows held out (chronological split).

tensorlog train --model lstm (a separate process) vs a PyTorch nn.LSTM(2, 64) + Linear(64, 2) trained the
same way on the same windows, the same split and the same scaling (standardised with the mean and
population standard deviation of the training rows, as TensorLog's `--scaling standard`). Falls back to
sklearn MLPRegressor on the flattened windows when torch is not installed (--baseline sklearn forces it).
Validation MSE is reported in scaled units (what train prints) and in percent^2 (from `tensorlog infer
--series`, unscaled); time is the whole training run; memory is the peak RssAnon and VmHWM of the
process that trained (tensorlog: from its epoch lines and the child's ru_maxrss; baseline: sampled in process).

usage: python3 forecast.py [--rows 4000] [--epochs 100] [--baseline torch|sklearn]
"""
import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time

import numpy as np

from common import AnonPeak, mib, status_field, tensorlog_binary, tl, train_torch_lstm, utilisation_series

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=4000)
parser.add_argument("--epochs", type=int, default=100)
parser.add_argument("--window", type=int, default=6)
parser.add_argument("--hidden", type=int, default=64)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--baseline", choices=["torch", "sklearn"], default=None)
parser.add_argument("--torch-threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all CPUs)")
args = parser.parse_args()

series = utilisation_series(args.rows)

work = tempfile.mkdtemp(prefix="tl-forecast-")
try:
    np.save(os.path.join(work, "util.npy"), series)
    store = os.path.join(work, "store")
    tl("init", store)
    tl("import", store, os.path.join(work, "util.npy"), "--prefix", "node1/")

    # TensorLog, in its own process (nothing else runs in a child at the same time).
    command = [tensorlog_binary(), "train", store, "--series", "node1/util", "--model", "lstm", "--window", str(args.window),
               "--hidden", str(args.hidden), "--target-columns", "0,1", "--optimizer", "adam", "--lr", str(args.lr),
               "--batch-size", str(args.batch_size), "--epochs", str(args.epochs), "--seed", "0", "--save", "models/util", "--json"]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    tl_seconds = time.perf_counter() - start
    tl_hwm = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    import json
    report = json.loads(run.stdout)
    epochs = report["epochs"]
    validation_start = report["validation_start"]
    tl_anon = max(e["peak_rss_anon_bytes"] for e in epochs)
    tl_val_scaled = epochs[-1]["validation_loss"]
    tl_epoch_seconds = sum(e["seconds"] for e in epochs)
    tl("infer", store, "--model", "models/util", "--series", "node1/util", "--output", "node1/predicted")
    tl("export", store, "node1/predicted", "--output", os.path.join(work, "predicted.npy"))
    predicted = np.load(os.path.join(work, "predicted.npy"))  # rows window..<T
    truth = series[validation_start:]
    tl_val = float(np.mean((predicted[validation_start - args.window:] - truth) ** 2))

    # Same split and scaling for the baseline.
    train_rows = series[:validation_start].astype(np.float64)
    shift, scale = train_rows.mean(0), train_rows.std(0)
    scaled = ((series - shift) / scale).astype(np.float32)
    ends = np.arange(args.window, args.rows)
    windows = np.stack([scaled[e - args.window:e] for e in ends])  # [targets, window, 2]
    targets = scaled[ends]
    is_train = ends < validation_start
    xw, yw, xv, yv = windows[is_train], targets[is_train], windows[~is_train], targets[~is_train]

    baseline = args.baseline
    if baseline is None:
        try:
            import torch  # noqa: F401
            baseline = "torch"
        except ImportError:
            baseline = "sklearn"
    memory = AnonPeak()
    before_anon = status_field("RssAnon")
    if baseline == "torch":
        import torch
        torch.set_num_threads(args.torch_threads)
        xt, yt, xvt, yvt = map(torch.from_numpy, (xw, yw, xv, yv))
        memory.sample()
        before_anon = status_field("RssAnon")
        start = time.perf_counter()

        def after_epoch(net):
            global validation
            with torch.no_grad():
                validation = torch.nn.functional.mse_loss(net(xvt), yvt).item()
            memory.sample()

        net = train_torch_lstm(xt, yt, args.hidden, args.lr, args.batch_size, args.epochs, after_epoch)
        base_seconds = time.perf_counter() - start
        with torch.no_grad():
            prediction = net(xvt).numpy()
        label = f"PyTorch {torch.__version__} nn.LSTM({args.hidden}) + Linear, {torch.get_num_threads()} threads"
    else:
        import warnings
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = MLPRegressor(hidden_layer_sizes=(args.hidden,), solver="adam", learning_rate_init=args.lr, batch_size=args.batch_size,
                                 max_iter=args.epochs, early_stopping=False, n_iter_no_change=args.epochs + 1, tol=0.0, alpha=0.0,
                                 random_state=0).fit(xw.reshape(len(xw), -1), yw)
        base_seconds = time.perf_counter() - start
        memory.sample()
        prediction = model.predict(xv.reshape(len(xv), -1))
        validation = float(np.mean((prediction - yv) ** 2))
        label = f"sklearn MLPRegressor({args.hidden}) on flattened windows"
    base_val = float(np.mean((prediction * scale + shift - truth) ** 2))
    base_hwm = status_field("VmHWM")

    print(f"series: float32 [{args.rows}, 2]; window {args.window}; training target rows {args.window}..<{validation_start}, "
          f"validation {validation_start}..<{args.rows}; {args.epochs} epochs, batch {args.batch_size}, Adam lr {args.lr}")
    print(f"{'':44} {'val MSE scaled':>14} {'val MSE %^2':>11} {'train s':>8} {'peak RssAnon':>13} {'VmHWM':>9}")
    print(f"{'tensorlog train --model lstm (hidden ' + str(args.hidden) + ')':44} {tl_val_scaled:14.4f} {tl_val:11.3f} "
          f"{tl_seconds:8.1f} {mib(tl_anon):9.1f} MiB {mib(tl_hwm):5.0f} MiB   (sum of epoch times {tl_epoch_seconds:.1f} s)")
    print(f"{label[:44]:44} {validation:14.4f} {base_val:11.3f} {base_seconds:8.1f} {mib(memory.peak):9.1f} MiB {mib(base_hwm):5.0f} MiB"
          f"   (RssAnon before training {mib(before_anon):.0f} MiB: interpreter + libraries)")
    print(f"   baseline: {label}")
finally:
    shutil.rmtree(work)
