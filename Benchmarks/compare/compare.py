#!/usr/bin/env python3
"""TensorLog side by side with its peers, on the same generated data, in one run.

Every measurement is repeated in rounds; in each round TensorLog's run (a
subprocess of Benchmarks' `compare-tensorlog`, whose process start is not
timed) and each peer's run come one after the other, in an order that
alternates between rounds, so a noisy neighbour slows both sides alike.
Medians over the rounds are reported, with ratios. Reads are of cached data
(the page cache is not dropped), as the issue asks.

Usage: compare.py --tensorlog-bench BIN --tensorlog-cli BIN --work DIR --out docs/benchmarks.md [--quick]
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--tensorlog-bench", required=True)
parser.add_argument("--tensorlog-cli", required=True)
parser.add_argument("--work", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--charts", required=True)
parser.add_argument("--notes", default=None)
parser.add_argument("--lmdb-c", default=None, help="Benchmarks/compare/lmdb_points.c, built (optional)")
parser.add_argument("--quick", action="store_true")
parser.add_argument("--only", default=None, help="comma-separated sections: limits,sum,points,compress,train")
args = parser.parse_args()

QUICK = args.quick
REPEATS = 2 if QUICK else 5
BIG_BYTES = (64 << 20) if QUICK else (1 << 30)      # the summed tensor
COLS = 1024
SMOOTH_BYTES = (32 << 20) if QUICK else (512 << 20)  # the compressed tensor
KEYS = 20_000 if QUICK else 200_000                 # 1 KiB values
READS = 20_000 if QUICK else 200_000
GEMM_N = 1024 if QUICK else 4096
TRAIN_ROWS = 5_000 if QUICK else 100_000
TRAIN_FEATURES, TRAIN_CLASSES, TRAIN_HIDDEN, TRAIN_EPOCHS, TRAIN_BATCH = 64, 10, 128, 2, 64
TRAIN_REPEATS = 2 if QUICK else 3
SECTIONS = set((args.only or "limits,sum,points,compress,train").split(","))

work = os.path.abspath(args.work)
os.makedirs(work, exist_ok=True)


def log(*items):
    print("[compare]", *items, file=sys.stderr, flush=True)


def now():
    return time.perf_counter()


def tl(*arguments):
    """One TensorLog measurement: the bench binary prints one JSON object."""
    output = subprocess.run([args.tensorlog_bench, *map(str, arguments)], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def rm(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def du(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def median(values):
    return statistics.median(values)


def rounds(n, runners):
    """runners: {name: fn() -> dict of metrics}. Returns {name: [dict per round]}; order alternates."""
    results = {name: [] for name in runners}
    names = list(runners)
    for r in range(n):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            results[name].append(runners[name]())
        log(f"round {r + 1}/{n} done")
    return results


def med(results, name, metric):
    return median([row[metric] for row in results[name]])


# Rows of the final table: dicts with section, measurement, unit, higher_is_better, tensorlog, peers {name: value}, limit (name, value) or None
ROWS = []
CHARTS = []


def row(section, measurement, unit, higher, tensorlog, peers, limit=None, note=""):
    ROWS.append(dict(section=section, measurement=measurement, unit=unit, higher=higher,
                     tensorlog=tensorlog, peers=peers, limit=limit, note=note))


# ----------------------------------------------------------------------------------------------
# Data, written once: a raw float32 file (TensorLog loads it into memory and puts it), the same
# array as .npy and .safetensors. Contents as engine-baselines: (i mod 1024) * 0.5.
big_rows = BIG_BYTES // 4 // COLS
raw_big = os.path.join(work, "big.f32")
npy_big = os.path.join(work, "big.npy")
st_big = os.path.join(work, "big.safetensors")
store_big = os.path.join(work, "tl-big")
store_sealed = os.path.join(work, "tl-big-sealed")


def make_big():
    big = (np.arange(BIG_BYTES // 4, dtype=np.uint32) & 1023).astype(np.float32) * np.float32(0.5)
    return big.reshape(big_rows, COLS)


limits = {}

if "limits" in SECTIONS or "sum" in SECTIONS:
    log(f"writing {BIG_BYTES >> 20} MiB of float32 as raw, .npy and .safetensors in {work}")
    big = make_big()
    big.tofile(raw_big)
    np.save(npy_big, big)
    from safetensors.numpy import save_file, load_file
    from safetensors import safe_open
    save_file({"x": big}, st_big)
    rm(store_big); rm(store_sealed)
    tl("prepare-view", "--file", raw_big, "--store", store_big, "--cols", COLS)
    tl("prepare-view", "--file", raw_big, "--store", store_sealed, "--cols", COLS, "--seal")

# ---------------------------------------------------------------------------------------------- limits
if "limits" in SECTIONS:
    log("machine limits: memory read bandwidth, dd, SGEMM")

    def numpy_sum():
        t = now(); s = np.add.reduce(big, axis=None); e = now() - t
        return {"gbps": BIG_BYTES / e / 1e9, "check": float(s)}

    def swift_sum():
        out = tl("sum-anon", "--file", raw_big, "--repeats", 1)
        return {"gbps": out["bytes"] / out["seconds"] / 1e9}

    def swift_mmap():
        out = tl("sum-mmap", "--file", raw_big, "--repeats", 2)
        return {"gbps": out["bytes"] / out["seconds"] / 1e9, "first": out["map_seconds"] + out["first_seconds"]}

    r = rounds(REPEATS, {"numpy sum (in memory)": numpy_sum, "Swift SIMD sum (anonymous memory)": swift_sum,
                         "Swift SIMD sum over a plain mmap of the cached file, warm": swift_mmap})
    bw = {name: med(r, name, "gbps") for name in r}
    limits["mmap first touch seconds"] = med(r, "Swift SIMD sum over a plain mmap of the cached file, warm", "first")
    limits["memory read GB/s"] = max(bw.values())
    limits["memory read source"] = max(bw, key=bw.get)
    limits["memory read all"] = bw

    dd_target = os.path.join(work, "dd.bin")

    def dd(fsync):
        def run():
            rm(dd_target)
            command = ["dd", f"if={raw_big}", f"of={dd_target}", "bs=1M"] + (["conv=fsync"] if fsync else [])
            t = now(); subprocess.run(command, check=True, capture_output=True); e = now() - t
            rm(dd_target)
            return {"gbps": BIG_BYTES / e / 1e9}
        return run

    r = rounds(REPEATS, {"dd": dd(False), "dd conv=fsync": dd(True)})
    limits["dd write GB/s"] = med(r, "dd", "gbps")
    limits["dd fsync write GB/s"] = med(r, "dd conv=fsync", "gbps")

    a = np.random.default_rng(0).standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    a @ b  # warm the threads up
    gemm = []
    for _ in range(REPEATS):
        t = now(); a @ b; e = now() - t
        gemm.append(2 * GEMM_N ** 3 / e / 1e9)
    limits["sgemm GFLOP/s"] = median(gemm)
    del a, b
    log("limits:", json.dumps({k: v for k, v in limits.items()}, default=str))

# ---------------------------------------------------------------------------------------------- sum
if "sum" in SECTIONS:
    log("load to a usable view + sum of the cached tensor")
    gib = f"{BIG_BYTES / (1 << 30):g} GiB" if BIG_BYTES >= (1 << 30) else f"{BIG_BYTES >> 20} MiB"

    def tensorlog_view(path):
        def run():
            out = tl("view-sum", "--store", path)
            return {"load": out["load_seconds"], "sum": out["sum_seconds"], "total": out["load_seconds"] + out["sum_seconds"],
                    "first": out["first_load_seconds"]}
        return run

    def safetensors_open():
        t = now()
        with safe_open(st_big, framework="numpy") as f:
            x = f.get_tensor("x")
        l = now() - t
        t = now(); s = np.add.reduce(x, axis=None); e = now() - t
        del x
        return {"load": l, "sum": e, "total": l + e}

    def safetensors_load_file():
        t = now(); x = load_file(st_big)["x"]; l = now() - t
        t = now(); s = np.add.reduce(x, axis=None); e = now() - t
        del x
        return {"load": l, "sum": e, "total": l + e}

    def numpy_mmap():
        t = now(); x = np.load(npy_big, mmap_mode="r"); l = now() - t
        t = now(); s = np.add.reduce(x, axis=None); e = now() - t
        del x
        return {"load": l, "sum": e, "total": l + e}

    peers = {
        "safetensors safe_open+get_tensor (numpy)": safetensors_open,
        "safetensors.numpy.load_file": safetensors_load_file,
        "numpy np.load(mmap_mode='r')": numpy_mmap,
    }
    def plain_mmap():
        out = tl("sum-mmap", "--file", raw_big, "--repeats", 1)
        return {"load": out["map_seconds"], "sum": out["first_seconds"], "total": out["map_seconds"] + out["first_seconds"]}

    active, sealed = "TensorLog (tensor in the active segment)", "TensorLog (sealed segment + hint file)"
    floor = "plain mmap"
    r = rounds(REPEATS, {active: tensorlog_view(store_big), sealed: tensorlog_view(store_sealed), **peers,
                         floor: plain_mmap})
    limits["zero-copy floor"] = {m: med(r, floor, m) for m in ("load", "sum", "total")}
    FIRST_OPEN = (med(r, active, "first"), med(r, sealed, "first"))
    for name, how in ((active, "store as `import`/`put` leave it (active segment): open checksums only what follows its closed-prefix hint"),
                      (sealed, "segment sealed, hint file: open reads no payload")):
        row("zero-copy read", f"load to a usable view of a cached {gib} float32 tensor — {how}", "ms", False,
            med(r, name, "load") * 1e3, {p: med(r, p, "load") * 1e3 for p in peers},
            ("open + mmap of the raw file (Swift)", med(r, floor, "load") * 1e3))
        limit = ("mmap + first-touch SIMD sum of the cached raw file, same rounds",
                 BIG_BYTES / med(r, floor, "total") / 1e9)
        row("zero-copy read", f"sum of the {gib} tensor just loaded — {how}", "GB/s", True,
            BIG_BYTES / med(r, name, "sum") / 1e9, {p: BIG_BYTES / med(r, p, "sum") / 1e9 for p in peers},
            ("first-touch SIMD sum over a plain mmap, same rounds", BIG_BYTES / med(r, floor, "sum") / 1e9))
        row("zero-copy read", f"load + sum, {gib} — {how}", "GB/s", True,
            BIG_BYTES / med(r, name, "total") / 1e9, {p: BIG_BYTES / med(r, p, "total") / 1e9 for p in peers}, limit)
    CHARTS.append(("sum", f"Load + sum of a cached {gib} float32 tensor (s, lower is better)",
                   {n: (med(r, n, "load"), med(r, n, "sum")) for n in (active, sealed, *peers)}))

if "limits" in SECTIONS or "sum" in SECTIONS:
    del big
    for path in (raw_big, npy_big, st_big, store_big, store_sealed):
        rm(path)

# ---------------------------------------------------------------------------------------------- points
if "points" in SECTIONS:
    import lmdb
    log(f"point reads and bulk load of {KEYS} 1 KiB values: TensorLog vs LMDB")
    keys = [b"k/%08d" % i for i in range(KEYS)]
    value = np.zeros(256, dtype=np.float32)
    store_points = os.path.join(work, "tl-points")
    lmdb_dir = os.path.join(work, "lmdb")
    rng = np.random.default_rng(42)

    def tensorlog_load(batch):
        def run():
            rm(store_points)
            out = tl("points-load", "--store", store_points, "--keys", KEYS, "--batch", batch)
            return {"rate": KEYS / out["seconds"]}
        return run

    lmdb_c_dir = os.path.join(work, "lmdb-c")

    def lmdb_c_load():
        rm(lmdb_c_dir); os.makedirs(lmdb_c_dir)
        out = json.loads(subprocess.run([args.lmdb_c, "load", lmdb_c_dir, str(KEYS)], check=True, capture_output=True, text=True).stdout)
        return {"rate": KEYS / out["seconds"]}

    def lmdb_c_read():
        out = json.loads(subprocess.run([args.lmdb_c, "read", lmdb_c_dir, str(KEYS), str(READS)], check=True, capture_output=True, text=True).stdout)
        return {"rate": READS / out["seconds"]}

    def lmdb_load():
        rm(lmdb_dir)
        env = lmdb.open(lmdb_dir, map_size=max(4 * KEYS * 1200, 64 << 20), sync=False, metasync=False, subdir=True)
        t = now()
        with env.begin(write=True) as txn:
            for i, key in enumerate(keys):
                value[0] = i
                txn.put(key, value.tobytes(), append=True)
        e = now() - t
        env.close()
        return {"rate": KEYS / e}

    runners = {"TensorLog": tensorlog_load(1), "TensorLog batches": tensorlog_load(1000), "LMDB": lmdb_load}
    if args.lmdb_c:
        runners["LMDB C"] = lmdb_c_load
    r = rounds(REPEATS, runners)
    load_peers = {"py-lmdb, one txn, MDB_APPEND": med(r, "LMDB", "rate")}
    if args.lmdb_c:
        load_peers["LMDB C API, one txn, MDB_APPEND"] = med(r, "LMDB C", "rate")
    row("point access", f"bulk load of {KEYS:,} 1 KiB values, one `put` each (no fsync)", "puts/s", True,
        med(r, "TensorLog", "rate"), load_peers)
    row("point access", f"bulk load of {KEYS:,} 1 KiB values, atomic batches of 1000 puts (no fsync)", "puts/s", True,
        med(r, "TensorLog batches", "rate"), load_peers)
    load_chart = {"TensorLog": med(r, "TensorLog", "rate"), "TensorLog (batches)": med(r, "TensorLog batches", "rate"),
                  **{k.split(",")[0]: v for k, v in load_peers.items()}}

    def tensorlog_read():
        out = tl("points-read", "--store", store_points, "--keys", KEYS, "--reads", READS)
        return {"rate": READS / out["seconds"]}

    def lmdb_read():
        chosen = [keys[i] for i in rng.integers(0, KEYS, READS)]
        env = lmdb.open(lmdb_dir, readonly=True, lock=False, subdir=True)
        total = 0
        with env.begin(buffers=True) as txn:
            get = txn.get
            t = now()
            for key in chosen:
                v = get(key)
                total += v[0] + v[1023]
            e = now() - t
        env.close()
        return {"rate": READS / e}

    runners = {"TensorLog": tensorlog_read, "LMDB": lmdb_read}
    if args.lmdb_c:
        runners["LMDB C"] = lmdb_c_read
    r = rounds(REPEATS, runners)
    read_peers = {"py-lmdb txn.get (buffers=True)": med(r, "LMDB", "rate")}
    if args.lmdb_c:
        read_peers["LMDB C API mdb_get"] = med(r, "LMDB C", "rate")
    row("point access", f"random point reads of 1 KiB values among {KEYS:,}, value touched", "reads/s", True,
        med(r, "TensorLog", "rate"), read_peers,
        note="py-lmdb pays the Python interpreter per call; the C row does not")
    CHARTS.append(("points", "Point access, 1 KiB values (ops/s, higher is better)",
                   {"bulk load": load_chart,
                    "random reads": {"TensorLog": med(r, "TensorLog", "rate"),
                                     **{k.split(" txn")[0].replace(" mdb_get", ""): v for k, v in read_peers.items()}}}))
    rm(store_points); rm(lmdb_dir); rm(lmdb_c_dir)

# ---------------------------------------------------------------------------------------------- compress
if "compress" in SECTIONS:
    import h5py
    import zarr
    from zarr.codecs import BloscCodec
    try:
        import hdf5plugin
    except ImportError:
        hdf5plugin = None
    log(f"compressed write/read of {SMOOTH_BYTES >> 20} MiB smooth float32: TensorLog shuffle-LZ4 vs h5py, zarr")
    smooth_rows = SMOOTH_BYTES // 4 // COLS
    # A smooth, compressible signal: slow sines sampled on a grid, kept to 1/1024 (sensor-like quantisation).
    t_axis = np.arange(smooth_rows, dtype=np.float64)[:, None]
    c_axis = np.arange(COLS, dtype=np.float64)[None, :]
    smooth = np.empty((smooth_rows, COLS), dtype=np.float32)
    step = 4096
    for start in range(0, smooth_rows, step):
        block = 100 * np.sin(t_axis[start:start + step] * 1e-3 + c_axis * 3e-3) + 10 * np.cos(t_axis[start:start + step] * 7e-5)
        smooth[start:start + step] = (np.round(block * 1024) / 1024).astype(np.float32)
    del t_axis, c_axis
    raw_smooth = os.path.join(work, "smooth.f32")
    smooth.tofile(raw_smooth)
    chunk_rows = (4 << 20) // (4 * COLS)  # 4 MiB chunks, TensorLog's compressed block size
    store_c = os.path.join(work, "tl-compressed")
    h5_path = os.path.join(work, "smooth.h5")
    zarr_path = os.path.join(work, "smooth.zarr")

    def tl_write():
        rm(store_c)
        out = tl("compress-write", "--file", raw_smooth, "--store", store_c, "--cols", COLS)
        return {"gbps": SMOOTH_BYTES / out["seconds"] / 1e9, "size": out["stored_bytes"]}

    def tl_read():
        out = tl("compress-read", "--store", store_c)
        return {"gbps": SMOOTH_BYTES / out["seconds"] / 1e9}

    if hdf5plugin is not None:
        h5_filter = dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
        h5_name = "h5py + hdf5plugin Blosc(lz4, shuffle)"
    else:
        h5_filter = dict(compression="lzf", shuffle=True)
        h5_name = "h5py shuffle + lzf"

    def h5_write():
        rm(h5_path)
        t = now()
        with h5py.File(h5_path, "w") as f:
            f.create_dataset("x", data=smooth, chunks=(chunk_rows, COLS), **h5_filter)
        e = now() - t
        return {"gbps": SMOOTH_BYTES / e / 1e9, "size": du(h5_path)}

    def h5_read():
        t = now()
        with h5py.File(h5_path, "r") as f:
            x = f["x"][:]
        e = now() - t
        assert x[-1, -1] == smooth[-1, -1]
        return {"gbps": SMOOTH_BYTES / e / 1e9}

    def zarr_write():
        rm(zarr_path)
        t = now()
        z = zarr.create_array(store=zarr_path, shape=smooth.shape, chunks=(chunk_rows, COLS), dtype="float32",
                              compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), overwrite=True)
        z[:] = smooth
        e = now() - t
        return {"gbps": SMOOTH_BYTES / e / 1e9, "size": du(zarr_path)}

    def zarr_read():
        t = now()
        x = zarr.open_array(zarr_path, mode="r")[:]
        e = now() - t
        assert x[-1, -1] == smooth[-1, -1]
        return {"gbps": SMOOTH_BYTES / e / 1e9}

    zname = "zarr 3 + BloscCodec(lz4, shuffle)"
    r = rounds(REPEATS, {"TensorLog": tl_write, "h5": h5_write, "zarr": zarr_write})
    size = {"TensorLog": med(r, "TensorLog", "size"), h5_name: med(r, "h5", "size"), zname: med(r, "zarr", "size")}
    w = {"TensorLog": med(r, "TensorLog", "gbps"), h5_name: med(r, "h5", "gbps"), zname: med(r, "zarr", "gbps")}
    r = rounds(REPEATS, {"TensorLog": tl_read, "h5": h5_read, "zarr": zarr_read})
    rd = {"TensorLog": med(r, "TensorLog", "gbps"), h5_name: med(r, "h5", "gbps"), zname: med(r, "zarr", "gbps")}
    mib = f"{SMOOTH_BYTES >> 20} MiB"
    dd_limit = limits.get("dd write GB/s")
    row("compressed", f"write {mib} smooth float32, shuffle + LZ4, no fsync", "GB/s", True,
        w["TensorLog"], {k: v for k, v in w.items() if k != "TensorLog"}, ("dd (no fsync)", dd_limit) if dd_limit else None)
    row("compressed", f"read (decode into a new array) {mib}", "GB/s", True,
        rd["TensorLog"], {k: v for k, v in rd.items() if k != "TensorLog"},
        ("memory read bandwidth", limits["memory read GB/s"]) if "memory read GB/s" in limits else None)
    row("compressed", f"compression ratio (raw / stored bytes) of the {mib}", "x", True,
        SMOOTH_BYTES / size["TensorLog"], {k: SMOOTH_BYTES / v for k, v in size.items() if k != "TensorLog"})
    CHARTS.append(("compress", f"Shuffle + LZ4, {mib} smooth float32",
                   {"write GB/s": w, "read GB/s": rd, "ratio": {k: SMOOTH_BYTES / v for k, v in size.items()}}))
    del smooth
    for path in (raw_smooth, store_c, h5_path, zarr_path):
        rm(path)

# ---------------------------------------------------------------------------------------------- train
TRAIN_STATUS = None
if "train" in SECTIONS:
    help_text = subprocess.run([args.tensorlog_cli, "--help"], capture_output=True, text=True).stdout
    if " train " not in help_text and "\n  train" not in help_text:
        TRAIN_STATUS = "not measured yet: `tensorlog train` is not in this build"
    else:
        log(f"training: tensorlog train vs scikit-learn vs numpy, {TRAIN_ROWS} x {TRAIN_FEATURES}, mlp {TRAIN_HIDDEN}")
        rng = np.random.default_rng(7)
        centers = rng.standard_normal((TRAIN_CLASSES, TRAIN_FEATURES)).astype(np.float32) * 2
        y = rng.integers(0, TRAIN_CLASSES, TRAIN_ROWS).astype(np.int32)
        x = (centers[y] + rng.standard_normal((TRAIN_ROWS, TRAIN_FEATURES)).astype(np.float32) * 3).astype(np.float32)
        xp, yp = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
        np.save(xp, x); np.save(yp, y)
        data_bytes = x.nbytes + y.nbytes
        del x, y
        store_t = os.path.join(work, "tl-train")
        rm(store_t)
        subprocess.run([args.tensorlog_cli, "import", store_t, xp, yp], check=True, capture_output=True)
        peer_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_peer.py")

        def tensorlog_train():
            out = subprocess.run([args.tensorlog_cli, "train", store_t, "--data", "x", "--labels", "y", "--model", "mlp",
                                  "--hidden", str(TRAIN_HIDDEN), "--optimizer", "adam", "--lr", "0.001",
                                  "--epochs", str(TRAIN_EPOCHS), "--batch-size", str(TRAIN_BATCH), "--shuffle", "rows",
                                  "--save", "m", "--json"], check=True, capture_output=True, text=True).stdout
            result = json.loads(out)
            epochs = result["epochs"]
            return {"epoch": median([e["seconds"] for e in epochs]),
                    "rss": max(e["peak_rss_anon_bytes"] for e in epochs), "loss": epochs[-1]["loss"]}

        def peer(kind):
            def run():
                out = subprocess.run([sys.executable, peer_script, kind, xp, yp, str(TRAIN_HIDDEN), str(TRAIN_EPOCHS),
                                      str(TRAIN_BATCH)], check=True, capture_output=True, text=True).stdout
                return json.loads(out.strip().splitlines()[-1])
            return run

        r = rounds(TRAIN_REPEATS, {"TensorLog": tensorlog_train, "sklearn": peer("sklearn"), "numpy": peer("numpy")})
        names = {"sklearn": "scikit-learn MLPClassifier.partial_fit (adam)", "numpy": "numpy in memory (adam)"}
        row("training", f"epoch time, MLP {TRAIN_FEATURES}-{TRAIN_HIDDEN}-{TRAIN_CLASSES}, {TRAIN_ROWS:,} rows, batch {TRAIN_BATCH}", "s", False,
            med(r, "TensorLog", "epoch"), {names[p]: med(r, p, "epoch") for p in names},
            ("SGEMM bound (6 x rows x params FLOP at the SGEMM rate)",
             6 * TRAIN_ROWS * (TRAIN_FEATURES * TRAIN_HIDDEN + TRAIN_HIDDEN * TRAIN_CLASSES) / (limits["sgemm GFLOP/s"] * 1e9))
            if "sgemm GFLOP/s" in limits else None)
        row("training", f"peak anonymous memory (RssAnon) while training; the data is {data_bytes / 2**20:.1f} MiB", "MiB", False,
            med(r, "TensorLog", "rss") / 2**20, {names[p]: med(r, p, "rss") / 2**20 for p in names},
            note="peers' figure includes the Python interpreter and imported libraries")
        row("training", "final training loss (sanity check, not a speed)", "loss", False,
            med(r, "TensorLog", "loss"), {names[p]: med(r, p, "loss") for p in names})
        CHARTS.append(("train", "Training epoch time (s, lower is better)",
                       {"epoch s": {"TensorLog": med(r, "TensorLog", "epoch"), **{names[p]: med(r, p, "epoch") for p in names}},
                        "peak RssAnon MiB": {"TensorLog": med(r, "TensorLog", "rss") / 2**20,
                                             **{names[p]: med(r, p, "rss") / 2**20 for p in names}}}))
        for path in (xp, yp, store_t):
            rm(path)

# ---------------------------------------------------------------------------------------------- report
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

os.makedirs(args.charts, exist_ok=True)


def short(label):
    """A chart label: the peer's name without the API details the table gives."""
    if label.startswith("TensorLog"):
        return label
    for cut in (" + ", " MLPClassifier", " (", ","):
        label = label.split(cut)[0]
    return label


