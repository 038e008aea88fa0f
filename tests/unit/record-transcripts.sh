#!/bin/bash
# record-transcripts.sh: record real gdb and lldb transcripts for test_transcript.c
# (cases named lldb-* use lldb).
#
# Usage: tests/unit/record-transcripts.sh [CASE...]   (as root, gdb and lldb
# installed, attachpy built in build/).  With no CASE every case is recorded.
#
# Each case leaves two files in tests/fixtures/transcripts/:
#   <case>.txt  what the debugger printed, exactly as attachpy read it: the
#               text between attachpy's "---- gdb transcript ----" and
#               "---- end of transcript" lines of --verbose (attachpy's own
#               progress lines, which --verbose interleaves, removed), or
#               the debugger's output when we ran it ourselves;
#   <case>.end  one line saying how the debugger ended, in words the test
#               parses: ["deadline"] ("exit N" | "signal N") "pid N" ["timeout S"]
#               deadline: attachpy interrupted the debugger at --timeout;
#               pid: the target's pid as it appears in the transcript;
#               timeout: the --timeout in force.
#
# A run of attachpy may run the debugger twice (a pending call withdrawn for
# a futex waiter, a thread that moved): each case takes one of the runs.
# Faults that real life produces only by chance are provoked with
# ATTACHPY_FAULT (cli/fault.h): moved, wrong-code (mismatch) and
# pause-after:STEP (the debugger sleeps 3 s there; we kill the target or the
# debugger in that window).
#
# Cases that preflight refuses (no such process, permission) never reach the
# debugger through attachpy; for those we run it ourselves with attachpy's
# argv and the head of a script attachpy rendered (everything up to the
# "attached" marker: the debugger stops at the failing attach).
#
# KEEP_WORK=1 keeps the work directory (attachpy's --verbose logs).
# Targets are tests/targets/target.py.  Every injection runs under the shared
# lock /tmp/attachpy-itest.lock; every process this script starts is ended by
# its pid on every path.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ATTACHPY=${ATTACHPY:-$ROOT/build/cli/attachpy}
OUT=${OUT:-$ROOT/tests/fixtures/transcripts}
GDB=${GDB:-$(command -v gdb || true)}
LOCK=${LOCK:-/tmp/attachpy-itest.lock}
TARGET=$ROOT/tests/targets/target.py

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
        for p in ${PIDS[@]+"${PIDS[@]}"}; do
                kill -CONT "$p" 2>/dev/null || true
                kill -KILL "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        [ -n "${KEEP_WORK:-}" ] && say "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() { # forget PID: it was killed and reaped
        local p keep=()
        for p in ${PIDS[@]+"${PIDS[@]}"}; do [ "$p" = "$1" ] || keep+=("$p"); done
        PIDS=(${keep[@]+"${keep[@]}"})
}

stop_pid() { # stop_pid PID: kill and reap one of our processes
        kill -CONT "$1" 2>/dev/null || true
        kill -KILL "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
        forget "$1"
}

