#!/usr/bin/env bash
# Run the whole test suite: unit tests (check), the same under
# AddressSanitizer and UndefinedBehaviorSanitizer, the fuzzers (tools/fuzz.sh;
# NO_FUZZ=1 leaves them out, FUZZ_SECONDS sets their time), and the
# integration tests against real Python processes with real debuggers.  Needs
# tools/setup.sh to have run.  Extra arguments go to 'meson test' (e.g.
# --suite unit).
set -uo pipefail
cd "$(dirname "$0")/.."

werror=${WERROR:-false}
status=0
failed_steps=()
step_failed() {
        status=1
        failed_steps+=("$1")
}

if [ ! -f build/build.ninja ]; then
        NO_DEMO=1 ./tools/setup.sh || exit 1
fi
meson compile -C build || exit 1

# The newer Pythons (3.13-3.15, PyPy 8) in a root of their own, built once
# (tools/sid-root.sh, about two minutes); NO_SID_ROOT=1 leaves them out
# (the tests then say they are missing, and under CI=true fail).
if [ -z "${NO_SID_ROOT:-}" ] && [ "$(id -u)" -eq 0 ]; then
        ./tools/sid-root.sh || step_failed "the sid root (tools/sid-root.sh)"
fi

# Unit tests once more with sanitizers (the agent is never built with them).
if [ -z "${NO_SANITIZE:-}" ]; then
        if [ ! -f build-sanitize/build.ninja ]; then
                meson setup build-sanitize -Db_sanitize=address,undefined -Db_lundef=false \
                        -Dwerror="$werror" >/dev/null || exit 1
        fi
        if ! out=$(meson compile -C build-sanitize 2>&1); then
                printf '%s\n' "$out" >&2
                echo "test: the sanitizer build failed" >&2
                exit 1
        fi
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                meson test -C build-sanitize --suite unit --print-errorlogs ||
                step_failed "unit tests under ASan/UBSan (build-sanitize)"
fi

# The parsers fuzzed for a bounded time (clang, libFuzzer): tools/fuzz.sh.
logs=(build/meson-logs/testlog.json build-sanitize/meson-logs/testlog.json)
if [ -z "${NO_FUZZ:-}" ]; then
        ./tools/fuzz.sh || step_failed "fuzzers (tools/fuzz.sh)"
        logs+=(build-fuzz/meson-logs/testlog.json)
fi

meson test -C build --print-errorlogs "$@" || step_failed "meson test -C build"

# What ran (interpreters, the matrix), then one closing line counting every
# test case of every program.
python3 - "${logs[@]}" <<'PY'
import json, os, re, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    for line in open(path):
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        check = re.search(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", out)
        plain = re.findall(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$", out, re.M)
        ran = re.search(r"^Ran (\d+) tests? in", out, re.M)
        if ("/ agent" in t["name"] or "integration /" in t["name"] or "faults /" in t["name"]
                or "stress /" in t["name"]):
            keep = False
            print("---- %s (%s) ----" % (t["name"], t["result"]))
            for l in out.splitlines():
                if l.startswith(("Interpreter x", "per interpreter", "Fault x", "Soak figures", "stress:")):
                    keep = True
                if keep or l.startswith(("SKIPPED", "FAILURE", "interpreters found")):
                    print(l)
        if check:
            n, f, e = int(check.group(2)), int(check.group(3)), int(check.group(4))
            passed += n - f - e
            failed += f + e
        elif plain:
            p, f, s = plain[-1]
            passed += int(p); failed += int(f); skipped += int(s or 0)
        elif ran:
            n = int(ran.group(1))
            m = re.search(r"^(?:OK|FAILED)(?: \((.*)\))?$", out, re.M)
            counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1) or "")) if m else {}
            bad = counts.get("failures", 0) + counts.get("errors", 0)
            sk = counts.get("skipped", 0)
            passed += n - bad - sk; failed += bad; skipped += sk
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
print("tests: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
PY
for step in "${failed_steps[@]}"; do
        echo "test: FAILED: $step"
done
exit $status
