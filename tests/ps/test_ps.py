"""attachpy ps against real Python processes: every interpreter found (pyenv and
/usr/bin/python3.11) idle, one stopped, one with PYTHON_DISABLE_REMOTE_DEBUG=1,
one with -X disable_remote_debug, one zombie, the refused 2.7/3.6, and, when
run as root, the same list as seen by user nobody (another user's processes).
Each must be listed with the right facts and the right reason; a non-Python
process must not be.  ps injects nothing: no debugger, no lock needed.

    python3 test_ps.py --attachpy build/cli/attachpy

Every process started here is ended by its pid, also on failure.  Under
CI=true a missing expected interpreter is a failure.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))
sys.path.insert(0, TESTS)
import harness  # noqa: E402
import schema  # noqa: E402

ATTACHPY = None
PY311 = "/usr/bin/python3.11"
PYPY = "/usr/bin/pypy3"

# A tracer that does not stop its tracee: PTRACE_SEIZE, say so, wait.
SEIZE = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_SEIZE = 0x4206
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
    sys.exit("ptrace: errno %d" % ctypes.get_errno())
print("seized", flush=True)
time.sleep(300)
"""


def run_ps(*extra, **kw):
    exe = harness.public_attachpy(ATTACHPY) if "user" in kw else ATTACHPY
    argv = [exe, "ps"] + list(extra)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def ps_json(**kw):
    rc, out, err = run_ps("--json", **kw)
    assert rc == 0, "attachpy ps --json: rc=%s stderr=%s" % (rc, err)
    data = json.loads(out)
    schema.validate_ps(data)
    return {e["pid"]: e for e in data}


