#!/usr/bin/env python3
"""attachpy's permissions, opt-outs, private channels and containers, against
real processes with real debuggers (issue 5).

    python3 test_security.py --attachpy build/cli/attachpy [-k PATTERN]

- Preflight refusals seen from an unprivileged user created for the test:
  its own process works, root's is refused, its own non-dumpable one is
  refused (root may still inject into it).
- When root injects into another user's process, the session is that user's
  to read and nobody else's; an agent the user cannot read is copied in.
- The opt-outs (PYTHON_DISABLE_REMOTE_DEBUG, -X disable_remote_debug in both
  spellings) refuse the run and nothing is loaded.
- An audit hook in the target sees attachpy.remote_exec and may veto it.
- SIGINT and SIGTERM to attachpy end the run cleanly: the debugger is gone,
  the session removed, the target running.
- Hostile code, script paths and arguments through gdb and lldb.
- Targets in their own mount, PID and network namespaces (unshare) with a
  private /tmp, attachpy on the host, gdb and lldb.

Uses the interpreter Debian ships (/usr/bin/python3.11: other users cannot
reach pyenv's under /root).  Needs root; without root, or without the
interpreter, the tests are skipped (a failure under CI=true).  Every process
started here is ended by its pid; the test user is deleted at the end.
"""
import argparse
import glob
import json
import os
import pwd
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
PYTHON = "/usr/bin/python3.11"


def script(name):
    return os.path.join(harness.SCRIPTS, name)


def need(condition, why):
    if condition:
        return
    if harness.IN_CI:
        raise AssertionError("CI=true: " + why)
    raise unittest.SkipTest(why)


def public_dir(prefix, base=None):
    """A directory everyone can read (for the target script and scripts)."""
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    os.chmod(d, 0o755)
    return d


