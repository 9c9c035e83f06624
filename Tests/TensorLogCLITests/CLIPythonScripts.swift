// Python scripts the CLI interop tests run, kept as Swift strings (no resource files).
// Each exits 3 when a package is missing, so the test fails with a clear message.

enum CLIPythonScripts {
    static let prelude = #"""
import json
import os
import sys

try:
    import numpy as np
    import ml_dtypes
    import safetensors
    import safetensors.numpy
except ImportError as error:
    print(f"missing Python package '{error.name}': run scripts/setup (pip install numpy==2.4.6 safetensors==0.8.0 ml_dtypes==0.6.0)", file=sys.stderr)
    sys.exit(3)

ML = {"bfloat16": ml_dtypes.bfloat16, "float8_e4m3fn": ml_dtypes.float8_e4m3fn, "float8_e5m2": ml_dtypes.float8_e5m2}
NUMPY_TYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
ALL_TYPES = NUMPY_TYPES + list(ML)
ST = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
      "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


def np_dtype(name):
    return np.dtype(ML[name]) if name in ML else np.dtype(name)


def make(rng, name, shape):
    n = int(np.prod(shape, dtype=np.int64))
    dtype = np_dtype(name)
    if name == "bool":
        flat = rng.integers(0, 2, n).astype(np.bool_)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    else:
        values = rng.standard_normal(n) * 8
        specials = [np.inf, -np.inf, np.nan, -0.0] if name != "float8_e4m3fn" else [np.nan, -0.0, 448.0, -448.0]
        values[: min(n, 4)] = specials[: min(n, 4)]
        flat = values.astype(dtype)
    return flat.reshape(shape)


def read_safetensors(path):
    # safetensors.numpy cannot build float8 arrays: use the raw deserializer for every file.
    with open(path, "rb") as f:
        items = safetensors.deserialize(f.read())
    loaded = {}
    for name, view in items:
        loaded[name] = np.frombuffer(bytes(view["data"]), dtype=np_dtype(ST[view["dtype"]])).reshape(view["shape"])
    with safetensors.safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
    return loaded, metadata


def load_npy(path, dtype_name):
    arr = np.load(path, allow_pickle=False)
    if dtype_name in ML:
        # TensorLog writes ml_dtypes types as raw void ('<V2', '<V1'): view them as the ml_dtypes type.
        want = np_dtype(dtype_name)
        if arr.dtype.kind != "V" or arr.dtype.itemsize != want.itemsize:
            raise ValueError(f"expected a {want.itemsize}-byte void array, got {arr.dtype}")
        arr = arr.view(want)
    return arr


failures = []


def compare(where, arr, dtype_name, shape, raw):
    want = np_dtype(dtype_name)
    if arr.dtype != want:
        failures.append(f"{where}: dtype {arr.dtype} != {want}")
    elif arr.shape != tuple(shape):
        failures.append(f"{where}: shape {arr.shape} != {tuple(shape)}")
    elif arr.tobytes() != raw:
        failures.append(f"{where}: data bytes differ")
    else:
        expected = np.frombuffer(raw, dtype=want).reshape(shape)
        if want.kind == "f" or dtype_name in ML:
            same = np.array_equal(arr.astype(np.float64), expected.astype(np.float64), equal_nan=True)
        else:
            same = np.array_equal(arr, expected)
        if not same:
            failures.append(f"{where}: values differ")


def finish(checked):
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"checked {checked} tensors, {len(failures)} failures")
    sys.exit(1 if failures else 0)
"""#

    /// Writes .npy files (every dtype x odd shapes, 0-d, empty) and safetensors files with numpy,
    /// safetensors and ml_dtypes, the raw bytes of each tensor, and manifest.json. Argument: directory.
    static let makeFiles = prelude + "\n" + #"""
