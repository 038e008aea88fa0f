#!/bin/bash
# record-transcripts.sh: record real gdb and lldb transcripts for test_transcript.c
# (cases named lldb-* use lldb).
#
# Usage: tests/unit/record-transcripts.sh [CASE...]   (as root, gdb installed,
# attachpy built in build/).  With no CASE every case is recorded.
#
# Each case leaves two files in tests/fixtures/transcripts/:
#   <case>.txt  what gdb printed, exactly as attachpy read it: the text
#               between attachpy's "---- gdb transcript ----" and
#               "---- end of transcript" lines of --verbose (attachpy's own
#               progress lines, which --verbose interleaves, removed), or
#               gdb's output when we ran gdb ourselves;
#   <case>.end  one line saying how gdb ended, in words the test parses:
#               ["deadline"] ("exit N" | "signal N") "pid N" ["timeout S"]
#               deadline: attachpy interrupted gdb at --timeout;
#               pid: the target's pid as it appears in the transcript;
#               timeout: the --timeout in force.
#
# Cases that preflight refuses (no such process, permission) never reach gdb
# through attachpy; for those we run gdb ourselves with attachpy's argv and
# the head of a script attachpy rendered (everything up to the "attached"
# marker: gdb stops at the failing attach, so nothing else would run).
#
# Every process this script starts is ended by its pid on every path.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ATTACHPY=${ATTACHPY:-$ROOT/build/cli/attachpy}
OUT=${OUT:-$ROOT/tests/fixtures/transcripts}
GDB=${GDB:-$(command -v gdb || true)}

die() { echo "record-transcripts: $*" >&2; exit 1; }
say() { echo "record-transcripts: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (the permission case needs a root target)"
[ -x "$ATTACHPY" ] || die "build attachpy first ($ATTACHPY missing)"
[ -n "$GDB" ] || die "gdb is not installed"

# A CPython 3.7-3.13 that attachpy supports; pyenv's 3.12 first.
pick_python() {
        local root cand
        root=$(pyenv root 2>/dev/null || true)
        for cand in ${PYTHON:-} "${root:+$root/versions/3.12.1/bin/python3.12}" \
                    /usr/bin/python3.12 /usr/bin/python3.11 /usr/bin/python3; do
                [ -n "$cand" ] && [ -x "$cand" ] && { echo "$cand"; return; }
        done
        die "no Python found (set PYTHON=...)"
}
PY=$(pick_python)
say "target interpreter: $PY ($("$PY" -V 2>&1))"

WORK=$(mktemp -d /tmp/record-transcripts.XXXXXX)
chmod 755 "$WORK"
PIDS=()

# End every process we started, by pid; also on failure.
cleanup() {
        local p
        for p in "${PIDS[@]}"; do
                kill -CONT "$p" 2>/dev/null || true
                kill -KILL "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { # forget PID: it was killed and reaped
        local p keep=()
        for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
        PIDS=("${keep[@]}")
}

stop_pid() { # stop_pid PID: kill and reap one of our processes
        kill -CONT "$1" 2>/dev/null || true
        kill -KILL "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
        forget "$1"
}

# start_target NAME CODE [ARG...]: a Python program that prints "ready" when it has
# set up; sets TARGET_PID once it did.
start_target() {
        local name=$1 code=$2 i
        shift 2
        : >"$WORK/$name.out"
        "$PY" -c "$code" "$@" >"$WORK/$name.out" 2>&1 &
        TARGET_PID=$!
        PIDS+=("$TARGET_PID")
        for i in $(seq 300); do
                grep -q '^ready' "$WORK/$name.out" && return 0
                kill -0 "$TARGET_PID" 2>/dev/null || die "target $name died: $(cat "$WORK/$name.out")"
                sleep 0.1
        done
        die "target $name did not get ready"
}

# wait_for FILE PATTERN SECONDS
wait_for() {
        local i
        for i in $(seq $(( $3 * 20 ))); do
                grep -q -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.05
        done
        return 1
}

# cut_verbose CASE VERBOSE_LOG PID TIMEOUT: turn attachpy --verbose output
# into CASE.txt and CASE.end.
cut_verbose() {
        python3 - "$2" "$OUT/$1" "$3" "$4" <<'EOF'
import re, sys
log, dest, pid, timeout = sys.argv[1:]
text = open(log, "rb").read().decode("utf-8", "surrogateescape")
m = re.search(r"^attachpy: ---- (gdb|lldb) transcript ----\n", text, re.M)
if not m:
    sys.exit("no transcript in " + log)
body = text[m.end():]
m = list(re.finditer(r"attachpy: ---- end of transcript \((?:gdb|lldb) (exit status|killed by signal) "
                     r"(-?\d+), [0-9.]+ ms\) ----\n", body))
if not m:
    sys.exit("no end of transcript in " + log)
end = m[-1]
body = body[:end.start()]
# attachpy's own progress lines, interleaved by --verbose (inject.c vlog()).
# The deadline shows in those that stop the debugger; the patience interrupt
# (looking for futex waiters) is not a deadline.
deadline = bool(re.search(r"^attachpy: (interrupting the debugger \(SIGINT\)|interrupting process "
                          r"\d+ for the debugger|stopping the "
                          r"debugger \(SIGTERM\)|the debugger did not exit; terminating it|"
                          r"deadline passed while loading the agent)", body, re.M))
body = re.sub(r"^attachpy: .*\n", "", body, flags=re.M)
how = ("exit " if end.group(1) == "exit status" else "signal ") + end.group(2)
line = ("deadline " if deadline else "") + how + " pid " + pid + " timeout " + timeout
open(dest + ".txt", "w", encoding="utf-8", errors="surrogateescape").write(body)
open(dest + ".end", "w").write(line + "\n")
print(line)
EOF
}

# run_attachpy CASE PID TIMEOUT [ENV=VALUE...]: attachpy --verbose against
# PID, then cut the transcript.
run_attachpy() {
        local case=$1 pid=$2 timeout=$3
        shift 3
        local rc=0 dbg=()
        # lldb-* cases record the lldb backend.
        case $case in lldb-*) dbg=(--debugger=lldb) ;; esac
        env "$@" "$ATTACHPY" --verbose ${dbg[@]+"${dbg[@]}"} --timeout "$timeout" "$pid" -c 'print("recorded")' \
                >"$WORK/$case.stdout" 2>"$WORK/$case.log" || rc=$?
        say "$case: attachpy exit status $rc"
        cut_verbose "$case" "$WORK/$case.log" "$pid" "$timeout"
}

