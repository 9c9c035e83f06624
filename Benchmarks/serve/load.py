"""Load on `tensorlog serve`: many concurrent clients (wrk, keep-alive connections) reading tensors and
calling inference, then writing; throughput and latency percentiles, errors, and a check that every
acknowledged write is in the store after the server is stopped.

Data: 1,000 float32 tensors [64, 256] (64 KiB each) and an MLP 64-128-10 trained on 4,096 rows.
Passes (each --seconds long, --connections connections over 2 wrk threads):
  read      GET /v1/tensors/t/tN (a random N), .npy bodies
  predict   POST /v1/predict?model=models/mlp with a 32-row .npy batch, .npy predictions back
  mixed     80% read, 20% predict
  write     PUT /v1/tensors/load/<thread>-<n> (64 KiB each), acknowledged after fsync (--durability sync)
After the write pass the server gets SIGTERM; the store is then listed locally. It must hold at least the
writes that got a 201, and at most --connections more: wrk stops counting at its deadline while the last
request of each connection may still be written (and answered to nobody).

usage: python3 load.py [--seconds 15] [--connections 32]   (needs wrk: apt-get install wrk)
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compute"))
from common import tensorlog_binary  # noqa: E402
from serving import start_server  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=int, default=15)
parser.add_argument("--connections", type=int, default=32)
args = parser.parse_args()
if shutil.which("wrk") is None:
    raise SystemExit("wrk is not installed (apt-get install wrk)")

LUA = r"""
local mode = os.getenv("LOAD_MODE")
local body = io.open(os.getenv("LOAD_BODY"), "rb"):read("*all")
local threads = {}
local counter = 0
-- Globals, so that setup() can set and done() can read them in each thread's Lua state.
created = 0
thread_id = 0

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + thread_id * 7919)
end

local function read()
  return wrk.format("GET", "/v1/tensors/t%2Ft" .. math.random(0, 999))
end

local function predict()
  return wrk.format("POST", "/v1/predict?model=models%2Fmlp", {["Content-Type"] = "application/x-npy"}, body)
end

request = function()
  if mode == "read" then return read()
  elseif mode == "predict" then return predict()
  elseif mode == "mixed" then
    if math.random() < 0.8 then return read() else return predict() end
  else
    counter = counter + 1
    return wrk.format("PUT", "/v1/tensors/load%2F" .. thread_id .. "-" .. counter, {["Content-Type"] = "application/x-npy"}, body)
  end
end

response = function(status, headers, response_body)
  if status == 201 then created = created + 1 end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("created") end
  io.write(string.format("CREATED %d\n", total))
end
"""


def parse_wrk(text):
    """Requests/s, latency percentiles (ms), total requests, errors from wrk --latency output."""
    def ms(value):
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
        return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for percentile in ("50", "75", "90", "99"):
        result["p" + percentile] = ms(re.search(rf"\s{percentile}(?:\.000)?%\s+(\S+)", text).group(1))
    result["requests"] = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(map(int, errors.groups())) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    created = re.search(r"CREATED (\d+)", text)
    result["created"] = int(created.group(1)) if created else None
    return result


tl = tensorlog_binary()
work = tempfile.mkdtemp(prefix="tl-load-")
server = None
try:
    rng = np.random.default_rng(0)
    store = os.path.join(work, "store")
    subprocess.run([tl, "init", store], check=True, capture_output=True)
    save_file({f"t{i}": rng.standard_normal((64, 256), dtype=np.float32) for i in range(1000)}, os.path.join(work, "t.safetensors"))
    x = rng.standard_normal((4096, 64), dtype=np.float32)
    y = (x[:, :10].argmax(1)).astype(np.int64)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "y.npy"), y)
    subprocess.run([tl, "import", store, os.path.join(work, "t.safetensors"), "--prefix", "t/"], check=True, capture_output=True)
    subprocess.run([tl, "import", store, os.path.join(work, "x.npy"), os.path.join(work, "y.npy"), "--prefix", "d/"], check=True,
                   capture_output=True)
    subprocess.run([tl, "train", store, "--data", "d/x", "--labels", "d/y", "--model", "mlp", "--hidden", "128", "--epochs", "3",
                    "--save", "models/mlp"], check=True, capture_output=True)
    np.save(os.path.join(work, "batch.npy"), x[:32])
    np.save(os.path.join(work, "put.npy"), rng.standard_normal((64, 256), dtype=np.float32))
    with open(os.path.join(work, "load.lua"), "w") as f:
        f.write(LUA)

    server, url = start_server(tl, store)

    print(f"tensorlog serve under wrk: {args.connections} connections, 2 threads, {args.seconds} s per pass, {os.cpu_count()} cores "
          "(client and server share them)", flush=True)
    rows = []
    for mode in ("read", "predict", "mixed", "write"):
        body = os.path.join(work, "put.npy" if mode == "write" else "batch.npy")
        environment = dict(os.environ, LOAD_MODE=mode, LOAD_BODY=body)
        run = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", os.path.join(work, "load.lua"), url],
                             capture_output=True, text=True, env=environment, check=True)
        result = parse_wrk(run.stdout)
        result["mode"] = mode
        rows.append(result)
        print(f"  {mode}: {result['rps']:.0f} requests/s, latency p50 {result['p50']:.2f} ms, p90 {result['p90']:.2f} ms, "
              f"p99 {result['p99']:.2f} ms; {result['requests']} requests, {result['non2xx']} non-2xx, {result['socket_errors']} socket errors",
              flush=True)

    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    stopped = server.returncode
    server = None
    listed = json.loads(subprocess.run([tl, "ls", store, "--prefix", "load/", "--json"], check=True, capture_output=True, text=True).stdout)
    created = rows[-1]["created"]
    print(f"  server exit status after SIGTERM: {stopped}; acknowledged writes {created}, found in the store afterwards {len(listed)}")

    print()
    print("| pass | requests/s | p50 | p75 | p90 | p99 | requests | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['rps']:.0f} | {r['p50']:.2f} ms | {r['p75']:.2f} ms | {r['p90']:.2f} ms | {r['p99']:.2f} ms | "
              f"{r['requests']:,} | {r['non2xx']} | {r['socket_errors']} |")
    print(f"\nwrites acknowledged (201): {created}; in the store after SIGTERM: {len(listed)} "
          f"(at most {args.connections} more may be requests in flight when wrk stopped); server exit status {stopped}")
    if not created <= len(listed) <= created + args.connections or stopped != 0:
        raise SystemExit("LOST WRITES or unclean stop")
finally:
    if server is not None:
        server.kill()
    shutil.rmtree(work, ignore_errors=True)
