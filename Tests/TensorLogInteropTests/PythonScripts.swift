// The Python scripts the interop tests run, kept as Swift strings so the test target has no
// unhandled resource files. Edit them here; each test writes its script into a temporary directory.

enum PythonScripts {
    /// Writes .npy and .safetensors files with numpy / safetensors / ml_dtypes, the raw bytes
    /// of every tensor, and manifest.json. Argument: the output directory.
    static let makeReference = #"""
# Writes .npy and .safetensors files with the real numpy / safetensors / ml_dtypes,
# plus each tensor's raw bytes (arr.tobytes()), and a manifest.json describing them.
# Usage: python3 make_reference.py OUTDIR
import json
import os
import sys

try:
    import numpy as np
    import ml_dtypes
    import safetensors.numpy
except ImportError as error:
    print(f"missing Python package '{error.name}': run pip install numpy safetensors ml_dtypes", file=sys.stderr)
    sys.exit(3)

out = sys.argv[1]
rng = np.random.default_rng(20240611)
ML = {"bfloat16": ml_dtypes.bfloat16, "float8_e4m3fn": ml_dtypes.float8_e4m3fn, "float8_e5m2": ml_dtypes.float8_e5m2}
NUMPY_TYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
ALL_TYPES = NUMPY_TYPES + list(ML)
SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 4), (1, 1, 1), (2, 3, 1, 5), (1, 2, 1, 2, 1, 2, 1, 2)]


def np_dtype(name):
    return np.dtype(ML[name]) if name in ML else np.dtype(name)


def make(name, shape):
    n = int(np.prod(shape, dtype=np.int64))
    dtype = np_dtype(name)
    if name == "bool":
        flat = rng.integers(0, 2, n).astype(np.bool_)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    else:
        values = rng.standard_normal(n) * 8
        specials = [np.inf, -np.inf, np.nan, -0.0]
        values[: min(n, 4)] = specials[: min(n, 4)]
        flat = values.astype(dtype)
    return flat.reshape(shape)


counter = 0


def raw_file(arr):
    global counter
    counter += 1
    name = f"raw{counter}.bin"
    with open(os.path.join(out, name), "wb") as f:
        f.write(arr.tobytes())
    return name


npy = []
for name in ALL_TYPES:
    for shape in SHAPES:
        arr = make(name, shape)
        versions = [None] if name in ML else [None, (2, 0), (3, 0)]
        for version in versions:
            counter += 1
            file = f"{name}_{counter}.npy"
            with open(os.path.join(out, file), "wb") as f:
                if version is None:
                    np.save(f, arr)
                else:
                    np.lib.format.write_array(f, arr, version=version)
            # ml_dtypes' float8_e4m3fn is saved as '<V1': it needs an explicit dtype.
            override = name if name == "float8_e4m3fn" else None
            npy.append({"file": file, "dtype": name, "shape": list(shape), "raw": raw_file(arr),
                        "override": override, "error": None})

# Files numpy writes that TensorLog must refuse, with a word the error must contain.
refused = [
    ("bigendian.npy", np.arange(6, dtype=">f4").reshape(2, 3), "big-endian"),
    ("fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)), "fortran_order"),
    ("uint16.npy", np.arange(3, dtype="<u2"), "unsigned"),
    ("complex.npy", np.arange(3, dtype="<c8"), "complex"),
    ("unicode.npy", np.array(["a", "bc"]), "unicode"),
    ("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")]), "structured"),
    ("void.npy", np.zeros(2, dtype="V2"), "explicit"),
    ("e4m3.npy", np.zeros(2, dtype=ml_dtypes.float8_e4m3fn), "explicit"),
]
for file, arr, word in refused:
    np.save(os.path.join(out, file), arr)
    npy.append({"file": file, "dtype": None, "shape": None, "raw": None, "override": None, "error": word})

# safetensors files.
st = []
mixed = {}
for i, name in enumerate(ALL_TYPES):
    mixed[f"t.{name}"] = make(name, SHAPES[(i % (len(SHAPES) - 1)) + 1])
    mixed[f"scalar.{name}"] = make(name, ())
    mixed[f"empty.{name}"] = make(name, (3, 0))
mixed["naïve ünïcode 名前"] = make("float32", (2, 2))
mixed['quote"back\\slash'] = make("int8", (3,))
files = [
    ("mixed.safetensors", mixed, {"format": "np", "note": 'ünï "quoted"\n\ttab'}),
    ("single.safetensors", {"w": make("bfloat16", (4, 3))}, None),
    ("none.safetensors", {}, None),
    ("allempty.safetensors", {"a": make("float32", (0,)), "b": make("int64", (0, 5))}, None),
]
for file, tensors, metadata in files:
    safetensors.numpy.save_file(tensors, os.path.join(out, file), metadata=metadata)
    entries = []
    for tname, arr in tensors.items():
        entries.append({"name": tname, "dtype": arr.dtype.name,
                        "shape": list(arr.shape), "raw": raw_file(arr)})
    st.append({"file": file, "metadata": metadata or {}, "tensors": entries})

