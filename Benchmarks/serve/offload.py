"""The offloading experiment: a thin client trains an LSTM forecaster on a utilisation series that lives
on a storage node, either locally (it downloads the series and trains itself) or by offloading the
training to `tensorlog serve` (it sends a request and follows the job; the data never leaves the node).

Set-up of the active-storage paper: a [T, 2] CPU/memory utilisation series (a few thousand rows), look-back
6, one LSTM layer of 64 units, Adam lr 1e-3, batch 64, 100 epochs, one-step-ahead prediction of both columns.

Client ways, each run as separate client processes, side by side in one run:
  local tensorlog   download the series (tensorlog export --remote), import it into a local store, tensorlog train
  local PyTorch     download the .npy over HTTP, train torch.nn.LSTM(2, 64) + Linear the same way
  offloaded         tensorlog train --remote (the job runs on the server), then fetch a 24-step forecast
  offloaded (curl)  the same through curl alone (POST the job, follow its event stream, POST the forecast):
                    what a device without TensorLog needs
each unconstrained and as a constrained client pinned to one core (taskset -c 0; the server is pinned to
core 1 throughout). Reported per way: client wall time, the client processes' peak RSS (max ru_maxrss of
its children), the server's peak RSS during the way (VmHWM, reset through /proc/PID/clear_refs before each
way), and the bytes that crossed the network (counted by a TCP proxy between client and server, both
directions, HTTP headers included). A second, larger series (--large-rows, --large-epochs) shows how the
bytes scale with the data.

usage: python3 offload.py [--rows 4000] [--epochs 100] [--large-rows 500000] [--large-epochs 1] [--no-torch]
"""
import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compute"))
from common import mib, tensorlog_binary, train_torch_lstm, utilisation_series  # noqa: E402
from serving import start_server, status_field  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=4000)
parser.add_argument("--epochs", type=int, default=100)
parser.add_argument("--window", type=int, default=6)
parser.add_argument("--hidden", type=int, default=64)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--large-rows", type=int, default=500_000)
parser.add_argument("--large-epochs", type=int, default=1)
parser.add_argument("--no-torch", action="store_true")
parser.add_argument("--torch-child", nargs=4, metavar=("URL", "EPOCHS", "OUT", "THREADS"), help=argparse.SUPPRESS)
args = parser.parse_args()


def torch_client(url, epochs, out, threads):
    """The PyTorch client: download the series, train, write a JSON line of results."""
    import torch
    torch.set_num_threads(threads)
    body = urllib.request.urlopen(url).read()
    series = np.load(io.BytesIO(body))
    rows = len(series)
    validation_start = rows - int(0.2 * (rows - args.window))
    train_rows = series[:validation_start].astype(np.float64)
    shift, scale = train_rows.mean(0), train_rows.std(0)
    scaled = ((series - shift) / scale).astype(np.float32)
    ends = np.arange(args.window, rows)
    windows = np.stack([scaled[e - args.window:e] for e in ends])
    targets = scaled[ends]
    is_train = ends < validation_start
    xt, yt = torch.from_numpy(windows[is_train]), torch.from_numpy(targets[is_train])
    xv, yv = torch.from_numpy(windows[~is_train]), torch.from_numpy(targets[~is_train])
    net = train_torch_lstm(xt, yt, args.hidden, args.lr, args.batch_size, epochs)
    with torch.no_grad():
        validation = torch.nn.functional.mse_loss(net(xv), yv).item()
    with open(out, "w") as f:
        json.dump({"validation_loss": validation, "torch": torch.__version__}, f)


if args.torch_child:
    url, epochs, out, threads = args.torch_child
    torch_client(url, int(epochs), out, int(threads))
    sys.exit(0)


