#!/usr/bin/env python3
"""attachpy memory (issue 18): tracemalloc in a real target between runs.

    python3 test_memory.py --attachpy build/cli/attachpy [-k PATTERN]

- On the newest pyenv CPython, 3.8, Debian's static /usr/bin/python3.11 and
  the sid root's 3.14 (those found; under CI=true a missing one, or a
  missing debugger, is a failure), with gdb and with lldb, against a target
  that keeps allocating (target.py grow): start -> top names the allocating
  line -> diff shows it grew -> stop -> the target alive and working,
  tracemalloc not tracing, no _attachpy_memory, sys.modules as before start.
- Refusals: top, diff and stop before start, a second start, a program that
  traces itself (start and stop refused, top reads it), PyPy (no
  tracemalloc), an action missing on the command line.

Every process started here is ended by its pid.
"""
import argparse
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ATTACHPY = None
WANTED = ["newest", "3.8", "debian-3.11", "sid-3.14"]
DEBUGGERS = ["gdb", "lldb"]
RAN = {}  # (interpreter, debugger) -> "ok" or "FAIL"


def need(condition, why):
    if condition:
        return
    if harness.IN_CI:
        raise AssertionError("CI=true: " + why)
    raise unittest.SkipTest(why)


def interpreter(name):
    found, _ = harness.discover()
    if name == "newest":
        python = harness.newest_cpython(found)
        need(python is not None, "no pyenv CPython")
        return python
    if name.startswith("sid-"):
        rooted, _ = harness.discover_rooted()
        found = rooted
    python = next((i for i in found if i.name == name), None)
    need(python is not None, "no %s interpreter (tools/sid-root.sh builds the sid root)" % name)
    return python


def grow_line():
    """The line of target.py's grow mode that allocates."""
    with open(harness.TARGET) as f:
        for n, line in enumerate(f, 1):
            if "attachpy-test: memory grows here" in line:
                return n
    raise AssertionError("no grow line in target.py")


# The target's tracemalloc and modules, without leaving a module behind.
PROBE = """import sys
mods = sorted(sys.modules)
new = '_tracemalloc' not in sys.modules
import _tracemalloc
tracing = _tracemalloc.is_tracing()
if new:
    del sys.modules['_tracemalloc']
print(tracing, ' '.join(mods))
"""


class Base(unittest.TestCase):
    maxDiff = None

    def start(self, python, mode):
        t = harness.Target(python, mode)
        self.addCleanup(t.stop)
        return t

    def ap(self, *args):
        return harness.attachpy(ATTACHPY, *args, timeout=60)

    def probe(self, t, debugger="gdb"):
        r = self.ap("--json", "--debugger=" + debugger, t.pid, "-c", PROBE)
        self.assertEqual(r.rc, 0, r)
        tracing, _, mods = r.json["result"]["stdout"].strip().partition(" ")
        return tracing == "True", set(mods.split())

    def memory(self, t, debugger, *words, **kw):
        r = self.ap("--json", "--debugger=" + debugger, "memory", *(list(words) + [t.pid]))
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(r.json["recipe"]["name"], "memory", r)
        want = kw.get("rc", 0)
        self.assertEqual(r.rc, want, r)
        if want == 0:
            self.assertTrue(r.json["ok"], r)
            self.assertEqual(r.json["result"]["stdout"], "", r)
            return r.json["recipe"]["data"]
        self.assertIsNone(r.json["recipe"]["data"], r)
        return r.json["error"]

    def refused(self, t, debugger, words, message, hint, rc=8, code="recipe_refused"):
        err = self.memory(t, debugger, *words, rc=rc)
        self.assertEqual(err["code"], code, err)
        self.assertIn(message, err["message"])
        self.assertIn(hint, err["hint"])

    def assertAlive(self, target, context=""):
        problem = harness.check_alive(target)
        self.assertIsNone(problem, "%s\n%s" % (problem, context))


