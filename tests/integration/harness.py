"""Shared helpers for attachpy's integration tests: interpreters, targets,
running attachpy, and checking that a target is alive and unharmed.

Every process started here is ended by its pid (never by name), also when a
test fails: targets register their cleanup as soon as they exist.
"""
import glob
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import schema  # noqa: E402  (tests/schema.py)
TARGET = os.path.join(ROOT, "tests", "targets", "target.py")
SCRIPTS = os.path.join(HERE, "scripts")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=10)
        root = out.stdout.decode().strip()
        if root:
            return root
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


class Interpreter(object):
    def __init__(self, name, path, expect="ok", implementation="cpython", root=None,
                 remote_exec=False, embedded=False):
        self.name = name      # "3.12", "debian-3.11" or "sid-3.14"
        self.path = path      # as the interpreter's own root sees it
        self.expect = expect  # "ok" or the error code attachpy must give
        self.implementation = implementation
        self.root = root      # a root file system of its own (chroot), or None
        # The runtime has its own remote execution attachpy uses (CPython
        # 3.14+, PyPy 8).
        self.remote_exec = remote_exec
        # An application embedding libpython (tests/targets/embedpy.c), not
        # a python executable: no -X options, no threads.main.
        self.embedded = embedded

    def __repr__(self):
        if self.root:
            return "%s (%s in %s)" % (self.name, self.path, self.root)
        return "%s (%s)" % (self.name, self.path)


# Newer Pythons in a root file system of their own (tools/sid-root.sh builds
# it with debootstrap): each runs under chroot, which is also the "target
# under another root" case.
SID_ROOT = os.environ.get("ATTACHPY_SID_ROOT", "/var/cache/attachpy/sid-root")
EXPECTED_SID = [("sid-3.13", "/usr/bin/python3.13", "cpython", False),
                ("sid-3.14", "/usr/bin/python3.14", "cpython", True),
                ("sid-3.15", "/usr/bin/python3.15", "cpython", True),
                ("sid-pypy8", "/usr/bin/pypy3", "pypy", True)]


# Debian's sid builds are static executables; a shared-libpython build of
# 3.14 and 3.15 is tests/targets/embedpy.c linked against the root's
# libpython3.X.so (libpython3.X-dev, which tools/sid-root.sh installs).
EXPECTED_SID_EMBEDDED = ["3.14", "3.15"]
EMBEDPY_SOURCE = os.path.join(HERE, "..", "targets", "embedpy.c")


def rooted_embedpy(root, version):
    """embedpy built against root's libpython<version>.so, as the root sees
    it (/opt/attachpy-tests/embedpy<version>), or raises RuntimeError saying
    why not.  Built with the host's compiler and C library headers: it runs
    under chroot with the root's newer C library, which keeps the old
    symbols (--allow-shlib-undefined: the root's libpython asks for newer
    ones, which only the root's C library has)."""
    inside = "/opt/attachpy-tests/embedpy" + version
    out = root + inside
    lib = os.path.join(root, "usr/lib/x86_64-linux-gnu")
    include = os.path.join(root, "usr/include/python" + version)
    if not os.path.exists(os.path.join(include, "Python.h")):
        raise RuntimeError("no %s/Python.h: run tools/sid-root.sh" % include)
    if (os.path.exists(out) and
            os.path.getmtime(out) >= os.path.getmtime(EMBEDPY_SOURCE)):
        return inside
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp%d" % os.getpid()
    cc = os.environ.get("CC", "cc")
    argv = [cc, "-O1", "-I" + include, "-idirafter", os.path.join(root, "usr/include"),
            EMBEDPY_SOURCE, "-o", tmp, "-L" + lib, "-lpython" + version, "-ldl",
            "-Wl,--allow-shlib-undefined", "-Wl,-rpath-link," + lib]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise RuntimeError("building %s failed: %s" % (out, r.stdout.decode(errors="replace")[-300:]))
    os.replace(tmp, out)
    return inside


def discover_rooted(root=SID_ROOT):
    """Returns (interpreters, missing) for the interpreters in root."""
    found, missing = [], []
    ready = os.path.exists(os.path.join(root, ".attachpy-sid-root-ready"))
    for name, path, impl, remote_exec in EXPECTED_SID:
        if ready and os.access(root + path, os.X_OK):
            found.append(Interpreter(name, path, "ok", impl, root=root, remote_exec=remote_exec))
        else:
            missing.append("%s (%s%s: run tools/sid-root.sh)" % (name, root, path))
    for version in EXPECTED_SID_EMBEDDED:
        name = "sid-embedded-" + version
        if not ready:
            missing.append("%s (%s: run tools/sid-root.sh)" % (name, root))
            continue
        try:
            path = rooted_embedpy(root, version)
        except RuntimeError as e:
            missing.append("%s (%s)" % (name, e))
            continue
        # Its main thread never ran Py_RunMain: the runtime's remote
        # execution has no thread to ask, and the debugger does the job.
        found.append(Interpreter(name, path, "ok", "cpython", root=root, embedded=True))
    return found, missing