# The head of the script attachpy rendered in the "idle" case, up to and
# including the "attached" marker, with the pid replaced: for running gdb
# ourselves against a pid where attach fails.
script_head() { # script_head PID DEST
        [ -s "$WORK/idle-parked.log" ] || die "record idle-parked first (it provides the script)"
        python3 - "$WORK/idle-parked.log" "$1" "$2" <<'EOF'
import re, sys
log, pid, dest = sys.argv[1:]
text = open(log).read()
script = text.split("attachpy: ---- gdb script ----\n", 1)[1]
script = script.split("attachpy: ---- gdb transcript ----\n", 1)[0]
head = script.split('printf "@@ATTACHPY:attached\\n"\n', 1)[0]
head = re.sub(r"^attach \d+$", "attach " + pid, head, flags=re.M)
open(dest, "w").write(head + 'printf "@@ATTACHPY:attached\\n"\ndetach\nquit 0\n')
EOF
        chmod 644 "$2"
}

# run_gdb CASE PID [RUNAS...]: gdb with attachpy's argv and environment.
run_gdb() {
        local case=$1 pid=$2
        shift 2
        local script=$WORK/$case.gdb rc=0
        script_head "$pid" "$script"
        env -u LANG -u LANGUAGE -u PYTHONHOME -u PYTHONPATH -u PYTHONSTARTUP -u DEBUGINFOD_URLS \
                LC_ALL=C timeout 60 "$@" "$GDB" -nx -nh -q -batch --readnever \
                -iex "set auto-load off" -iex "set debuginfod enabled off" -x "$script" \
                </dev/null >"$OUT/$case.txt" 2>&1 || rc=$?
        [ "$rc" -lt 124 ] || die "$case: gdb did not end by itself (status $rc)"
        echo "exit $rc pid $pid" >"$OUT/$case.end"
        say "$case: gdb exit status $rc"
}

