#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time (meson test, suite 'fuzz').
#
#   run-fuzzer.sh FUZZER WORKDIR DICT SECONDS SEED_DIR...
#
# New inputs go to WORKDIR/corpus (the seed folders in the source tree are
# only read); a crashing input is saved as WORKDIR/crash-<sha1>.  Exits 0
# when the fuzzer ran for SECONDS without a finding, 1 otherwise: libFuzzer's
# own codes (77 for a finding) would read as "skipped" to meson.
set -uo pipefail
fuzzer=$1 work=$2 dict=$3 seconds=$4
shift 4

for seeds in "$@"; do
        if ! compgen -G "$seeds/*" >/dev/null; then
                echo "run-fuzzer: seed folder $seeds is missing or empty" >&2
                exit 1
        fi
done
mkdir -p "$work/corpus" || exit 1

log=$work/last.log
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
        -dict="$dict" -artifact_prefix="$work/" \
        "$work/corpus" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# A run that ended early without a report is a failure too.
runs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -1)
if [ "$rc" -ne 0 ] || [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
        echo "run-fuzzer: $(basename "$fuzzer") FAILED (exit $rc); inputs: $(ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* 2>/dev/null | tr '\n' ' ')" >&2
        exit 1
fi
echo "run-fuzzer: $(basename "$fuzzer") ok: $runs runs in ${seconds}s, corpus $(ls "$work/corpus" | wc -l) new inputs"
exit 0