class Case(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        need(os.geteuid() == 0, "needs root")
        need(os.path.exists(PYTHON), PYTHON + " is not installed")
        need(shutil.which("gdb") is not None, "gdb is not installed")
        self.debuggers_before = harness.debugger_processes()
        self.sessions_before = harness.session_dirs()
        self.tmp = public_dir("aptest-sec-", "/var/tmp")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.target_py = os.path.join(self.tmp, "target.py")
        shutil.copy(harness.TARGET, self.target_py)
        os.chmod(self.target_py, 0o644)

    def start(self, mode, **kw):
        t = harness.Target(PYTHON, mode, target=self.target_py, **kw)
        self.addCleanup(t.stop)
        return t

    def check_nothing_left(self, r):
        leftover = harness.debugger_processes() - self.debuggers_before
        self.assertEqual(leftover, set(), "debugger processes left behind\n%r" % r)
        left_sessions = harness.session_dirs() - self.sessions_before
        self.assertEqual(left_sessions, set(), "session directories left behind\n%r" % r)

    def run_attachpy(self, *args, **kw):
        r = harness.attachpy(ATTACHPY, *args, **kw)
        self.check_nothing_left(r)
        return r

    def assertAlive(self, target, context=""):
        problem = harness.check_alive(target)
        self.assertIsNone(problem, "%s\n%s" % (problem, context))

    def assertRefused(self, r, rc, code, fragment):
        self.assertIsNotNone(r.json, r)
        self.assertEqual((r.rc, r.json["error"]["code"]), (rc, code), r)
        self.assertIn(fragment, r.json["error"]["message"], r)
        self.assertTrue(r.json["error"]["hint"], r)
        self.assertIsNone(r.json["result"], r)

    def agent_loaded(self, pid):
        with open("/proc/%d/maps" % pid) as f:
            return "attachpy-agent" in f.read()


class UnprivilegedUser(Case):
    """attachpy run by a user created for the test."""

    def setUp(self):
        Case.setUp(self)
        need(shutil.which("useradd") is not None, "useradd is not installed")
        ident = 59100
        while True:
            try:
                pwd.getpwuid(ident)
            except KeyError:
                try:
                    import grp
                    grp.getgrgid(ident)
                except KeyError:
                    break
            ident += 1
        self.name = "aptest%d" % ident
        self.uid = ident
        subprocess.run(["groupadd", "-g", str(ident), self.name], check=True)
        self.addCleanup(subprocess.run, ["groupdel", self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["useradd", "-u", str(ident), "-g", str(ident), "-M", "-d", self.tmp,
                        "-s", "/usr/sbin/nologin", self.name], check=True)
        self.addCleanup(subprocess.run, ["userdel", self.name], stderr=subprocess.DEVNULL)

    def as_user(self, *args):
        """attachpy as the test user (real and effective ids, no groups, no capabilities)."""
        argv = [harness.public_attachpy(ATTACHPY)] + [str(a) for a in args]
        t0 = time.monotonic()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=120, user=self.uid,
                              group=self.uid, extra_groups=[],
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                   "HOME": self.tmp, "LC_ALL": "C.UTF-8",
                                   harness.OWNER_VAR: str(os.getpid())})
        r = harness.Run(argv, proc, time.monotonic() - t0)
        self.check_nothing_left(r)
        return r

    def test_own_process(self):
        t = self.start("sleep", user=self.uid)
        r = self.as_user("--json", t.pid, "-c", "import os; print(os.getuid(), os.geteuid())")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["result"]["stdout"], "%d %d\n" % (self.uid, self.uid), r)
        self.assertAlive(t)

    def test_own_process_lldb(self):
        need(shutil.which("lldb") is not None, "lldb is not installed")
        t = self.start("sleep", user=self.uid)
        r = self.as_user("--json", "--debugger=lldb", t.pid, "-c", "import os; print(os.getuid())")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["result"]["stdout"], "%d\n" % self.uid, r)
        self.assertAlive(t)

    def test_roots_serving_agent_refused(self):
        # An agent serves root's process: the test user is refused (with
        # root's HOME too, whose config file it cannot reach: no usage
        # error), and the agent goes on serving root.
        t = self.start("sleep")
        self.addCleanup(harness.attachpy, ATTACHPY, "detach", t.pid)
        r = self.run_attachpy("--json", "attach", t.pid)
        self.assertEqual((r.rc, r.json["serving"]), (0, True), r)
        for home in (self.tmp, "/root"):
            argv = [harness.public_attachpy(ATTACHPY), "--json", str(t.pid), "-c", "print('x')"]
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, timeout=120, user=self.uid,
                                  group=self.uid, extra_groups=[],
                                  env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                       "HOME": home, "LC_ALL": "C.UTF-8",
                                       harness.OWNER_VAR: str(os.getpid())})
            u = harness.Run(argv, proc, 0)
            self.assertRefused(u, 4, "permission_denied", "process %d" % t.pid)
        # The socket itself: the user cannot reach it either.
        sock = glob.glob("/tmp/attachpy-agent-%d-*/agent.sock" % t.pid)
        self.assertEqual(len(sock), 1, sock)
        probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
                 "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    print('refused')")
        out = subprocess.run([PYTHON, "-c", probe, sock[0]], stdout=subprocess.PIPE,
                             user=self.uid, group=self.uid, extra_groups=[], timeout=30)
        self.assertEqual(out.stdout, b"refused\n")
        r = self.run_attachpy("--json", t.pid, "-c", "print('still')")
        self.assertEqual((r.rc, r.json["mechanism"], r.json["result"]["stdout"]),
                         (0, "agent", "still\n"), r)
        self.assertAlive(t)

    def test_roots_process_refused(self):
        t = self.start("sleep")
        r = self.as_user("--json", t.pid, "-c", "print('x')")
        self.assertRefused(r, 4, "permission_denied",
                           "process %d belongs to uid 0 and attachpy runs as uid %d"
                           % (t.pid, self.uid))
        self.assertIn("CAP_SYS_PTRACE", r.json["error"]["hint"])
        self.assertIsNone(r.json["debugger"], "no debugger may have run")
        self.assertAlive(t)

    def test_no_such_process(self):
        pid = 4194000
        while os.path.exists("/proc/%d" % pid):
            pid -= 1
        r = self.as_user("--json", pid, "-c", "print('x')")
        self.assertRefused(r, 3, "no_such_process", "no process with PID %d" % pid)

    def test_non_dumpable_process(self):
        t = self.start("nodump", user=self.uid)
        r = self.as_user("--json", t.pid, "-c", "print('x')")
        self.assertRefused(r, 4, "permission_denied", "process %d is not dumpable" % t.pid)
        self.assertIsNone(r.json["debugger"])
        self.assertFalse(self.agent_loaded(t.pid))
        self.assertAlive(t)
        # Root may: the kernel lets CAP_SYS_PTRACE attach to non-dumpable
        # processes, and attachpy follows it (the opt-out is
        # PYTHON_DISABLE_REMOTE_DEBUG; see the README).
        r = self.run_attachpy("--json", t.pid, "-c", "import os; print(os.getuid())")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["result"]["stdout"], "%d\n" % self.uid, r)
        self.assertAlive(t)

    def test_traced_process(self):
        t = self.start("sleep", user=self.uid)
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
        r = self.as_user("--json", t.pid, "-c", "print('x')")
        self.assertRefused(r, 4, "permission_denied",
                           "already being traced by process %d (gdb)" % tracer.pid)
        tracer.wait(timeout=30)
        self.assertAlive(t)