IDLE='import time
print("ready", flush=True)
time.sleep(120)'
# Every thread in a futex wait: gdb finds no parked system call, no
# breakpoint is hit, and after the CLI's patience a futex waiter is used.
LOCKWAIT='import threading
lock = threading.Lock()
lock.acquire()
print("ready", flush=True)
lock.acquire()'
BUSY='print("ready", flush=True)
while True:
    pass'
# A long C call that holds the GIL and enters none of attachpy's safe-point
# functions (a regex would: sre calls PyErr_CheckSignals every 4096 steps).
# argv: the list's length, and optionally seconds after which faulthandler's
# watchdog ends the program with _exit(1).
SORT='import random, sys
r = random.Random(1)
l = [r.random() for _ in range(int(sys.argv[1]))]
if len(sys.argv) > 2:
    import faulthandler
    faulthandler.dump_traceback_later(float(sys.argv[2]), exit=True)
print("ready", flush=True)
l.sort()
print("sorted", flush=True)'

record_idle_parked() {
        start_target idle "$IDLE"
        run_attachpy idle-parked "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lockwait_futex() {
        start_target lockwait "$LOCKWAIT"
        run_attachpy lockwait-futex "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_busy_breakpoint() {
        start_target busy "$BUSY"
        run_attachpy busy-breakpoint "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_timeout_waiting() {
        # gdb needs about 0.5 s to start; the sort lasts far longer than 3 s.
        start_target sort "$SORT" 12000000
        run_attachpy timeout-waiting "$TARGET_PID" 3
        stop_pid "$TARGET_PID"
}

record_dlopen_failed() {
        echo "this is not an ELF file" >"$WORK/not-an-elf.so"
        chmod 644 "$WORK/not-an-elf.so"
        start_target idle2 "$IDLE"
        run_attachpy dlopen-failed "$TARGET_PID" 30 ATTACHPY_AGENT="$WORK/not-an-elf.so"
        stop_pid "$TARGET_PID"
}

record_target_exited() {
        # The program exits while gdb waits for a safe point, without passing
        # through one: faulthandler's watchdog (a C thread waiting on a futex,
        # so not "parked") calls _exit(1) in the middle of the long sort.
        start_target exits "$SORT" 12000000 2.5
        run_attachpy target-exited "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_target_killed() {
        start_target sort2 "$SORT" 12000000
        local pid=$TARGET_PID log=$WORK/target-killed.log rc=0
        "$ATTACHPY" --verbose --timeout 30 "$pid" -c 'print("recorded")' \
                >"$WORK/target-killed.stdout" 2>"$log" &
        local ap=$!
        PIDS+=("$ap")
        wait_for "$log" "^@@ATTACHPY:waiting" 20 || die "target-killed: gdb never waited"
        sleep 0.3
        kill -KILL "$pid"
        # (bash reports the killed job here; that is expected.)
        { wait "$ap" || rc=$?; } 2>/dev/null
        forget "$ap"
        say "target-killed: attachpy exit status $rc"
        cut_verbose target-killed "$log" "$pid" 30
        stop_pid "$pid"
}

record_debugger_killed() {
        start_target sort3 "$SORT" 12000000
        local pid=$TARGET_PID log=$WORK/debugger-killed.log rc=0 gdbpid=""
        "$ATTACHPY" --verbose --timeout 30 "$pid" -c 'print("recorded")' \
                >"$WORK/debugger-killed.stdout" 2>"$log" &
        local ap=$!
        PIDS+=("$ap")
        wait_for "$log" "^@@ATTACHPY:waiting" 20 || die "debugger-killed: gdb never waited"
        sleep 0.3
        # attachpy's only child is gdb.
        gdbpid=$(cat /proc/"$ap"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 . || true)
        [ -n "$gdbpid" ] || die "debugger-killed: no gdb child of attachpy $ap"
        [ "$(cat /proc/"$gdbpid"/comm)" = gdb ] || die "debugger-killed: child $gdbpid is not gdb"
        kill -KILL "$gdbpid"
        wait "$ap" || rc=$?
        forget "$ap"
        say "debugger-killed: attachpy exit status $rc"
        cut_verbose debugger-killed "$log" "$pid" 30
        # Its breakpoints stay behind and would SIGTRAP it: end it.
        stop_pid "$pid"
}