chart_files = []
for name, title, data in CHARTS:
    path = os.path.join(args.charts, f"{name}.png")
    if name == "sum":
        fig, ax = plt.subplots(figsize=(10, 3.4))
        labels = list(data)
        loads = [data[k][0] for k in labels]
        sums = [data[k][1] for k in labels]
        ax.barh(labels, loads, label="load to a usable view", color="#4c72b0")
        ax.barh(labels, sums, left=loads, label="sum", color="#dd8452")
        ax.invert_yaxis(); ax.set_xlabel("seconds"); ax.set_title(title); ax.legend(loc="lower right")
    else:
        fig, axes = plt.subplots(1, len(data), figsize=(4.5 * len(data), 3.4))
        axes = np.atleast_1d(axes)
        for ax, (sub, values) in zip(axes, data.items()):
            labels = list(values)
            colors = ["#4c72b0" if k.startswith("TensorLog") else "#999999" for k in labels]
            ax.bar(range(len(labels)), [values[k] for k in labels], color=colors)
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels([short(k) for k in labels], rotation=25, ha="right", fontsize=8)
            ax.set_title(sub, fontsize=9)
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    chart_files.append(path)


def fmt(value, unit):
    if value is None:
        return "-"
    if unit in ("puts/s", "reads/s"):
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit == "MiB":
        return f"{value:.1f}"
    if unit == "loss":
        return f"{value:.4f}"
    return f"{value:.2f}"


