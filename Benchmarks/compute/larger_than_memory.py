"""Training on a data set larger than the memory the process may use: a cgroup (v1 memory controller)
limits the import and the training to --limit-mib of memory, page cache included, while the data set
is --gib GiB of float32 features. The run passes when `tensorlog train` finishes its epoch inside the
limit; reported: the cgroup's peak charged memory (memory.max_usage_in_bytes, page cache included),
how often the limit forced reclaim (memory.failcnt), the trainer's peak RssAnon, and the epoch time.

Needs root and a cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (as on this machine).

usage: python3 larger_than_memory.py [--gib 4] [--limit-mib 1024]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

from common import mib, tensorlog_binary

parser = argparse.ArgumentParser()
parser.add_argument("--gib", type=float, default=4)
parser.add_argument("--limit-mib", type=int, default=1024)
parser.add_argument("--columns", type=int, default=512)
args = parser.parse_args()

CGROUP = "/sys/fs/cgroup/memory/tensorlog-larger-than-memory"
if not os.path.isdir("/sys/fs/cgroup/memory"):
    raise SystemExit("no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory")


def cgroup_value(name):
    with open(os.path.join(CGROUP, name)) as f:
        return int(f.read())


def in_cgroup(command):
    """Runs command as a member of the cgroup (the shell joins it, then execs)."""
    script = f'echo $$ > {CGROUP}/cgroup.procs && exec "$@"'
    return subprocess.run(["sh", "-c", script, "sh"] + command, capture_output=True, text=True)


tl = tensorlog_binary()
work = tempfile.mkdtemp(prefix="tl-ltm-", dir=os.environ.get("TMPDIR", "/tmp"))
try:
    if os.path.isdir(CGROUP):
        os.rmdir(CGROUP)
    os.mkdir(CGROUP)
    with open(os.path.join(CGROUP, "memory.limit_in_bytes"), "w") as f:
        f.write(str(args.limit_mib << 20))

    rows = int(args.gib * (1 << 30)) // (4 * args.columns)
    rng = np.random.default_rng(0)
    prototypes = rng.standard_normal((10, args.columns), dtype=np.float32)
    x = np.lib.format.open_memmap(os.path.join(work, "x.npy"), mode="w+", dtype=np.float32, shape=(rows, args.columns))
    y = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, 65536):
        end = min(start + 65536, rows)
        labels = rng.integers(0, 10, end - start)
        x[start:end] = prototypes[labels] + rng.standard_normal((end - start, args.columns), dtype=np.float32)
        y[start:end] = labels
    x.flush()
    del x
    np.save(os.path.join(work, "y.npy"), y)
    # The files were written outside the cgroup; drop their pages so the cgroup pays for what it reads.
    subprocess.run(["sh", "-c", "sync; echo 1 > /proc/sys/vm/drop_caches"], check=False)

    store = os.path.join(work, "store")
    subprocess.run([tl, "init", store], check=True, capture_output=True)
    imported = in_cgroup([tl, "import", store, os.path.join(work, "x.npy"), os.path.join(work, "y.npy"), "--prefix", "big/"])
    if imported.returncode != 0:
        raise SystemExit(f"import inside the {args.limit_mib} MiB cgroup failed ({imported.returncode}): {imported.stderr}")
    os.remove(os.path.join(work, "x.npy"))
    import_peak = cgroup_value("memory.max_usage_in_bytes")
    with open(os.path.join(CGROUP, "memory.max_usage_in_bytes"), "w") as f:
        f.write("0")
    failcnt_before = cgroup_value("memory.failcnt")

    trained = in_cgroup([tl, "train", store, "--data", "big/x", "--labels", "big/y", "--model", "mlp", "--hidden", "256",
                         "--batch-size", "256", "--epochs", "1", "--save", "models/big", "--json"])
    if trained.returncode != 0:
        raise SystemExit(f"training inside the {args.limit_mib} MiB cgroup failed ({trained.returncode}): {trained.stderr}")
    report = json.loads(trained.stdout)
    epoch = report["epochs"][0]
    print(f"data set: float32 [{rows}, {args.columns}] = {rows * args.columns * 4 / (1 << 30):.2f} GiB; cgroup limit {args.limit_mib} MiB "
          f"(page cache included)")
    print(f"import inside the cgroup: peak charged {mib(import_peak):.0f} MiB")
    print(f"train 1 epoch (MLP {args.columns}-256-10, batch 256) inside the cgroup: {epoch['seconds']:.1f} s, "
          f"{epoch['samples_per_second']:.0f} samples/s, loss {epoch['loss']:.4f}, peak RssAnon {mib(epoch['peak_rss_anon_bytes']):.1f} MiB, "
          f"cgroup peak charged {mib(cgroup_value('memory.max_usage_in_bytes')):.0f} MiB, "
          f"limit reached {cgroup_value('memory.failcnt') - failcnt_before} times (pages reclaimed to stay inside it)")
finally:
    shutil.rmtree(work, ignore_errors=True)
    if os.path.isdir(CGROUP):
        try:
            os.rmdir(CGROUP)
        except OSError:
            pass
