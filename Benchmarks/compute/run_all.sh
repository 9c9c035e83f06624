#!/usr/bin/env bash
# Runs the compute benchmarks (docs/compute-benchmarks.md) against a release build of tensorlog.
# usage: Benchmarks/compute/run_all.sh [--skip-memory]
# Needs: python3 with numpy and scikit-learn (torch optional: forecast.py falls back to sklearn
# MLPRegressor), the system OpenBLAS (libopenblas.so.0). The memory runs need about 2x8 GiB of free disk
# and 9 GiB of free RAM for the in-memory baseline; they delete their files at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
if [[ -z "${TENSORLOG:-}" ]]; then
    swift build -c release --product tensorlog
    export TENSORLOG="$root/.build/release/tensorlog"
fi
cd "$here"
echo "== machine"; nproc; free -g | sed -n 2p; df -h /tmp | tail -1; date -u
echo "== 1. accuracy (digits)"; python3 digits.py --seeds 11
echo "== 3, 5. speed and inference"; python3 speed.py --repeats 3
echo "== 4. forecasting"; python3 forecast.py
if [[ "${1:-}" != "--skip-memory" ]]; then
    echo "== 2. memory"; python3 memory.py --gib 4; python3 memory.py --gib 8
fi