# The lldb backend (cli/backend_lldb.c), through attachpy as above.
record_lldb_idle_parked() {
        start_target lidle "$IDLE"
        run_attachpy lldb-idle-parked "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lldb_busy_breakpoint() {
        start_target lbusy "$BUSY"
        run_attachpy lldb-busy-breakpoint "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lldb_lockwait_futex() {
        start_target llockwait "$LOCKWAIT"
        run_attachpy lldb-lockwait-futex "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lldb_timeout_waiting() {
        start_target lsort "$SORT" 12000000
        run_attachpy lldb-timeout-waiting "$TARGET_PID" 3
        stop_pid "$TARGET_PID"
}

record_lldb_dlopen_failed() {
        echo "this is not an ELF file" >"$WORK/not-an-elf.so"
        chmod 644 "$WORK/not-an-elf.so"
        start_target lidle2 "$IDLE"
        run_attachpy lldb-dlopen-failed "$TARGET_PID" 30 ATTACHPY_AGENT="$WORK/not-an-elf.so"
        stop_pid "$TARGET_PID"
}

# run_lldb CASE PID [RUNAS...]: lldb with attachpy's argv and environment and
# the head of its scripts (settings, attach, the "attached" marker).
run_lldb() {
        local case=$1 pid=$2
        shift 2
        local script=$WORK/$case.lldb rc=0 lldb
        lldb=$(command -v lldb) || die "lldb is not installed"
        printf '%s\n' "settings set auto-confirm true" \
                "settings set interpreter.stop-command-source-on-error true" \
                "settings set target.load-script-from-symbol-file false" \
                "settings set target.preload-symbols false" \
                "settings set symbols.enable-external-lookup false" \
                "process attach --pid $pid" "platform shell echo @@ATTACHPY:attached" \
                "process detach" >"$script"
        chmod 644 "$script"
        env -u LANG -u LANGUAGE -u PYTHONHOME -u PYTHONPATH -u PYTHONSTARTUP -u DEBUGINFOD_URLS \
                LC_ALL=C timeout 60 "$@" "$lldb" --no-lldbinit --batch -s "$script" \
                </dev/null >"$OUT/$case.txt" 2>&1 || rc=$?
        [ "$rc" -lt 124 ] || die "$case: lldb did not end by itself (status $rc)"
        echo "exit $rc pid $pid" >"$OUT/$case.end"
        say "$case: lldb exit status $rc"
}

record_lldb_no_such_process() {
        sleep 0 &
        local dead=$!
        wait "$dead" || true
        kill -0 "$dead" 2>/dev/null && die "pid $dead was reused at once"
        run_lldb lldb-no-such-process "$dead"
}

record_lldb_permission_denied() {
        command -v setpriv >/dev/null || die "setpriv (util-linux) is needed"
        start_target lrootidle "$IDLE"
        run_lldb lldb-permission-denied "$TARGET_PID" setpriv --reuid=nobody --regid=nogroup \
                --clear-groups
        stop_pid "$TARGET_PID"
}

record_no_such_process() {
        # A pid that was ours a moment ago and is reaped: nobody has it.
        sleep 0 &
        local dead=$!
        wait "$dead" || true
        kill -0 "$dead" 2>/dev/null && die "pid $dead was reused at once"
        run_gdb no-such-process "$dead"
}

record_permission_denied() {
        command -v setpriv >/dev/null || die "setpriv (util-linux) is needed"
        start_target rootidle "$IDLE"
        run_gdb permission-denied "$TARGET_PID" setpriv --reuid=nobody --regid=nogroup --clear-groups
        stop_pid "$TARGET_PID"
}

ALL=(idle-parked busy-breakpoint lockwait-futex timeout-waiting dlopen-failed target-exited target-killed
     debugger-killed no-such-process permission-denied lldb-idle-parked lldb-busy-breakpoint
     lldb-lockwait-futex lldb-timeout-waiting lldb-dlopen-failed lldb-no-such-process
     lldb-permission-denied)
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=("${ALL[@]}")
mkdir -p "$OUT"
# The gdb-only cases borrow the script of the idle case.
case " ${CASES[*]} " in
*" idle-parked "*) ;;
*" no-such-process "* | *" permission-denied "*) CASES=(idle-parked "${CASES[@]}") ;;
esac
for c in "${CASES[@]}"; do
        say "recording $c"
        "record_${c//-/_}"
done
say "done: $OUT"