# start_target NAME MODE: tests/targets/target.py in MODE; it prints
# "ready ..." once in its state.  Sets TARGET_PID.
start_target() {
        local name=$1 mode=$2 i
        : >"$WORK/$name.out"
        "$PY" "$TARGET" "$mode" >"$WORK/$name.out" 2>&1 &
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

# cut_verbose CASE VERBOSE_LOG PID TIMEOUT [N]: turn the Nth debugger
# transcript (1-based, default 1; -1: the last) of attachpy --verbose output
# into CASE.txt and CASE.end.
cut_verbose() {
        python3 - "$2" "$OUT/$1" "$3" "$4" "${5:-1}" <<'EOF'
import re, sys
log, dest, pid, timeout, n = sys.argv[1:]
text = open(log, "rb").read().decode("utf-8", "surrogateescape")
end_re = re.compile(r"attachpy: ---- end of transcript \((?:gdb|lldb) (exit status|killed by "
                    r"signal|detached; ended without waiting for it to quit)(?: (-?\d+))?, "
                    r"[0-9.]+ ms\) ----\n")
runs = []
for m in re.finditer(r"^attachpy: ---- (gdb|lldb) transcript ----\n", text, re.M):
    e = end_re.search(text, m.end())
    if not e:
        sys.exit("no end of transcript in " + log)
    runs.append((text[m.end():e.start()], e))
n = int(n)
if not runs or n > len(runs):
    sys.exit("%s holds %d transcript(s), not %d" % (log, len(runs), n))
body, end = runs[n - 1 if n > 0 else n]
# attachpy's own progress lines, interleaved by --verbose (inject.c vlog()).
# The deadline shows in those that stop the debugger.
deadline = bool(re.search(r"^attachpy: (interrupting the debugger \(SIGINT\)|interrupting process "
                          r"\d+ for the debugger|stopping the "
                          r"debugger \(SIGTERM\)|the debugger did not exit; terminating it|"
                          r"deadline passed while loading the agent)", body, re.M))
body = re.sub(r"^attachpy: .*\n", "", body, flags=re.M)
# A debugger ended once it had detached (inject.c let_go) counts as exit 0.
how = ("signal " + end.group(2) if end.group(1).startswith("killed")
       else "exit " + (end.group(2) or "0"))
line = ("deadline " if deadline else "") + how + " pid " + pid + " timeout " + timeout
open(dest + ".txt", "w", encoding="utf-8", errors="surrogateescape").write(body)
open(dest + ".end", "w").write(line + "\n")
print(line)
EOF
}

# count_transcripts LOG: how many debugger runs a --verbose log holds.
count_transcripts() {
        grep -c '^attachpy: ---- \(gdb\|lldb\) transcript ----$' "$1" || true
}

# run_attachpy CASE PID TIMEOUT [ENV=VALUE...]: attachpy --verbose against
# PID under the injection lock; the log stays in $WORK/CASE.log, the first
# transcript becomes the case.
run_attachpy() {
        local case=$1 pid=$2 timeout=$3
        shift 3
        local rc=0 dbg=()
        # lldb-* cases record the lldb backend.
        case $case in lldb-*) dbg=(--debugger=lldb) ;; esac
        env "$@" flock "$LOCK" "$ATTACHPY" --verbose ${dbg[@]+"${dbg[@]}"} --timeout "$timeout" \
                "$pid" -c 'print("recorded")' >"$WORK/$case.stdout" 2>"$WORK/$case.log" || rc=$?
        say "$case: attachpy exit status $rc, $(count_transcripts "$WORK/$case.log") transcript(s)"
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

not_an_elf() {
        echo "this is not an ELF file" >"$WORK/not-an-elf.so"
        chmod 644 "$WORK/not-an-elf.so"
}

# in_pause CASE STEP WHAT [MODE]: attachpy with the debugger paused after
# STEP (ATTACHPY_FAULT=pause-after:STEP) against a target.py MODE (default
# sleep); in the pause, kill WHAT ("target" or "debugger") with SIGKILL, by
# pid.
in_pause() {
        local case=$1 step=$2 what=$3 mode=${4:-sleep} dbg=() pid log rc=0 apid dpid
        case $case in lldb-*) dbg=(--debugger=lldb) ;; esac
        start_target "$case" "$mode"
        pid=$TARGET_PID
        log=$WORK/$case.log
        ATTACHPY_FAULT=pause-after:$step flock "$LOCK" "$ATTACHPY" --verbose \
                ${dbg[@]+"${dbg[@]}"} --timeout 30 "$pid" -c 'print("recorded")' \
                >"$WORK/$case.stdout" 2>"$log" &
        local ap=$!
        PIDS+=("$ap")
        # (the lock may be held by other runs for minutes)
        wait_for "$log" "^@@ATTACHPY:paused $step" 600 || die "$case: the debugger never paused"
        if [ "$what" = target ]; then
                kill -KILL "$pid"
        else
                # flock's only child is attachpy, attachpy's only child the
                # debugger.
                apid=$(cat /proc/"$ap"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 . || true)
                [ -n "$apid" ] || die "$case: no attachpy under flock $ap"
                dpid=$(cat /proc/"$apid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 . || true)
                [ -n "$dpid" ] || die "$case: no debugger child of attachpy $apid"
                case $(cat /proc/"$dpid"/comm) in
                gdb | lldb*) ;;
                *) die "$case: child $dpid of attachpy is $(cat /proc/"$dpid"/comm)" ;;
                esac
                kill -KILL "$dpid"
        fi
        # (bash may report the killed job here; that is expected.)
        { wait "$ap" || rc=$?; } 2>/dev/null
        forget "$ap"
        say "$case: attachpy exit status $rc"
        cut_verbose "$case" "$log" "$pid" 30
        stop_pid "$pid"
}