def speed_ratio(tensorlog, other, higher):
    """TensorLog's speed relative to `other` (>1: TensorLog better)."""
    if tensorlog is None or other is None or tensorlog == 0 or other == 0:
        return None
    return tensorlog / other if higher else other / tensorlog


versions = {}
for module in ("numpy", "safetensors", "lmdb", "h5py", "hdf5plugin", "zarr", "numcodecs", "sklearn", "matplotlib"):
    try:
        imported = __import__(module)
        versions[module] = getattr(imported, "__version__", None) or getattr(imported, "version")
    except Exception:
        pass
if args.lmdb_c:
    lmdb_deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "liblmdb-dev"], capture_output=True, text=True).stdout
    versions["liblmdb (C)"] = lmdb_deb or "installed"
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
load = os.getloadavg()

lines = []
lines.append("# TensorLog side by side with its peers\n")
lines.append("<!-- Generated by Benchmarks/compare/run.sh; do not edit by hand (notes come from Benchmarks/compare/notes.md). -->\n")
lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores ({cpu}), "
             f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, load average at the end "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared, so timings are noisy: every row is the "
             f"median of {REPEATS} rounds in which TensorLog and each peer ran one after the other, order alternating)"
             f"{' — **--quick run: small sizes, 2 rounds; not for quoting**' if QUICK else ''}.\n")
