#!/usr/bin/env python3
"""attachpy's benchmark (issue 7): how long an injection takes, and how long
the target is frozen, for attachpy and for the usual ways of doing the same
with a debugger, side by side in one run, on the same targets.

    python3 tests/bench/bench.py --attachpy build/cli/attachpy
    meson test -C build --benchmark            # the same, JSON in build/bench.json

Each method injects `pass` into a heartbeat target (tests/targets/target.py heartbeat):

  attachpy-gdb    attachpy --debugger=gdb PID -c pass
  attachpy-lldb   attachpy --debugger=lldb PID -c pass
  attachpy-auto   attachpy PID -c pass: attachpy chooses (the runtime's own
                  remote execution where it applies, else gdb)
  attachpy-agent  attachpy PID -c pass with an agent serving PID (attachpy
                  attach before the run, attachpy detach after it, neither
                  timed): no debugger, no stop
  gdb-pyrasite    gdb -p PID -batch, three calls (PyGILState_Ensure,
                  PyRun_SimpleString("pass"), PyGILState_Release), default
                  symbol loading: pyrasite's way
  gdb-readnever   the same three calls with gdb --readnever
  lldb-calls      the same three calls with lldb --batch -p PID
  gdb-attach      floor: gdb --readnever, no shared-library symbols, attach
                  and detach, no call (what any gdb-driven injection pays)
  lldb-attach     floor: lldb attach and detach, no call
  none            no injection: the heartbeat's own noise

For every method: the end-to-end wall time of the command (median, p90) and
the target's pause, the longest gap between two 1 ms heartbeat ticks of its
main thread during the run (median, p90).  Scenarios: a target with 1, 100
and 1000 threads (the extra ones idle in time.sleep), and one with 300 extra
shared libraries (generated with gcc into a temporary directory), and one
whose every thread runs bytecode (busy-8: 8 busy threads and a heartbeat that
spins; its gaps include the GIL's switch interval, so read them against
"none").  --root runs the target under chroot (the newer Pythons).  Runs go
round-robin over the methods so that drift on a shared machine hits all of
them alike; attachpy's figures are reported as ratios to the baselines of the
same run, and every method's figures at scale as ratios to its own figures
with one thread.

Every injection runs under the shared lock /tmp/attachpy-itest.lock (flock),
held for one scenario at a time (and given up between rounds after
--max-hold seconds) so that others can run their tests in between.  Every
process started here is ended by its pid.

Exit status: 0 when every run worked, 1 when a run failed (a command failed
or timed out, or the target stopped answering or was left traced or
stopped), 77 when the interpreter is missing (1 under CI=true, as is a
missing debugger).  The issue's speed goals are reported; --require-goals
makes a missed goal fail the run too.
"""
import argparse
import concurrent.futures
import datetime
import fcntl
import glob
import json
import math
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The one target program, in its heartbeat mode.
HEARTBEAT = os.path.join(HERE, "..", "targets", "target.py")
LOCK_PATH = "/tmp/attachpy-itest.lock"
IN_CI = os.environ.get("CI", "").lower() == "true"
SUPPORTED_MINORS = range(13, 6, -1)  # attachpy supports 3.7 to 3.13: newest first

METHODS = ["attachpy-gdb", "attachpy-lldb", "attachpy-auto", "attachpy-agent", "gdb-pyrasite", "gdb-readnever", "lldb-calls",
           "gdb-attach", "lldb-attach", "none"]
NEEDS = {"attachpy-gdb": "gdb", "attachpy-lldb": "lldb", "attachpy-auto": None,
         "attachpy-agent": None,
         "gdb-pyrasite": "gdb",
         "gdb-readnever": "gdb", "lldb-calls": "lldb", "gdb-attach": "gdb",
         "lldb-attach": "lldb", "none": None}
SCENARIOS = {
    "threads-1": {"threads": 1, "libs": 0},
    "threads-100": {"threads": 100, "libs": 0},
    "threads-1000": {"threads": 1000, "libs": 0},
    "libs-300": {"threads": 1, "libs": 300},
    # Every thread runs bytecode: 8 busy threads and a main thread that ticks
    # without sleeping (no thread parked in a system call).
    "busy-8": {"threads": 9, "libs": 0, "busy": 8},
}
BASE_SCENARIO = "threads-1"


