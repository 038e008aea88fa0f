#!/usr/bin/env bash
# Every C file of the tree is laid out as .clang-format says (clang-format
# --dry-run finds nothing to change).  Fix with:
#   clang-format -i FILE...
# Without clang-format the test is skipped, and fails under CI=true.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v clang-format >/dev/null; then
        echo "clang-format is not installed (tools/setup.sh installs it)"
        [ "${CI:-}" = true ] && exit 1
        exit 77
fi
mapfile -t files < <(find "$root/agent" "$root/cli" "$root/tests" \
        -path "$root/tests/*/__pycache__" -prune -o -name '*.[ch]' -print | sort)
if [ "${#files[@]}" -lt 20 ]; then
        echo "only ${#files[@]} C files found under $root: wrong root?"
        exit 1
fi
if ! out=$(clang-format --style=file --dry-run --Werror "${files[@]}" 2>&1); then
        printf '%s\n' "$out" | head -40
        echo "FAILURE: files not clang-formatted; run clang-format -i on them"
        exit 1
fi
echo "${#files[@]} C files, all clang-formatted"
echo "1 passed, 0 failed"
