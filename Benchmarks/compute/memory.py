"""Target 2 (memory): train an MLP on a float32 data set of --gib GiB ([N, 512] features + int32 labels)
stored in TensorLog, and compare peak anonymous memory with the same model trained on the data loaded
into memory first.

Steps: write x.npy / y.npy in chunks (np.lib.format.open_memmap, never whole in memory), `tensorlog import`
them (uncompressed, so batches are zero-copy views of the mapped blocks), then
  1. baseline, in a child Python process: np.load the arrays (into anonymous memory), run --baseline-batches
     Adam steps of the same MLP written in numpy, report peak RssAnon (sampled) and VmHWM;
  2. `tensorlog train --epochs 1` (one full epoch unless --max-rows limits it), peak RssAnon from its epoch line;
then delete everything. The budget the target sets is model + optimiser state (+ gradients) + two batches + 64 MiB.

usage: python3 memory.py --gib 4 [--hidden 256] [--batch-size 256] [--dir /work/tmp]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import mib, tensorlog_binary, tl

parser = argparse.ArgumentParser()
parser.add_argument("--gib", type=float, required=True)
parser.add_argument("--width", type=int, default=512)
parser.add_argument("--hidden", type=int, default=256)
parser.add_argument("--classes", type=int, default=10)
parser.add_argument("--batch-size", type=int, default=256)
parser.add_argument("--baseline-batches", type=int, default=200)
parser.add_argument("--dir", default=None, help="where to put the files (default: a temp dir under /work/tmp or /tmp)")
parser.add_argument("--baseline-only-child", action="store_true", help=argparse.SUPPRESS)
parser.add_argument("--files", nargs=2, help=argparse.SUPPRESS)
args = parser.parse_args()

if args.baseline_only_child:
    # The in-memory baseline: load, then Adam steps of the same MLP in numpy.
    from common import AnonPeak, status_field
    peak = AnonPeak()
    start = time.perf_counter()
    x = np.load(args.files[0])
    y = np.load(args.files[1])
    load_seconds = time.perf_counter() - start
    peak.sample()
    rng = np.random.default_rng(0)
    d, h, c, b = args.width, args.hidden, args.classes, args.batch_size
    params = [rng.normal(0, np.sqrt(2 / d), (d, h)).astype(np.float32), np.zeros(h, np.float32),
              rng.uniform(-np.sqrt(6 / (h + c)), np.sqrt(6 / (h + c)), (h, c)).astype(np.float32), np.zeros(c, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    order = rng.permutation(len(x) // b)
    start = time.perf_counter()
    for step, index in enumerate(order[:args.baseline_batches], 1):
        xb, yb = x[index * b:(index + 1) * b], y[index * b:(index + 1) * b]
        hidden = np.maximum(xb @ params[0] + params[1], 0)
        logits = hidden @ params[2] + params[3]
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        p[np.arange(b), yb] -= 1
        p /= b
        dh = (p @ params[2].T) * (hidden > 0)
        grads = [xb.T @ dh, dh.sum(0), hidden.T @ p, p.sum(0)]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] -= 1e-3 * (m[i] / (1 - 0.9 ** step)) / (np.sqrt(v[i] / (1 - 0.999 ** step)) + 1e-8)
        peak.sample()
    print(json.dumps({"peak_rss_anon_bytes": peak.peak, "vm_hwm_bytes": status_field("VmHWM"), "load_seconds": load_seconds,
                      "step_seconds": (time.perf_counter() - start) / max(1, min(args.baseline_batches, len(order)))}))
    sys.exit(0)

rows = int(args.gib * (1 << 30)) // (4 * args.width)
base = args.dir or ("/work/tmp" if os.path.isdir("/work/tmp") else None)
work = tempfile.mkdtemp(prefix="tl-memory-", dir=base)
print(f"{args.gib:g} GiB: x float32 [{rows}, {args.width}] + y int32 [{rows}] in {work}")
print("disk before:", subprocess.run(["df", "-h", work], capture_output=True, text=True).stdout.splitlines()[-1])
try:
    xpath, ypath = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    x = np.lib.format.open_memmap(xpath, mode="w+", dtype=np.float32, shape=(rows, args.width))
    y = np.lib.format.open_memmap(ypath, mode="w+", dtype=np.int32, shape=(rows,))
    rng = np.random.default_rng(0)
    prototypes = rng.random((args.classes, args.width), dtype=np.float32)
    chunk = 65536
    start = time.perf_counter()
    for s in range(0, rows, chunk):
        e = min(rows, s + chunk)
        labels = rng.integers(0, args.classes, e - s)
        y[s:e] = labels
        x[s:e] = prototypes[labels] + rng.standard_normal((e - s, args.width), dtype=np.float32) * 0.5
    x.flush(); y.flush()
    del x, y
    print(f"generated in {time.perf_counter() - start:.0f} s")
    store = os.path.join(work, "store")
    tl("init", store)
    _, seconds = tl("import", store, xpath, ypath, "--prefix", "big/")
    print(f"imported in {seconds:.0f} s")

    child = subprocess.run([sys.executable, __file__, "--gib", str(args.gib), "--width", str(args.width), "--hidden", str(args.hidden),
                            "--classes", str(args.classes), "--batch-size", str(args.batch_size),
                            "--baseline-batches", str(args.baseline_batches), "--baseline-only-child", "--files", xpath, ypath],
                           capture_output=True, text=True, check=True)
    baseline = json.loads(child.stdout)
    os.remove(xpath); os.remove(ypath)

    report, wall = tl("train", store, "--data", "big/x", "--labels", "big/y", "--model", "mlp", "--hidden", args.hidden,
                      "--optimizer", "adam", "--lr", 0.001, "--epochs", 1, "--batch-size", args.batch_size, "--save", "models/big",
                      "--json", json_output=True)
    epoch = report["epochs"][0]
    parameters = report["parameters"]
    budget = 4 * parameters * 4 + 2 * args.batch_size * args.width * 4 + (64 << 20)  # params + grads + Adam m, v; two batches; 64 MiB
    print(f"model {report['widths']}: {parameters} parameters = {mib(4 * parameters):.2f} MiB; x4 with gradients and Adam state; "
          f"two batches {mib(2 * args.batch_size * args.width * 4):.2f} MiB; budget (+64 MiB) {mib(budget):.1f} MiB")
    print(f"tensorlog train, 1 full epoch ({epoch['samples']} rows, {epoch['zero_copy_batches']} zero-copy / {epoch['copied_batches']} copied batches): "
          f"peak RssAnon {mib(epoch['peak_rss_anon_bytes']):.1f} MiB, epoch {epoch['seconds']:.1f} s ({epoch['samples_per_second']:.0f} rows/s), "
          f"process wall {wall:.1f} s -> {'within' if epoch['peak_rss_anon_bytes'] < budget else 'OVER'} budget")
    print(f"numpy in memory (np.load + {args.baseline_batches} Adam steps of the same MLP): peak RssAnon {mib(baseline['peak_rss_anon_bytes']):.1f} MiB, "
          f"VmHWM {mib(baseline['vm_hwm_bytes']):.1f} MiB, load {baseline['load_seconds']:.1f} s, {1000 * baseline['step_seconds']:.1f} ms/step")
finally:
    shutil.rmtree(work)
    print("disk after:", subprocess.run(["df", "-h", base or "/tmp"], capture_output=True, text=True).stdout.splitlines()[-1])
