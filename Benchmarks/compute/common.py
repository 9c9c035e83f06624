"""Shared helpers of the compute benchmarks: where the tensorlog binary is, running it, memory figures."""
import json
import os
import re
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tensorlog_binary():
    """$TENSORLOG, else the release build under .build-train or .build."""
    if os.environ.get("TENSORLOG"):
        return os.environ["TENSORLOG"]
    for scratch in (".build-train", ".build"):
        path = os.path.join(ROOT, scratch, "release", "tensorlog")
        if os.path.exists(path):
            return path
    raise SystemExit("build first: swift build -c release --product tensorlog (or set TENSORLOG)")


def tl(*args, json_output=False, check=True):
    """Runs tensorlog ARGS; returns (stdout or parsed JSON, wall seconds)."""
    command = [tensorlog_binary()] + [str(a) for a in args]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if check and result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")
    return (json.loads(result.stdout) if json_output else result.stdout), seconds


def status_field(name):
    """A /proc/self/status field in bytes (VmHWM, VmRSS, RssAnon, ...)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    return None


class AnonPeak:
    """Peak RssAnon of this process, sampled whenever sample() is called."""

    def __init__(self):
        self.peak = 0
        self.sample()

    def sample(self):
        self.peak = max(self.peak, status_field("RssAnon") or 0)


def mib(n):
    return n / (1 << 20)


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def utilisation_series(rows, seed=42):
    """A utilisation-like series [rows, 2] float32 (CPU %, memory %): daily and weekly sinusoids of
    10-minute samples, noise, 1% spikes on CPU, a slow memory drift; clipped to 0..100."""
    import numpy as np
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    day, week = 144, 1008
    cpu = 35 + 15 * np.sin(2 * np.pi * t / day) + 6 * np.sin(2 * np.pi * t / week) + rng.normal(0, 3, rows)
    spikes = rng.random(rows) < 0.01
    cpu[spikes] += rng.uniform(20, 40, spikes.sum())
    memory = 55 + 8 * np.sin(2 * np.pi * t / day + 1.0) + 0.002 * t + rng.normal(0, 1.5, rows)
    return np.clip(np.stack([cpu, memory], 1), 0, 100).astype(np.float32)


def train_torch_lstm(xt, yt, hidden, lr, batch_size, epochs, after_epoch=None):
    """The PyTorch baseline forecaster: nn.LSTM(features, hidden) + Linear(hidden, targets) on the last step,
    Adam, squared loss, batches in an order drawn from a seeded generator each epoch. `xt` [N, window, F] and
    `yt` [N, targets] are torch tensors; `after_epoch(net)` runs after each epoch. Returns the trained net."""
    import torch
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(xt.shape[2], hidden, batch_first=True)
            self.head = torch.nn.Linear(hidden, yt.shape[1])

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=generator)
        net.train()
        for i in range(0, len(xt), batch_size):
            index = order[i:i + batch_size]
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(net(xt[index]), yt[index]).backward()
            optimizer.step()
        net.eval()
        if after_epoch:
            after_epoch(net)
    return net
