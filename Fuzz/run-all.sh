#!/usr/bin/env bash
# Usage: Fuzz/run-all.sh SECONDS — builds once, then runs every fuzz target for SECONDS
# each (CI: about 30). Exits non-zero if any target found a crash (inputs in Fuzz/crashes/).
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
targets=(record-header hint-file manifest segment-recovery lz4-block shuffle-lz4-block npy safetensors)
./build.sh >/dev/null || { echo "run-all.sh: build failed (see Fuzz/.build-fuzz.log)" >&2; exit 2; }
failed=()
for target in "${targets[@]}"; do
    FUZZ_SKIP_BUILD=1 ./run.sh "$target" "$seconds" || failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "run-all.sh: crashes found in: ${failed[*]}" >&2
    exit 1
fi
echo "run-all.sh: no crashes in ${#targets[@]} targets"
