"""A multi-GiB tensor through `tensorlog serve` with flat server memory: curl uploads a --gib GiB float32
.npy file (PUT, streamed from disk), then downloads it whole and as a row range (GET, streamed to
/dev/null). The server's anonymous resident memory (RssAnon: heap and stacks, not the page cache or
mapped files) is sampled every 5 ms during each transfer; its peak is reported next to the size.

usage: python3 stream.py [--gib 2]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compute"))
from common import mib, tensorlog_binary  # noqa: E402
from serving import start_server, status_field  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--gib", type=float, default=2)
args = parser.parse_args()


def rss_anon(pid):
    return status_field(pid, "RssAnon")


class Sampler:
    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_anon(self.pid))
            except FileNotFoundError:  # the server is gone
                return
            time.sleep(0.005)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


tl = tensorlog_binary()
work = tempfile.mkdtemp(prefix="tl-stream-", dir=os.environ.get("TMPDIR", "/tmp"))
server = None
try:
    columns = 1024
    rows = int(args.gib * (1 << 30)) // (4 * columns)
    path = os.path.join(work, "big.npy")
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, columns))
    for start in range(0, rows, 65536):
        array[start:start + 65536] = np.arange(start, min(start + 65536, rows), dtype=np.float32)[:, None]
    array.flush()
    del array
    size = os.path.getsize(path)
    store = os.path.join(work, "store")
    subprocess.run([tl, "init", store], check=True, capture_output=True)
    server, url = start_server(tl, store)
    idle = rss_anon(server.pid)
    print(f"tensor float32 [{rows}, {columns}]: {size / (1 << 30):.2f} GiB file; server RssAnon when idle {mib(idle):.1f} MiB", flush=True)
    transfers = [
        ("upload (PUT, .npy body)", ["curl", "-sS", "-f", "-X", "PUT", "-T", path, "-H", "Content-Type: application/x-npy",
                                     "-o", "/dev/null", f"{url}/v1/tensors/big"]),
        ("download whole (.npy)", ["curl", "-sS", "-f", "-o", "/dev/null", f"{url}/v1/tensors/big"]),
        (f"download rows 1000:{rows * 3 // 8} (.npy)", ["curl", "-sS", "-f", "-o", "/dev/null", f"{url}/v1/tensors/big?rows=1000:{rows * 3 // 8}"]),
    ]
    for name, command in transfers:
        sampler = Sampler(server.pid)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - start
        peak = sampler.stop()
        moved = size if "rows" not in name else (rows * 3 // 8 - 1000) * columns * 4
        print(f"  {name}: {moved / (1 << 30):.2f} GiB in {seconds:.2f} s ({moved / seconds / 1e9:.2f} GB/s); "
              f"server peak RssAnon {mib(peak):.1f} MiB", flush=True)
    check = subprocess.run(["curl", "-sS", "-f", f"{url}/v1/tensors/big?rows={rows - 1}:{rows}"], check=True, capture_output=True).stdout
    assert np.frombuffer(check[-columns * 4:], dtype=np.float32)[0] == rows - 1, "last row differs"
    print("  the last row read back equals what was sent")
finally:
    if server is not None:
        server.terminate()
        server.wait()
    shutil.rmtree(work, ignore_errors=True)