class CountingProxy:
    """A TCP proxy on a loopback port that forwards to the server and counts the bytes both ways."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.up = self.down = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def reset(self):
        with self.lock:
            self.up = self.down = 0

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target)
            threading.Thread(target=self.pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, "down"), daemon=True).start()

    def pump(self, source, destination, direction):
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                with self.lock:
                    if direction == "up":
                        self.up += len(data)
                    else:
                        self.down += len(data)
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, destination):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def run_client(command, pin):
    """Runs one client process; returns (stdout, wall seconds)."""
    if pin:
        command = ["taskset", "-c", "0"] + command
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"client failed ({process.returncode}): {' '.join(command)}\n{stderr}")
    return stdout, seconds


def peak_rss_of(command, pin):
    """Runs a client command under a tiny wrapper that reports the child's ru_maxrss exactly."""
    wrapper = [sys.executable, "-c",
               "import os, resource, subprocess, sys, json;"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               "sys.stderr.write(p.stderr); sys.stdout.write(p.stdout);"
               "print(json.dumps({'rc': p.returncode, 'maxrss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))"] + command
    stdout, seconds = run_client(wrapper, pin)
    *output, last = stdout.rstrip("\n").split("\n")
    result = json.loads(last)
    if result["rc"] != 0:
        raise SystemExit(f"client failed ({result['rc']}): {' '.join(command)}\n{chr(10).join(output)}")
    return "\n".join(output), seconds, result["maxrss"]


def server_peak(pid):
    return status_field(pid, "VmHWM")