lines.append("Reproduce: `Benchmarks/compare/run.sh` (add `--quick` for a small smoke run). Versions: "
             + ", ".join(f"{k} {v}" for k, v in versions.items()) + f", Python {platform.python_version()}.\n")
lines.append("Reads are of cached data (the page cache is not dropped); nothing is fsynced unless a row says so. "
             "TensorLog's side is `Benchmarks/Sources/compare-tensorlog` (the library, release build, called from Swift; "
             "process start not timed) and, for training, the `tensorlog train` command.\n")

if limits:
    lines.append("## The machine's limits, measured in the same run\n")
    lines.append("| limit | value |\n|---|---|")
    for name, value in limits.get("memory read all", {}).items():
        lines.append(f"| memory read bandwidth, {name}, {BIG_BYTES >> 20} MiB float32 | {value:.2f} GB/s |")
    if "zero-copy floor" in limits:
        f = limits["zero-copy floor"]
        lines.append(f"| the zero-copy floor, in the same rounds as the load + sum rows: `open` + `mmap` of the cached raw file "
                     f"{f['load'] * 1e3:.3f} ms, then a first-touch SIMD sum | {BIG_BYTES / f['total'] / 1e9:.2f} GB/s ({f['total'] * 1e3:.1f} ms) |")
    if "mmap first touch seconds" in limits:
        lines.append(f"| plain `mmap` of the cached {BIG_BYTES >> 20} MiB file + first-touch SIMD sum | {BIG_BYTES / limits['mmap first touch seconds'] / 1e9:.2f} GB/s ({limits['mmap first touch seconds'] * 1e3:.1f} ms) |")
    if "dd write GB/s" in limits:
        lines.append(f"| `dd bs=1M` sequential write of {BIG_BYTES >> 20} MiB to the benchmark's file system, no fsync | {limits['dd write GB/s']:.2f} GB/s |")
        lines.append(f"| the same with `conv=fsync` | {limits['dd fsync write GB/s']:.2f} GB/s |")
        lines.append(f"| OpenBLAS SGEMM (numpy `@`, float32 {GEMM_N}x{GEMM_N}, all cores) | {limits['sgemm GFLOP/s']:.1f} GFLOP/s |")
    lines.append("")

