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
