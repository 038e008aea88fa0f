#!/usr/bin/env python3
"""The agent that stays (issue 17): attach, runs through the serving agent,
--keep, detach, and what it leaves behind, against real targets.

    python3 test_agent_stays.py --attachpy build/cli/attachpy [-k PATTERN]

- For CPython 3.8, 3.11, 3.13, Debian's static 3.11 and PyPy (those found;
  under CI=true a missing one is a failure), loaded once with gdb and once
  with lldb: attach, then runs through the agent with no debugger (the
  target never traced, its heartbeat unchanged), output, exceptions,
  SystemExit and --no-wait as with a debugger run; detach, after which a
  run uses the debugger again and nothing serves.
- The channel: a private directory of the target's user, found again by
  the next run and by 'attachpy ps'; a peer that sends garbage or nothing
  is dropped and others are served meanwhile; a client killed mid-run
  leaves the agent serving; 100 runs in a row and 10 at once, RSS bounded.
- Endings: fork() leaves the child without the socket, a clean exit removes
  the directory, a SIGKILLed target's directory is removed by the next run.

Every process started here is ended by its pid.
"""
import argparse
import concurrent.futures
import glob
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ATTACHPY = None
WANTED = ["3.8", "3.11", "3.13", "debian-3.11", "pypy3"]
RAN = []  # (interpreter, debugger) pairs the matrix ran


def interpreters():
    found, _ = harness.discover()
    by_name = dict((i.name, i) for i in found)
    return [(name, by_name.get(name)) for name in WANTED]


def need(condition, why):
    if condition:
        return
    if harness.IN_CI:
        raise AssertionError("CI=true: " + why)
    raise unittest.SkipTest(why)


def a_cpython():
    """The newest pyenv CPython, else Debian's (the tests that need one)."""
    found, _ = harness.discover()
    python = harness.newest_cpython(found) or next(
        (i for i in found if i.name == "debian-3.11"), None)
    need(python is not None, "no CPython to test with")
    return python


def agent_dirs(pid=None):
    pattern = "/tmp/attachpy-agent-%s-*" % (pid if pid is not None else "*")
    return sorted(glob.glob(pattern))