lines.append("## Results\n")
lines.append("Ratios are speeds (for times and memory: the peer's figure over TensorLog's), so above 1 means TensorLog is "
             "better. \"best peer\" is the best of the peers listed in the row.\n")
lines.append("| measurement | unit | TensorLog | peers | TensorLog / best peer | machine limit | TensorLog / limit | verdict |")
lines.append("|---|---|---|---|---|---|---|---|")
shortfalls = []
for entry in ROWS:
    unit, higher = entry["unit"], entry["higher"]
    peers = entry["peers"]
    best_name = (max if higher else min)(peers, key=peers.get) if peers else None
    ratio = speed_ratio(entry["tensorlog"], peers[best_name], higher) if best_name else None
    limit_text, limit_ratio = "-", None
    if entry["limit"]:
        limit_text = f"{entry['limit'][0]}: {fmt(entry['limit'][1], unit)}"
        limit_ratio = speed_ratio(entry["tensorlog"], entry["limit"][1], higher)
    peers_text = "<br>".join(f"{k}: {fmt(v, unit)}" for k, v in peers.items())
    if unit == "loss":
        verdict = "(sanity check)"
        ratio = None
    elif ratio is None:
        verdict = "-"
    elif ratio >= 1.1:
        verdict = "TensorLog ahead"
    elif ratio >= 0.9:
        verdict = "on par (within 10%)"
    else:
        verdict = f"**TensorLog behind {best_name}**"
        shortfalls.append((entry["measurement"], best_name, ratio))
    note = f" ({entry['note']})" if entry["note"] else ""
    lines.append(f"| {entry['measurement']}{note} | {unit} | {fmt(entry['tensorlog'], unit)} | {peers_text} | "
                 f"{'-' if ratio is None else f'{ratio:.2f}x'} | {limit_text} | "
                 f"{'-' if limit_ratio is None else f'{limit_ratio:.2f}x'} | {verdict} |")