def rooted_copy(root, path):
    """path (a test file) copied into root, for a target that runs there;
    returns the path as the root sees it.  Rewritten each time: the
    checkout may have changed."""
    inside = os.path.join("/opt/attachpy-tests", os.path.basename(path))
    os.makedirs(root + os.path.dirname(inside), exist_ok=True)
    tmp = root + inside + ".tmp%d" % os.getpid()
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(src.read())
    os.chmod(tmp, 0o644)
    os.replace(tmp, root + inside)
    return inside


# What must work (issue 2), and what must be refused cleanly.
EXPECTED_PYENV = ["3.6", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
OPTIONAL_PYENV = ["3.7"]
REFUSED_PYENV = ["2.7"]


def discover(embedpy=False):
    """Returns (interpreters, missing): what exists here, and which expected
    ones are missing.  embedpy: the embedding application built by meson
    (tests/targets/embedpy.c), None when it could not be built (a missing
    interpreter), or False when the caller does not use it."""
    root = pyenv_root()
    found, missing = [], []
    for minor in EXPECTED_PYENV + OPTIONAL_PYENV + REFUSED_PYENV:
        paths = sorted(glob.glob(os.path.join(root, "versions", minor + ".*", "bin",
                                              "python" + minor)))
        paths = [p for p in paths if re.search(r"/%s\.\d+/bin/" % re.escape(minor), p)]
        if not paths:
            if minor in EXPECTED_PYENV:
                missing.append(minor)
            continue
        expect = "unsupported_python" if minor in REFUSED_PYENV else "ok"
        found.append(Interpreter(minor, paths[-1], expect))
    if os.path.exists("/usr/bin/python3.11"):
        found.append(Interpreter("debian-3.11", "/usr/bin/python3.11"))
    else:
        missing.append("debian-3.11")
    # PyPy: only in a thread that waits (docs/pypy.md).
    if os.access("/usr/bin/pypy3", os.X_OK):
        found.append(Interpreter("pypy3", "/usr/bin/pypy3", "ok", "pypy"))
    else:
        missing.append("pypy3 (Debian's pypy3)")
    if embedpy and os.access(embedpy, os.X_OK):
        found.append(Interpreter("embedded", embedpy, embedded=True))
    elif embedpy is not False:
        missing.append("embedded (tests/targets/embedpy: needs pkg-config's python3-embed)")
    return found, missing


def second_libpython():
    """A libpython other than Debian's 3.11 (which embedpy links), for a
    process with two Python runtimes: a pyenv build's, or None."""
    for path in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.1[23].*", "lib",
                                              "libpython3.1[23].so.1.0"))):
        return path
    return None


def supported(interpreters):
    """The host's CPython interpreters attachpy injects into: the ones tests
    that need "a Python" pick from (PyPy injects only in some states; one
    in a root of its own needs chroot)."""
    return [i for i in interpreters
            if i.expect == "ok" and i.implementation == "cpython" and not i.root]


def newest_cpython(interpreters):
    """The newest pyenv CPython attachpy injects into, or None."""
    ok = [i for i in supported(interpreters) if i.name[0].isdigit()]
    return max(ok, key=lambda i: tuple(int(x) for x in i.name.split(".")), default=None)


def pypy(interpreters):
    """PyPy, when it is here, or None."""
    return next((i for i in interpreters if i.implementation == "pypy" and i.expect == "ok"),
                None)


def readable_by_others(path, execute=False):
    """Whether a user with no rights to the checkout can read path (and run
    it: execute): every directory above it searchable by others, the file
    readable (and executable) by others.  A checkout in a 0700 directory
    (mktemp -d, a private home) is not."""
    path = os.path.abspath(path)
    try:
        mode = os.stat(path).st_mode
        if not mode & 0o004 or execute and not mode & 0o001:
            return False
        d = os.path.dirname(path)
        while True:
            if not os.stat(d).st_mode & 0o001:
                return False
            if d == "/":
                return True
            d = os.path.dirname(d)
    except OSError:
        return False


_public = {}


def _public_dir():
    if "dir" not in _public:
        import atexit
        import shutil
        import tempfile
        d = tempfile.mkdtemp(prefix="aptest-public-")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        _public["dir"] = d
    return _public["dir"]


