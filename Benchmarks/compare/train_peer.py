#!/usr/bin/env python3
"""One training run of a peer, in its own process: train_peer.py sklearn|numpy X.npy Y.npy HIDDEN EPOCHS BATCH.
Prints {"epoch": median epoch seconds, "rss": peak RssAnon bytes, "loss": last epoch's mean training loss}."""
import json
import statistics
import sys
import threading
import time

import numpy as np

kind, xp, yp = sys.argv[1:4]
hidden, epochs, batch = map(int, sys.argv[4:7])


def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


peak = [rss_anon()]
running = [True]


def sample():
    while running[0]:
        peak[0] = max(peak[0], rss_anon())
        time.sleep(0.01)


sampler = threading.Thread(target=sample, daemon=True)
sampler.start()

x = np.load(xp)  # in memory
y = np.load(yp).astype(np.int64)
classes = int(y.max()) + 1
times, loss = [], None

if kind == "sklearn":
    import warnings
    from sklearn.neural_network import MLPClassifier
    warnings.filterwarnings("ignore")
    model = MLPClassifier(hidden_layer_sizes=(hidden,), solver="adam", learning_rate_init=0.001, batch_size=batch,
                          alpha=0.0, shuffle=True, random_state=0)
    for epoch in range(epochs):
        t = time.perf_counter()
        model.partial_fit(x, y, classes=np.arange(classes))
        times.append(time.perf_counter() - t)
        loss = float(model.loss_)
else:
    rng = np.random.default_rng(0)
    d = x.shape[1]
    params = [
        (rng.standard_normal((d, hidden)) * np.sqrt(2 / d)).astype(np.float32), np.zeros(hidden, np.float32),
        (rng.standard_normal((hidden, classes)) * np.sqrt(1 / hidden)).astype(np.float32), np.zeros(classes, np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, b1, b2, eps, step = np.float32(0.001), 0.9, 0.999, 1e-8, 0
    n = x.shape[0]
    for epoch in range(epochs):
        t = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            index = order[start:start + batch]
            xb, yb = x[index], y[index]
            w1, b1_, w2, b2_ = params
            h = xb @ w1 + b1_
            a = np.maximum(h, 0)
            z = a @ w2 + b2_
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            total += float(-np.log(p[np.arange(len(yb)), yb] + 1e-12).sum())
            g = p
            g[np.arange(len(yb)), yb] -= 1
            g /= len(yb)
            gw2 = a.T @ g
            gb2 = g.sum(axis=0)
            ga = g @ w2.T
            ga[h <= 0] = 0
            gw1 = xb.T @ ga
            gb1 = ga.sum(axis=0)
            step += 1
            for i, grad in enumerate((gw1, gb1, gw2, gb2)):
                m[i] = b1 * m[i] + (1 - b1) * grad
                v[i] = b2 * v[i] + (1 - b2) * grad * grad
                mh = m[i] / (1 - b1 ** step)
                vh = v[i] / (1 - b2 ** step)
                params[i] -= (lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
        times.append(time.perf_counter() - t)
        loss = total / n

running[0] = False
sampler.join()
peak[0] = max(peak[0], rss_anon())
print(json.dumps({"epoch": statistics.median(times), "rss": peak[0], "loss": loss}))