SESSION_PROBE = r"""
import glob, os, stat
def ours(d):
    # Our session: its request is ours to see (others' sessions are not).
    try:
        return not os.path.islink(d) and os.lstat(d + '/request').st_uid == os.getuid()
    except OSError:
        return False
found = [d for d in glob.glob('/tmp/attachpy-*') if ours(d)]
print('sessions', len(found))
d = found[0]
st = os.stat(d)
print('dir', oct(st.st_mode & 0o7777), st.st_uid)
try:
    os.listdir(d)
    print('listable')
except PermissionError:
    print('not listable')
# The debugger script: "N-attach.gdb" for the Nth attempt (the directory is
# not listable, so try the names).
scripts = ['%d-attach.gdb' % n for n in (1, 2, 3)]
script = ([s for s in scripts if os.path.lexists(os.path.join(d, s))] or ['1-attach.gdb'])[0]
for name in ('request', 'result.sock', 'attachpy-agent.so', script):
    label = 'script' if name == script else name
    try:
        st = os.lstat(os.path.join(d, name))
    except FileNotFoundError:
        print(label, 'absent')
        continue
    try:
        open(os.path.join(d, name), 'rb').close()
        readable = 'readable'
    except OSError:
        readable = 'unreadable'
    print(label, oct(st.st_mode & 0o7777), st.st_uid, readable)
agent = [l.split()[-1] for l in open('/proc/self/maps') if 'attachpy-agent' in l]
print('agent', agent[-1].startswith(d + '/'))
"""


class OtherUsersProcess(Case):
    """root injects into a process of user nobody."""

    def probe(self, **kw):
        t = self.start("sleep", user=65534)
        r = self.run_attachpy("--json", t.pid, "-c", SESSION_PROBE, **kw)
        self.assertEqual(r.rc, 0, r)
        self.assertAlive(t)
        return r.json["result"]["stdout"].splitlines()

    def test_session_is_the_users_alone(self):
        lines = self.probe()
        self.assertEqual(lines[:3], ["sessions 1", "dir 0o711 0", "not listable"])
        # What the target reads is nobody's, and only nobody's.
        self.assertEqual(lines[3], "request 0o600 65534 readable")
        self.assertEqual(lines[4], "result.sock 0o600 65534 unreadable")  # a socket: no open()
        # An agent nobody can read where it was built (a private checkout)
        # is copied in; else it is not.
        agent = os.path.join(os.path.dirname(os.path.dirname(ATTACHPY)), "agent",
                             "attachpy-agent.so")
        copied = not harness.readable_by_others(agent)
        if copied:
            self.assertEqual(lines[5], "attachpy-agent.so 0o500 65534 readable")
        else:
            self.assertEqual(lines[5], "attachpy-agent.so absent")
        # The debugger script is root's: nobody can neither read nor change it.
        self.assertEqual(lines[6], "script 0o600 0 unreadable")
        self.assertEqual(lines[7], "agent %s" % copied)

    def test_unreadable_agent_is_copied(self):
        hidden = tempfile.mkdtemp(prefix="hidden-agent-")  # 0700, root's
        self.addCleanup(shutil.rmtree, hidden, True)
        agent = os.path.join(hidden, "attachpy-agent.so")
        shutil.copy(os.path.join(os.path.dirname(os.path.dirname(ATTACHPY)), "agent",
                                 "attachpy-agent.so"), agent)
        lines = self.probe(env=dict(os.environ, ATTACHPY_AGENT=agent))
        self.assertEqual(lines[3], "request 0o600 65534 readable")
        self.assertEqual(lines[5], "attachpy-agent.so 0o500 65534 readable")
        self.assertEqual(lines[6], "script 0o600 0 unreadable")
        self.assertEqual(lines[7], "agent True")


