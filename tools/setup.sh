#!/usr/bin/env bash
# Install what attachpy needs, build it, and show it working: start a demo
# Python process, run code inside it, end the demo by its pid.
#
#   ./tools/setup.sh            # as root, or with sudo available
#   NO_DEMO=1 ./tools/setup.sh  # install and build only
#   WERROR=true ./tools/setup.sh  # warnings are errors (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

# clang and libclang-rt-14-dev (libFuzzer, the sanitizer runtimes): tools/fuzz.sh.
# clang-format: the layout check (tests/ux/test_format.sh).
# libpython3-dev: the embedding test program; pypy3: the PyPy tests.
# debootstrap: the root with the newer Pythons (tools/sid-root.sh).
PACKAGES=(gcc pkg-config meson ninja-build python3 libpython3-dev pypy3 gdb lldb libjansson-dev libyaml-dev libedit-dev
          check valgrind python3-jsonschema bash-completion zsh groff-base clang libclang-rt-14-dev
          clang-format debootstrap)

missing=()
for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
        echo "setup: installing ${missing[*]}"
        SUDO=()
        [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

werror=${WERROR:-false}
if [ -f build/build.ninja ]; then
        meson configure build -Dwerror="$werror" >/dev/null
else
        meson setup build -Dwerror="$werror"
fi
meson compile -C build

[ -n "${NO_DEMO:-}" ] && exit 0

# The demo: a Python process minding its own business...
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
demo_out=$(mktemp)
"$python" tests/targets/target.py sleep >"$demo_out" 2>&1 &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; rm -f "$demo_out"' EXIT
for _ in $(seq 100); do grep -q '^ready' "$demo_out" && break; sleep 0.1; done

echo
echo "setup: a demo Python process runs as pid $demo_pid; attachpy runs code inside it:"
echo "\$ build/cli/attachpy $demo_pid -c 'import __main__, os, sys; print(...)'"
build/cli/attachpy "$demo_pid" -c 'import __main__, os, sys
print("hello from pid", os.getpid(), "running Python", sys.version.split()[0])
print("its __main__ says TARGET_MARK =", __main__.TARGET_MARK)'
echo
echo "\$ build/cli/attachpy --json $demo_pid -c 'print(6 * 7)'"
build/cli/attachpy --json "$demo_pid" -c 'print(6 * 7)'
kill -USR1 "$demo_pid"
sleep 0.2
if grep -q '^alive' "$demo_out"; then
        echo "setup: the demo process is still alive and answering; ending it (pid $demo_pid)."
else
        echo "setup: the demo process did not answer after the injection" >&2
        exit 1
fi
