#!/usr/bin/env bash
# Usage: Fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# Builds the fuzz targets if needed (skip with FUZZ_SKIP_BUILD=1), then runs TARGET for
# SECONDS over Fuzz/corpus-work/TARGET (a git-ignored work copy of Fuzz/Corpus/TARGET, kept
# between runs so coverage accumulates). Prints executions per second and total executions.
# Exits non-zero if the fuzzer found a crash, a property violation, a timeout or an
# out-of-memory; the input is saved under Fuzz/crashes/TARGET/.
#
# Reproduce a saved input:  Fuzz/.build-fuzz/debug/TARGET Fuzz/crashes/TARGET/crash-...
set -uo pipefail
cd "$(dirname "$0")"
if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2
if [ ! -d "Corpus/$target" ]; then
    echo "run.sh: unknown target '$target' (no Fuzz/Corpus/$target)" >&2
    exit 2
fi
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    ./build.sh >/dev/null || { echo "run.sh: build failed (see Fuzz/.build-fuzz.log)" >&2; exit 2; }
fi
binary="${FUZZ_SCRATCH:-.build-fuzz}/debug/$target"
[ -x "$binary" ] || { echo "run.sh: $binary not built" >&2; exit 2; }

work="corpus-work/$target"
crashes="crashes/$target"
mkdir -p "$work" "$crashes"
cp -n "Corpus/$target"/* "$work"/ 2>/dev/null || true
log="corpus-work/$target.log"
before=$(ls "$crashes" | wc -l)

# The Swift runtime's backtracer fights ASan and libFuzzer over fatal signals: turn it off.
# Leak checking is off: the Swift runtime's lazily allocated metadata looks like leaks.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
"$binary" "$work" \
    -max_total_time="$seconds" -print_final_stats=1 -detect_leaks=0 \
    -timeout=10 -rss_limit_mb=2560 -max_len=65536 \
    -artifact_prefix="$crashes/" "$@" >"$log" 2>&1
status=$?

executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
if grep -q -- '-fork=' <<<"$*"; then
    # Fork mode (-fork=N -ignore_crashes=1 keeps fuzzing past known crashes): the parent's
    # status lines carry the totals over all jobs; the stat:: lines are one job's.
    executions=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    rate=$(( ${executions:-0} / (seconds > 0 ? seconds : 1) ))
fi
corpus=$(ls "$work" | wc -l)
after=$(ls "$crashes" | wc -l)
printf '%-18s %4ss  exec/s %-7s total executions %-10s coverage %-6s corpus %s\n' \
    "$target" "$seconds" "${rate:-?}" "${executions:-?}" "${coverage:-?}" "$corpus"
if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
    echo "run.sh: $target FAILED (libFuzzer exit status $status); new inputs in Fuzz/$crashes/:" >&2
    ls -t "$crashes" | head -5 | sed "s|^|  Fuzz/$crashes/|" >&2
    grep -E -m5 'ERROR: |Fatal error|fuzz property violated|SUMMARY' "$log" >&2
    echo "  full log: Fuzz/$log" >&2
    exit 1
fi
exit 0