class OptOut(Case):
    def refused(self, t, fragment):
        r = self.run_attachpy("--json", t.pid, "-c", "print('x')")
        self.assertRefused(r, 4, "remote_debug_disabled", fragment)
        self.assertIsNone(r.json["debugger"], r)
        self.assertIn("respects", r.json["error"]["hint"])
        self.assertFalse(self.agent_loaded(t.pid))
        self.assertAlive(t)

    def test_environment(self):
        t = self.start("sleep", env=dict(os.environ, PYTHON_DISABLE_REMOTE_DEBUG="yes"))
        self.refused(t, "PYTHON_DISABLE_REMOTE_DEBUG")

    def test_x_option_both_spellings(self):
        for words in (["-X", "disable_remote_debug"], ["-X", "disable-remote-debug"],
                      ["-Xdisable-remote-debug"], ["-u", "-Xdisable_remote_debug=1"]):
            t = self.start("sleep", extra_args=words)
            self.refused(t, "-X disable_remote_debug")

    def test_not_an_opt_out(self):
        # An empty variable, and the option after the script name (the
        # program's own argument), do not opt out.
        t = self.start("sleep", env=dict(os.environ, PYTHON_DISABLE_REMOTE_DEBUG=""))
        r = self.run_attachpy("--json", t.pid, "-c", "print('x')")
        self.assertEqual(r.rc, 0, r)
        self.assertAlive(t)


class Audit(Case):
    def test_hook_sees_and_vetoes(self):
        t = self.start("audit")
        for debugger in ("gdb", "lldb"):
            if debugger == "lldb" and not shutil.which("lldb"):
                need(False, "lldb is not installed")
            r = self.run_attachpy("--json", "--debugger=" + debugger, t.pid, "-c",
                                  "print('welcome')")
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.json["result"]["stdout"], "welcome\n")
            self.assertTrue(t.expect(lambda l: l == "audit <string>", 10), t.all_lines[-5:])

            veto = os.path.join(self.tmp, "veto-%s.py" % debugger)
            marker = os.path.join(self.tmp, "ran-" + debugger)
            with open(veto, "w") as f:
                f.write("open(%r, 'w').close()\nprint('should not run')\n" % marker)
            r = self.run_attachpy("--json", "--debugger=" + debugger, t.pid, veto)
            self.assertRefused(r, 6, "injection_failed",
                               "an audit hook in process %d vetoed the code" % t.pid)
            self.assertIn("PermissionError: remote code is not welcome in attachpy-target-audit",
                          r.json["error"]["message"])
            self.assertIn("nothing ran", r.json["error"]["hint"])
            self.assertTrue(t.expect(lambda l: l == "audit " + veto, 10), t.all_lines[-5:])
            self.assertFalse(os.path.exists(marker), "the vetoed code ran")
            self.assertAlive(t)


