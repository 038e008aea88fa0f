#!/usr/bin/env python3
"""Stress (issue 14, item 2): N injections in a row into busy targets, with
each debugger and interpreter, and 8 attachpy runs started at once against
one target.  Goal: 0 failures.

    python3 tests/stress/stress.py --attachpy build/cli/attachpy \\
        [--runs N] [--debuggers gdb,lldb] [--pythons 3.13,debian-3.11,...] \\
        [--targets alloc8,spin8,http] [--no-concurrent] [--json-out FILE]

N: --runs, else ATTACHPY_STRESS_RUNS, else 200 under CI=true and 1000 by
hand.  Each run is

    attachpy --json --debugger=D PID -c 'import sys; sys.stdout.write(str(len([0]*1000)))'

and must answer ok with stdout "1000".  Targets (tests/targets/target.py):

  alloc8  a process whose 8 threads allocate all the time
  spin8   the same, and its main thread too: no thread waits in a system
          call, so the call is queued (Py_AddPendingCall) and the main thread
          takes it at its next bytecode (a gdb that let every thread run
          during that call had it taken before it was armed: 1 run in 5
          failed)
  http    a thread-per-request HTTP server (ThreadingHTTPServer on
          127.0.0.1) under steady load from a client thread here on loopback
          (about 100 requests/s, each must be answered "ok N")

Prints, per debugger x interpreter x target: runs, failures, retries used
(the JSON status's "retries"), and the end-to-end time (p50, p99, max);
then the 8 concurrent runs.  After each cell the target must be alive, not
traced, not stopped.  Exit status 0 when every run succeeded, 1 otherwise,
77 when nothing could run (1 under CI=true, as is a missing interpreter or
debugger).  Every process started here is ended by its pid.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402

BUSY = harness.TARGET  # the one target program, in its alloc8, spin8 and http modes
CODE = "import sys; sys.stdout.write(str(len([0]*1000)))"
DEFAULT_PYTHONS = ["3.8", "3.11", "3.13", "debian-3.11", "pypy3"]


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Load(object):
    """Steady GETs on loopback from a thread, bounded in time and count."""

    def __init__(self, port, rate=100.0, limit=10 ** 6):
        self.port, self.interval, self.limit = port, 1.0 / rate, limit
        self.sent = self.answered = 0
        self.errors = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set() and self.sent < self.limit:
            t0 = time.monotonic()
            self.sent += 1
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                c.request("GET", "/")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and body.startswith(b"ok "):
                    self.answered += 1
                else:
                    self.errors.append("status %d %r" % (r.status, body[:40]))
            except Exception as e:  # every request must be answered
                self.errors.append(repr(e))
            left = self.interval - (time.monotonic() - t0)
            if left > 0:
                self.stopping.wait(left)

    def stop(self):
        self.stopping.set()
        self.thread.join(60)


def state_ok(pid):
    st = harness.proc_status(pid)
    if not st:
        return "gone"
    if st.get("TracerPid", "0") != "0":
        return "traced by %s" % st["TracerPid"]
    if st.get("State", "").startswith(("T", "t")):
        return "stopped"
    return None


def one_run(attachpy, debugger, pid, timeout):
    r = harness.attachpy(attachpy, "--json", "--debugger=" + debugger, "--timeout",
                         str(timeout), pid, "-c", CODE, timeout=timeout + 60)
    j = r.json if isinstance(r.json, dict) else {}
    ok = r.rc == 0 and j.get("ok") is True and (j.get("result") or {}).get("stdout") == "1000"
    err = None
    if not ok:
        e = j.get("error") or {}
        err = "rc=%s %s: %s" % (r.rc, e.get("code"), e.get("message") or r.stderr[-300:])
    return ok, r.seconds, int(j.get("retries") or 0), err


class Cell(object):
    def __init__(self, debugger, python, target):
        self.debugger, self.python, self.target = debugger, python, target
        self.runs = self.failures = self.retries = self.retried_runs = 0
        self.times = []
        self.errors = []
        self.note = ""

    def add(self, ok, seconds, retries, err):
        self.runs += 1
        self.times.append(seconds)
        self.retries += retries
        self.retried_runs += retries > 0
        if not ok:
            self.failures += 1
            if len(self.errors) < 5:
                self.errors.append(err)

    def line(self):
        t = sorted(self.times)
        return ("%-5s %-12s %-7s runs %5d  failures %3d  retries %3d (in %d runs)  "
                "e2e p50 %6.0f ms  p99 %6.0f ms  max %6.0f ms%s" %
                (self.debugger, self.python.name, self.target, self.runs, self.failures,
                 self.retries, self.retried_runs, pct(t, 50) * 1e3, pct(t, 99) * 1e3,
                 (t[-1] if t else float("nan")) * 1e3, ("  " + self.note) if self.note else ""))

    def as_json(self):
        t = sorted(self.times)
        return {"debugger": self.debugger, "python": self.python.name, "target": self.target,
                "runs": self.runs, "failures": self.failures, "retries": self.retries,
                "retried_runs": self.retried_runs, "e2e_ms_p50": pct(t, 50) * 1e3,
                "e2e_ms_p99": pct(t, 99) * 1e3, "e2e_ms_max": (t[-1] if t else 0) * 1e3,
                "errors": self.errors, "note": self.note}


def run_cell(args, debugger, python, target_mode):
    cell = Cell(debugger, python, target_mode)
    t = harness.Target(python.path, target_mode, target=BUSY)
    load = None
    try:
        if target_mode == "http":
            load = Load(t.port, rate=args.rate)
        time.sleep(0.3)
        for i in range(args.runs):
            ok, sec, retries, err = one_run(args.attachpy, debugger, t.pid, args.timeout)
            cell.add(ok, sec, retries, err)
            if not ok and args.verbose:
                print("  run %d failed: %s" % (i, err), flush=True)
            if args.verbose and (i + 1) % 100 == 0:
                print("  %s %s %s: %d runs, %d failures, %d retries" %
                      (debugger, python.name, target_mode, cell.runs, cell.failures,
                       cell.retries), flush=True)
            bad = state_ok(t.pid)
            if bad:
                cell.failures += 1
                cell.errors.append("after run %d the target is %s" % (i, bad))
                break
        if load:
            load.stop()
            cell.note = "load: %d requests, %d answered" % (load.sent, load.answered)
            if load.errors or load.answered != load.sent:
                cell.failures += 1
                cell.errors.append("requests not answered: %d of %d; %s" %
                                   (load.sent - load.answered, load.sent, load.errors[:3]))
        if harness.check_alive(t) is not None:
            cell.failures += 1
            cell.errors.append("the target stopped answering SIGUSR1")
    finally:
        if load:
            load.stop()
        t.stop()
    return cell


def run_concurrent(args, debugger, python, n=8):
    """n attachpy runs started at once against one alloc8 target: each must
    succeed (they take turns through the per-target lock)."""
    cell = Cell(debugger, python, "%dx-once" % n)
    t = harness.Target(python.path, "alloc8", target=BUSY)
    try:
        time.sleep(0.3)
        timeout = max(args.timeout, 60)
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            futs = [ex.submit(one_run, args.attachpy, debugger, t.pid, timeout)
                    for _ in range(n)]
            for f in futs:
                cell.add(*f.result())
        if state_ok(t.pid) or harness.check_alive(t) is not None:
            cell.failures += 1
            cell.errors.append("target not alive and untraced afterwards")
    finally:
        t.stop()
    return cell


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    default_runs = int(os.environ.get("ATTACHPY_STRESS_RUNS", "200" if harness.IN_CI else "1000"))
    ap.add_argument("--runs", type=int, default=default_runs)
    ap.add_argument("--debuggers", default="gdb,lldb")
    ap.add_argument("--pythons", default=",".join(DEFAULT_PYTHONS),
                    help="interpreter names (harness.discover); 'newest' is the newest CPython")
    ap.add_argument("--targets", default="alloc8,spin8,http")
    ap.add_argument("--no-concurrent", dest="concurrent", action="store_false")
    ap.add_argument("--rate", type=float, default=100.0, help="HTTP requests per second")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="attachpy --timeout (on a loaded machine lldb takes 10 s and more)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.attachpy = os.path.abspath(args.attachpy)

    interps, _ = harness.discover()
    by_name = {i.name: i for i in interps}
    newest = harness.newest_cpython(interps)
    if newest:
        by_name["newest"] = newest
    pythons, missing = [], []
    for name in args.pythons.split(","):
        if name in by_name:
            pythons.append(by_name[name])
        else:
            missing.append(name)
    debuggers = [d for d in args.debuggers.split(",") if shutil.which(d)]
    missing += [d for d in args.debuggers.split(",") if not shutil.which(d)]
    if missing:
        print("missing: %s" % ", ".join(missing))
        if harness.IN_CI:
            print("FAILURE (CI=true)")
            return 1
    if not pythons or not debuggers:
        print("SKIPPED: nothing to run")
        return 77
    print("stress: %d runs a cell; %s x %s x %s" % (args.runs, ",".join(debuggers),
                                                      ",".join(p.name for p in pythons),
                                                      args.targets), flush=True)
    cells = []
    for debugger in debuggers:
        for python in pythons:
            for target in args.targets.split(","):
                c = run_cell(args, debugger, python, target)
                cells.append(c)
                print(c.line(), flush=True)
                for e in c.errors:
                    print("    " + str(e), flush=True)
    if args.concurrent:
        for debugger in debuggers:
            c = run_concurrent(args, debugger, pythons[0])
            cells.append(c)
            print(c.line(), flush=True)
            for e in c.errors:
                print("    " + str(e), flush=True)
    print("\nstress figures (%d runs a cell):" % args.runs)
    for c in cells:
        print("  " + c.line())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump([c.as_json() for c in cells], f, indent=1)
    failures = sum(c.failures for c in cells)
    print("total: %d runs, %d failures, %d retries" % (sum(c.runs for c in cells), failures,
                                                       sum(c.retries for c in cells)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
