#!/usr/bin/env python3
"""attachpy against real Python processes with a real gdb.

    python3 test_integration.py --attachpy build/cli/attachpy [-k PATTERN]

For every interpreter found (pyenv CPython 3.7-3.13, Debian's static
/usr/bin/python3.11) and every target state (tests/targets/target.py), inject
a probe and check what it saw, what came back, and that the target is alive,
running, untraced and still doing its work afterwards.  Error paths run
against one idle target per interpreter.  Under CI=true a missing expected
interpreter or debugger is a failure, not a skip.  The matrix of results is
printed at the end.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ATTACHPY = None
STATES = ["sleep", "accept", "read", "busy", "spin", "threads", "lockwait", "cpulse"]
# The states the lldb backend (cli/backend_lldb.c) is tested in.
LLDB_STATES = STATES
# States in which every thread of the target runs Python: PyPy reaches no
# safe point there (docs/pypy.md).
PYPY_NO_SAFE_POINT = ["busy", "spin", "cpulse"]
MATRIX = {}  # (interpreter, state) -> text


def script(name):
    return os.path.join(harness.SCRIPTS, name)


class AttachpyCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.debuggers_before = harness.debugger_processes()
        self.sessions_before = harness.session_dirs()

    def start(self, python, mode, **kw):
        t = harness.Target(python, mode, **kw)
        self.addCleanup(t.stop)
        return t

    def run_attachpy(self, *args, **kw):
        r = harness.attachpy(ATTACHPY, *args, **kw)
        # Nothing may be left behind: no debugger, no session directory.  (A
        # debugger's helper, lldb-server, may take a moment to exit after it.)
        end = time.monotonic() + 3
        while harness.debugger_processes() - self.debuggers_before and time.monotonic() < end:
            time.sleep(0.05)
        leftover = harness.debugger_processes() - self.debuggers_before
        self.assertEqual(leftover, set(), "debugger processes left behind\n%r" % r)
        left_sessions = harness.session_dirs() - self.sessions_before
        self.assertEqual(left_sessions, set(), "session directories left behind\n%r" % r)
        return r

    def assertAlive(self, target, context=""):
        problem = harness.check_alive(target)
        self.assertIsNone(problem, "%s\n%s" % (problem, context))

    def assertJsonShape(self, r):
        j = r.json
        self.assertIsNotNone(j, "stdout is not one JSON object\n%r" % r)
        self.assertEqual(set(j), {"ok", "pid", "debugger", "target", "result", "error",
                                  "timing_ms"}, r)
        self.assertIsInstance(j["ok"], bool)
        self.assertIsInstance(j["pid"], int)
        self.assertIn("total", j["timing_ms"])
        if j["error"] is not None:
            self.assertEqual(set(j["error"]), {"code", "message", "hint"})
        if j["result"] is not None:
            self.assertEqual(set(j["result"]), {"stdout", "stderr", "exception"})
        if j["target"] is not None:
            self.assertEqual(set(j["target"]), {"implementation", "version", "executable"})
        return j


def make_state_test(interp, state, debugger="gdb"):
    key = (interp.name, state) if debugger == "gdb" else (interp.name, state, debugger)

    def test(self):
        if not shutil.which(debugger):
            if harness.IN_CI:
                self.fail(debugger + " is not installed")
            self.skipTest(debugger + " is not installed")
        t = self.start(interp.path, state)
        if interp.implementation == "pypy" and state in PYPY_NO_SAFE_POINT:
            # Every thread runs Python: PyPy has no safe point then
            # (docs/pypy.md).  A clean timeout, the target unharmed.
            r = self.run_attachpy("--json", "--timeout=3", "--debugger=" + debugger, t.pid,
                                  script("probe.py"))
            MATRIX[key] = "FAIL rc=%s" % r.rc
            j = self.assertJsonShape(r)
            self.assertEqual((r.rc, j["error"]["code"]), (7, "timeout"), r)
            self.assertIn("did not reach a safe point", j["error"]["message"], r)
            self.assertLess(r.seconds, 8, r)
            self.assertAlive(t, r)
            MATRIX[key] = "timeout ok"
            return
        r = self.run_attachpy("--json", "--debugger=" + debugger, t.pid, script("probe.py"), "a",
                              "b", "--json")
        MATRIX[key] = "FAIL rc=%s" % r.rc
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(j["ok"], r)
        self.assertIsNone(j["error"], r)
        self.assertEqual(j["pid"], t.pid)
        self.assertEqual(j["debugger"], debugger)
        self.assertEqual(j["target"]["implementation"], interp.implementation)
        self.assertEqual(j["target"]["version"], t.version)
        self.assertEqual(j["target"]["executable"], os.path.realpath("/proc/%d/exe" % t.pid))
        out = j["result"]["stdout"].splitlines()
        self.assertEqual(out, [
            "probe-name __attachpy__",
            "probe-file " + script("probe.py"),
            "probe-args ['a', 'b', '--json']",
            "probe-mark attachpy-target-" + state,
            "probe-version " + t.version,
        ], r)
        self.assertEqual(j["result"]["stderr"], "probe-stderr\n")
        self.assertIsNone(j["result"]["exception"])
        self.assertAlive(t, r)
        # The code's output was captured, not printed by the target.
        self.assertFalse([l for l in t.all_lines if l.startswith("probe-")], t.all_lines[-20:])
        MATRIX[key] = "ok %.2fs" % r.seconds
    return test


def make_error_paths_test(interp, debugger="gdb"):
    def test(self):
        def run(*args, **kw):
            return self.run_attachpy("--debugger=" + debugger, *args, **kw)

        t = self.start(interp.path, "sleep")
        # An exception: type, message, traceback naming the script; the target lives on.
        r = run("--json", t.pid, script("raises.py"))
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 1, r)
        self.assertFalse(j["ok"])
        self.assertEqual(j["error"]["code"], "script_error")
        exc = j["result"]["exception"]
        self.assertEqual(exc["type"], "ValueError")
        self.assertEqual(exc["message"], "boom from attachpy test")
        self.assertIn(script("raises.py"), exc["traceback"])
        self.assertIn("in inner", exc["traceback"])
        self.assertNotIn("bootstrap", exc["traceback"])
        self.assertAlive(t)

        # sys.exit() is an exception like any other.
        r = run("--json", t.pid, script("exits.py"))
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(j["result"]["exception"]["type"], "SystemExit")
        self.assertEqual(j["result"]["exception"]["message"], "3")
        self.assertEqual(j["result"]["stdout"], "before exit\n")
        self.assertAlive(t)

        # KeyboardInterrupt too.
        r = run("--json", t.pid, script("interrupt.py"))
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(j["result"]["exception"]["type"], "KeyboardInterrupt")
        self.assertAlive(t)

        # Text mode: the code's stdout on stdout, its traceback on stderr.
        r = run(t.pid, "-c", "print('text', 6 * 7)")
        self.assertEqual((r.rc, r.stdout), (0, "text 42\n"), r)
        r = run(t.pid, "-c", "1/0")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.stdout, "", r)
        self.assertIn("ZeroDivisionError", r.stderr)
        self.assertIn('File "<string>"', r.stderr)

        # Code that outlives --timeout: a timeout that says it may still run.
        r = run("--json", "--timeout=2", t.pid, script("slow.py"), "4")
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 7, r)
        self.assertEqual(j["error"]["code"], "timeout")
        self.assertIn("may still be running", j["error"]["message"])
        self.assertLess(r.seconds, 6, r)
        self.assertAlive(t)
        # ...and a later run works while that code is still sleeping.
        r = run("--json", t.pid, "-c", "print('after timeout')")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["result"]["stdout"], "after timeout\n")

        # --no-wait: scheduled, no result; the output goes to the target's stdout.
        r = run("--json", "--no-wait", t.pid, "-c", "print('no-wait-output')")
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(j["ok"])
        self.assertIsNone(j["result"])
        self.assertTrue(t.expect(lambda l: l == "no-wait-output", 10), t.all_lines[-10:])
        self.assertAlive(t)
        MATRIX[(interp.name, "errors") if debugger == "gdb" else (interp.name, "errors", debugger)] = "ok"
    return test


def make_threading_test(interp, debugger="gdb"):
    def test(self):
        def run(*args, **kw):
            return self.run_attachpy("--debugger=" + debugger, *args, **kw)

        # The target never imported threading; the injected code does, in
        # the agent's thread.  Afterwards threading must still know the real
        # main thread, and the target must exit cleanly (CPython <= 3.12
        # otherwise trips over it at shutdown).
        # -S: no site-packages .pth file may import threading first.
        t = self.start(interp.path, "sleep", extra_args=["-S"])
        r = run("--json", t.pid, "-c", "import sys; print('threading' in sys.modules)")
        self.assertEqual(r.json["result"]["stdout"], "False\n", r)
        r = run("--json", t.pid, "-c", "import threading; threading.enumerate()")
        self.assertEqual(r.rc, 0, r)
        r = run("--json", t.pid, "-c",
                              "import threading, os\n"
                              "m = threading.main_thread()\n"
                              "print(m.name, m.ident != threading.get_ident(), m.is_alive())")
        self.assertEqual(r.json["result"]["stdout"], "MainThread True True\n", r)
        self.assertAlive(t)
        os.kill(t.pid, signal.SIGUSR2)
        self.assertEqual(t.proc.wait(timeout=20), 0, t.stderr_lines)
        time.sleep(0.2)
        self.assertEqual([l for l in t.stderr_lines if l.strip()], [],
                         "the target complained at exit")
        MATRIX[(interp.name, "threading") if debugger == "gdb" else (interp.name, "threading", debugger)] = "ok"
    return test


def make_refused_test(interp):
    def test(self):
        t = self.start(interp.path, "sleep")
        r = self.run_attachpy("--json", t.pid, "-c", "pass")
        j = self.assertJsonShape(r)
        self.assertEqual(r.rc, 5, r)
        self.assertEqual(j["error"]["code"], interp.expect)
        # The message names the exact version, read from the process.
        self.assertIn("Python " + t.version, j["error"]["message"])
        self.assertEqual(j["target"]["version"], t.version, r)
        self.assertEqual(j["target"]["implementation"], interp.implementation, r)
        if interp.implementation == "pypy":
            self.assertRegex(j["error"]["message"], r"PyPy \d+\.\d+\.\d+ ", r)
        self.assertAlive(t)
        MATRIX[(interp.name, "refused")] = "refused ok"
    return test


class Generic(AttachpyCase):
    """Error paths that do not depend on the interpreter."""

    def python(self):
        # A python executable: these tests pass it options (-X, -S).
        interps = [i for i in harness.supported(INTERPRETERS)
                   if i.name != "embedded" and i.implementation == "cpython"]
        if not interps:
            self.skipTest("no supported interpreter")
        return interps[-1].path

    def embedded(self):
        interps = [i for i in INTERPRETERS if i.name == "embedded"]
        if not interps:
            if harness.IN_CI:
                self.fail("embedpy was not built")
            self.skipTest("embedpy was not built")
        return interps[0].path

    def test_two_python_runtimes_refused(self):
        # An application that embeds Debian's libpython3.11 and loaded a
        # second libpython with RTLD_LOCAL: attachpy cannot tell which one
        # is live, and refuses before touching the process.
        second = harness.second_libpython()
        if not second:
            if harness.IN_CI:
                self.fail("no pyenv libpython3.12/3.13 for a second runtime")
            self.skipTest("no pyenv libpython3.12/3.13 for a second runtime")
        t = self.start(self.embedded(), "sleep", extra_args=["--second-libpython", second])
        with open("/proc/%d/maps" % t.pid) as f:
            maps = f.read()
        self.assertIn(second, maps)
        self.assertIn("libpython3.11", maps)
        for debugger in ("gdb", "lldb"):
            r = self.run_attachpy("--json", "--debugger=" + debugger, t.pid, "-c", "pass")
            j = self.assertJsonShape(r)
            self.assertEqual(r.rc, 5, r)
            self.assertEqual(j["error"]["code"], "unsupported_python", r)
            self.assertIn("2 Python runtimes", j["error"]["message"], r)
            self.assertAlive(t, r)
        MATRIX[("embedded", "two-runtimes")] = "refused ok"

    def test_nonexistent_pid(self):
        pid = 4194000
        while os.path.exists("/proc/%d" % pid):
            pid -= 1
        r = self.run_attachpy("--json", pid, "-c", "pass")
        j = self.assertJsonShape(r)
        self.assertEqual((r.rc, j["error"]["code"]), (3, "no_such_process"), r)
        self.assertIsNone(j["debugger"])

    def test_not_python(self):
        p = subprocess.Popen(["sleep", "60"])
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        r = self.run_attachpy("--json", p.pid, "-c", "pass")
        j = self.assertJsonShape(r)
        self.assertEqual((r.rc, j["error"]["code"]), (5, "not_python"), r)
        self.assertIsNone(j["target"])
        self.assertIsNone(p.poll())

    def test_usage_errors(self):
        r = self.run_attachpy("--json", "abc", "-c", "pass")
        self.assertEqual((r.rc, r.json["error"]["code"]), (2, "usage"), r)
        self.assertIn("abc", r.json["error"]["message"])
        t = self.start(self.python(), "sleep")
        r = self.run_attachpy("--json", t.pid, "/nonexistent/script.py")
        self.assertEqual((r.rc, r.json["error"]["code"]), (2, "usage"), r)
        self.assertIn("/nonexistent/script.py", r.json["error"]["message"])
        r = self.run_attachpy(t.pid, "/nonexistent/script.py")
        self.assertEqual(r.rc, 2)
        self.assertIn("attachpy: error:", r.stderr)
        self.assertIn("attachpy: hint:", r.stderr)
        # Nothing touched the target: no debugger ever attached.
        self.assertAlive(t)

    def test_remote_debug_disabled(self):
        env = dict(os.environ, PYTHON_DISABLE_REMOTE_DEBUG="1")
        t = self.start(self.python(), "sleep", env=env)
        r = self.run_attachpy("--json", t.pid, "-c", "pass")
        self.assertEqual((r.rc, r.json["error"]["code"]), (4, "remote_debug_disabled"), r)
        t2 = self.start(self.python(), "sleep", extra_args=["-X", "disable_remote_debug"])
        r = self.run_attachpy("--json", t2.pid, "-c", "pass")
        self.assertEqual((r.rc, r.json["error"]["code"]), (4, "remote_debug_disabled"), r)
        env = dict(os.environ, PYTHON_DISABLE_REMOTE_DEBUG="")
        t3 = self.start(self.python(), "sleep", env=env)
        r = self.run_attachpy("--json", t3.pid, "-c", "pass")
        self.assertEqual(r.rc, 0, r)

    def test_timeout_waiting_for_safe_point(self):
        # The main thread sits in one C call holding the GIL: the pending
        # call never runs; attachpy must give up at the deadline, withdraw
        # the call, and leave the target running.
        # The deadline leaves gdb time to queue the call on a loaded
        # machine: a shorter one can pass while gdb runs (another message).
        t = self.start(self.python(), "cbusy")
        time.sleep(0.3)
        r = self.run_attachpy("--json", "--timeout=4", t.pid, "-c", "print('x')")
        j = self.assertJsonShape(r)
        self.assertEqual((r.rc, j["error"]["code"]), (7, "timeout"), r)
        self.assertIn("safe point", j["error"]["message"])
        self.assertIn("withdrawn and will not run", j["error"]["message"])
        self.assertLess(r.seconds, 9, r)
        self.assertAlive(t)
        time.sleep(1.0)
        self.assertIsNone(t.proc.poll(), "target died after the timeout")

    def test_another_users_process(self):
        # root injecting into a process of another user: the session must be
        # handed to that user (it reads the request and connects back).
        if os.geteuid() != 0:
            self.skipTest("needs root")
        python = "/usr/bin/python3.11"
        if not os.path.exists(python):
            self.skipTest("no interpreter outside /root for user nobody")
        # Run as nobody, the target runs a copy of target.py nobody can read
        # when the checkout is private (harness.public_target).
        t = self.start(python, "sleep", user=65534)
        r = self.run_attachpy("--json", t.pid, "-c", "import os; print(os.getuid(), os.geteuid())")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["result"]["stdout"], "65534 65534\n")
        self.assertAlive(t)

    def test_stopped_target_is_refused(self):
        t = self.start(self.python(), "sleep")
        os.kill(t.pid, signal.SIGSTOP)
        for _ in range(100):
            if harness.proc_status(t.pid)["State"].startswith("T"):
                break
            time.sleep(0.01)
        r = self.run_attachpy("--json", t.pid, "-c", "pass")
        self.assertEqual((r.rc, r.json["error"]["code"]), (6, "injection_failed"), r)
        self.assertIn("stopped", r.json["error"]["message"])
        self.assertIn("kill -CONT %d" % t.pid, r.json["error"]["hint"])
        # Left exactly as it was: still stopped, untraced.
        st = harness.proc_status(t.pid)
        self.assertTrue(st["State"].startswith("T"), st["State"])
        self.assertEqual(st["TracerPid"], "0")
        os.kill(t.pid, signal.SIGCONT)
        # A SIGUSR1 sent while the process resumes can go unanswered (seen
        # here in about 1 run of 8 with no attachpy involved: its handler
        # never runs, a second SIGUSR1 is answered): let it resume first.
        for _ in range(100):
            if not harness.proc_status(t.pid)["State"].startswith("T"):
                break
            time.sleep(0.01)
        time.sleep(0.2)
        self.assertAlive(t)

    def test_traced_target_is_refused_naming_the_tracer(self):
        t = self.start(self.python(), "sleep")
        tracer = subprocess.Popen(["gdb", "-nx", "-q", "-batch", "-p", str(t.pid), "-ex",
                                   "shell sleep 3"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(tracer.wait)
        self.addCleanup(lambda: tracer.poll() is None and tracer.kill())
        for _ in range(500):
            if harness.proc_status(t.pid)["TracerPid"] == str(tracer.pid):
                break
            time.sleep(0.01)
        else:
            self.fail("gdb did not attach")
        r = self.run_attachpy("--json", t.pid, "-c", "pass")
        self.assertEqual((r.rc, r.json["error"]["code"]), (4, "permission_denied"), r)
        self.assertIn("traced by process %d (gdb)" % tracer.pid, r.json["error"]["message"])
        tracer.wait(timeout=30)
        self.assertAlive(t)

    def test_config_file(self):
        home = tempfile.mkdtemp(prefix="config-test-")
        self.addCleanup(shutil.rmtree, home)
        os.makedirs(os.path.join(home, "attachpy"))
        path = os.path.join(home, "attachpy", "config.yaml")
        env = dict(os.environ, XDG_CONFIG_HOME=home)

        def write(text):
            with open(path, "w") as f:
                f.write(text)

        # The default file's timeout applies; the command line wins over it.
        write("# defaults\ndebugger: gdb\ntimeout: 1.5\n")
        t = self.start(self.python(), "cbusy")
        r = self.run_attachpy("--json", t.pid, "-c", "pass", env=env)
        self.assertEqual((r.rc, r.json["error"]["code"]), (7, "timeout"), r)
        self.assertIn("1.5 s", r.json["error"]["message"])
        r = self.run_attachpy("--json", "--timeout=1", t.pid, "-c", "pass", env=env)
        self.assertIn("within 1 s", r.json["error"]["message"], r)
        self.assertAlive(t)
        # A broken file is a usage error naming file:line:column, before
        # anything touches the target.
        write("timeout: 1.5\ncolour: red\n")
        r = self.run_attachpy("--json", t.pid, "-c", "pass", env=env)
        self.assertEqual((r.rc, r.json["error"]["code"]), (2, "usage"), r)
        self.assertTrue(r.json["error"]["message"].startswith(path + ":2:1:"), r)
        self.assertIn("colour", r.json["error"]["message"])
        write("timeout: [1\n")
        r = self.run_attachpy("--json", t.pid, "-c", "pass", env=env)
        self.assertEqual(r.rc, 2, r)
        self.assertTrue(r.json["error"]["message"].startswith(path + ":"), r)
        r = self.run_attachpy("--json", "--config=/nonexistent/attachpy.yaml", t.pid, "-c", "pass")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("/nonexistent/attachpy.yaml", r.json["error"]["message"])

    def test_timeout_waiting_for_safe_point_lldb(self):
        # The same with lldb.
        t = self.start(self.python(), "cbusy")
        time.sleep(0.3)
        r = self.run_attachpy("--json", "--debugger=lldb", "--timeout=2", t.pid, "-c", "print('x')")
        j = self.assertJsonShape(r)
        self.assertEqual((r.rc, j["error"]["code"]), (7, "timeout"), r)
        self.assertLess(r.seconds, 8, r)
        self.assertAlive(t)
        time.sleep(1.0)
        self.assertIsNone(t.proc.poll(), "target died after the timeout")

    def test_verbose_lldb(self):
        t = self.start(self.python(), "sleep")
        r = self.run_attachpy("--verbose", "--debugger=lldb", t.pid, "-c", "print('v')")
        self.assertEqual((r.rc, r.stdout), (0, "v\n"), r)
        self.assertIn("attachpy: debugger command:", r.stderr)
        self.assertIn("--batch", r.stderr)
        self.assertIn("@@ATTACHPY:attached", r.stderr)
        self.assertAlive(t)

    def test_verbose(self):
        t = self.start(self.python(), "sleep")
        r = self.run_attachpy("--verbose", "--debugger=gdb", t.pid, "-c", "print('v')")
        self.assertEqual((r.rc, r.stdout), (0, "v\n"), r)
        self.assertIn("attachpy: debugger command:", r.stderr)
        self.assertIn("-batch", r.stderr)
        self.assertIn("attach %d" % t.pid, r.stderr)  # the rendered script
        self.assertIn("@@ATTACHPY:attached", r.stderr)  # the transcript
        self.assertIn("@@ATTACHPY:detached", r.stderr)
        # gdb warms up on an idle child of attachpy's before it attaches to
        # the target (docs/architecture.md), and the child is gone after.
        m = re.search(r" -x \S+ -ex attach (\d+) -ex detach -ex attachpy_inject\n", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        idle = int(m.group(1))
        self.assertNotIn(idle, (t.pid, os.getpid()))
        self.assertFalse(os.path.exists("/proc/%d" % idle), "the idle child %d is left" % idle)
        # attachpy ends gdb once it has detached, rather than wait for it.
        self.assertIn("(gdb detached; ended without waiting for it to quit, ", r.stderr)
        # The rendered script has no comment lines (gdb reads it a byte at
        # a time) and only defines: nothing runs until the command line.
        script_part = r.stderr.split("---- gdb script ----")[1].split("---- gdb transcript")[0]
        self.assertNotRegex(script_part, r"(?m)^\s*#")
        self.assertRegex(script_part, r"(?m)^define attachpy_inject\nattach %d$" % t.pid)
        self.assertRegex(script_part, r"\nquit 0\nend\nattachpy: $")
        self.assertAlive(t)

    def test_user_input_never_reaches_the_debugger(self):
        t = self.start(self.python(), "sleep")
        nasty = "print('\"; shell echo PWNED; \\\\ $(id) `id`\\n\\u00e9')"
        r = self.run_attachpy("--verbose", t.pid, "-c", nasty, "arg;$(id)", "\"quoted\"")
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("PWNED\n", r.stderr.replace("echo PWNED", ""))
        script_part = r.stderr.split("---- gdb script ----")[1].split("---- gdb transcript")[0]
        for needle in ("PWNED", "$(id)", "quoted", "print("):
            self.assertNotIn(needle, script_part)
        self.assertAlive(t)


def build_suite(interpreters, pattern):
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for interp in interpreters:
        attrs = {}
        if interp.expect == "ok":
            for state in STATES:
                attrs["test_" + state] = make_state_test(interp, state)
            for state in LLDB_STATES:
                attrs["test_" + state + "_lldb"] = make_state_test(interp, state, "lldb")
            attrs["test_error_paths"] = make_error_paths_test(interp)
            attrs["test_threading_imported_by_code"] = make_threading_test(interp)
            attrs["test_error_paths_lldb"] = make_error_paths_test(interp, "lldb")
            attrs["test_threading_imported_by_code_lldb"] = make_threading_test(interp, "lldb")
        else:
            attrs["test_refused"] = make_refused_test(interp)
        name = "Python_" + interp.name.replace(".", "_").replace("-", "_")
        cls = type(name, (AttachpyCase,), attrs)
        suite.addTests(loader.loadTestsFromTestCase(cls))
    suite.addTests(loader.loadTestsFromTestCase(Generic))
    if pattern:
        def keep(t):
            return pattern in t.id()
        flat = []

        def walk(s):
            for x in s:
                if isinstance(x, unittest.TestSuite):
                    walk(x)
                elif keep(x):
                    flat.append(x)
        walk(suite)
        suite = unittest.TestSuite(flat)
    return suite


def print_matrix(interpreters):
    cols = STATES + ["errors", "threading"]
    print("\nInterpreter x target state (gdb):")
    print("  %-13s" % "" + "".join("%-11s" % c for c in cols))
    for interp in interpreters:
        row = "  %-13s" % interp.name
        if interp.expect != "ok":
            row += MATRIX.get((interp.name, "refused"), "not run") + " (" + interp.expect + ")"
        else:
            row += "".join("%-11s" % MATRIX.get((interp.name, c), "not run")[:10] for c in cols)
        print(row)
    lcols = LLDB_STATES + ["errors", "threading"]
    if ("embedded", "two-runtimes") in MATRIX:
        print("  embedded with a second libpython loaded: " + MATRIX[("embedded", "two-runtimes")]
              + " (unsupported_python)")
    print("\nInterpreter x target state (lldb):")
    print("  %-13s" % "" + "".join("%-11s" % c for c in lcols))
    for interp in interpreters:
        if interp.expect != "ok":
            continue
        print("  %-13s" % interp.name + "".join(
            "%-11s" % MATRIX.get((interp.name, c, "lldb"), "not run")[:10] for c in lcols))


INTERPRETERS = []


def main():
    global ATTACHPY, INTERPRETERS
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ap.add_argument("--embedpy", default=None)
    ap.add_argument("-k", dest="pattern", default=None)
    args = ap.parse_args()
    ATTACHPY = os.path.abspath(args.attachpy)

    INTERPRETERS, missing = harness.discover(args.embedpy)
    print("interpreters found: " + ", ".join(repr(i) for i in INTERPRETERS))
    problems = []
    if missing:
        problems.append("expected interpreters missing: " + ", ".join(missing))
    if not shutil.which("gdb"):
        problems.append("gdb is not installed")
    for p in problems:
        print(("FAILURE (CI=true): " if harness.IN_CI else "SKIPPED: ") + p)
    if problems and harness.IN_CI:
        return 1
    if not shutil.which("gdb"):
        print("0 passed, 0 failed, 1 skipped")
        return 77

    suite = build_suite(INTERPRETERS, args.pattern)
    return harness.run_suite(suite, lambda: print_matrix(INTERPRETERS))


if __name__ == "__main__":
    sys.exit(main())
