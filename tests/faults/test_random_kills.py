#!/usr/bin/env python3
"""The target survives any death of the debugger (issue 14, item 0).

    python3 test_random_kills.py --attachpy build/cli/attachpy [--runs N]

For each debugger (gdb, lldb) and each target (busy: a pure-Python loop
that allocates; idle: the main thread asleep), N runs (ATTACHPY_RANDOM_KILLS,
100 by default, 6 under CI=true) of attachpy each get their debugger
SIGKILLed at a random moment: a delay drawn uniformly from [0, 1.2 x the
length of an undisturbed run] (measured first), so the kills fall before,
during and after the attach, inside expressions and calls, and after the
end.  Only the debugger is killed (what a wrapper's `timeout -s KILL`, the
OOM killer or a user does), not its helpers: lldb-server is attachpy's
(cli/cure.h).  After every run:

- the target is alive, not stopped, not traced (State, TracerPid), and
  still answers SIGUSR1 with "alive" and still works;
- no byte of an executable file mapping became 0xCC (the scrub's
  comparison, cli/scrub.c, done here independently);
- no debugger process, lldb-server or session directory is left.

Prints, per debugger x target: runs, kill moments by the last stage the
debugger reported, deaths, targets left stopped or traced, 0xCC left,
processes left.  A dead target is replaced so that the count goes on.
"""
import argparse
import collections
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402

ATTACHPY = None
RUNS = 100
TARGETS = {"busy": "busy", "idle": "sleep"}
ROWS = collections.OrderedDict()


def children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def int3_left(pid):
    """Bytes of executable file mappings that are 0xCC in the process and
    not in the file; None when the process is gone (it died: the check
    after this one says so)."""
    try:
        return int3_count(pid)
    except (ProcessLookupError, FileNotFoundError):
        return None


