"""Targets 3 and 5 (speed, inference): MLP 784-256-10 on 60,000 x 784 float32 rows, batch 256, Adam.

- epoch time of `tensorlog train` (epoch seconds as reported, and the process's wall time including
  start-up and the checkpoint) vs sklearn MLPClassifier(max_iter=1) on the same rows already in memory;
- SGEMM GFLOP/s of the system OpenBLAS (the library tensorlog links) via ctypes, at a square size and at
  the shapes of a large-batch step, and the fraction of it a `tensorlog train --batch-size 4096` epoch reaches;
- `tensorlog infer` rows/s over the stored rows (predictions written back to the store), and `--probabilities`.
Each measurement is repeated --repeats times; medians are printed with every run.

usage: python3 speed.py [--repeats 3]
"""
import argparse
import ctypes
import ctypes.util
import os
import shutil
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from common import median, mib, tl

parser = argparse.ArgumentParser()
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--rows", type=int, default=60_000)
args = parser.parse_args()

rows, width, hidden, classes = args.rows, 784, 256, 10
rng = np.random.default_rng(0)
prototypes = rng.random((classes, width), dtype=np.float32)
y = rng.integers(0, classes, rows).astype(np.int32)
x = np.clip(prototypes[y] + rng.normal(0, 0.3, (rows, width)).astype(np.float32), 0, 1).astype(np.float32)
print(f"data: x float32 {x.shape} ({mib(x.nbytes):.1f} MiB), y int32 {y.shape}")

work = tempfile.mkdtemp(prefix="tl-speed-")
try:
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "y.npy"), y)
    store = os.path.join(work, "store")
    tl("init", store)
    tl("import", store, os.path.join(work, "x.npy"), os.path.join(work, "y.npy"), "--prefix", "mnistlike/")

    def tensorlog_epoch(batch, name):
        report, wall = tl("train", store, "--data", "mnistlike/x", "--labels", "mnistlike/y", "--model", "mlp", "--hidden", hidden,
                          "--optimizer", "adam", "--lr", 0.001, "--epochs", 1, "--batch-size", batch, "--seed", 1,
                          "--save", name, "--json", json_output=True)
        return report["epochs"][0], wall

    epoch, wall, sk = [], [], []
    for r in range(args.repeats):
        report, seconds = tensorlog_epoch(256, f"models/speed{r}")
        epoch.append(report["seconds"])
        wall.append(seconds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            MLPClassifier(hidden_layer_sizes=(hidden,), solver="adam", learning_rate_init=0.001, batch_size=256, max_iter=1,
                          alpha=0.0, shuffle=True, random_state=r).fit(x, y)
            sk.append(time.perf_counter() - start)
    print(f"epoch, batch 256: tensorlog {median(epoch):.2f} s (process wall {median(wall):.2f} s); "
          f"sklearn MLPClassifier max_iter=1 {median(sk):.2f} s (fit, data in memory); ratio sklearn/tensorlog {median(sk) / median(epoch):.2f}")
    print("   runs: tensorlog epoch " + " ".join(f"{v:.2f}" for v in epoch) + "; wall " + " ".join(f"{v:.2f}" for v in wall)
          + "; sklearn " + " ".join(f"{v:.2f}" for v in sk))

    # SGEMM of the system OpenBLAS through ctypes.
    path = ctypes.util.find_library("openblas") or "libopenblas.so.0"
    blas = ctypes.CDLL(path)
    sgemm = blas.cblas_sgemm
    sgemm.restype = None
    sgemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_float,
                      ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
    row_major, no, trans = 101, 111, 112

    def gflops(m, n, k, ta=no, tb=no, seconds=1.0):
        a = np.ascontiguousarray(rng.random((k, m) if ta == trans else (m, k), dtype=np.float32))
        b = np.ascontiguousarray(rng.random((n, k) if tb == trans else (k, n), dtype=np.float32))
        c = np.zeros((m, n), dtype=np.float32)
        lda, ldb = a.shape[1], b.shape[1]
        call = lambda: sgemm(row_major, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 0.0, c.ctypes.data, n)
        call()
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            call()
            count += 1
        return 2.0 * m * n * k * count / (time.perf_counter() - start) / 1e9

    print(f"OpenBLAS: {path}, {os.environ.get('OPENBLAS_NUM_THREADS', 'default')} threads, {os.cpu_count()} CPUs")
    peak = [gflops(2048, 2048, 2048) for _ in range(args.repeats)]
    print(f"sgemm 2048^3: best {max(peak):.1f}, median {median(peak):.1f} GFLOP/s (runs " + " ".join(f"{v:.1f}" for v in peak) + ")")
    big = 4096
    shapes = {"forward x.W1 [4096x784].[784x256]": (big, hidden, width, no, no),
              "backward dW1 = x^T.dH [784x4096].[4096x256]": (width, hidden, big, trans, no),
              "backward dH = dY.W2^T [4096x10].[10x256]": (big, hidden, classes, no, trans)}
    for name, (m, n, k, ta, tb) in shapes.items():
        runs = [gflops(m, n, k, ta, tb, 0.5) for _ in range(args.repeats)]
        print(f"sgemm {name}: best {max(runs):.1f}, median {median(runs):.1f} GFLOP/s")

    flops_per_row = 2 * (width * hidden + hidden * classes) * 2 + 2 * hidden * classes  # forward, dW1, dW2, dH (no dX)
    large = [tensorlog_epoch(big, f"models/large{r}")[0] for r in range(args.repeats)]
    rates = [e["samples_per_second"] for e in large]
    for what, rate, reference in (("best", max(rates), max(peak)), ("median", median(rates), median(peak))):
        achieved = rate * flops_per_row / 1e9
        print(f"tensorlog train --batch-size {big}, {what} of {len(rates)}: {rate:.0f} samples/s = {achieved:.1f} GFLOP/s in the GEMMs' flops "
              f"({flops_per_row} flop/row) = {100 * achieved / reference:.0f}% of the {what} 2048^3 sgemm rate")

    for probabilities in (False, True):
        extra = ["--probabilities"] if probabilities else []
        runs = [tl("infer", store, "--model", "models/speed0", "--data", "mnistlike/x", "--output", f"mnistlike/pred{r}", *extra,
                   "--json", json_output=True)[0] for r in range(args.repeats)]
        print(f"infer{' --probabilities' if probabilities else ''}: median {median([r['rows_per_second'] for r in runs]):.0f} rows/s "
              f"({runs[0]['rows']} rows -> {runs[0]['dtype']} {runs[0]['shape']}; runs "
              + " ".join(f"{r['rows_per_second']:.0f}" for r in runs) + ")")
finally:
    shutil.rmtree(work)