class Cycle(Base):
    """start -> top -> diff -> stop, with each debugger, per interpreter."""

    def cycle(self, name):
        python = interpreter(name)
        for debugger in DEBUGGERS:
            need(shutil.which(debugger), "no %s on PATH" % debugger)
        line = grow_line()
        t = self.start(python, "grow")
        for debugger in DEBUGGERS:
            RAN[(python.name, debugger)] = "FAIL"
            tracing, before = self.probe(t, debugger)
            self.assertFalse(tracing)
            start = self.memory(t, debugger, "start", "--frames=5")
            self.assertEqual(start["frames"], 5)
            tracing, during = self.probe(t, debugger)
            self.assertTrue(tracing)
            # Nothing of ours in sys.modules but the state.
            self.assertEqual(during - before, {"_attachpy_memory"})
            time.sleep(0.5)
            top = self.memory(t, debugger, "top", "--top=5")
            self.assertEqual(top["tracing_by"], "attachpy")
            sites = [(os.path.basename(s["file"]), s["line"]) for s in top["sites"]]
            self.assertIn(("target.py", line), sites, top)
            site = top["sites"][sites.index(("target.py", line))]
            self.assertGreaterEqual(site["count"], 10, site)
            self.assertEqual(site["traceback"][-1], {"file": site["file"], "line": line}, site)
            self.assertGreater(top["totals"]["traced"], 0)
            self.assertNotIn("<unknown>", [s["file"] for s in top["sites"]], top)
            time.sleep(0.5)
            diff = self.memory(t, debugger, "diff")
            grew = [c for c in diff["changes"]
                    if os.path.basename(c["file"]) == "target.py" and c["line"] == line]
            self.assertTrue(grew, diff)
            self.assertGreater(grew[0]["size_diff"], 10 * 1000, diff)
            self.assertGreater(grew[0]["count_diff"], 10, diff)
            self.assertGreater(diff["size_after"], diff["size_before"], diff)
            self.assertGreater(diff["seconds"], 0.3, diff)
            stop = self.memory(t, debugger, "stop")
            self.assertTrue(stop["was_tracing"], stop)
            self.assertGreater(stop["freed"], 0, stop)
            self.assertAlive(t)
            tracing, after = self.probe(t, debugger)
            self.assertFalse(tracing)
            self.assertNotIn("_attachpy_memory", after)
            self.assertEqual(after, before)
            RAN[(python.name, debugger)] = "ok"
        self.assertAlive(t)

    def test_newest(self):
        self.cycle("newest")

    def test_3_8(self):
        self.cycle("3.8")

    def test_debian_static(self):
        self.cycle("debian-3.11")

    def test_sid_3_14(self):
        self.cycle("sid-3.14")