def reset_server_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def experiment(rows, epochs, with_torch, label):
    tl = tensorlog_binary()
    work = tempfile.mkdtemp(prefix="tl-offload-")
    results = []
    server = None
    try:
        series = utilisation_series(rows)
        np.save(os.path.join(work, "util.npy"), series)
        store = os.path.join(work, "node")
        subprocess.run([tl, "init", store], check=True, capture_output=True)
        subprocess.run([tl, "import", store, os.path.join(work, "util.npy"), "--key", "node1/util"], check=True, capture_output=True)
        server, server_url = start_server(tl, store, prefix=["taskset", "-c", "1"])
        server_pid = server.pid  # taskset execs the server in its own process
        proxy = CountingProxy(int(server_url.rsplit(":", 1)[1]))
        url = f"http://127.0.0.1:{proxy.port}"
        train_options = ["--model", "lstm", "--window", str(args.window), "--hidden", str(args.hidden), "--target-columns", "0,1",
                         "--optimizer", "adam", "--lr", str(args.lr), "--batch-size", str(args.batch_size), "--epochs", str(epochs),
                         "--seed", "0", "--json"]
        for pin in (False, True):
            client_name = "constrained client (1 core)" if pin else "client"
            ways = ["local tensorlog"] + (["local PyTorch"] if with_torch else []) + ["offloaded", "offloaded (curl)"]
            for way in ways:
                proxy.reset()
                reset_server_peak(server_pid)
                local = os.path.join(work, f"client-{pin}-" + "".join(c if c.isalnum() else "-" for c in way))
                os.makedirs(local)
                peaks, seconds, validation = [], 0.0, None
                if way == "local tensorlog":
                    steps = [
                        [tl, "export", "--remote", url, "node1/util", "--output", os.path.join(local, "util.npy")],
                        [tl, "import", os.path.join(local, "store"), os.path.join(local, "util.npy"), "--key", "util"],
                        [tl, "train", os.path.join(local, "store"), "--series", "util", "--save", "models/util"] + train_options,
                    ]
                    for step in steps:
                        output, step_seconds, peak = peak_rss_of(step, pin)
                        seconds += step_seconds
                        peaks.append(peak)
                    validation = json.loads(output)["epochs"][-1]["validation_loss"]
                elif way == "local PyTorch":
                    out = os.path.join(local, "torch.json")
                    threads = 1 if pin else os.cpu_count()
                    _, seconds, peak = peak_rss_of(
                        [sys.executable, os.path.abspath(__file__), "--torch-child", f"{url}/v1/tensors/node1%2Futil", str(epochs), out,
                         str(threads), "--window", str(args.window), "--hidden", str(args.hidden), "--batch-size", str(args.batch_size),
                         "--lr", str(args.lr)], pin)
                    peaks.append(peak)
                    validation = json.load(open(out))["validation_loss"]
                elif way == "offloaded (curl)":
                    job = {"model": "lstm", "series": "node1/util", "save": f"models/curl-{pin}", "window": args.window, "hidden": [args.hidden],
                           "target_columns": [0, 1], "optimizer": "adam", "lr": args.lr, "batch_size": args.batch_size, "epochs": epochs, "seed": 0}
                    forecast = {"model": f"models/curl-{pin}", "series": "node1/util", "steps": 24}
                    script = (
                        f"set -e; id=$(curl -sS -f -H 'Content-Type: application/json' -d '{json.dumps(job)}' {url}/v1/jobs"
                        " | sed -E 's/.*\"id\":\"([^\"]+)\".*/\\1/');"
                        f" curl -sS -f -N {url}/v1/jobs/$id/events | tail -n 1 > {local}/finished.json;"
                        f" curl -sS -f -H 'Content-Type: application/json' -d '{json.dumps(forecast)}' {url}/v1/forecast > {local}/forecast.json")
                    _, seconds, peak = peak_rss_of(["bash", "-c", script], pin)
                    peaks.append(peak)
                    job = json.load(open(f"{local}/finished.json"))["job"]
                    if job["state"] != "succeeded":
                        raise SystemExit(f"curl job {job['state']}: {job.get('error')}")
                    validation = job["epochs"][-1]["validation_loss"]
                    assert len(json.load(open(f"{local}/forecast.json"))["predictions"]) == 24
                else:
                    output, step_seconds, peak = peak_rss_of(
                        [tl, "train", "--remote", url, "--series", "node1/util", "--save", f"models/offloaded-{pin}"] + train_options, pin)
                    job = json.loads(output)
                    if job["state"] != "succeeded":
                        raise SystemExit(f"offloaded job {job['state']}: {job.get('error')}")
                    validation = job["epochs"][-1]["validation_loss"]
                    seconds += step_seconds
                    peaks.append(peak)
                    forecast = json.dumps({"model": f"models/offloaded-{pin}", "series": "node1/util", "steps": 24}).encode()
                    request = urllib.request.Request(f"{url}/v1/forecast", data=forecast, headers={"Content-Type": "application/json"})
                    start = time.perf_counter()
                    predictions = json.loads(urllib.request.urlopen(request).read())["predictions"]
                    seconds += time.perf_counter() - start
                    assert len(predictions) == 24
                time.sleep(0.2)  # let the proxy count the last bytes
                results.append({
                    "series": label, "client": client_name, "way": way, "seconds": seconds, "client_peak": max(peaks),
                    "server_peak": server_peak(server_pid), "up": proxy.up, "down": proxy.down, "validation": validation,
                })
                r = results[-1]
                print(f"  {label}, {client_name}, {way}: {r['seconds']:.2f} s, client peak RSS {mib(r['client_peak']):.1f} MiB, "
                      f"server peak RSS {mib(r['server_peak']):.1f} MiB, network {r['up'] + r['down']:,} B "
                      f"(up {r['up']:,}, down {r['down']:,}), validation loss {r['validation']:.5f}", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return results


with_torch = not args.no_torch
if with_torch:
    try:
        import torch  # noqa: F401
    except ImportError:
        with_torch = False
print(f"offloading experiment: LSTM {args.hidden} units, window {args.window}, Adam lr {args.lr}, batch {args.batch_size}; "
      f"server pinned to core 1, constrained client to core 0; {os.cpu_count()} cores", flush=True)
all_results = experiment(args.rows, args.epochs, with_torch, f"{args.rows:,} rows x 2, {args.epochs} epochs")
if args.large_rows:
    all_results += experiment(args.large_rows, args.large_epochs, False, f"{args.large_rows:,} rows x 2, {args.large_epochs} epoch(s)")

print()
print("| series | client | way | client wall time | client peak RSS | server peak RSS | bytes over the network | validation loss (scaled) |")
print("|---|---|---|---|---|---|---|---|")
for r in all_results:
    print(f"| {r['series']} | {r['client']} | {r['way']} | {r['seconds']:.2f} s | {mib(r['client_peak']):.1f} MiB | "
          f"{mib(r['server_peak']):.1f} MiB | {r['up'] + r['down']:,} B | {r['validation']:.5f} |")