record_idle_parked() {
        # Every thread sleeps: the direct plan calls the trampoline in the
        # main thread, parked in clock_nanosleep.
        start_target idle sleep
        run_attachpy idle-parked "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_busy_scheduled() {
        # The main thread runs bytecode: the trampoline is queued with
        # Py_AddPendingCall and the debugger detaches at once.
        start_target busy busy
        run_attachpy busy-scheduled "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lockwait() {
        # Every thread waits in a futex: the queued call does not run,
        # attachpy withdraws it and calls in a futex waiter.  Two debugger
        # runs, two cases.
        start_target lockwait lockwait
        run_attachpy lockwait-scheduled "$TARGET_PID" 30
        [ "$(count_transcripts "$WORK/lockwait-scheduled.log")" = 2 ] ||
                die "lockwait: attachpy did not fall back to a futex waiter"
        cut_verbose lockwait-futex "$WORK/lockwait-scheduled.log" "$TARGET_PID" 30 2
        stop_pid "$TARGET_PID"
}

record_moved() {
        # ATTACHPY_FAULT=moved: the first run's thread guard fails as for a
        # thread that left its system call before the attach; attachpy runs
        # the debugger again (that second run is idle-parked's twin).
        start_target moved sleep
        run_attachpy moved "$TARGET_PID" 30 ATTACHPY_FAULT=moved
        stop_pid "$TARGET_PID"
}

record_mismatch() {
        # ATTACHPY_FAULT=wrong-code: the check of Py_AddPendingCall's first
        # bytes fails as for a PID reused by another program.
        start_target mismatch sleep
        run_attachpy mismatch "$TARGET_PID" 30 ATTACHPY_FAULT=wrong-code
        stop_pid "$TARGET_PID"
}

record_dlopen_failed() {
        not_an_elf
        start_target idle2 sleep
        run_attachpy dlopen-failed "$TARGET_PID" 30 ATTACHPY_AGENT="$WORK/not-an-elf.so"
        stop_pid "$TARGET_PID"
}

record_target_killed() {
        # The target is killed while gdb holds it stopped after the attach.
        in_pause target-killed attached target
}

record_debugger_killed() {
        # gdb is killed after it mapped the scratch page: the kernel detaches
        # the target, which runs on.
        in_pause debugger-killed mapped debugger
}

record_debugger_killed_unarmed() {
        # gdb is killed after Py_AddPendingCall queued the call and before
        # the script armed it: "scheduled" without "armed" (attachpy arms it
        # itself through /proc/PID/mem).
        in_pause debugger-killed-unarmed called debugger busy
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
        start_target rootidle sleep
        run_gdb permission-denied "$TARGET_PID" setpriv --reuid=nobody --regid=nogroup --clear-groups
        stop_pid "$TARGET_PID"
}

# The lldb backend (cli/backend_lldb.c), as above.
record_lldb_idle_parked() {
        start_target lidle sleep
        run_attachpy lldb-idle-parked "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lldb_busy_scheduled() {
        start_target lbusy busy
        run_attachpy lldb-busy-scheduled "$TARGET_PID" 30
        stop_pid "$TARGET_PID"
}

record_lldb_dlopen_failed() {
        not_an_elf
        start_target lidle2 sleep
        run_attachpy lldb-dlopen-failed "$TARGET_PID" 30 ATTACHPY_AGENT="$WORK/not-an-elf.so"
        stop_pid "$TARGET_PID"
}

record_lldb_mismatch() {
        start_target lmismatch sleep
        run_attachpy lldb-mismatch "$TARGET_PID" 30 ATTACHPY_FAULT=wrong-code
        stop_pid "$TARGET_PID"
}

record_lldb_moved() {
        start_target lmoved sleep
        run_attachpy lldb-moved "$TARGET_PID" 30 ATTACHPY_FAULT=moved
        stop_pid "$TARGET_PID"
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
        start_target lrootidle sleep
        run_lldb lldb-permission-denied "$TARGET_PID" setpriv --reuid=nobody --regid=nogroup \
                --clear-groups
        stop_pid "$TARGET_PID"
}

ALL=(idle-parked busy-scheduled lockwait moved mismatch dlopen-failed target-killed
     debugger-killed debugger-killed-unarmed no-such-process permission-denied lldb-idle-parked lldb-busy-scheduled
     lldb-dlopen-failed lldb-mismatch lldb-moved lldb-no-such-process lldb-permission-denied)
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=("${ALL[@]}")
mkdir -p "$OUT"
# lockwait-scheduled and lockwait-futex come from one run.
for i in "${!CASES[@]}"; do
        case ${CASES[$i]} in lockwait-scheduled | lockwait-futex) CASES[$i]=lockwait ;; esac
done
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