out = sys.argv[1]
rng = np.random.default_rng(7)
SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 4), (2, 3, 1, 5), (1, 2, 1, 2, 1, 2, 1, 2)]
npy = []
for name in ALL_TYPES:
    for index, shape in enumerate(SHAPES):
        arr = make(rng, name, shape)
        file = f"{name}_{index}.npy"
        np.save(os.path.join(out, file), arr)
        with open(os.path.join(out, file + ".raw"), "wb") as f:
            f.write(arr.tobytes())
        npy.append({"file": file, "key": f"{name}_{index}", "dtype": name, "shape": list(shape)})

st = []
everything = {}
for i, name in enumerate(ALL_TYPES):
    everything[f"t.{name}"] = make(rng, name, SHAPES[(i % (len(SHAPES) - 1)) + 1])
    everything[f"scalar.{name}"] = make(rng, name, ())
    everything[f"empty.{name}"] = make(rng, name, (3, 0))
everything["naïve ünïcode 名前"] = make(rng, "float32", (2, 2))
everything["odd/shape"] = make(rng, "float16", (3, 1, 7))
files = [
    ("all.safetensors", everything, {"format": "np", "note": 'ünï "quoted"\n\ttab'}),
    ("bf16.safetensors", {"w": make(rng, "bfloat16", (5, 3)), "b": make(rng, "bfloat16", (3,))}, None),
]
for file, tensors, metadata in files:
    safetensors.numpy.save_file(tensors, os.path.join(out, file), metadata=metadata)
    entries = []
    for index, (tname, arr) in enumerate(tensors.items()):
        raw = f"{file}.{index}.raw"
        with open(os.path.join(out, raw), "wb") as f:
            f.write(arr.tobytes())
        entries.append({"name": tname, "dtype": arr.dtype.name, "shape": list(arr.shape), "raw": raw})
    st.append({"file": file, "metadata": metadata or {}, "tensors": entries})

with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump({"npy": npy, "safetensors": st}, f, ensure_ascii=False)
print(f"wrote {len(npy)} npy and {len(st)} safetensors files")
"""#

    /// Loads exported files with numpy / safetensors and compares them with the raw bytes.
    /// Argument: directory with check.json: {"npy": [{file, dtype, shape, raw}],
    /// "safetensors": [{file, metadata, tensors: [{name, dtype, shape, raw}]}]}.
    static let checkExports = prelude + "\n" + #"""
base = sys.argv[1]
with open(os.path.join(base, "check.json"), encoding="utf-8") as f:
    manifest = json.load(f)
checked = 0


def read_raw(name):
    with open(os.path.join(base, name), "rb") as f:
        return f.read()


for entry in manifest["npy"]:
    try:
        arr = load_npy(os.path.join(base, entry["file"]), entry["dtype"])
        compare(entry["file"], arr, entry["dtype"], entry["shape"], read_raw(entry["raw"]))
        checked += 1
    except Exception as error:  # noqa: BLE001 - report every failure
        failures.append(f"{entry['file']}: numpy.load failed: {error!r}")

for entry in manifest["safetensors"]:
    path = os.path.join(base, entry["file"])
    try:
        loaded, metadata = read_safetensors(path)
        if metadata != entry["metadata"]:
            failures.append(f"{entry['file']}: metadata {metadata!r} != {entry['metadata']!r}")
        names = sorted(t["name"] for t in entry["tensors"])
        if sorted(loaded) != names:
            failures.append(f"{entry['file']}: names {sorted(loaded)!r} != {names!r}")
        if entry.get("load_file"):
            # Files without float8 also load through safetensors.numpy.load_file.
            plain = safetensors.numpy.load_file(path)
            if sorted(plain) != names:
                failures.append(f"{entry['file']}: load_file names {sorted(plain)!r}")
        for tensor in entry["tensors"]:
            if tensor["name"] in loaded:
                compare(f"{entry['file']}:{tensor['name']!r}", loaded[tensor["name"]], tensor["dtype"], tensor["shape"],
                        read_raw(tensor["raw"]))
                checked += 1
    except Exception as error:  # noqa: BLE001
        failures.append(f"{entry['file']}: loading failed: {error!r}")