if TRAIN_STATUS:
    lines.append(f"| training: epoch time and peak anonymous memory vs scikit-learn / numpy | - | {TRAIN_STATUS} | - | - | - | - | not measured yet |")
lines.append("")
if shortfalls:
    lines.append("Where TensorLog falls short in this run: " + "; ".join(
        f"{m} ({ratio:.2f}x of {peer})" for m, peer, ratio in shortfalls) + ". See the notes below for why.\n")

if chart_files:
    lines.append("## Charts\n")
    for path in chart_files:
        rel = os.path.relpath(path, os.path.dirname(os.path.abspath(args.out)))
        lines.append(f"![{os.path.basename(path)}]({rel})\n")

lines.append("## How each peer is measured\n")
lines.append("""- **zero-copy read**: TensorLog opens the store read-only and takes `snapshot.view("x")` (a pointer into the
  mapped segment), then sums it with an 8-lane SIMD loop. safetensors: `safe_open(path, framework="numpy")` +
  `get_tensor("x")` (copies the tensor out of its mapping into a new numpy array), and `safetensors.numpy.load_file`
  (reads the whole file, then builds the arrays). numpy: `np.load(path, mmap_mode="r")` (a memmap: zero-copy, like
  TensorLog). Peers sum with `np.add.reduce`. Every side maps/loads afresh in each round, so the first touch of the
  pages (minor faults on cached pages) is in the sum for the zero-copy sides and in the load for the copying ones.
  The TensorLog process opens and releases the store once before the timed open, so its code paths are as warm as
  the Python peers' (whose process has loaded before); the timed open maps the segment afresh. The floor is a Swift
  `open` + `mmap` of a raw copy of the same bytes and the same SIMD sum, run in the same rounds.
- **point access**: keys `k/00000000`...; TensorLog: one `put` per 1 KiB float32 tensor with durability `.none`
  (close, which fsyncs, is after the clock), reads are `snapshot.view(key)` and touch the first and last float.
  LMDB: py-lmdb, `sync=False, metasync=False`, one write transaction with `append=True` (MDB_APPEND, LMDB's
  bulk-load path) including its commit; reads in one read transaction with `buffers=True`, touching the first and
  last byte. Random keys are drawn before the clock starts on both sides.
- **compressed**: the same smooth float32 matrix (sines, quantised to 1/1024), chunks of 4 MiB on every side
  (TensorLog's default compressed block). TensorLog: `put` with `WriteOptions(compression: .shuffleLZ4)` — the
  library call behind `tensorlog import --compress shuffle-lz4` — which encodes the row blocks on all cores, and
  `snapshot.read("x")` which verifies each block's CRC32C and decodes the blocks, on all cores, into a new buffer. h5py: `create_dataset(..., chunks, **hdf5plugin.Blosc(cname="lz4",
  clevel=5, shuffle=SHUFFLE))` and `f["x"][:]`. zarr 3: `create_array(..., compressors=BloscCodec(cname="lz4",
  clevel=5, shuffle="shuffle"))` (numcodecs' Blosc underneath, 2 threads here) and `[:]`; h5py's Blosc filter
  runs with Blosc's default thread count unless BLOSC_NTHREADS is set.
  Sizes are every file the format wrote (TensorLog: segment, hint, manifest).
- **training**: the same synthetic 10-class data (Gaussian blobs) saved as `.npy`, imported into a store with
  `tensorlog import`; `tensorlog train --model mlp --hidden 128 --optimizer adam --lr 0.001 --batch-size 64
  --shuffle rows --json` (epoch `seconds` and `peak_rss_anon_bytes` from its output) against scikit-learn
  `MLPClassifier(hidden_layer_sizes=(128,), solver="adam", batch_size=64).partial_fit` per epoch and a
  hand-written numpy MLP (same architecture, Adam, batch 64) on arrays in memory; peers run in a fresh Python process
  each and report their peak `RssAnon` (sampled every 10 ms).
""")

if "sum" in SECTIONS:
    lines.append(f"For reference, the *first* open + view in a fresh TensorLog process (cold code paths, which the table "
                 f"leaves out) took {FIRST_OPEN[0] * 1e3:.1f} ms for the active-segment store and {FIRST_OPEN[1] * 1e3:.2f} ms "
                 f"for the sealed one (medians).\n")

if args.notes and os.path.exists(args.notes):
    lines.append(open(args.notes).read())

with open(args.out, "w") as f:
    f.write("\n".join(lines) + "\n")
log("wrote", args.out, "and", ", ".join(chart_files))
print("\n".join(l for l in lines if l.startswith("|")))
