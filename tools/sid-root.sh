#!/usr/bin/env bash
# Build the root file system with the newer Pythons the tests run under
# chroot (CPython 3.13, 3.14, 3.15 and PyPy 8 from Debian's sid suite, and
# libpython3.14/3.15 with their headers, for the tests' shared-libpython
# build, tests/targets/embedpy.c), once: a root that is already complete is
# left as it is.
#
#   ./tools/sid-root.sh            # as root; about two minutes
#   ATTACHPY_SID_ROOT=DIR ./tools/sid-root.sh
#
# The tests find it at the same place (tests/integration/harness.py).
set -euo pipefail
root=${ATTACHPY_SID_ROOT:-/var/cache/attachpy/sid-root}
mirror=${ATTACHPY_SID_MIRROR:-http://deb.debian.org/debian}
packages=python3.13,python3.14,python3.15,pypy3
dev_packages=(libpython3.14-dev libpython3.15-dev)
ready="$root/.attachpy-sid-root-ready"

if [ -f "$ready" ]; then
        # A root built before the shared-libpython packages were added.
        if [ ! -f "$root/usr/include/python3.15/Python.h" ] && [ "$(id -u)" -eq 0 ]; then
                echo "sid-root: adding ${dev_packages[*]} to $root"
                chroot "$root" apt-get -q -o Acquire::Check-Valid-Until=false update >/dev/null &&
                        DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q \
                                --no-install-recommends -o Acquire::Check-Valid-Until=false \
                                "${dev_packages[@]}" >/dev/null ||
                        { echo "sid-root: installing ${dev_packages[*]} failed" >&2; exit 1; }
                rm -rf "$root"/var/cache/apt/archives/*.deb
        fi
        exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "sid-root: building $root needs root (debootstrap, chroot)" >&2
        exit 1
fi
if ! command -v debootstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi
# A half-built root from an interrupted run is built again from scratch.
tmp="$root.partial"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "sid-root: debootstrap sid into $root ($packages)"
if ! debootstrap --variant=minbase --include="$packages,$(IFS=,; echo "${dev_packages[*]}")" sid "$tmp" "$mirror" >"$tmp.log" 2>&1; then
        tail -20 "$tmp.log" >&2
        echo "sid-root: debootstrap failed (log: $tmp.log)" >&2
        exit 1
fi
# Nothing of the packages' downloads is needed any more.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp.log"
for exe in python3.13 python3.14 python3.15 pypy3; do
        chroot "$tmp" "/usr/bin/$exe" -c 'import sys; print(sys.version.split()[0])' >/dev/null
done
rm -rf "$root"
mv "$tmp" "$root"
touch "$ready"
echo "sid-root: ready: $root"
