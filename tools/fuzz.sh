#!/usr/bin/env bash
# Fuzz the parsers of input attachpy does not control (tests/fuzz): build
# the libFuzzer targets with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz, and run each for FUZZ_SECONDS
# (default 30) from its seed corpus.  Fails on any finding; the input that
# found it is left in build-fuzz/tests/fuzz/<target>/ (replay it with
# build-fuzz/tests/fuzz/fuzz_<target> FILE).  tools/test.sh runs this.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
if ! command -v clang >/dev/null; then
        echo "fuzz: clang is not installed (tools/setup.sh installs clang and libclang-rt-14-dev)" >&2
        exit 1
fi

# No -Werror here: clang warns differently from gcc, and the gcc build is
# the one that gates warnings.
# Quiet when it works; the whole output, and a line saying which step, when
# it does not.
quietly() {
        local out
        if ! out=$("$@" 2>&1); then
                printf '%s\n' "$out" >&2
                echo "fuzz: '$*' failed" >&2
                exit 1
        fi
}
if [ ! -f build-fuzz/build.ninja ]; then
        quietly env CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false \
                -Db_sanitize=address,undefined -Db_lundef=false \
                -Dfuzz_seconds="$seconds"
else
        quietly meson configure build-fuzz -Dfuzz_seconds="$seconds"
fi
quietly meson compile -C build-fuzz
meson test -C build-fuzz --suite fuzz --print-errorlogs