with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump({"npy": npy, "safetensors": st}, f, ensure_ascii=False)
print(f"wrote {len(npy)} npy and {len(st)} safetensors files")
"""#

    /// Loads files the Swift writers produced with numpy / safetensors and checks them against
    /// manifest.json; exits 1 listing every mismatch. Argument: the directory.
    static let checkSwiftWritten = #"""
# Loads files that TensorLog's Swift writers produced with the real numpy / safetensors
# and checks dtype, shape, bytes and values against the raw bytes Swift wrote beside them.
# Exits 1 (listing every mismatch) if anything differs.
# Usage: python3 check_swift.py DIR   (DIR holds manifest.json)
import json
import os
import sys

try:
    import numpy as np
    import ml_dtypes
    import safetensors
    import safetensors.numpy
except ImportError as error:
    print(f"missing Python package '{error.name}': run pip install numpy safetensors ml_dtypes", file=sys.stderr)
    sys.exit(3)

base = sys.argv[1]
with open(os.path.join(base, "manifest.json"), encoding="utf-8") as f:
    manifest = json.load(f)
ML = {"bfloat16": ml_dtypes.bfloat16, "float8_e4m3fn": ml_dtypes.float8_e4m3fn, "float8_e5m2": ml_dtypes.float8_e5m2}
ST = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
      "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
failures = []
checked = 0


def np_dtype(name):
    return np.dtype(ML[name]) if name in ML else np.dtype(name)


def read_raw(name):
    with open(os.path.join(base, name), "rb") as f:
        return f.read()


def compare(where, arr, dtype_name, shape, raw):
    global checked
    checked += 1
    want = np_dtype(dtype_name)
    if arr.dtype != want:
        failures.append(f"{where}: dtype {arr.dtype} != {want}")
        return
    if arr.shape != tuple(shape):
        failures.append(f"{where}: shape {arr.shape} != {tuple(shape)}")
        return
    if arr.tobytes() != raw:
        failures.append(f"{where}: data bytes differ")
        return
    expected = np.frombuffer(raw, dtype=want).reshape(shape)
    if want.kind == "f" and dtype_name not in ML:
        same = np.array_equal(arr, expected, equal_nan=True)
    elif dtype_name in ML:
        same = np.array_equal(arr.astype(np.float64), expected.astype(np.float64), equal_nan=True)
    else:
        same = np.array_equal(arr, expected)
    if not same:
        failures.append(f"{where}: values differ")


for entry in manifest["npy"]:
    where = entry["file"]
    try:
        arr = np.load(os.path.join(base, entry["file"]), allow_pickle=False)
        want = np_dtype(entry["dtype"])
        if entry["dtype"] in ML:
            # TensorLog writes ml_dtypes types as raw void ('<V2', '<V1'): numpy loads a void array.
            if arr.dtype.kind != "V" or arr.dtype.itemsize != want.itemsize:
                failures.append(f"{where}: expected a {want.itemsize}-byte void array, got {arr.dtype}")
                continue
            arr = arr.view(want)
        compare(where, arr, entry["dtype"], entry["shape"], read_raw(entry["raw"]))
    except Exception as error:  # noqa: BLE001 - report every failure
        failures.append(f"{where}: numpy.load failed: {error!r}")

for entry in manifest["safetensors"]:
    path = os.path.join(base, entry["file"])
    where = entry["file"]
    try:
        if entry["load"] == "load_file":
            loaded = safetensors.numpy.load_file(path)
        else:
            # safetensors.numpy cannot build float8 arrays: use the raw deserializer.
            with open(path, "rb") as f:
                items = safetensors.deserialize(f.read())
            loaded = {}
            for name, view in items:
                dtype_name = ST[view["dtype"]]
                loaded[name] = np.frombuffer(bytes(view["data"]), dtype=np_dtype(dtype_name)).reshape(view["shape"])
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
        if metadata != entry["metadata"]:
            failures.append(f"{where}: metadata {metadata!r} != {entry['metadata']!r}")
        names = sorted(t["name"] for t in entry["tensors"])
        if sorted(loaded) != names:
            failures.append(f"{where}: tensor names {sorted(loaded)!r} != {names!r}")
        for tensor in entry["tensors"]:
            if tensor["name"] in loaded:
                compare(f"{where}:{tensor['name']!r}", loaded[tensor["name"]], tensor["dtype"], tensor["shape"],
                        read_raw(tensor["raw"]))
    except Exception as error:  # noqa: BLE001
        failures.append(f"{where}: loading failed: {error!r}")

for failure in failures:
    print(failure, file=sys.stderr)
print(f"checked {checked} tensors, {len(failures)} failures")
sys.exit(1 if failures else 0)
"""#
}