def public_target():
    """target.py where any user can read it: the checkout's, or a copy in a
    directory of its own (removed at exit) when the checkout is private."""
    if readable_by_others(TARGET):
        return TARGET
    if "target" not in _public:
        import shutil
        path = os.path.join(_public_dir(), "target.py")
        shutil.copy(TARGET, path)
        os.chmod(path, 0o644)
        _public["target"] = path
    return _public["target"]


def public_attachpy(exe):
    """attachpy where any user can run it: the build tree's exe, or, when
    the checkout is private, a `meson install --destdir` of its build into a
    directory of its own (removed at exit; the relocated install finds its
    agent and scripts)."""
    exe = os.path.abspath(exe)
    builddir = os.path.dirname(os.path.dirname(exe))
    agent = os.path.join(builddir, "agent", "attachpy-agent.so")
    if readable_by_others(exe, execute=True) and readable_by_others(agent) and \
            readable_by_others(os.path.join(ROOT, "gdbscripts", "direct.gdb")):
        return exe
    if "attachpy" not in _public:
        dest = os.path.join(_public_dir(), "install")
        p = subprocess.run(["meson", "install", "-C", builddir, "--destdir", dest,
                            "--no-rebuild", "--quiet"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError("meson install failed:\n" + p.stdout.decode())
        with open(os.path.join(builddir, "meson-info", "intro-buildoptions.json")) as f:
            opts = dict((o["name"], o["value"]) for o in json.load(f))
        prefix = dest + opts["prefix"]
        for d, _, _ in os.walk(dest):
            os.chmod(d, 0o755)
        _public["attachpy"] = os.path.join(prefix, opts["bindir"], "attachpy")
    return _public["attachpy"]


class Target(object):
    """A target.py process in one mode, with its stdout collected.  A
    target run as another user runs a copy of target.py that user can read
    when the checkout is private (self.script: the one it runs)."""

    def __init__(self, python, mode, env=None, extra_args=(), user=None, target=TARGET,
                 own_mount_ns=False):
        """python: an executable's path, or an Interpreter (one with a root
        of its own runs under chroot).  own_mount_ns: in a mount namespace
        of its own too (unshare -m)."""
        prefix = []
        if isinstance(python, Interpreter):
            if python.root:
                target = rooted_copy(python.root, target)
                prefix = ["chroot", python.root]
            python = python.path
        elif user is not None and target == TARGET:
            target = public_target()
        if own_mount_ns:
            prefix = ["unshare", "--mount", "--propagation", "private"] + prefix
        self.script = target
        self.mode = mode
        self.lines = queue.Queue()
        self.all_lines = []
        # unshare and chroot exec the interpreter: the pid is the target's.
        self.proc = subprocess.Popen(
            prefix + [python] + list(extra_args) + [target, mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env,
            **({"user": user, "group": user, "extra_groups": []} if user is not None else {}))
        self.pid = self.proc.pid
        self.stderr_lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._ereader = threading.Thread(target=self._read_err, daemon=True)
        self._ereader.start()
        ready = self.expect(lambda l: l.startswith("ready "), 30)
        if not ready:
            self.stop()
            raise RuntimeError("target %s (%s) did not become ready: %r" %
                               (mode, python, self.stderr_lines[-5:]))
        words = ready.split()
        self.version = words[2]
        self.port = int(words[3]) if len(words) > 3 else None

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.all_lines.append(line)
            self.lines.put(line)

    def _read_err(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def expect(self, predicate, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if predicate(line):
                return line

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def check_alive(target, timeout=10.0):
    """Returns None if the target is alive, untraced, running and doing its
    work; else a message saying what is wrong."""
    if target.proc.poll() is not None:
        return "target exited with %s; stderr: %r" % (target.proc.returncode,
                                                      target.stderr_lines[-10:])
    # The kernel detaches a dead tracer's tracees asynchronously: allow a moment.
    st = {}
    for _ in range(50):
        st = proc_status(target.pid)
        if st.get("TracerPid") == "0":
            break
        time.sleep(0.02)
    if st.get("TracerPid") != "0":
        return "target is still traced by %s" % st.get("TracerPid")
    if st.get("State", "").startswith(("T", "t")):
        return "target is stopped: %s" % st.get("State")
    if target.mode == "cbusy":
        return None  # its signal handler runs only when the C call ends
    os.kill(target.pid, signal.SIGUSR1)
    first = target.expect(lambda l: l.startswith("alive "), timeout)
    if not first:
        return "target did not answer SIGUSR1 within %.0f s" % timeout
    if target.mode == "accept":
        with socket.create_connection(("127.0.0.1", target.port), timeout=timeout) as c:
            c.settimeout(timeout)
            if c.recv(16) != b"pong\n":
                return "target did not answer on its socket"
    elif target.mode == "read":
        target.proc.stdin.write(b"hello-after\n")
        target.proc.stdin.flush()
        if not target.expect(lambda l: l == "echo hello-after", timeout):
            return "target did not echo its input"
    elif target.mode == "lockwait":
        # Its worker still takes jobs?  (The main thread answered SIGUSR1.)
        pass
    elif target.mode in ("busy", "threads"):
        time.sleep(0.2)
        os.kill(target.pid, signal.SIGUSR1)
        second = target.expect(lambda l: l.startswith("alive "), timeout)
        if not second or int(second.split()[1]) <= int(first.split()[1]):
            return "target stopped working: %s then %s" % (first, second)
        if target.mode == "threads":
            # It ticks every 50 ms, but competes for the GIL with four
            # allocating threads: on a loaded machine a tick can take long.
            n = len([l for l in target.all_lines if l.startswith("tick ")])
            end = time.monotonic() + timeout
            while len([l for l in target.all_lines if l.startswith("tick ")]) <= n:
                if time.monotonic() > end:
                    return "the target's printing thread stopped (no tick in %.0f s)" % timeout
                time.sleep(0.05)
    return None


# Every attachpy a test runs carries this in its environment, and so do the
# debuggers it starts: leftovers are counted for this test run only, not for
# other attachpy runs on the machine.
OWNER_VAR = "ATTACHPY_TEST_OWNER"
OWNER = ("%s=%d" % (OWNER_VAR, os.getpid())).encode()


def tagged_env(env=None):
    e = dict(os.environ if env is None else env)
    e[OWNER_VAR] = str(os.getpid())
    return e


def debugger_processes():
    """PIDs of debuggers running a script from an attachpy session started
    by this test run."""
    pids = set()
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read()
            if not (b"/tmp/attachpy-" in cmd and (b"gdb" in cmd or b"lldb" in cmd)):
                continue
            with open(d + "/environ", "rb") as f:
                if OWNER not in f.read().split(b"\0"):
                    continue
        except OSError:
            continue
        pids.add(int(d.rsplit("/", 1)[1]))
    return pids


def _session_is_ours(d):
    """Whether session directory d belongs to an attachpy of this test run
    (its environment has our tag) or to one that is gone (a leftover,
    whoever left it).  A session whose owner file is not written yet, or
    whose attachpy runs outside this test run (another suite on the same
    machine), is not ours to judge."""
    pid = session_owner_pid(d)
    if pid is None:
        return False
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return OWNER in f.read().split(b"\0")
    except FileNotFoundError:
        return True
    except OSError:
        return False


def session_dirs():
    """attachpy's session directories in /tmp: attachpy-<10 letters and
    digits> (6 before the sessions were made with mkdirat).  Not the lock
    file, nor another test's attachpy-test-... scratch directory, nor the
    session of an attachpy that another test run started."""
    return set(d for d in glob.glob("/tmp/attachpy-*")
               if re.match(r"^attachpy-[A-Za-z0-9]{6}(?:[A-Za-z0-9]{4})?$", os.path.basename(d))
               and os.path.isdir(d) and _session_is_ours(d))


class Run(object):
    def __init__(self, argv, proc, seconds):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.seconds = seconds
        self.json = None
        if "--json" in argv:
            try:
                self.json = json.loads(self.stdout)
            except ValueError:
                self.json = None
            if isinstance(self.json, dict):
                schema.validate_status(self.json)  # every --json status matches schema/

    def __repr__(self):
        return "rc=%s\nargv=%r\nstdout=%s\nstderr=%s" % (self.rc, self.argv, self.stdout[-3000:],
                                                         self.stderr[-3000:])


def attachpy(exe, *args, **kw):
    argv = [exe] + [str(a) for a in args]
    timeout = kw.get("timeout", 120)
    t0 = time.monotonic()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, env=tagged_env(kw.get("env"))) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
    proc = subprocess.CompletedProcess(argv, p.returncode, out, err)
    run = Run(argv, proc, time.monotonic() - t0)
    run.pid = p.pid
    return run


def session_owner_pid(path):
    """The pid of the attachpy that made a session (its owner file), or None."""
    try:
        with open(os.path.join(path, "owner")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_suite(suite, after=None):
    """Run a unittest suite verbosely, call after() (to print a table), print
    the "N passed, N failed, N skipped" line tools/test.sh counts, and return
    the exit status: under CI=true a skipped test is a failure."""
    import unittest
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if after:
        after()
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(result.skipped)))
    if IN_CI and result.skipped:
        print("FAILURE (CI=true): tests were skipped")
        return 1
    return 0 if failed == 0 else 1