def int3_count(pid):
    n = 0
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) < 6 or "x" not in parts[1] or not parts[5].startswith("/"):
                continue
            name = parts[5].strip()
            if name.endswith("(deleted)"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            try:
                with open("/proc/%d/root%s" % (pid, name), "rb") as f:
                    f.seek(int(parts[2], 16))
                    want = f.read(hi - lo)
                mem.seek(lo)
                have = mem.read(len(want))
            except OSError:
                continue
            if have == want:
                continue
            n += sum(1 for a, b in zip(have, want) if a == 0xCC and b != 0xCC)
    return n


def helpers_left():
    """lldb-server processes started for this test run (they carry its
    tag in their environment, inherited from attachpy)."""
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        c = comm(int(d)) or ""
        if not c.startswith("lldb-server"):
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if harness.OWNER in f.read().split(b"\0"):
                    pids.add(int(d))
        except OSError:
            pass
    return pids


def sessions_of(pid):
    """Session directories whose owner is attachpy pid (others' runs on
    this machine have their own)."""
    out = set()
    for d in harness.session_dirs():
        try:
            with open(os.path.join(d, "owner")) as f:
                if f.read().split()[:1] == [str(pid)]:
                    out.add(d)
        except OSError:
            pass
    return out


def last_stage(stderr):
    stages = re.findall(r"^@@ATTACHPY:(\w+)", stderr, re.M)
    stages = [s for s in stages if s not in ("paused",)]
    return stages[-1] if stages else "none"


class RandomKills(unittest.TestCase):
    python = None

    def need(self, debugger):
        if not shutil.which(debugger):
            if harness.IN_CI:
                self.fail(debugger + " is not installed")
            self.skipTest(debugger + " is not installed")

    def start(self, mode):
        t = harness.Target(self.python.path, mode)
        self.addCleanup(t.stop)
        return t

    def one_run(self, target, debugger, delay):
        """attachpy with its debugger killed after delay seconds (if it
        still runs).  Returns (killed, stage, rc)."""
        env = harness.tagged_env()
        env.pop("ATTACHPY_FAULT", None)
        p = subprocess.Popen([ATTACHPY, "--json", "--verbose", "--debugger=" + debugger,
                              str(target.pid), "-c", "print('ran')"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        killed = False
        try:
            end = time.monotonic() + delay
            while time.monotonic() < end and p.poll() is None:
                time.sleep(0.002)
            for k in children(p.pid):
                if comm(k) == debugger:
                    try:
                        os.kill(k, signal.SIGKILL)
                        killed = True
                    except ProcessLookupError:
                        pass
            _, err = p.communicate(timeout=90)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = err.decode("utf-8", "replace")
        self.last_pid = p.pid
        return killed, last_stage(err) if killed else "after the end", p.returncode, err

    def run_many(self, debugger, name):
        self.need(debugger)
        mode = TARGETS[name]
        row = ROWS.setdefault((debugger, name), collections.OrderedDict(
            runs=0, stages=collections.Counter(), deaths=0, stopped_or_traced=0, int3=0,
            left=0, not_answering=0, cured=0, regs=0, calls=collections.Counter()))
        t = self.start(mode)
        before_dbg = harness.debugger_processes()
        t0 = time.monotonic()
        _, _, rc, err = self.one_run(t, debugger, 3600)
        self.assertEqual(rc, 0, err[-2000:])
        length = time.monotonic() - t0
        problems = []
        for i in range(RUNS):
            delay = random.uniform(0, 1.2 * length)
            killed, stage, rc, err = self.one_run(t, debugger, delay)
            row["runs"] += 1
            row["stages"][stage] += 1
            cure = re.search(r"finished its session: call ([\w ]+), (\d+) register state", err)
            if cure:
                row["cured"] += 1
                row["regs"] += int(cure.group(2)) > 0
                row["calls"][cure.group(1)] += 1
            what = "run %d (%s, %s, killed after %.3f s at %s, rc %s)" % (
                i, debugger, name, delay, stage, rc)
            if t.proc.poll() is not None:
                row["deaths"] += 1
                problems.append("%s: the target died (%s)\n%s" % (what, t.proc.returncode,
                                                                 err[-1500:]))
                t = self.start(mode)
                continue
            st = {}
            for _ in range(100):
                st = harness.proc_status(t.pid)
                if st.get("TracerPid") == "0" and not st.get("State", "").startswith(("T", "t")):
                    break
                time.sleep(0.02)
            if st.get("TracerPid") != "0" or st.get("State", "").startswith(("T", "t")):
                row["stopped_or_traced"] += 1
                problems.append("%s: left %s, tracer %s" % (what, st.get("State"),
                                                            st.get("TracerPid")))
                os.kill(t.pid, signal.SIGKILL)
                t = self.start(mode)
                continue
            n = int3_left(t.pid)
            if n is None:  # died while the checks ran
                try:
                    t.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                row["deaths"] += 1
                problems.append("%s: the target died (%s)\n%s" % (what, t.proc.returncode,
                                                                 err[-1500:]))
                t = self.start(mode)
                continue
            if n:
                row["int3"] += 1
                problems.append("%s: %d bytes of 0xCC left" % (what, n))
            end = time.monotonic() + 10
            while time.monotonic() < end:
                left = (harness.debugger_processes() - before_dbg) | helpers_left() | \
                    sessions_of(self.last_pid)
                if not left:
                    break
                time.sleep(0.05)
            if left:
                row["left"] += 1
                problems.append("%s: left behind: %s" % (what, sorted(left)))
                for x in left:
                    if isinstance(x, int):
                        try:
                            os.kill(x, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            problem = harness.check_alive(t)
            if problem:
                row["not_answering"] += 1
                problems.append("%s: %s" % (what, problem))
                t = self.start(mode)
        self.assertEqual(problems, [], "\n".join(problems[:10]))

    def test_gdb_busy(self):
        self.run_many("gdb", "busy")

    def test_gdb_idle(self):
        self.run_many("gdb", "idle")

    def test_lldb_busy(self):
        self.run_many("lldb", "busy")

    def test_lldb_idle(self):
        self.run_many("lldb", "idle")


def print_table():
    print("\nThe debugger SIGKILLed at a random moment (%s):" % RandomKills.python)
    print("  %-5s %-5s %5s %7s %9s %6s %6s %7s  %s" % (
        "dbg", "target", "runs", "deaths", "stop/trc", "0xCC", "left", "no-ans",
        "kill moments (last stage seen)"))
    for (debugger, name), r in ROWS.items():
        print("  %-5s %-5s %5d %7d %9d %6d %6d %7d  %s" % (
            debugger, name, r["runs"], r["deaths"], r["stopped_or_traced"], r["int3"],
            r["left"], r["not_answering"],
            ", ".join("%s %d" % kv for kv in sorted(r["stages"].items()))))
        if r["cured"]:
            print("  %12s lldb's session finished by attachpy's relay: %d runs (%d with a call's "
                  "registers restored; the call: %s)" % (
                      "", r["cured"], r["regs"],
                      ", ".join("%s %d" % kv for kv in sorted(r["calls"].items()))))


def main():
    global ATTACHPY, RUNS
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("--python", default=None,
                    help="an interpreter's name as the harness lists it (e.g. debian-3.11); "
                         "default: the newest CPython")
    args = ap.parse_args()
    ATTACHPY = os.path.abspath(args.attachpy)
    RUNS = args.runs or int(os.environ.get("ATTACHPY_RANDOM_KILLS", "6" if harness.IN_CI
                                           else "100"))
    interps, missing = harness.discover()
    RandomKills.python = harness.newest_cpython(interps) if not args.python else \
        next((i for i in interps if i.name == args.python), None)
    if not RandomKills.python:
        print("FAILURE: no CPython" if harness.IN_CI else "SKIPPED: no CPython")
        return 1 if harness.IN_CI else 77
    print("random kills: %d runs per debugger and target, against %r" % (RUNS,
                                                                        RandomKills.python))
    suite = unittest.TestLoader().loadTestsFromTestCase(RandomKills)
    if args.pattern:
        suite = unittest.TestSuite(t for t in suite if args.pattern in t.id())
    return harness.run_suite(suite, print_table)


if __name__ == "__main__":
    sys.exit(main())
