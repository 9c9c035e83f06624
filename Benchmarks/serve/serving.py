"""Shared by the serve benchmarks: a `tensorlog serve` child on a free loopback port, and /proc figures."""
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tensorlog, store, prefix=(), arguments=()):
    """Starts `prefix... tensorlog serve STORE --port P arguments...` and waits until it answers
    /v1/health. Returns (process, url); its output goes to /dev/null."""
    port = free_port()
    process = subprocess.Popen(list(prefix) + [tensorlog, "serve", store, "--port", str(port)] + list(arguments),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/v1/health").read()
            return process, url
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"tensorlog serve exited with status {process.returncode}")
            time.sleep(0.05)


def status_field(pid, name):
    """A /proc/PID/status field in bytes (VmHWM, RssAnon, ...)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    return 0