class Signals(Case):
    """SIGINT and SIGTERM to attachpy itself: the run ends cleanly."""

    def interrupt(self, mode, sig, args, wait_for):
        t = self.start(mode)
        if mode == "cbusy":
            time.sleep(0.3)
        argv = [ATTACHPY, "--json", "--timeout=60"] + [str(a) for a in args(t)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=harness.tagged_env())
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        deadline = time.monotonic() + 30
        while not wait_for(t) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(wait_for(t), "attachpy did not get there")
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        seconds = time.monotonic() - t0
        r = harness.Run(argv, subprocess.CompletedProcess(argv, proc.returncode, out, err),
                        seconds)
        self.assertLess(seconds, 8, r)
        self.assertIsNotNone(r.json, r)
        self.assertFalse(r.json["ok"], r)
        self.check_nothing_left(r)
        self.assertAlive(t, r)
        return r

    def call_queued(self, t):
        """The debugger came and went, the session is still there: the call
        is queued in the target and attachpy waits for it."""
        if harness.debugger_processes() - self.debuggers_before:
            self.seen_debugger = True
            return False
        return getattr(self, "seen_debugger", False) and bool(
            harness.session_dirs() - self.sessions_before)

    def test_sigterm_while_the_call_waits(self):
        r = self.interrupt("cbusy", signal.SIGTERM, lambda t: [t.pid, "-c", "print('x')"],
                           self.call_queued)
        self.assertEqual((r.rc, r.json["error"]["code"]), (130, "interrupted"), r)
        self.assertIn("withdrawn", r.json["error"]["hint"], r)

    def test_sigint_while_the_call_waits(self):
        r = self.interrupt("cbusy", signal.SIGINT, lambda t: [t.pid, "-c", "print('x')"],
                           self.call_queued)
        self.assertEqual((r.rc, r.json["error"]["code"]), (130, "interrupted"), r)

    def test_sigterm_while_the_code_runs(self):
        # The code sits in one long C call (a sleep): the KeyboardInterrupt
        # it is sent cannot land within attachpy's grace, whenever the
        # signal comes (with a 5 s sleep, a signal that came 2 s late on a
        # loaded machine let it land, and the other answer was given).
        flag = os.path.join(self.tmp, "started")
        code = "open(%r, 'w').close()\nimport time\ntime.sleep(60)\n" % flag
        r = self.interrupt("sleep", signal.SIGTERM, lambda t: [t.pid, "-c", code],
                           lambda t: os.path.exists(flag))
        self.assertEqual((r.rc, r.json["error"]["code"]), (130, "interrupted"), r)
        self.assertIn("may still be running", r.json["error"]["message"])


# Every character that means something to a shell, to gdb or to lldb.
HOSTILE = "q'uo\"te\\back $(touch PWN) `touch PWN`; shell touch PWN\nplatform shell touch PWN é€"


class HostileInput(Case):
    def run_hostile(self, debugger):
        need(shutil.which(debugger) is not None, debugger + " is not installed")
        t = self.start("sleep")
        pwned = os.path.join(self.tmp, "PWN")
        hostile = HOSTILE.replace("PWN", pwned)
        where = os.path.join(self.tmp, "dir " + hostile.replace("/", "_"))
        os.mkdir(where)
        path = os.path.join(where, "script " + hostile.replace("/", "_") + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write("# -*- coding: utf-8 -*-\n"
                    "import sys\n"
                    "print(repr(__file__))\n"
                    "print(repr(attachpy_args))\n"
                    "print(repr(%r))\n" % hostile)
        args = [hostile, "--json", "-c", "$(touch %s)" % pwned, "\\", "'", '"']
        r = self.run_attachpy("--json", "--verbose", "--debugger=" + debugger, t.pid, path,
                              *args)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["result"]["stdout"].splitlines(),
                         [repr(path), repr(args), repr(hostile)], r)
        self.assertFalse(os.path.exists(pwned), "a command ran")
        # -c code, too.
        code = "print(%r)  # %s" % (hostile, hostile.replace("\n", " "))
        r2 = self.run_attachpy("--json", "--verbose", "--debugger=" + debugger, t.pid, "-c",
                               code, *args)
        self.assertEqual(r2.rc, 0, r2)
        self.assertEqual(r2.json["result"]["stdout"], hostile + "\n", r2)
        self.assertFalse(os.path.exists(pwned), "a command ran")
        # Nothing of it reached the debugger: its script and transcript
        # (--verbose, on stderr) hold none of the words.
        for run in (r, r2):
            self.assertIn("@@ATTACHPY:attached", run.stderr)
            for needle in ("PWN", "touch", "q'uo", "$(", "é", "€", "te\\back"):
                self.assertNotIn(needle, run.stderr, needle)
        self.assertAlive(t)

    def test_gdb(self):
        self.run_hostile("gdb")

    def test_lldb(self):
        self.run_hostile("lldb")