def log(*words):
    sys.stderr.write(" ".join(str(w) for w in words) + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- processes

def end_process(proc, grace=2.0):
    """Ends a child we started, by its pid (its process group: it was started
    in its own session), TERM then KILL, and reaps it."""
    if proc is None:
        return
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(proc.pid, sig)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_command(argv, timeout, env=None):
    """Runs argv (no shell) in its own process group; returns (rc, output,
    seconds); rc is None when it timed out (and was ended)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        end_process(proc)
        out, _ = proc.communicate()
        rc = None
    except BaseException:  # SIGTERM or ^C while it runs: end it too
        end_process(proc)
        raise
    seconds = time.perf_counter() - t0
    return rc, out.decode("utf-8", "replace"), seconds


def proc_status(pid):
    fields = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
    except OSError:
        pass
    return fields


class Target(object):
    """A target.py heartbeat process; its stdout lines arrive in a queue."""

    def __init__(self, python, threads, libdir, root=None, busy=0):
        heartbeat = HEARTBEAT
        prefix = []
        if root:
            # A Python in a root of its own (tools/sid-root.sh): the
            # heartbeat is copied in, the target runs under chroot (which
            # execs it: the pid is the target's).
            heartbeat = "/opt/attachpy-bench/target.py"
            os.makedirs(root + os.path.dirname(heartbeat), exist_ok=True)
            shutil.copyfile(HEARTBEAT, root + heartbeat)
            prefix = ["chroot", root]
            if libdir:
                libdir = libdir[len(root):]
        argv = prefix + [python, heartbeat, "heartbeat", "--threads", str(threads - busy)]
        if busy:
            argv += ["--busy", str(busy), "--spin"]
        if libdir:
            argv += ["--libs", libdir]
        self.argv = argv
        self.lines = queue.Queue()
        self.stderr_tail = []
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        ready = self.expect("ready ", 120)
        if ready is None:
            self.stop()
            raise RuntimeError("heartbeat target did not become ready: %r" % self.stderr_tail)
        words = ready.split()
        self.version, self.threads, self.libs = words[2], int(words[3]), int(words[4])

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))

    def _read_err(self):
        for raw in self.proc.stderr:
            self.stderr_tail = (self.stderr_tail + [raw.decode("utf-8", "replace").rstrip()])[-10:]

    def expect(self, prefix, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line.startswith(prefix):
                return line

    def reset(self, timeout=10.0):
        os.kill(self.pid, signal.SIGUSR1)
        return self.expect("reset ", timeout) is not None

    def max_gap_ms(self, timeout=10.0):
        """The longest gap since the reset, or None when the heartbeat does
        not answer (a target left stopped, deadlocked or dead)."""
        try:
            os.kill(self.pid, signal.SIGUSR2)
        except ProcessLookupError:
            return None
        line = self.expect("gap ", timeout)
        return float(line.split()[1]) if line else None

    def health(self):
        """None when the target is alive, untraced and not stopped; else what
        is wrong."""
        if self.proc.poll() is not None:
            return "target exited (%s): %r" % (self.proc.returncode, self.stderr_tail)
        st = {}
        for _ in range(50):  # a dead tracer's tracee is detached asynchronously
            st = proc_status(self.pid)
            if st.get("TracerPid") == "0":
                break
            time.sleep(0.02)
        if st.get("TracerPid") != "0":
            return "target still traced by %s" % st.get("TracerPid")
        if st.get("State", "").startswith(("T", "t")):
            return "target left stopped: %s" % st.get("State")
        return None

    def stop(self):
        end_process(self.proc)
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


# ---------------------------------------------------------------- methods

def method_argv(method, pid, opts):
    """The command for one injection of `pass` (None for 'none')."""
    pid = str(pid)
    if method in ("attachpy-gdb", "attachpy-lldb"):
        return [opts.attachpy, "--debugger=" + method.split("-")[1],
                "--timeout=%d" % opts.timeout, pid, "-c", "pass"]
    if method == "attachpy-agent":
        return [opts.attachpy, "--timeout=%d" % opts.timeout, pid, "-c", "pass"]
    if method == "attachpy-auto":
        # attachpy choosing its way in: the runtime's own remote execution
        # where it applies (CPython 3.14+ whose main thread runs, PyPy 8
        # whose threads all run Python), else gdb
        return [opts.attachpy, "--timeout=%d" % opts.timeout, pid, "-c", "pass"]
    if method == "gdb-pyrasite":
        # pyrasite's command, with -nx so that no gdbinit of this machine counts
        return [opts.gdb, "-nx", "-p", pid, "-batch",
                "-ex", "call (int)PyGILState_Ensure()",
                "-ex", 'call (int)PyRun_SimpleString("pass")',
                "-ex", "call (void)PyGILState_Release($1)"]
    if method == "gdb-readnever":
        # No debug info: the minimal symbols (.dynsym) give the addresses,
        # the casts give the types.
        return [opts.gdb, "-nx", "--readnever", "-p", pid, "-batch",
                "-ex", "call ((int (*)(void)) PyGILState_Ensure)()",
                "-ex", 'call ((int (*)(const char *)) PyRun_SimpleString)("pass")',
                "-ex", "call ((void (*)(int)) PyGILState_Release)($1)"]
    if method == "lldb-calls":
        return [opts.lldb, "--no-lldbinit", "--batch", "-p", pid,
                "-o", "expr ((int (*)(void)) PyGILState_Ensure)()",
                "-o", 'expr ((int (*)(const char *)) PyRun_SimpleString)("pass")',
                "-o", "expr ((void (*)(int)) PyGILState_Release)($0)"]
    if method == "gdb-attach":
        return [opts.gdb, "-nx", "--readnever", "-iex", "set auto-solib-add off",
                "-iex", "set auto-load off", "-p", pid, "-batch"]
    if method == "lldb-attach":
        return [opts.lldb, "--no-lldbinit", "--batch", "-p", pid,
                "-O", "settings set target.preload-symbols false", "-o", "process detach"]
    return None


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def agent_extras(target, opts, trips=50):
    """With an agent serving: what it costs the idle target in memory (VmRSS
    after attach and one run, against before), and the console's round trip
    ("1+1" sent to "2" read back), ms."""
    out = {"rss_kib_added": None, "console_rtt_ms": None, "failures": []}
    before = rss_kib(target.pid)
    problem = serve(opts, target.pid, "attach")
    if problem:
        out["failures"].append("attach: " + problem)
        return out
    try:
        run_command(method_argv("attachpy-agent", target.pid, opts), opts.timeout + 30)
        time.sleep(0.5)
        after = rss_kib(target.pid)
        out["rss_kib_added"] = after - before if before and after else None
        p = subprocess.Popen([opts.attachpy, "console", str(target.pid)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        times = []
        try:
            for _ in range(trips + 1):
                t0 = time.perf_counter()
                p.stdin.write(b"1+1\n")
                p.stdin.flush()
                if p.stdout.readline() != b"2\n":
                    out["failures"].append("console: no answer")
                    break
                times.append((time.perf_counter() - t0) * 1000.0)
        finally:
            p.stdin.close()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        out["console_rtt_ms"] = summary(times[1:])  # the first includes the session's start
    finally:
        problem = serve(opts, target.pid, "detach")
        if problem:
            out["failures"].append("detach: " + problem)
    return out


def serve(opts, pid, verb):
    """attachpy attach|detach PID (untimed, for attachpy-agent): None, or
    what went wrong."""
    rc, out, _ = run_command([opts.attachpy, "--timeout=%d" % opts.timeout, verb, str(pid)],
                             opts.timeout + 30, env=dict(os.environ, LC_ALL="C"))
    return check_output(verb, rc, out)


def check_output(method, rc, out):
    """None when the command did what it should; else why not."""
    if rc is None:
        return "timed out"
    if rc != 0:
        return "exit status %d: %s" % (rc, out.strip()[-400:])
    if method in ("gdb-pyrasite", "gdb-readnever"):
        # $1 = PyGILState_Ensure's state, $2 = PyRun_SimpleString's 0
        if not re.search(r"^\$2 = 0$", out, re.M):
            return "PyRun_SimpleString did not return 0: %s" % out.strip()[-400:]
    if method == "lldb-calls":
        if not re.search(r"^\(int\) \$1 = 0$", out, re.M) or "error:" in out:
            return "the calls did not all work: %s" % out.strip()[-400:]
    if method in ("gdb-attach", "lldb-attach") and "detached" not in out.lower():
        return "did not detach: %s" % out.strip()[-400:]
    return None


# ---------------------------------------------------------------- the lock

class SharedLock(object):
    """flock(2) on /tmp/attachpy-itest.lock, as flock(1) takes it."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.since = None
        self.waited = 0.0

    def acquire(self):
        t0 = time.monotonic()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.since = time.monotonic()
        self.waited += self.since - t0

    def release(self):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def held_for(self):
        return time.monotonic() - self.since if self.fd is not None else 0.0


# ---------------------------------------------------------------- statistics

def percentile(values, q):
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, int(math.ceil(q / 100.0 * len(s))) - 1)
    return s[k]


