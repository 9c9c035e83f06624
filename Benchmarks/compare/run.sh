#!/usr/bin/env bash
# TensorLog side by side with safetensors, numpy .npy, LMDB, h5py, zarr and scikit-learn, on the same generated
# data in one run; writes docs/benchmarks.md and the charts in docs/benchmarks/.
#   Benchmarks/compare/run.sh            full sizes (1 GiB tensor, 5 rounds; about 3-5 minutes, needs ~5 GiB free disk)
#   Benchmarks/compare/run.sh --quick    small sizes, 2 rounds (CI smoke)
# Environment: TENSORLOG_PYTHON (default python3), COMPARE_WORK (where the scratch directory is made; default Benchmarks/,
# on the file system to measure),
# COMPARE_OUT (default docs/benchmarks.md), COMPARE_ONLY (sections: limits,sum,points,compress,train).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${TENSORLOG_PYTHON:-python3}"
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)

# The peers, pinned.
if ! "$python" -c 'import numpy, safetensors, lmdb, h5py, hdf5plugin, zarr, numcodecs, sklearn, matplotlib' >/dev/null 2>&1; then
    echo "compare: installing the peers for $python" >&2
    "$python" -m pip install --quiet --disable-pip-version-check numpy==2.4.6 safetensors==0.8.0 lmdb==3.0.0 \
        h5py==3.16.0 hdf5plugin==7.1.0 zarr==3.1.6 numcodecs==0.16.6 scikit-learn==1.9.1 matplotlib==3.11.2
fi

echo "compare: building compare-tensorlog (Benchmarks package) and the tensorlog CLI" >&2
(cd "$root/Benchmarks" && swift build -c release --product compare-tensorlog >&2)
bench="$(cd "$root/Benchmarks" && swift build -c release --product compare-tensorlog --show-bin-path)/compare-tensorlog"
(cd "$root" && swift build -c release --product tensorlog --scratch-path .build-compare >&2)
cli="$root/.build-compare/release/tensorlog"
lmdb_c=()
if [ -f /usr/include/lmdb.h ] && command -v cc >/dev/null; then
    # LMDB natively, without Python in the loop (apt package liblmdb-dev).
    cc -O2 -o "$root/Benchmarks/.build/lmdb_points" "$here/lmdb_points.c" -llmdb
    lmdb_c=(--lmdb-c "$root/Benchmarks/.build/lmdb_points")
else
    echo "compare: liblmdb-dev is not installed: LMDB is measured through py-lmdb only" >&2
fi

parent="${COMPARE_WORK:-$root/Benchmarks}"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.compare-data.XXXXXX")"  # removed at exit; COMPARE_WORK itself is left alone
need_gib=$([ ${#quick[@]} -gt 0 ] && echo 1 || echo 5)
avail_gib=$(df -BG --output=avail "$work" | tail -1 | tr -dc 0-9)
if [ "$avail_gib" -lt "$need_gib" ]; then
    echo "compare: $work has ${avail_gib} GiB free, needs ${need_gib} GiB" >&2
    exit 1
fi
trap 'rm -rf "$work"' EXIT

only=()
[ -n "${COMPARE_ONLY:-}" ] && only=(--only "$COMPARE_ONLY")
"$python" "$here/compare.py" --tensorlog-bench "$bench" --tensorlog-cli "$cli" --work "$work" \
    --out "${COMPARE_OUT:-$root/docs/benchmarks.md}" --charts "$(dirname "${COMPARE_OUT:-$root/docs/benchmarks.md}")/benchmarks" \
    --notes "$here/notes.md" "${lmdb_c[@]}" "${quick[@]}" "${only[@]}"