class PsTest(unittest.TestCase):
    targets = []
    zombie = None
    sleeper = None
    tracer = None

    @classmethod
    def setUpClass(cls):
        cls.interpreters, cls.missing = harness.discover()
        if os.geteuid() == 0:  # the newer Pythons, in a root of their own (chroot)
            rooted, missing = harness.discover_rooted()
            cls.interpreters += rooted
            cls.missing += missing
        try:
            for interp in cls.interpreters:
                t = harness.Target(interp, "sleep")
                t.expect_reason = None if interp.expect == "ok" else "unsupported_python"
                t.interp = interp
                cls.targets.append(t)
            if os.path.exists(PY311):
                base = dict(os.environ)
                base.pop("PYTHON_DISABLE_REMOTE_DEBUG", None)
                stopped = harness.Target(PY311, "sleep", env=base)
                os.kill(stopped.pid, signal.SIGSTOP)
                stopped.expect_reason = "stopped"
                stopped.interp = harness.Interpreter("stopped", PY311)
                cls.targets.append(stopped)
                env = dict(base, PYTHON_DISABLE_REMOTE_DEBUG="1")
                off = harness.Target(PY311, "sleep", env=env)
                off.expect_reason = "remote_debug_disabled"
                off.interp = harness.Interpreter("env-off", PY311)
                cls.targets.append(off)
                xoff = harness.Target(PY311, "sleep", env=base,
                                      extra_args=["-X", "disable_remote_debug"])
                xoff.expect_reason = "remote_debug_disabled"
                xoff.interp = harness.Interpreter("x-off", PY311)
                cls.targets.append(xoff)
                # An empty PYTHON_DISABLE_REMOTE_DEBUG does not disable (as in CPython).
                empty = harness.Target(PY311, "sleep", env=dict(base, PYTHON_DISABLE_REMOTE_DEBUG=""))
                empty.expect_reason = None
                empty.interp = harness.Interpreter("env-empty", PY311)
                cls.targets.append(empty)
                # A zombie: a Python child that exited and that we do not reap yet.
                cls.zombie = subprocess.Popen([PY311, "-c", "pass"])
                for _ in range(500):
                    with open("/proc/%d/stat" % cls.zombie.pid) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                            break
                    time.sleep(0.01)
                # Traced by another "debugger": a helper that PTRACE_SEIZEs it
                # (the target keeps running) and waits.
                traced = harness.Target(PY311, "sleep", env=base)
                traced.expect_reason = "traced"
                traced.interp = harness.Interpreter("traced", PY311)
                cls.targets.append(traced)
                cls.tracer = subprocess.Popen(
                    [sys.executable, "-c", SEIZE, str(traced.pid)], stdout=subprocess.PIPE)
                if cls.tracer.stdout.readline().strip() != b"seized":
                    raise RuntimeError("could not PTRACE_SEIZE the traced target")
            if os.path.exists(PYPY):  # optional: Debian's pypy3, when installed
                pypy = harness.Target(PYPY, "sleep")
                pypy.expect_reason = None  # attachable: in a thread that waits
                pypy.interp = harness.Interpreter("pypy", PYPY)
                cls.targets.append(pypy)
            cls.sleeper = subprocess.Popen(["sleep", "300"])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        # The tracer first: a traced process killed while its tracer lives
        # stays a zombie until the tracer waits for it.
        procs = [cls.tracer, cls.zombie, cls.sleeper]
        for p in procs:
            if p is not None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for t in cls.targets:
            t.stop()
        cls.targets = []
        for p in procs:
            if p is not None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()

    def test_interpreters_present(self):
        if self.missing:
            msg = "expected interpreters missing: " + ", ".join(self.missing)
            if harness.IN_CI:
                self.fail(msg)
            self.skipTest(msg)

    def test_every_target_listed_with_its_facts(self):
        listed = ps_json()
        self.assertTrue(self.targets, "no target was started")
        for t in self.targets:
            with self.subTest(target=t.interp.name, pid=t.pid):
                self.assertIn(t.pid, listed, "pid %d (%s) not listed" % (t.pid, t.interp))
                e = listed[t.pid]
                self.assertEqual(e["user"], "root" if os.geteuid() == 0 else e["user"])
                self.assertEqual(e["uid"], os.geteuid())
                pypy = "pypy" in t.interp.name
                self.assertEqual(e["implementation"], "pypy" if pypy else "cpython")
                if t.interp.root:
                    # attachpy's view of a path under another root: the
                    # kernel's (the root's symbolic links are relative to it).
                    self.assertEqual(e["executable"], os.readlink("/proc/%d/exe" % t.pid))
                    self.assertTrue(e["executable"].startswith(t.interp.root + "/"), e)
                else:
                    self.assertEqual(e["executable"], os.path.realpath(t.interp.path))
                self.assertEqual(e["cmdline"][-2:], [t.script, "sleep"])
                # Exact, read from the process (PyPy: its language version).
                self.assertEqual(e["version"], t.version)
                self.assertEqual(e["reason"], t.expect_reason, e)
                self.assertEqual(e["attachable"], t.expect_reason is None, e)
                if t.expect_reason:
                    self.assertTrue(e["error"]["message"] and e["error"]["hint"], e)
                else:
                    self.assertIsNone(e["error"])

    def test_stopped_says_how_to_resume(self):
        stopped = [t for t in self.targets if t.expect_reason == "stopped"]
        if not stopped:
            self.skipTest(PY311 + " is missing")
        e = ps_json()[stopped[0].pid]
        self.assertEqual(e["error"]["code"], "injection_failed")
        self.assertIn("kill -CONT %d" % stopped[0].pid, e["error"]["hint"])

    def test_traced_names_the_tracer(self):
        traced = [t for t in self.targets if t.expect_reason == "traced"]
        if not traced:
            self.skipTest(PY311 + " is missing")
        e = ps_json()[traced[0].pid]
        self.assertEqual(e["error"]["code"], "permission_denied")
        self.assertIn("already being traced by process %d" % self.tracer.pid,
                      e["error"]["message"])
        rc, out, err = run_ps()
        self.assertIn("no: traced by %d" % self.tracer.pid, out)

    def test_zombie(self):
        if self.zombie is None:
            self.skipTest(PY311 + " is missing")
        e = ps_json().get(self.zombie.pid)
        self.assertIsNotNone(e, "the zombie python was not listed")
        self.assertEqual(e["reason"], "zombie")
        self.assertFalse(e["attachable"])
        self.assertEqual(e["error"]["code"], "target_exited")
        self.assertEqual(e["version"], "3.11")  # from its name: a zombie has no maps

    def test_non_python_not_listed(self):
        listed = ps_json()
        self.assertNotIn(self.sleeper.pid, listed)
        self.assertNotIn(os.getpid(), [p for p, e in listed.items()
                                       if e["implementation"] != "cpython"])

    def test_text_table(self):
        rc, out, err = run_ps()
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["PID", "USER", "PYTHON", "ATTACH", "COMMAND"])
        # Aligned: every column starts where its header does.
        cols = [lines[0].index(h) for h in ("USER", "PYTHON", "ATTACH", "COMMAND")]
        rows = {}
        for line in lines[1:]:
            rows[int(line.split()[0])] = line
            for c in cols:
                self.assertEqual(line[c - 2:c], "  ", "misaligned: %r" % line)
                self.assertNotEqual(line[c], " ", "misaligned: %r" % line)
        for t in self.targets:
            line = rows.get(t.pid)
            self.assertIsNotNone(line, "pid %d missing from the table" % t.pid)
            attach = line[cols[2]:cols[3]].strip()
            want = "yes" if t.expect_reason is None else "no: " + t.expect_reason
            if t.expect_reason == "traced":
                want += " by %d" % self.tracer.pid
            self.assertEqual(attach, want)
            self.assertTrue(line[cols[3]:].endswith(t.script + " sleep"), line)
        self.assertNotIn(self.sleeper.pid, rows)

    def test_another_users_view(self):
        """As nobody, root's Pythons are listed (by name: their maps are
        unreadable) as other_user, and nothing is attachable."""
        if os.geteuid() != 0:
            self.skipTest("needs root to become nobody")
        listed = ps_json(user=65534, group=65534, extra_groups=[])
        for t in self.targets:
            with self.subTest(target=t.interp.name):
                e = listed.get(t.pid)
                if getattr(t.interp, "embedded", False):
                    # An application embedding Python is known by its maps
                    # only, which nobody cannot read: not listed.
                    self.assertIsNone(e, "pid %d listed for nobody" % t.pid)
                    continue
                self.assertIsNotNone(e, "pid %d not listed for nobody" % t.pid)
                self.assertFalse(e["attachable"])
                self.assertEqual(e["user"], "root")
                if t.expect_reason not in ("stopped", "traced"):  # state before owner
                    self.assertEqual(e["reason"], "other_user", e)
                    self.assertEqual(e["error"]["code"], "permission_denied")
                self.assertEqual(e["cmdline"][-2:], [t.script, "sleep"])

    def test_usage_errors(self):
        rc, out, err = run_ps("42")
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("takes no arguments", err)
        rc, out, err = run_ps("--json", "--timeout=3")
        self.assertEqual(rc, 2)
        doc = json.loads(out)
        schema.validate_status(doc)
        self.assertEqual(doc["error"]["code"], "usage")


def main():
    global ATTACHPY
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    args = ap.parse_args()
    ATTACHPY = os.path.abspath(args.attachpy)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(PsTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if harness.IN_CI and result.skipped:
        print("FAILURE (CI=true): tests were skipped")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