def summary(values):
    if not values:
        return None
    return {"median": percentile(values, 50) if len(values) % 2 else
            (sorted(values)[len(values) // 2 - 1] + sorted(values)[len(values) // 2]) / 2.0,
            "p90": percentile(values, 90), "min": min(values), "max": max(values),
            "n": len(values), "all": [round(v, 3) for v in values]}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# ---------------------------------------------------------------- libraries

def make_libs(n, cc, root=None):
    """n tiny shared libraries in a fresh temporary directory (not named
    /tmp/attachpy-*: the integration suite looks for leftovers there); in
    root's /tmp for a target under root."""
    d = tempfile.mkdtemp(prefix="apbench-libs-", dir=(root + "/tmp") if root else None)

    def build(i):
        src = os.path.join(d, "apbench_%03d.c" % i)
        with open(src, "w") as f:
            f.write("int apbench_fn_%d(void);\n"
                    "static const char apbench_data_%d[] = \"library %d\";\n"
                    "int apbench_fn_%d(void) { return (int)sizeof apbench_data_%d + %d; }\n"
                    % (i, i, i, i, i, i))
        out = os.path.join(d, "libapbench_%03d.so" % i)
        rc, text, _ = run_command([cc, "-shared", "-fPIC", "-O2", "-o", out, src], 120)
        os.unlink(src)
        if rc != 0:
            raise RuntimeError("%s failed: %s" % (cc, text))

    with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        list(pool.map(build, range(n)))
    return d


# ---------------------------------------------------------------- running

def calibrate(target, result):
    """The heartbeat must see a known pause: the target stopped with SIGSTOP
    for 200 ms.  Else the pauses it reports mean nothing.  Three tries (a
    loaded machine can delay a reply); every try is kept in the JSON."""
    tries = result["calibration_200ms_stop_pause_ms"] = []
    for _ in range(3):
        if not target.reset():
            raise RuntimeError("calibration: the heartbeat did not answer: %s"
                               % target.health())
        os.kill(target.pid, signal.SIGSTOP)
        try:
            time.sleep(0.2)
        finally:
            os.kill(target.pid, signal.SIGCONT)
        gap = target.max_gap_ms()
        tries.append(gap)
        if gap is not None and 195.0 <= gap <= 1000.0:
            return
        log("calibration: a 200 ms SIGSTOP showed as a %s ms pause (target %s)"
            % (gap, proc_status(target.pid)))
        time.sleep(0.5)
    raise RuntimeError("calibration: a 200 ms SIGSTOP showed as %r ms pauses" % tries)


def run_scenario(name, spec, methods, opts, lock, libdir, results):
    target = None
    data = {m: {"e2e": [], "pause": [], "failures": []} for m in methods}
    results[name] = {"threads": spec["threads"], "libs": spec["libs"], "methods": data}
    total = opts.warmup + opts.runs

    def start_target():
        t = Target(opts.python, spec["threads"], libdir if spec["libs"] else None, opts.root,
                   spec.get("busy", 0))
        if t.threads != spec["threads"] or t.libs != spec["libs"]:
            t.stop()
            raise RuntimeError("target has %d threads and %d libraries, wanted %d and %d"
                               % (t.threads, t.libs, spec["threads"], spec["libs"]))
        return t

    try:
        target = start_target()
        results[name]["python_version"] = target.version
        log("[%s] target pid %d: %d threads, %d extra libraries"
            % (name, target.pid, target.threads, target.libs))
        lock.acquire()
        t_scenario = time.monotonic()
        calibrate(target, results[name])
        for r in range(total):
            if r > 0 and lock.held_for() > opts.max_hold:
                lock.release()  # let others run their tests in between
                time.sleep(0.5)
                lock.acquire()
            # rotate the order each round: no method always follows another
            order = methods[r % len(methods):] + methods[:r % len(methods)]
            for m in order:
                argv = method_argv(m, target.pid, opts)
                if m == "attachpy-agent":
                    attached = serve(opts, target.pid, "attach")
                    if attached:
                        data[m]["failures"].append("run %d: attach: %s" % (r, attached))
                        continue
                if not target.reset():
                    problem = target.health() or "heartbeat did not answer the reset"
                    data[m]["failures"].append("before run %d: %s" % (r, problem))
                    target.stop()
                    target = start_target()
                    continue
                if argv is None:
                    time.sleep(0.1)
                    rc, out, seconds = 0, "", 0.1
                else:
                    rc, out, seconds = run_command(argv, opts.timeout + 30,
                                                   env=dict(os.environ, LC_ALL="C"))
                problem = check_output(m, rc, out)
                gap = target.max_gap_ms()
                if m == "attachpy-agent":
                    problem = problem or serve(opts, target.pid, "detach")
                if gap is None:
                    problem = problem or "heartbeat did not answer after the run"
                health = target.health()
                problem = problem or health
                if problem:
                    data[m]["failures"].append("run %d: %s" % (r, problem))
                    log("[%s] %s run %d FAILED: %s" % (name, m, r, problem))
                    if health or gap is None:
                        target.stop()
                        target = start_target()
                    continue
                if r >= opts.warmup:
                    if argv is not None:  # 'none' has no end-to-end time
                        data[m]["e2e"].append(seconds * 1000.0)
                    data[m]["pause"].append(gap)
                time.sleep(opts.settle)
            if opts.verbose:
                log("[%s] round %d/%d done" % (name, r + 1, total))
        results[name]["seconds"] = time.monotonic() - t_scenario
        if "attachpy-agent" in methods:
            results[name]["agent"] = agent_extras(target, opts)
        if opts.profile:
            results[name]["profile"] = {}
            for m in methods:
                if m.startswith("attachpy-") and m != "attachpy-agent":
                    prof = profile_run(m, target, opts)
                    results[name]["profile"][m] = prof
                    if prof["rc"] != 0 or prof["pause_ms"] is None or target.health():
                        data[m]["failures"].append("profile run: %r, %s" % (
                            prof["marks"][-1], target.health()))
    finally:
        lock.release()
        if target is not None:
            target.stop()
    for m in methods:
        d = data[m]
        d["e2e_ms"] = summary(d.pop("e2e"))
        d["pause_ms"] = summary(d.pop("pause"))
    log("[%s] done in %.0f s" % (name, results[name].get("seconds", 0)))


def profile_run(method, target, opts):
    """One `attachpy --verbose` run with the time (ms since its start) at
    which each milestone of its stderr arrived: where the time goes."""
    argv = [opts.attachpy, "--verbose", "--debugger=" + method.split("-")[1],
            "--timeout=%d" % opts.timeout, str(target.pid), "-c", "pass"]
    target.reset()
    marks = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    in_transcript = seen_output = False
    try:
        for raw in proc.stderr:
            ms = (time.perf_counter() - t0) * 1000.0
            line = raw.decode("utf-8", "replace").rstrip()
            label = None
            if line.startswith("attachpy: process "):
                label = "preflight done"
            elif line.startswith("attachpy: debugger command:"):
                label = "debugger started"
            elif "transcript ----" in line and "end of" not in line:
                in_transcript = True
            elif line.startswith("attachpy: ---- end of transcript"):
                label = "debugger exited"
                in_transcript = False
            elif in_transcript and line.startswith("@@ATTACHPY:"):
                label = line[len("@@ATTACHPY:"):].split(" ")[0]
            elif in_transcript and not seen_output:
                label = "first output"
                seen_output = True
            if label:
                marks.append([round(ms, 1), label])
        proc.wait(timeout=opts.timeout + 30)
    finally:
        end_process(proc)
        proc.stderr.close()
    marks.append([round((time.perf_counter() - t0) * 1000.0, 1), "exit %s" % proc.returncode])
    return {"marks": marks, "rc": proc.returncode, "pause_ms": target.max_gap_ms()}


# ---------------------------------------------------------------- reporting

def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "x":
        return "%.2fx" % v
    return "%.0f" % v if v >= 100 else "%.1f" % v


def med(results, scen, method, what):
    try:
        return results[scen]["methods"][method][what + "_ms"]["median"]
    except (KeyError, TypeError):
        return None


def ratios(results, methods):
    """attachpy against the baselines of the same scenario, and every method
    at scale against its own one-thread figures."""
    out = {"vs_baselines": {}, "vs_single_thread": {}}
    pairs = [("attachpy-gdb", "gdb-readnever"), ("attachpy-gdb", "gdb-pyrasite"),
             ("attachpy-lldb", "lldb-calls"), ("attachpy-lldb", "gdb-readnever"),
             ("attachpy-gdb", "gdb-attach"), ("attachpy-lldb", "lldb-attach")]
    for scen in results:
        rows = {}
        for a, b in pairs:
            if a in methods and b in methods:
                rows["%s/%s" % (a, b)] = {
                    w: ratio(med(results, scen, a, w), med(results, scen, b, w))
                    for w in ("e2e", "pause")}
        out["vs_baselines"][scen] = rows
    if BASE_SCENARIO in results:
        for scen in results:
            if scen == BASE_SCENARIO:
                continue
            out["vs_single_thread"][scen] = {
                m: {w: ratio(med(results, scen, m, w), med(results, BASE_SCENARIO, m, w))
                    for w in ("e2e", "pause")} for m in methods if m != "none"}
    return out


def goals(results, rat):
    """The issue's speed goals, as (text, value, limit, met)."""
    out = []

    def add(text, value, limit):
        out.append({"goal": text, "value": value, "limit": limit,
                    "met": None if value is None or limit is None else value <= limit})

    b = BASE_SCENARIO
    vs = rat["vs_baselines"].get(b, {})
    add("gdb e2e <= 0.7x gdb-readnever (1 thread)",
        vs.get("attachpy-gdb/gdb-readnever", {}).get("e2e"), 0.7)
    add("gdb pause median <= 15 ms (1 thread)", med(results, b, "attachpy-gdb", "pause"), 15.0)
    add("lldb e2e <= 1.0x lldb-calls (1 thread)",
        vs.get("attachpy-lldb/lldb-calls", {}).get("e2e"), 1.0)
    add("lldb pause median <= 150 ms (1 thread)", med(results, b, "attachpy-lldb", "pause"),
        150.0)
    # Issue 17: a run through a serving agent, in every scenario measured.
    for scen in results:
        rtt = (results[scen].get("agent") or {}).get("console_rtt_ms") or {}
        if "agent" in results[scen]:
            add("console round trip median <= 2 ms (%s)" % scen, rtt.get("median"), 2.0)
        add("agent e2e median <= 5 ms (%s)" % scen, med(results, scen, "attachpy-agent", "e2e"),
            5.0)
        agent, none = (med(results, scen, "attachpy-agent", "pause"),
                       med(results, scen, "none", "pause"))
        add("agent pause median <= 1.2x none's, ms (%s)" % scen, agent,
            None if none is None else 1.2 * none)
    for scen in ("threads-1000", "libs-300"):
        for m in ("attachpy-gdb", "attachpy-lldb"):
            for w in ("e2e", "pause"):
                v = rat["vs_single_thread"].get(scen, {}).get(m, {}).get(w)
                add("%s %s at %s <= 2x 1 thread" % (m, w, scen), v, 2.0)
    return out


def print_report(results, methods, rat, gl, meta):
    p = print
    p("")
    p("attachpy benchmark: %s, %s; %d runs per method and scenario (after %d warm-up), "
      "times in ms" % (meta["python"], meta["python_version"], meta["runs"], meta["warmup"]))
    p("")
    p("| scenario | method | e2e median | e2e p90 | pause median | pause p90 | failed |")
    p("|---|---|---:|---:|---:|---:|---:|")
    for scen, r in results.items():
        for m in methods:
            d = r["methods"][m]
            e, pz = d["e2e_ms"] or {}, d["pause_ms"] or {}
            p("| %s | %s | %s | %s | %s | %s | %d |" % (
                scen, m, fmt(e.get("median")), fmt(e.get("p90")), fmt(pz.get("median")),
                fmt(pz.get("p90")), len(d["failures"])))
    p("")
    p("medians, end-to-end / pause, ms:")
    p("")
    p("| method | " + " | ".join(results) + " |")
    p("|---|" + "---:|" * len(results))
    for m in methods:
        cells = []
        for scen in results:
            e, pz = med(results, scen, m, "e2e"), med(results, scen, m, "pause")
            cells.append("%s / %s" % (fmt(e), fmt(pz)))
        p("| %s | %s |" % (m, " | ".join(cells)))
    p("")
    p("attachpy / baseline, same scenario (medians):")
    p("")
    p("| scenario | ratio | e2e | pause |")
    p("|---|---|---:|---:|")
    for scen, rows in rat["vs_baselines"].items():
        for k, v in rows.items():
            p("| %s | %s | %s | %s |" % (scen, k, fmt(v["e2e"], "x"), fmt(v["pause"], "x")))
    if rat["vs_single_thread"]:
        p("")
        p("scale: each method's median / its own median with 1 thread:")
        p("")
        scens = list(rat["vs_single_thread"])
        p("| method | " + " | ".join("%s e2e | %s pause" % (s, s) for s in scens) + " |")
        p("|---|" + "---:|---:|" * len(scens))
        for m in methods:
            if m == "none":
                continue
            cells = []
            for s in scens:
                v = rat["vs_single_thread"][s].get(m, {})
                cells += [fmt(v.get("e2e"), "x"), fmt(v.get("pause"), "x")]
            p("| %s | %s |" % (m, " | ".join(cells)))
    extras = [(scen, r["agent"]) for scen, r in results.items() if r.get("agent")]
    if extras:
        p("")
        p("the serving agent (attachpy attach): memory added to the idle target, and the "
          "console's round trip (1+1 to its answer, %s):" % "median / p90 ms")
        for scen, a in extras:
            rtt = a.get("console_rtt_ms") or {}
            p("  %s: %s KiB RSS; console %s / %s ms%s" % (
                scen, a.get("rss_kib_added"), fmt(rtt.get("median")), fmt(rtt.get("p90")),
                ("; FAILED: " + "; ".join(a["failures"])) if a.get("failures") else ""))
    prof = [(scen, m, v) for scen, r in results.items() for m, v in r.get("profile", {}).items()]
    if prof:
        p("")
        p("where the time goes: one attachpy --verbose run each, ms since it started, "
          "when each line arrived:")
        for scen, m, v in prof:
            p("  %s %s (pause %s ms): %s" % (scen, m, fmt(v["pause_ms"]), ", ".join(
                "%s %s" % (label, fmt(ms)) for ms, label in v["marks"])))
    p("")
    p("goals (issues 7, 14, 17):")
    for g in gl:
        state = {True: "met", False: "MISSED", None: "not measured"}[g["met"]]
        shown = "-" if g["value"] is None else (
            "%.1f ms" % g["value"] if "ms" in g["goal"] else "%.2fx" % g["value"])
        p("  %-46s %-10s %s" % (g["goal"], shown, state))
    p("")


# ---------------------------------------------------------------- main

def find_python():
    root = os.environ.get("PYENV_ROOT")
    try:
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=10).stdout.decode().strip() or root
    except (OSError, subprocess.SubprocessError):
        pass
    root = root or os.path.expanduser("~/.pyenv")
    for minor in SUPPORTED_MINORS:
        found = glob.glob(os.path.join(root, "versions", "3.%d.*" % minor, "bin",
                                       "python3.%d" % minor))
        found = [f for f in found if re.search(r"/3\.%d\.\d+/bin/" % minor, f)]
        if found:
            return sorted(found, key=lambda f: [int(x) for x in
                                                re.search(r"/(3\.\d+\.\d+)/", f).group(1)
                                                .split(".")])[-1]
    # no pyenv (a clean Debian): the system's python3, e.g. /usr/bin/python3.11
    for minor in SUPPORTED_MINORS:
        path = shutil.which("python3.%d" % minor)
        if path:
            return path
    return None


def tool_version(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, timeout=30).stdout.decode()
        for line in out.splitlines():
            if "version" in line.lower() or line.startswith("GNU gdb"):
                return line.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def file_sha256(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attachpy", default=os.path.join(ROOT, "build", "cli", "attachpy"))
    ap.add_argument("--python", default=None, help="target interpreter (default: the newest "
                    "pyenv CPython attachpy supports, else python3.X on PATH)")
    ap.add_argument("--root", default=None, help="run the target under chroot ROOT (--python "
                    "is then its path inside ROOT), e.g. the newer Pythons of tools/sid-root.sh")
    ap.add_argument("--runs", type=int, default=20, help="measured runs per method and "
                    "scenario (default 20)")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated, from: " + ", ".join(SCENARIOS))
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated, from: " + ", ".join(METHODS))
    ap.add_argument("--json-out", default=None, help="default: build/bench.json next to "
                    "the attachpy binary's build directory, else a temporary file")
    ap.add_argument("--timeout", type=int, default=30, help="attachpy --timeout, and the "
                    "limit (plus 30 s) on any one command")
    ap.add_argument("--max-hold", type=float, default=240.0, help="give the shared lock up "
                    "between rounds after this many seconds (default 240)")
    ap.add_argument("--settle", type=float, default=0.02, help="pause between runs, s")
    ap.add_argument("--gdb", default=shutil.which("gdb"))
    ap.add_argument("--lldb", default=shutil.which("lldb"))
    ap.add_argument("--cc", default=shutil.which("gcc") or shutil.which("cc"))
    ap.add_argument("--no-profile", dest="profile", action="store_false",
                    help="leave out the timed attachpy --verbose run per scenario")
    ap.add_argument("--report", metavar="JSON", help="print the tables of an earlier run's "
                    "JSON and exit")
    ap.add_argument("--require-goals", action="store_true", help="exit 1 if a goal is missed")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()

    if opts.report:
        with open(opts.report) as f:
            doc = json.load(f)
        results = doc["scenarios"]
        methods = doc["meta"].get("methods") or list(next(iter(results.values()))["methods"])
        print_report(results, methods, doc["ratios"], doc["goals"], doc["meta"])
        return 0
    if opts.runs < 1:
        ap.error("--runs must be at least 1")
    scenarios = [s for s in opts.scenarios.split(",") if s]
    methods = [m for m in opts.methods.split(",") if m]
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r" % s)
    for m in methods:
        if m not in METHODS:
            ap.error("unknown method %r" % m)
    opts.attachpy = os.path.abspath(opts.attachpy)
    if any(m.startswith("attachpy") for m in methods) and not os.access(opts.attachpy, os.X_OK):
        log("bench: no attachpy at %s (build it, or pass --attachpy)" % opts.attachpy)
        return 1
    opts.python = opts.python or find_python()
    if opts.root and not opts.python.startswith("/"):
        ap.error("--python must be an absolute path inside --root")
    if not opts.python or not os.access((opts.root or "") + opts.python, os.X_OK):
        log("bench: no target interpreter (pyenv CPython 3.7-3.13, or --python)")
        return 1 if IN_CI else 77
    missing = []
    for m in list(methods):
        tool = NEEDS[m]
        if tool and not getattr(opts, tool):
            missing.append(m)
            methods.remove(m)
    if missing:
        log("bench: no %s: left out %s" % ("/".join(sorted({NEEDS[m] for m in missing})),
                                          ", ".join(missing)))
        if IN_CI:
            return 1
    if any(SCENARIOS[s]["libs"] for s in scenarios) and not opts.cc:
        log("bench: no C compiler for the libraries scenario")
        return 1
    if opts.json_out is None:
        build = os.path.dirname(os.path.dirname(opts.attachpy))
        if os.path.exists(os.path.join(build, "build.ninja")):
            opts.json_out = os.path.join(build, "bench.json")
        else:
            opts.json_out = os.path.join(tempfile.gettempdir(), "apbench-%d.json" % os.getpid())

    # SIGTERM (meson's timeout) ends us through the finally blocks below.
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    signal.signal(signal.SIGINT, lambda s, f: sys.exit(130))

    meta = {"methods": methods, "scenarios": scenarios,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": opts.python, "root": opts.root, "attachpy": opts.attachpy, "runs": opts.runs,
            "warmup": opts.warmup, "gdb": tool_version([opts.gdb, "--version"]) if opts.gdb
            else None, "lldb": tool_version([opts.lldb, "--version"]) if opts.lldb else None,
            "attachpy_sha256": file_sha256(opts.attachpy) if os.path.exists(opts.attachpy)
            else None, "host": platform.platform(), "cpus": os.cpu_count(),
            "loadavg_before": os.getloadavg()}
    log("bench: python %s, methods %s, scenarios %s, %d runs each; JSON to %s"
        % (opts.python, ",".join(methods), ",".join(scenarios), opts.runs, opts.json_out))

    lock = SharedLock(LOCK_PATH)
    libdir = None
    results = {}
    try:
        if any(SCENARIOS[s]["libs"] for s in scenarios):
            n = max(SCENARIOS[s]["libs"] for s in scenarios)
            t0 = time.monotonic()
            libdir = make_libs(n, opts.cc, opts.root)
            log("bench: %d libraries built in %.1f s" % (n, time.monotonic() - t0))
        for s in scenarios:
            run_scenario(s, SCENARIOS[s], methods, opts, lock, libdir, results)
    finally:
        lock.release()
        if libdir:
            shutil.rmtree(libdir, ignore_errors=True)

    meta["python_version"] = next((r.get("python_version") for r in results.values()), None)
    meta["loadavg_after"] = os.getloadavg()
    if meta["attachpy_sha256"] and os.path.exists(opts.attachpy) and \
            file_sha256(opts.attachpy) != meta["attachpy_sha256"]:
        meta["attachpy_changed_during_run"] = True
        log("bench: WARNING: %s changed during the run (rebuilt?): the figures mix two "
            "builds" % opts.attachpy)
    meta["lock_wait_seconds"] = round(lock.waited, 1)
    rat = ratios(results, methods)
    gl = goals(results, rat)
    failures = sum(len(r["methods"][m]["failures"]) for r in results.values() for m in methods)
    failures += sum(len((r.get("agent") or {}).get("failures", [])) for r in results.values())
    doc = {"meta": meta, "scenarios": results, "ratios": rat, "goals": gl,
           "failures": failures}
    os.makedirs(os.path.dirname(os.path.abspath(opts.json_out)), exist_ok=True)
    with open(opts.json_out, "w") as f:
        json.dump(doc, f, indent=1)
    print_report(results, methods, rat, gl, meta)
    print("JSON: %s" % opts.json_out)
    if failures:
        print("FAILED: %d runs failed:" % failures)
        for s, r in results.items():
            for m in methods:
                for why in r["methods"][m]["failures"][:5]:
                    print("  %s %s: %s" % (s, m, why))
        return 1
    if opts.require_goals and any(g["met"] is False for g in gl):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