finish(checked)
"""#

    /// Writes arrays as .npy and the text numpy prints for them (`str(arr)`; for bfloat16 and
    /// float8, `str(arr.astype(float32))`), plus sliced variants. Argument: directory.
    static let makePrintCases = prelude + "\n" + #"""
out = sys.argv[1]
rng = np.random.default_rng(11)
cases = []


def add(name, arr, dtype_name=None, slice_=None):
    dtype_name = dtype_name or arr.dtype.name
    file = f"{name}.npy"
    np.save(os.path.join(out, file), arr)
    shown = arr if slice_ is None else arr[slice_[0]:slice_[1]]
    if dtype_name in ML:
        shown = shown.astype(np.float32)
    cases.append({"file": file, "key": name, "dtype": dtype_name, "expected": str(shown),
                  "slice": None if slice_ is None else f"{'' if slice_[0] is None else slice_[0]}:{'' if slice_[1] is None else slice_[1]}"})


add("f32_small", np.array([[1, 2.5, -3], [4, 5, 6]], dtype=np.float32))
add("f32_random", (rng.standard_normal((4, 6)) * 10).astype(np.float32))
add("f32_wide", rng.standard_normal(40).astype(np.float32))
add("f32_sci", np.array([1e-5, 1.0, 123456.0, -2e-7], dtype=np.float32))
add("f32_big", np.array([1e9, 2.5e10, -3.0], dtype=np.float32))
add("f32_special", np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5], dtype=np.float32))
add("f32_allnan", np.array([np.nan, np.nan], dtype=np.float32))
add("f32_summary", rng.standard_normal((50, 40)).astype(np.float32))
add("f32_3d_summary", np.arange(24000, dtype=np.float32).reshape(20, 30, 40) / 7)
add("f32_slice", np.arange(60, dtype=np.float32).reshape(20, 3) * 0.25, slice_=(5, 9))
add("f32_slice_neg", np.arange(60, dtype=np.float32).reshape(20, 3) * 0.25, slice_=(-4, None))
add("f64", np.array([[0.1, 0.2], [1.0 / 3, 2.0 / 3]]))
add("f64_ints", np.array([1.0, 2.0, 300.0]))
add("f16", np.array([0.1, 0.5, -2.25, 65504, 6e-5], dtype=np.float16))
add("f16_matrix", rng.standard_normal((3, 4)).astype(np.float16))
add("bf16", rng.standard_normal((3, 5)).astype(ml_dtypes.bfloat16), "bfloat16")
add("e5m2", np.array([0.5, -1.75, 3.0, 57344, 1.5e-5], dtype=ml_dtypes.float8_e5m2), "float8_e5m2")
add("e4m3", np.array([[0.5, -1.75, 448], [0.001953125, -0.0, 3.25]], dtype=ml_dtypes.float8_e4m3fn), "float8_e4m3fn")
add("i16", np.array([-32768, 0, 32767], dtype=np.int16))
add("i64", np.array([[1, -20, 300], [4000, 5, -6]], dtype=np.int64))
add("i8_summary", (np.arange(3000) % 256 - 128).astype(np.int8).reshape(1000, 3))
add("u8", np.arange(0, 250, 10, dtype=np.uint8))
add("i32_long", np.arange(-500, 500, 17, dtype=np.int32))
add("bool", np.array([[True, False, True], [False, False, True]]))
add("bool_true", np.array([True, True]))
add("empty", np.zeros((3, 0), dtype=np.float32))
add("scalar", np.array(2.5, dtype=np.float64))
add("scalar_one", np.array(1.0, dtype=np.float32))
add("scalar_int", np.array(-7, dtype=np.int32))
add("scalar_bool", np.array(True))

with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
    json.dump(cases, f)
print(f"wrote {len(cases)} cases")
"""#
}