class Refusals(Base):
    def test_text_output(self):
        python = interpreter("newest")
        t = self.start(python, "grow")
        r = self.ap("memory", "start", t.pid)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("tracemalloc traces the memory of process %d (10 frames" % t.pid, r.stdout)
        time.sleep(0.3)
        r = self.ap("memory", "top", "--top=3", t.pid)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^Process %d: \d+ bytes in \d+ blocks traced" % t.pid)
        self.assertIn("target.py:%d\n" % grow_line(), r.stdout)
        self.assertIn("  from  ", r.stdout)
        r = self.ap("memory", "diff", t.pid)
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.stdout, r"^In [0-9.]+ s: \d+ -> \d+ bytes \(\+\d+\)")
        r = self.ap("memory", "stop", t.pid)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("tracemalloc stopped in process %d" % t.pid, r.stdout)
        r = self.ap("memory", "stop", t.pid)
        self.assertEqual(r.rc, 8, r)
        self.assertIn("attachpy: error: attachpy memory is not started in process %d" % t.pid,
                      r.stderr)
        self.assertIn("attachpy: hint: run 'attachpy memory start %d' first" % t.pid, r.stderr)
        self.assertAlive(t)

    def test_not_started_and_double_start(self):
        python = interpreter("newest")
        t = self.start(python, "grow")
        tracing, before = self.probe(t)
        for action in ("top", "diff", "stop"):
            self.refused(t, "gdb", [action], "attachpy memory is not started in process %d"
                         % t.pid, "run 'attachpy memory start %d' first" % t.pid)
        self.assertEqual(self.probe(t), (False, before))
        self.memory(t, "gdb", "start", "--frames=3")
        self.refused(t, "lldb", ["start"], "already started in process %d (3 frames)" % t.pid,
                     "'attachpy memory stop %d' ends it" % t.pid)
        # the second start changed nothing: still attachpy's, with 3 frames
        top = self.memory(t, "gdb", "top")
        self.assertEqual(top["frames"], 3)
        for site in top["sites"]:
            self.assertLessEqual(len(site["traceback"]), 3, site)
        self.memory(t, "gdb", "stop")
        self.assertEqual(self.probe(t), (False, before))
        # One frame: no traceback.
        self.memory(t, "gdb", "start", "--frames=1")
        time.sleep(0.2)
        top = self.memory(t, "gdb", "top")
        self.assertTrue(top["sites"], top)
        self.assertEqual(set(s["traceback"] is None for s in top["sites"]), {True}, top)
        self.memory(t, "gdb", "stop")
        self.assertEqual(self.probe(t), (False, before))
        self.assertAlive(t)

    def test_program_stops_attachpys_tracing(self):
        python = interpreter("newest")
        t = self.start(python, "grow")
        tracing, before = self.probe(t)
        self.memory(t, "gdb", "start")
        # the program (here: code run by attachpy) stops tracemalloc itself
        r = self.ap("--json", t.pid, "-c", "import sys\nb = set(sys.modules)\n"
                    "import _tracemalloc\n_tracemalloc.stop()\n"
                    "for m in set(sys.modules) - b: del sys.modules[m]\n")
        self.assertEqual(r.rc, 0, r)
        self.refused(t, "gdb", ["top"], "tracemalloc was stopped in process %d" % t.pid,
                     "run 'attachpy memory stop %d' to clean up" % t.pid)
        stop = self.memory(t, "gdb", "stop")
        self.assertEqual((stop["was_tracing"], stop["freed"]), (False, 0), stop)
        self.assertEqual(self.probe(t), (False, before))
        self.assertAlive(t)

    def test_program_traces_itself(self):
        python = interpreter("newest")
        t = self.start(python, "selftrace")
        tracing, before = self.probe(t)
        self.assertTrue(tracing)
        msg = "the program in process %d traces its memory with tracemalloc itself" % t.pid
        self.refused(t, "gdb", ["start"], msg, "'attachpy memory top %d'" % t.pid)
        self.refused(t, "gdb", ["diff"], msg, "'attachpy memory top %d'" % t.pid)
        self.refused(t, "gdb", ["stop"], "started tracemalloc itself: attachpy leaves it running",
                     "attachpy stops only the tracing")
        top = self.memory(t, "lldb", "top")
        self.assertEqual((top["tracing_by"], top["frames"]), ("program", 1), top)
        # still the program's tracing, nothing of ours left
        self.assertEqual(self.probe(t), (True, before))
        self.assertAlive(t)

    def test_pypy_refused(self):
        found, _ = harness.discover()
        pypy = harness.pypy(found)
        need(pypy is not None, "no /usr/bin/pypy3")
        t = self.start(pypy, "sleep")
        r = self.ap("--json", t.pid, "-c", "import sys; print(' '.join(sorted(sys.modules)))")
        self.assertEqual(r.rc, 0, r)
        before = r.json["result"]["stdout"].split()
        for action in ("start", "top"):
            self.refused(t, "gdb", [action], "process %d runs pypy, which has no tracemalloc"
                         % t.pid, "'attachpy objects %d'" % t.pid, rc=5, code="unsupported_python")
        r = self.ap("--json", t.pid, "-c", "import sys; print(' '.join(sorted(sys.modules)))")
        self.assertEqual(r.json["result"]["stdout"].split(), before)
        self.assertAlive(t)

    def test_usage_before_attaching(self):
        python = interpreter("newest")
        t = self.start(python, "sleep")
        for words, message in ((["memory", t.pid], "needs an action first"),
                               (["memory", "grow", t.pid], "unknown memory action 'grow'"),
                               (["memory", "stop", "--top=3", t.pid],
                                "option '--top' does not apply to 'attachpy memory stop'")):
            r = self.ap("--json", *words)
            self.assertEqual((r.rc, r.json["error"]["code"]), (2, "usage"), r)
            self.assertIn(message, r.json["error"]["message"])
            self.assertIsNone(r.json["debugger"], r)
        self.assertAlive(t)


def main():
    global ATTACHPY
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ap.add_argument("-k", dest="pattern", default=None)
    args = ap.parse_args()
    ATTACHPY = os.path.abspath(args.attachpy)
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = ["*%s*" % args.pattern]
    suite = loader.loadTestsFromModule(sys.modules[__name__])

    def after():
        print("\nattachpy memory start/top/diff/stop, interpreter x debugger:")
        names = []
        for (name, _) in sorted(RAN):
            if name not in names:
                names.append(name)
        print("  %-14s %-6s %-6s" % ("", "gdb", "lldb"))
        for name in names:
            print("  %-14s %-6s %-6s" % (name, RAN.get((name, "gdb"), "-"),
                                         RAN.get((name, "lldb"), "-")))
    return harness.run_suite(suite, after)


if __name__ == "__main__":
    sys.exit(main())