def listening_inodes(path_suffix="/agent.sock"):
    """The inodes of listening unix sockets whose path ends so (/proc/net/unix)."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]; Flags 00010000 = listening
            if len(parts) >= 8 and parts[7].endswith(path_suffix) and parts[3] == "00010000":
                inodes.add(int(parts[6]))
    return inodes


def socket_inodes_of(pid):
    inodes = set()
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


def rss_kib(pid):
    return int(harness.proc_status(pid)["VmRSS"].split()[0])


class Base(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.debuggers_before = harness.debugger_processes()

    def start(self, python, mode="sleep", **kw):
        t = harness.Target(python, mode, **kw)
        self.addCleanup(t.stop)
        self.addCleanup(self.detach_quietly, t.pid)
        return t

    def detach_quietly(self, pid):
        if os.path.exists("/proc/%d" % pid):
            harness.attachpy(ATTACHPY, "--json", "detach", pid, timeout=30)

    def ap(self, *args, **kw):
        r = harness.attachpy(ATTACHPY, *args, **kw)
        end = time.monotonic() + 3
        while harness.debugger_processes() - self.debuggers_before and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(harness.debugger_processes() - self.debuggers_before, set(),
                         "debugger processes left behind\n%r" % r)
        return r

    def assertAlive(self, target, context=""):
        problem = harness.check_alive(target)
        self.assertIsNone(problem, "%s\n%s" % (problem, context))

    def assertOk(self, r, mechanism=None):
        self.assertIsNotNone(r.json, r)
        self.assertEqual((r.rc, r.json["ok"], r.json["error"]), (0, True, None), r)
        if mechanism:
            self.assertEqual(r.json["mechanism"], mechanism, r)
            if mechanism == "agent":
                self.assertIsNone(r.json["debugger"], r)

    def attach(self, t, debugger="gdb"):
        r = self.ap("--json", "--debugger=" + debugger, "attach", t.pid)
        self.assertOk(r, "debugger")
        self.assertEqual(r.json["debugger"], debugger, r)
        self.assertIs(r.json["serving"], True, r)
        self.assertIsNone(r.json["result"], r)
        dirs = agent_dirs(t.pid)
        self.assertEqual(len(dirs), 1, dirs)
        st = os.lstat(dirs[0])
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, oct(st.st_mode))
        self.assertEqual(st.st_uid, int(harness.proc_status(t.pid)["Uid"].split()[1]))
        return dirs[0]


class Matrix(Base):
    """Each interpreter, loaded once with each debugger."""

    def check_one(self, name, python, debugger):
        need(python is not None, "interpreter %s is not installed" % name)
        need(shutil.which(debugger) is not None, debugger + " is not installed")
        t = self.start(python)
        self.attach(t, debugger)
        tracers = []
        stop = threading.Event()

        def watch():  # the target is never traced while runs go through the agent
            while not stop.is_set():
                tracers.append(harness.proc_status(t.pid).get("TracerPid"))
                time.sleep(0.002)
        w = threading.Thread(target=watch)
        w.start()
        try:
            r = self.ap("--json", t.pid, "-c", "import sys; print(6 * 7); "
                         "sys.stderr.write('e\\n')")
            self.assertOk(r, "agent")
            self.assertEqual((r.json["result"]["stdout"], r.json["result"]["stderr"]),
                             ("42\n", "e\n"), r)
            self.assertEqual(r.json["target"]["implementation"],
                             "pypy" if name.startswith("pypy") else "cpython", r)
            self.assertTrue(r.json["target"]["version"].startswith("3."), r)
            self.assertIs(r.json["serving"], True, r)
            r = self.ap("--json", t.pid, "-c", "def f():\n    raise ValueError('no')\nf()")
            self.assertEqual((r.rc, r.json["error"]["code"]), (1, "script_error"), r)
            exc = r.json["result"]["exception"]
            self.assertEqual((exc["type"], exc["message"]), ("ValueError", "no"), r)
            self.assertIn('File "<string>", line 2, in f', exc["traceback"], r)
            self.assertNotIn("bootstrap", exc["traceback"], r)
            r = self.ap("--json", t.pid, "-c", "import sys; print('x'); sys.exit(3)")
            self.assertEqual(r.json["result"]["exception"]["type"], "SystemExit", r)
            self.assertEqual(r.json["result"]["stdout"], "x\n", r)
            r = self.ap("--json", "--no-wait", t.pid, "-c", "print('scheduled-%d' % 5)")
            self.assertOk(r, "agent")
            self.assertTrue(t.expect(lambda l: l == "scheduled-5", 20),
                            "the --no-wait code's output did not reach the target's stdout")
        finally:
            stop.set()
            w.join()
        self.assertEqual(set(tracers), {"0"}, "the target was traced during agent runs")
        self.assertAlive(t)
        r = self.ap("--json", "detach", t.pid)
        self.assertOk(r)
        self.assertEqual(r.json["detach"], {"was_serving": True, "still_running": 0}, r)
        self.assertIs(r.json["serving"], False, r)
        self.assertEqual(agent_dirs(t.pid), [])
        r = self.ap("--json", "--debugger=" + debugger, t.pid, "-c", "print('back')")
        self.assertOk(r, "debugger")
        self.assertEqual(r.json["result"]["stdout"], "back\n", r)
        self.assertEqual(agent_dirs(t.pid), [], "a plain run left an agent serving")
        self.assertAlive(t)
        RAN.append((name, debugger))


def _add_matrix():
    for name, python in interpreters():
        for debugger in ("gdb", "lldb"):
            def test(self, name=name, python=python, debugger=debugger):
                self.check_one(name, python, debugger)
            setattr(Matrix, "test_%s_%s" % (name.replace(".", "_").replace("-", "_"), debugger),
                    test)


_add_matrix()


class Channel(Base):
    """One CPython (the newest pyenv one, else Debian's)."""

    def setUp(self):
        Base.setUp(self)
        self.python = a_cpython()

    def test_keep_then_runs_need_no_debugger(self):
        t = self.start(self.python)
        r = self.ap("--json", "--keep", t.pid, "-c", "print('first')")
        self.assertOk(r, "debugger")
        self.assertIs(r.json["serving"], True, r)
        self.assertEqual(r.json["result"]["stdout"], "first\n", r)
        r = self.ap("--json", t.pid, "-c", "print('second')")
        self.assertOk(r, "agent")
        r = self.ap("--json", "attach", t.pid)  # already serving: nothing new is loaded
        self.assertOk(r, "agent")
        self.assertEqual(len(agent_dirs(t.pid)), 1)
        self.assertAlive(t)

    def test_plain_run_leaves_nothing_serving(self):
        t = self.start(self.python)
        r = self.ap("--json", t.pid, "-c", "print(1)")
        self.assertOk(r, "debugger")
        self.assertIs(r.json["serving"], False, r)
        self.assertEqual(agent_dirs(t.pid), [])
        self.assertEqual(listening_inodes() & socket_inodes_of(t.pid), set())

    def test_detach_with_nothing_serving(self):
        t = self.start(self.python)
        r = self.ap("--json", "detach", t.pid)
        self.assertOk(r)
        self.assertEqual(r.json["detach"], {"was_serving": False, "still_running": 0}, r)
        r = self.ap("detach", t.pid)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("nothing to do", r.stdout, r)

    def test_usage_errors(self):
        for argv in (["attach"], ["attach", "-c", "1", "1"], ["detach", "1", "2"],
                     ["--keep", "attach", "1"], ["attach", "--no-wait", "1"]):
            r = self.ap("--json", *argv)
            self.assertEqual((r.rc, r.json["error"]["code"]), (2, "usage"), r)
            self.assertTrue(r.json["error"]["hint"], r)

    def test_threads_unchanged_and_idle(self):
        t = self.start(self.python)
        probe = "import threading; print(sorted(x.name for x in threading.enumerate()))"
        before = self.ap("--json", t.pid, "-c", probe)
        self.assertOk(before, "debugger")
        self.attach(t)
        after = self.ap("--json", t.pid, "-c", probe)
        self.assertOk(after, "agent")
        self.assertEqual(after.json["result"]["stdout"], before.json["result"]["stdout"])
        # Idle: the agent's threads are blocked (the target sleeps too).
        def ticks():
            with open("/proc/%d/stat" % t.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        t0 = ticks()
        time.sleep(2)
        self.assertLessEqual(ticks() - t0, 2, "the idle agent used CPU")

    def test_ps_shows_serving(self):
        t = self.start(self.python)
        self.attach(t)
        r = self.ap("ps", "--json")
        self.assertEqual(r.rc, 0, r)
        import json
        rows = dict((row["pid"], row) for row in json.loads(r.stdout))
        self.assertIs(rows[t.pid]["agent_serving"], True, rows.get(t.pid))
        self.ap("detach", t.pid)
        rows = dict((row["pid"], row) for row in json.loads(self.ap("ps", "--json").stdout))
        self.assertIs(rows[t.pid]["agent_serving"], False)

    def test_bad_peers_are_dropped(self):
        t = self.start(self.python)
        d = self.attach(t)
        path = os.path.join(d, "agent.sock")
        silent = socket.socket(socket.AF_UNIX)
        silent.connect(path)
        garbage = socket.socket(socket.AF_UNIX)
        garbage.connect(path)
        garbage.sendall(b"\xff" * 4096)
        huge = socket.socket(socket.AF_UNIX)
        huge.connect(path)
        huge.sendall(b"REQ " + struct.pack("<I", 0xFFFFFFFF))
        try:
            t0 = time.monotonic()
            r = self.ap("--json", t.pid, "-c", "print('served')")
            self.assertOk(r, "agent")
            self.assertLess(time.monotonic() - t0, 4, "a silent peer held the others up")
            for s in (garbage, huge):
                s.settimeout(10)
                try:
                    data = s.recv(16)
                except ConnectionResetError:  # closed with our bytes unread
                    data = b""
                self.assertEqual(data, b"", "a bad peer was not dropped")
        finally:
            for s in (silent, garbage, huge):
                s.close()
        self.assertOk(self.ap("--json", t.pid, "-c", "pass"), "agent")
        self.assertAlive(t)

    def test_client_killed_mid_run(self):
        t = self.start(self.python)
        self.attach(t)
        argv = [ATTACHPY, "--json", str(t.pid), "-c",
                "import time; time.sleep(1); print('finished', flush=True)"]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=harness.tagged_env())
        try:
            time.sleep(0.4)
            os.kill(p.pid, signal.SIGKILL)
        finally:
            p.wait(timeout=30)
        r = self.ap("--json", t.pid, "-c", "print('next')")
        self.assertOk(r, "agent")
        self.assertEqual(r.json["result"]["stdout"], "next\n", r)
        self.assertAlive(t)

    def test_many_runs_in_a_row_and_at_once(self):
        t = self.start(self.python)
        self.attach(t)
        self.assertOk(self.ap("--json", t.pid, "-c", "pass"), "agent")
        rss0 = rss_kib(t.pid)
        for i in range(100):
            r = self.ap("--json", t.pid, "-c", "print(%d)" % i)
            self.assertOk(r, "agent")
            self.assertEqual(r.json["result"]["stdout"], "%d\n" % i, r)
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            runs = list(pool.map(lambda i: harness.attachpy(
                ATTACHPY, "--json", t.pid, "-c", "import time; time.sleep(0.2); print(%d)" % i),
                range(10)))
        for i, r in enumerate(runs):
            self.assertOk(r, "agent")
            self.assertEqual(r.json["result"]["stdout"], "%d\n" % i, r)
        grown = rss_kib(t.pid) - rss0
        self.assertLess(grown, 16 * 1024, "RSS grew by %d KiB over 110 runs" % grown)
        self.assertAlive(t)

    def test_fork_child_has_no_socket(self):
        t = self.start(self.python)
        self.attach(t)
        r = self.ap("--json", t.pid, "-c",
                     "import os, time\npid = os.fork()\nif pid == 0:\n    time.sleep(60)\n"
                     "    os._exit(0)\nprint(pid)")
        self.assertOk(r, "agent")
        child = int(r.json["result"]["stdout"])
        self.addCleanup(lambda: os.path.exists("/proc/%d" % child) and
                        os.kill(child, signal.SIGKILL))
        listening = listening_inodes()
        self.assertTrue(listening & socket_inodes_of(t.pid), "the parent does not listen")
        self.assertEqual(listening & socket_inodes_of(child), set(),
                         "the forked child holds the agent's socket")
        os.kill(child, signal.SIGKILL)
        self.assertOk(self.ap("--json", t.pid, "-c", "pass"), "agent")

    def test_clean_exit_removes_the_directory(self):
        t = self.start(self.python)
        d = self.attach(t)
        os.kill(t.pid, signal.SIGUSR2)  # target.py: exit through the normal shutdown
        t.proc.wait(timeout=20)
        self.assertFalse(os.path.exists(d), "exit left %s behind" % d)

    def test_code_ends_the_process(self):
        t = self.start(self.python)
        d = self.attach(t)
        r = self.ap("--json", t.pid, "-c", "print('bye', flush=True); import os; os._exit(4)")
        self.assertEqual((r.rc, r.json["error"]["code"]), (3, "target_exited"), r)
        self.assertEqual(r.json["result"]["stdout"], "bye\n", r)
        self.assertIs(r.json["serving"], False, r)
        # os._exit() runs no atexit: the directory stays, even while the
        # process is a zombie nobody reaped yet, until attachpy ps removes it.
        self.assertTrue(os.path.exists(d))
        self.assertEqual(self.ap("ps").rc, 0)
        self.assertFalse(os.path.exists(d), "ps did not remove %s" % d)

    def test_killed_target_directory_removed_by_next_run(self):
        t = self.start(self.python)
        d = self.attach(t)
        os.kill(t.pid, signal.SIGKILL)
        t.proc.wait(timeout=20)
        self.assertTrue(os.path.exists(d))
        other = self.start(self.python)
        self.assertOk(self.ap("--json", other.pid, "-c", "pass"), "debugger")
        self.assertFalse(os.path.exists(d), "the next run did not remove %s" % d)


class Roots(Base):
    """Targets in a root of their own: a mount namespace with a private
    /tmp (a container), and Debian sid's newer Pythons under chroot."""

    def check_serving(self, t):
        r = self.ap("--json", "attach", t.pid)
        self.assertOk(r, "debugger")
        self.assertEqual(agent_dirs(t.pid), [], "the agent's directory is in the host's /tmp")
        inside = glob.glob("/proc/%d/root/tmp/attachpy-agent-%d-*" % (t.pid, t.pid))
        self.assertEqual(len(inside), 1, inside)
        r = self.ap("--json", t.pid, "-c", "import os; print(len(os.listdir('/tmp')) >= 1)")
        self.assertOk(r, "agent")
        self.assertEqual(r.json["result"]["stdout"], "True\n", r)
        p = subprocess.run([ATTACHPY, "console", str(t.pid)], input=b"6 * 7\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           env=harness.tagged_env())
        self.assertEqual((p.returncode, p.stdout), (0, b"42\n"), p.stderr)
        self.assertOk(self.ap("--json", "detach", t.pid))
        self.assertEqual(glob.glob("/proc/%d/root/tmp/attachpy-agent-%d-*" % (t.pid, t.pid)), [])
        self.assertAlive(t)

    def test_own_mount_namespace_private_tmp(self):
        found, _ = harness.discover()
        python = next((i for i in found if i.name == "debian-3.11"), None)
        need(python is not None, "Debian's /usr/bin/python3.11 is not installed")
        need(shutil.which("unshare") is not None, "unshare is not installed")
        # The private /tmp hides the checkout when it lives in /tmp (a CI
        # clone): the target program comes from a directory outside it.
        outside = tempfile.mkdtemp(prefix="aptest-mntns-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, outside, True)
        target = os.path.join(outside, "target.py")
        shutil.copy(harness.TARGET, target)
        t = self.start("/bin/sh", own_mount_ns=True, target=target,
                       extra_args=["-c", 'mount -t tmpfs none /tmp && exec "$0" "$@"',
                                   python.path])
        self.check_serving(t)

    def test_sid_root(self):
        found, missing = harness.discover_rooted()
        need(found, "no sid root: %s" % "; ".join(missing))
        for python in [i for i in found if not i.embedded]:
            with self.subTest(python=python.name):
                t = self.start(python)
                self.check_serving(t)
                t.stop()


class Console(Base):
    """attachpy console, through pipes and through a terminal (a pty)."""

    def setUp(self):
        Base.setUp(self)
        self.python = a_cpython()

    def console(self, pid, stdin_text, timeout=60):
        p = subprocess.run([ATTACHPY, "console", str(pid)], input=stdin_text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           env=harness.tagged_env())
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_session_through_pipes(self):
        t = self.start(self.python)
        rc, out, err = self.console(t.pid, "import __main__, os\nos.getpid()\n_ + 1\n"
                                    "def f(n):\n    return n * 3\n\nf(5)\n1/0\n"
                                    "print('hi')\nexit()\nprint('not reached')\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%d\n%d\n15\nhi\n" % (t.pid, t.pid + 1), err)
        self.assertIn('File "<console>", line 1, in <module>\nZeroDivisionError', err)
        self.assertNotIn("bootstrap", err)
        # The console loaded the agent: it is gone again, and so is _.
        self.assertEqual(agent_dirs(t.pid), [])
        r = self.ap("--json", t.pid, "-c", "import builtins; print(hasattr(builtins, '_'))")
        self.assertEqual(r.json["result"]["stdout"], "False\n", r)
        self.assertAlive(t)

    def test_fresh_namespace_and_serving_agent_kept(self):
        t = self.start(self.python)
        self.attach(t)
        rc, out, err = self.console(t.pid, "y = 7\ny\n")
        self.assertEqual((rc, out), (0, "7\n"), err)
        rc, out, err = self.console(t.pid, "'y' in dir()\n")
        self.assertEqual((rc, out), (0, "False\n"), err)
        self.assertEqual(len(agent_dirs(t.pid)), 1, "the console ended a serving agent")

    def test_target_killed_while_open(self):
        t = self.start(self.python)
        p = subprocess.Popen([ATTACHPY, "console", str(t.pid)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=harness.tagged_env())
        try:
            p.stdin.write(b"2 + 2\n")
            p.stdin.flush()
            self.assertEqual(p.stdout.readline(), b"4\n")
            os.kill(t.pid, signal.SIGKILL)
            rc = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = p.stderr.read().decode()
        self.assertEqual(rc, 3, err)
        self.assertIn("process %d ended while the console was open" % t.pid, err)

    def test_detach_while_open(self):
        # Decided: detach stops the agent taking new runs; an open console
        # is a run under way and goes on until it ends.
        t = self.start(self.python)
        self.attach(t)
        p = subprocess.Popen([ATTACHPY, "console", str(t.pid)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=harness.tagged_env())
        try:
            p.stdin.write(b"1 + 1\n")
            p.stdin.flush()
            self.assertEqual(p.stdout.readline(), b"2\n")
            r = self.ap("--json", "detach", t.pid)
            self.assertOk(r)
            self.assertEqual(r.json["detach"], {"was_serving": True, "still_running": 1}, r)
            self.assertEqual(agent_dirs(t.pid), [])
            p.stdin.write(b"3 + 3\n")
            p.stdin.close()
            self.assertEqual(p.stdout.readline(), b"6\n")
            self.assertEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(listening_inodes() & socket_inodes_of(t.pid), set())
        self.assertAlive(t)

    def test_terminal(self):
        import pty
        import select
        t = self.start(self.python)
        home = tempfile.mkdtemp(prefix="aptest-console-")
        self.addCleanup(shutil.rmtree, home, True)
        pid, fd = pty.fork()
        if pid == 0:
            os.environ.update(HOME=home, TERM="xterm", XDG_STATE_HOME=home + "/state")
            os.execv(ATTACHPY, [ATTACHPY, "console", str(t.pid)])
        self.addCleanup(lambda: os.path.exists("/proc/%d" % pid) and os.kill(pid, signal.SIGKILL))
        buf = [b""]

        def until(pattern, seconds=15):
            end = time.monotonic() + seconds
            while pattern not in buf[0] and time.monotonic() < end:
                if select.select([fd], [], [], 0.1)[0]:
                    try:
                        buf[0] += os.read(fd, 4096)
                    except OSError:
                        break
            found = pattern in buf[0]
            seen = buf[0]
            # What came after the pattern is the next wait's (a prompt may
            # arrive in the same read as the line before it).
            buf[0] = seen.split(pattern, 1)[1] if found else b""
            self.assertTrue(found, "no %r in %r" % (pattern, seen))

        until(b">>> ")
        os.write(fd, b"import os\r")
        until(b">>> ")
        # Tab completes from the target's namespace: "os.getpi" + Tab +
        # "()" is os.getpid() only if the completion happened.
        os.write(fd, b"os.getpi\t")
        time.sleep(0.5)
        os.write(fd, b"()\r")
        until(b"\r\n%d\r\n" % t.pid)
        # Ctrl-C interrupts the statement, not the target.
        os.write(fd, b"while True: pass\r")
        time.sleep(0.5)
        os.write(fd, b"\x03")
        until(b"KeyboardInterrupt")
        until(b">>> ")
        self.assertAlive(t)
        # Ctrl-C in a block drops it.
        os.write(fd, b"def g():\r")
        until(b"... ")
        os.write(fd, b"\x03")
        until(b">>> ")
        os.write(fd, b"\x04")  # Ctrl-D
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        with open(os.path.join(home, "state", "attachpy", "history")) as f:
            history = f.read()
        self.assertIn("os.getpid", history)
        self.assertEqual(agent_dirs(t.pid), [])
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
        print("agent-stays matrix ran: %s" % ", ".join("%s/%s" % p for p in RAN))
    return harness.run_suite(suite, after)


if __name__ == "__main__":
    sys.exit(main())
