#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer coverage instrumentation and AddressSanitizer
# (Swift code: -sanitize=fuzzer,address; C code: -fsanitize=fuzzer-no-link,address).
# Products land in Fuzz/.build-fuzz/debug/<target> (FUZZ_SCRATCH overrides .build-fuzz). Incremental: a second run is quick.
# Extra arguments go to `swift build`.
set -euo pipefail
cd "$(dirname "$0")"
build() {
    swift build -c debug --scratch-path "${FUZZ_SCRATCH:-.build-fuzz}" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        -Xcc -fsanitize=fuzzer-no-link,address \
        "$@"
}
# A source file edited while the build runs cancels it ("was modified during the build"):
# try again a few times.
for attempt in 1 2 3; do
    if build "$@" 2>&1 | tee .build-fuzz.log; then
        status=${PIPESTATUS[0]}
    else
        status=${PIPESTATUS[0]}
    fi
    [ "$status" -eq 0 ] && exit 0
    grep -q "modified during the build" .build-fuzz.log || exit "$status"
    echo "build.sh: a source changed during the build; retrying ($attempt)" >&2
done
exit 1