CONTAINER_PROBE = r"""
import os, socket
print('pid', os.getpid())
print('tmp', sorted(n.startswith('attachpy-') for n in os.listdir('/tmp')))
print('agent', [l.split()[-1].rsplit('/', 2)[0] for l in open('/proc/self/maps')
                if 'attachpy-agent' in l][-1:])
print('net', [name for _, name in socket.if_nameindex()])
"""


class Container(Case):
    """A target in its own mount, PID and network namespaces with a private
    /tmp and attachpy's build directory hidden; attachpy on the host."""

    def start_contained(self, mode):
        need(shutil.which("unshare") is not None, "unshare is not installed")
        agent_dir = os.path.join(os.path.dirname(os.path.dirname(ATTACHPY)), "agent")
        # The build's agent first: it may live under /tmp (a checkout in
        # /tmp), which the private /tmp then covers anyway.
        inner = ("mount -t tmpfs tmpfs \"$1\" && mount -t tmpfs tmpfs /tmp && "
                 "exec \"$2\" \"$3\" \"$4\"")
        argv = ["unshare", "--mount", "--pid", "--net", "--fork", "--mount-proc", "sh", "-c",
                inner, "sh", agent_dir]
        # harness.Target runs [python, target, mode]: here python is unshare's argv.
        t = harness.Target(argv[0], mode, extra_args=argv[1:] + [PYTHON],
                           target=self.target_py)
        self.addCleanup(t.stop)
        children = open("/proc/%d/task/%d/children" % (t.pid, t.pid)).read().split()
        self.assertEqual(len(children), 1, children)
        t.pid = int(children[0])  # the interpreter, as the host sees it
        self.assertNotEqual(os.readlink("/proc/%d/ns/mnt" % t.pid),
                            os.readlink("/proc/self/ns/mnt"))
        self.assertEqual(harness.proc_status(t.pid)["NSpid"].split(), [str(t.pid), "1"])
        return t

    def run_in(self, debugger, mode):
        need(shutil.which(debugger) is not None, debugger + " is not installed")
        t = self.start_contained(mode)
        r = self.run_attachpy("--json", "--debugger=" + debugger, t.pid, "-c", CONTAINER_PROBE)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json["pid"], t.pid)  # the host's PID
        self.assertEqual(r.json["target"]["executable"], PYTHON)
        self.assertEqual(r.json["result"]["stdout"].splitlines(), [
            "pid 1",
            "tmp [True]",
            "agent ['/tmp']",  # a copy in the target's own /tmp
            "net ['lo']",
        ], r)
        # The session inside the container is gone too.
        self.assertEqual(glob.glob("/proc/%d/root/tmp/attachpy-*" % t.pid), [])
        self.assertAlive(t, r)
        # A script file from the host (its path is not in the container).
        r = self.run_attachpy("--json", "--debugger=" + debugger, t.pid, script("raises.py"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("raise ValueError", r.json["result"]["exception"]["traceback"])
        self.assertAlive(t, r)

    def test_gdb_sleep(self):
        self.run_in("gdb", "sleep")

    def test_gdb_busy(self):
        self.run_in("gdb", "busy")

    def test_lldb_sleep(self):
        self.run_in("lldb", "sleep")

    def test_lldb_busy(self):
        self.run_in("lldb", "busy")


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
    return harness.run_suite(suite)


if __name__ == "__main__":
    sys.exit(main())
