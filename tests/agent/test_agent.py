#!/usr/bin/python3
"""The agent, loaded into real Python processes.

    python3 tests/agent/test_agent.py --agent PATH [--cc CC] [unittest options]

For every interpreter on the list that exists here, a target process
(target.py) loads the agent with ctypes and calls its entry point on a
session this harness made: a `request` file and a listening `result.sock`.
The harness accepts the agent's connection, checks the peer's credentials,
gives the go-ahead (or, in some tests, does not), reads the record stream
(docs/protocol.md), and looks at the target's own stdout/stderr and state
afterwards.  embedder.c, compiled on the fly when a C compiler is there,
hosts the agent without Python, with an uninitialised libpython, and with a
libpython loaded RTLD_LOCAL.

A missing interpreter is a skip; with CI=true it is a failure.  Python 2,
which attachpy refuses, is not tested.  Standard library only.
"""

import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
# The one target program, in its agent mode.
TARGET = os.path.join(HERE, "..", "targets", "target.py")
EMBEDDER_SOURCE = os.path.join(HERE, "embedder.c")
DEADLINE_S = 30.0
GO = b"GO  \0\0\0\0"

AGENT = None  # --agent
CC = os.environ.get("CC", "cc")  # --cc


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=10, check=True)
        return out.stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        return os.path.expanduser("~/.pyenv")


# (label, path, may be missing even in CI)
def interpreter_list():
    root = pyenv_root()
    found = []
    for version, optional in (("3.6.15", False), ("3.7.16", False),
                              ("3.8.18", False), ("3.9.18", False), ("3.10.13", False),
                              ("3.11.7", False), ("3.12.1", False), ("3.13.0", False)):
        major_minor = ".".join(version.split(".")[:2])
        found.append(("pyenv-" + version,
                      os.path.join(root, "versions", version, "bin", "python" + major_minor),
                      optional))
    found.append(("debian-static-3.11", "/usr/bin/python3.11", False))
    # PyPy: attachpy's preflight refuses it (docs/pypy.md); the agent is
    # tested there all the same, called as the debugger would call it on a
    # thread parked in a blocking call (ctypes releases the GIL).
    found.append(("debian-pypy3", "/usr/bin/pypy3", False))
    return found


# ---- sessions and records ---------------------------------------------------


def make_request(code, filename=b"<string>", wait=True, args=()):
    out = bytearray(b"ATTACHPY-REQUEST 1\n")

    def field(key, value):
        out.extend(key + b" " + str(len(value)).encode() + b"\n" + value + b"\n")

    field(b"filename", filename)
    field(b"code", code)
    field(b"wait", b"1" if wait else b"0")
    for arg in args:
        field(b"arg", arg)
    return bytes(out)


def parse_records(data):
    records = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 8:
            raise AssertionError("truncated record header at %d: %r" % (pos, data[pos:]))
        tag = data[pos:pos + 4].decode("ascii")
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        if len(payload) != length:
            raise AssertionError("truncated payload of %s" % tag)
        records.append((tag, payload))
        pos += 8 + length
    return records


RUN = b"RUN \0\0\0\0"


def _take_gil(conn, data, answer_gil):
    """The complete records at the start of data, with the agent's GIL record
    taken out and answered with RUN, as the CLI does before its deadline
    (docs/protocol.md, "The last word"), so that the streams the tests look
    at read as before the exchange; and the incomplete rest."""
    out, pos = b"", 0
    while len(data) >= pos + 8:
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        if len(data) < pos + 8 + length:
            break
        record = data[pos:pos + 8 + length]
        pos += 8 + length
        if record[:4] == b"GIL " and answer_gil:
            try:
                conn.sendall(RUN)
            except OSError:
                pass
            continue
        out += record
    return out, data[pos:]


def read_to_eof(conn, timeout=DEADLINE_S, reset_ok=False, answer_gil=True):
    """Everything until EOF.  reset_ok: a reset ends the stream too (the
    agent closes with unread data when it refuses what it was sent).
    answer_gil: answer the agent's GIL record with RUN (and leave it out)."""
    deadline = time.monotonic() + timeout
    records, rest = b"", b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("the record stream did not end in time")
        conn.settimeout(left)
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            if not reset_ok:
                raise
            chunk = b""
        if not chunk:
            return records + rest
        done, rest = _take_gil(conn, rest + chunk, answer_gil)
        records += done


def read_records(conn, count, timeout=DEADLINE_S):
    """Exactly count records, read byte by byte so that nothing after them
    is consumed."""
    deadline = time.monotonic() + timeout
    data = b""
    records = []
    while len(records) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %d records in time: %r" % (count, data))
        conn.settimeout(left)
        chunk = conn.recv(1)
        if not chunk:
            raise AssertionError("EOF after %r" % data)
        data += chunk
        if len(data) >= 8:
            (length,) = struct.unpack("<I", data[4:8])
            if len(data) == 8 + length:
                done, data = _take_gil(conn, data, True)
                records.extend(parse_records(done))
    return records


class Result(object):
    def __init__(self, records):
        self.records = records
        self.tags = [tag for tag, _ in records]

    def raw(self, tag):
        values = [payload for t, payload in self.records if t == tag]
        if tag in ("OUT ", "ERR "):
            # Streamed: any number of records, in the order written.
            return b"".join(values)
        if len(values) != 1:
            raise AssertionError("%d %r records in %r" % (len(values), tag, self.tags))
        return values[0]

    def text(self, tag):
        return self.raw(tag).decode("utf-8")  # strict: payloads must be UTF-8

    def __repr__(self):
        return "Result(%r)" % (self.records,)


class Session(object):
    """A session directory: request, result.sock; removed by close()."""

    def __init__(self, request=None, listen=True):
        self.dir = tempfile.mkdtemp(prefix="aptest-")
        self.server = None
        if request is not None:
            with open(os.path.join(self.dir, "request"), "wb") as f:
                f.write(request)
        if listen:
            self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.server.bind(os.path.join(self.dir, "result.sock"))
            self.server.listen(4)

    def accept(self, pid, timeout=DEADLINE_S):
        """Accept the agent's connection and check its peer, as the CLI does."""
        self.server.settimeout(timeout)
        conn, _ = self.server.accept()
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        peer_pid, peer_uid, _ = struct.unpack("3i", creds)
        if peer_pid != pid or peer_uid != os.getuid():
            conn.close()
            raise AssertionError("SO_PEERCRED: pid %d uid %d, want %d %d"
                                 % (peer_pid, peer_uid, pid, os.getuid()))
        return conn

    def collect(self, pid, timeout=DEADLINE_S, go=GO):
        """Accept, send the go-ahead (go: the bytes to send, or None) and
        read the records to EOF."""
        conn = self.accept(pid, timeout)
        try:
            if go:
                conn.sendall(go)
            return Result(parse_records(read_to_eof(conn, timeout)))
        finally:
            conn.close()

    def close(self):
        if self.server is not None:
            self.server.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the target process -------------------------------------------------------


class Drain(threading.Thread):
    def __init__(self, stream):
        threading.Thread.__init__(self, daemon=True)
        self.stream = stream
        self.chunks = []

    def run(self):
        while True:
            chunk = os.read(self.stream.fileno(), 65536)
            if not chunk:
                return
            self.chunks.append(chunk)

    def value(self):
        return b"".join(self.chunks)


def child_env(extra=None):
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith("PYTHON") and k != "VIRTUAL_ENV")
    env.update(extra or {})
    return env


class Target(object):
    """target.py under one interpreter, with the agent loaded."""

    def __init__(self, python):
        rfd, wfd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [python, TARGET, "agent", AGENT, str(wfd)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(wfd,),
                env=child_env())
        finally:
            os.close(wfd)
        self.control = rfd
        self.buffer = b""
        self.out = Drain(self.proc.stdout)
        self.err = Drain(self.proc.stderr)
        self.out.start()
        self.err.start()
        hello = self.read_reply()
        if not hello.get("ready"):
            raise AssertionError("target not ready: %r" % hello)
        self.pid = hello["pid"]
        self.stdout = self.stderr = None

    def read_line(self, timeout=DEADLINE_S):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no answer from the target; stderr so far: %r"
                                     % self.err.value())
            ready, _, _ = select.select([self.control], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.control, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8")

    def read_reply(self):
        line = self.read_line()
        if line is None:
            raise AssertionError("the target closed its control pipe; stderr: %r"
                                 % self.err.value())
        return json.loads(line)

    def command(self, **cmd):
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        reply = self.read_reply()
        if "error" in reply:
            raise AssertionError("target: %s" % reply["error"])
        return reply

    def start(self, session_dir):
        return self.command(op="start", dir=session_dir)["rc"]

    def run(self, code):
        return self.command(op="exec", code=code)["result"]

    def wait_for(self, expression, timeout=DEADLINE_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run("_result = bool(%s)" % expression):
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s" % expression)

    def finish(self, timeout=DEADLINE_S):
        """Close stdin and reap: returns (exit status, stdout, stderr)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the target did not exit")
        self.out.join(timeout)
        self.err.join(timeout)
        self.stdout, self.stderr = self.out.value(), self.err.value()
        return status, self.stdout, self.stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.join(DEADLINE_S)
        self.err.join(DEADLINE_S)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not stream.closed:
                stream.close()
        os.close(self.control)


# ---- the per-interpreter cases ------------------------------------------------


class AgentCases(object):
    """Mixed into one TestCase per interpreter (label, python, optional)."""

    label = python = None
    optional = True
    version = None  # sys.version.split()[0], from the interpreter itself

    @classmethod
    def setUpClass(cls):
        if not os.access(cls.python, os.X_OK):
            message = "%s: %s not found" % (cls.label, cls.python)
            if os.environ.get("CI") == "true" and not cls.optional:
                raise AssertionError(message + " (required when CI=true)")
            raise unittest.SkipTest(message)
        out = subprocess.run([cls.python, "-c", "import sys; print(sys.version.split()[0])"],
                             stdout=subprocess.PIPE, env=child_env(), timeout=DEADLINE_S,
                             check=True)
        cls.version = out.stdout.decode().strip()
        cls.pypy = os.path.basename(cls.python).startswith("pypy")
        cls.version_info = tuple(int(x) for x in cls.version.split(".")[:2])
        sys.stderr.write("\n[%s: %s, Python %s]\n" % (cls.label, cls.python, cls.version))

    def setUp(self):
        self.target = Target(self.python)
        self.sessions = []

    def tearDown(self):
        self.target.kill()
        for session in self.sessions:
            session.close()

    # helpers

    def session(self, code=None, request=None, listen=True, **kw):
        if request is None and code is not None:
            request = make_request(code, **kw)
        session = Session(request, listen)
        self.sessions.append(session)
        return session

    def script(self, name, code):
        path = os.path.join(self.session().dir, name)
        with open(path, "wb") as f:
            f.write(code)
        return path

    def inject(self, code, timeout=DEADLINE_S, **kw):
        """Run code with wait=1; returns the checked Result."""
        session = self.session(code, **kw)
        self.assertEqual(self.target.start(session.dir), 0)
        result = session.collect(self.target.pid, timeout)
        self.check_stream(result)
        return result

    def check_stream(self, result):
        tags = result.tags
        self.assertGreaterEqual(len(tags), 3, result)
        self.assertEqual(tags[:3], ["HELO", "VERS", "RUN "], result)
        # "<protocol> <pid> <tid> <implementation>"
        impl = "pypy" if self.pypy else "cpython"
        self.assertRegex(result.text("HELO"), r"^1 %d \d+ %s$" % (self.target.pid, impl))
        self.assertEqual(result.text("VERS"), self.version)
        self.assertEqual(result.raw("RUN "), b"")
        for _, payload in result.records:
            payload.decode("utf-8")
        end = result.text("END ")
        self.assertEqual(tags[-1], "END ")
        # OUT and ERR come as the code writes, between RUN and what ends
        # the stream; none is empty.
        rest = [tag for tag in tags[3:] if tag not in ("OUT ", "ERR ")]
        streamed = tags[3:len(tags) - len(rest)]
        self.assertEqual([t for t in tags[3:] if t in ("OUT ", "ERR ")], streamed, result)
        for tag, payload in result.records:
            if tag in ("OUT ", "ERR "):
                self.assertNotEqual(payload, b"", result)
        if end == "ok":
            self.assertEqual(rest, ["END "], result)
        elif end == "exception":
            self.assertEqual(rest, ["EXTY", "EXMS", "EXTB", "END "], result)
        else:
            self.fail("END %r: %r" % (end, result))

    def check_alive(self):
        self.assertEqual(self.target.run("_result = 6 * 7"), 42)

    def check_traceback(self, tb, path, last_line):
        self.assertTrue(tb.startswith("Traceback (most recent call last):\n"), tb)
        self.assertIn('File "%s", line' % path, tb)
        self.assertNotIn('File "<string>"', tb)
        self.assertNotIn("_execute", tb)
        self.assertNotIn("bootstrap", tb)
        self.assertTrue(tb.endswith(last_line + "\n"), tb)

    # captured output

    def test_stdout_stderr_captured(self):
        r = self.inject(b"import sys\n"
                        b"sys.stdout.write('out line\\n')\n"
                        b"print('printed')\n"
                        b"sys.stderr.write('err line\\n')\n"
                        b"sys.stdout.flush()\n")
        self.assertEqual(r.text("END "), "ok")
        self.assertEqual(r.text("OUT "), "out line\nprinted\n")
        self.assertEqual(r.text("ERR "), "err line\n")
        self.check_alive()
        _, out, err = self.target.finish()
        self.assertNotIn(b"out line", out)
        self.assertNotIn(b"printed", out)
        self.assertNotIn(b"err line", err)

    def test_other_threads_not_captured(self):
        self.target.run(
            "import threading\n"
            "go, done = threading.Event(), threading.Event()\n"
            "def background():\n"
            "    go.wait(30)\n"
            "    for i in range(3):\n"
            "        sys.stdout.write('bg-out %d\\n' % i)\n"
            "        sys.stderr.write('bg-err %d\\n' % i)\n"
            "    done.set()\n"
            "bg = threading.Thread(target=background)\n"
            "bg.start()\n")
        r = self.inject(b"import sys, __main__\n"
                        b"sys.stdout.write('agent-out 1\\n')\n"
                        b"sys.stderr.write('agent-err 1\\n')\n"
                        b"__main__.go.set()\n"
                        b"assert __main__.done.wait(30)\n"
                        b"sys.stdout.write('agent-out 2\\n')\n")
        self.assertEqual(r.text("END "), "ok", r)
        self.assertEqual(r.text("OUT "), "agent-out 1\nagent-out 2\n")
        self.assertEqual(r.text("ERR "), "agent-err 1\n")
        self.target.run("bg.join(30)")
        _, out, err = self.target.finish()
        self.assertEqual(out.count(b"bg-out"), 3, out)
        self.assertEqual(err.count(b"bg-err"), 3, err)
        self.assertNotIn(b"agent-out", out)
        self.assertNotIn(b"agent-err", err)

    def test_non_utf8_output(self):
        code = (b"import sys\n"
                b"print('\\udcff lone')\n"
                b"sys.stdout.flush()\n"
                b"sys.stdout.buffer.write(b'\\xff\\xfe raw\\n')\n"
                b"sys.stderr.write('\\ud800\\n')\n"
                b"raise ValueError('bad \\udcff')\n")
        want_out = "\\udcff lone\n\\xff\\xfe raw\n"
        want_err = "\\ud800\n"
        want_msg = "bad \\udcff"
        r = self.inject(code)
        self.assertEqual(r.text("OUT "), want_out)
        self.assertEqual(r.text("ERR "), want_err)
        self.assertEqual(r.text("EXTY"), "ValueError")
        self.assertEqual(r.text("EXMS"), want_msg)

    # what the code sees

    def test_namespace(self):
        path = self.script("script.py", b"")
        code = (b"names = sorted(k for k in globals() if not k.startswith('__'))\n"
                b"import sys, __main__\n"
                b"want = ['one', '-x', '\\udcff', '']\n"
                b"print(attachpy_args == want)\n"
                b"print(type(attachpy_args).__name__)\n"
                b"print(__name__)\n"
                b"print(__file__)\n"
                b"print(names)\n"
                b"print('__builtins__' in globals())\n"
                b"print(__name__ in sys.modules)\n"
                b"print(__main__.__name__ == '__main__' and hasattr(__main__, 'serve'))\n"
                b"print(sys.argv[0].endswith('target.py'))\n")
        r = self.inject(code, filename=path.encode(), args=[b"one", b"-x", b"\xff", b""])
        self.assertEqual(r.text("END "), "ok", r)
        self.assertEqual(r.text("OUT ").splitlines(), [
            "True", "list", "__attachpy__", path, "['attachpy_args']", "True", "False", "True",
            "True"])
        self.assertEqual(self.target.run(
            "_result = [k for k in ('attachpy_args', '__attachpy_result__', "
            "'__attachpy_request__', 'want') if k in globals()]"), [])

    def test_string_filename(self):
        r = self.inject(b"print(__file__)\nx = 1\nraise RuntimeError('in -c')\n")
        self.assertEqual(r.text("OUT "), "<string>\n")
        self.assertEqual(r.text("EXTY"), "RuntimeError")
        tb = r.text("EXTB")
        self.assertIn('File "<string>", line 3, in <module>', tb)
        # The code's own lines show even though no file holds them.
        self.assertIn("raise RuntimeError('in -c')", tb)
        self.assertTrue(tb.endswith("RuntimeError: in -c\n"), tb)
        self.assertEqual(tb.count('File "'), 1, tb)

    def test_linecache_entry_kept(self):
        # 3.13 caches a "python -c" target's own code as "<string>": the
        # traceback must show the injected code's lines, and the target's
        # entry must be left as it was.
        self.target.run("import linecache\n"
                        "decoy = (11, None, ['decoy line\\n'], '<string>')\n"
                        "linecache.cache['<string>'] = decoy\n")
        r = self.inject(b"raise RuntimeError('which line')\n")
        tb = r.text("EXTB")
        self.assertIn("raise RuntimeError('which line')", tb)
        self.assertNotIn("decoy", tb)
        self.assertTrue(self.target.run("_result = linecache.cache['<string>'] is decoy"))
        self.target.run("del linecache.cache['<string>']")
        r = self.inject(b"raise RuntimeError('again')\n")
        self.assertIn("raise RuntimeError('again')", r.text("EXTB"))
        self.assertFalse(self.target.run("_result = '<string>' in linecache.cache"))

    def test_run_twice(self):
        first = self.inject(b"x = 1\nprint('%s %s' % (__name__, 'x' in globals()))\n")
        self.assertEqual(first.text("OUT "), "__attachpy__ True\n")
        second = self.inject(b"print('%s %s' % (__name__, 'x' in globals()))\n")
        self.assertEqual(second.text("OUT "), "__attachpy__ False\n")
        self.assertNotEqual(first.text("HELO"), None)
        self.check_alive()

    # audit hooks (PEP 578, Python 3.8+)

    def install_audit_hook(self, veto):
        self.target.run(
            "import sys\n"
            "audited = []\n"
            "def hook(event, args):\n"
            "    if event == 'attachpy.remote_exec':\n"
            "        audited.append(list(args))\n"
            "        if %r:\n"
            "            raise RuntimeError('no remote code in this process')\n"
            "sys.addaudithook(hook)\n" % veto)

    def test_audit_event(self):
        if self.version_info < (3, 8):
            # No audit hooks before 3.8: there is nothing to tell, the code runs.
            self.assertFalse(self.target.run("import sys; _result = hasattr(sys, 'audit')"))
            r = self.inject(b"print('ran')\n")
            self.assertEqual(r.text("OUT "), "ran\n")
            return
        self.install_audit_hook(veto=False)
        path = self.script("audited.py", b"print('ran')\n")
        r = self.inject(b"print('ran')\n", filename=path.encode())
        self.assertEqual(r.text("END "), "ok")
        self.assertEqual(r.text("OUT "), "ran\n")
        self.assertEqual(self.target.run("_result = audited"), [[path]])
        r = self.inject(b"pass\n")
        self.assertEqual(self.target.run("_result = audited"), [[path], ["<string>"]])
        self.check_alive()

    def test_audit_veto(self):
        if self.version_info < (3, 8):
            self.assertFalse(self.target.run("import sys; _result = hasattr(sys, 'audit')"))
            return
        self.install_audit_hook(veto=True)
        self.target.run("import sys; sys.attachpy_ran = False")
        session = self.session(b"import sys\nsys.attachpy_ran = True\nprint('ran')\n")
        self.assertEqual(self.target.start(session.dir), 0)
        r = session.collect(self.target.pid)
        self.assertEqual(r.tags, ["HELO", "VERS", "RUN ", "FAIL", "END "], r)
        self.assertEqual(r.text("END "), "vetoed")
        self.assertEqual(r.text("FAIL"), "RuntimeError: no remote code in this process")
        self.assertFalse(self.target.run("import sys; _result = sys.attachpy_ran"))
        self.assertEqual(self.target.run("_result = audited"), [["<string>"]])
        self.check_alive()
        _, out, _ = self.target.finish()
        self.assertNotIn(b"ran", out)

    # exceptions

    def test_value_error(self):
        code = (b"def inner():\n"
                b"    raise ValueError('bad value')\n"
                b"def outer():\n"
                b"    inner()\n"
                b"print('before')\n"
                b"outer()\n")
        path = self.script("fails.py", code)
        r = self.inject(code, filename=path.encode())
        self.assertEqual(r.text("END "), "exception")
        self.assertEqual(r.text("OUT "), "before\n")
        self.assertEqual(r.text("EXTY"), "ValueError")
        self.assertEqual(r.text("EXMS"), "bad value")
        tb = r.text("EXTB")
        self.check_traceback(tb, path, "ValueError: bad value")
        self.assertEqual(tb.count('File "'), 3, tb)
        self.assertIn("line 6, in <module>", tb)
        self.assertIn("in outer", tb)
        self.assertIn("in inner", tb)
        self.assertIn("raise ValueError('bad value')", tb)
        self.check_alive()

    def test_system_exit(self):
        path = self.script("exits.py", b"import sys\nsys.exit(3)\n")
        r = self.inject(b"import sys\nsys.exit(3)\n", filename=path.encode())
        self.assertEqual(r.text("END "), "exception")
        self.assertEqual(r.text("EXTY"), "SystemExit")
        self.assertEqual(r.text("EXMS"), "3")
        self.check_traceback(r.text("EXTB"), path, "SystemExit: 3")
        self.check_alive()
        status, _, _ = self.target.finish()
        self.assertEqual(status, 0)

    def test_keyboard_interrupt(self):
        path = self.script("interrupted.py", b"raise KeyboardInterrupt\n")
        r = self.inject(b"raise KeyboardInterrupt\n", filename=path.encode())
        self.assertEqual(r.text("EXTY"), "KeyboardInterrupt")
        self.assertEqual(r.text("EXMS"), "")
        self.check_traceback(r.text("EXTB"), path, "KeyboardInterrupt")
        self.check_alive()

    def test_exception_type_names(self):
        code = (b"class Outer(object):\n"
                b"    class Inner(Exception):\n"
                b"        pass\n"
                b"raise Outer.Inner('nested')\n")
        r = self.inject(code)
        want = "__attachpy__.Outer.Inner"
        self.assertEqual(r.text("EXTY"), want)
        self.assertEqual(r.text("EXMS"), "nested")
        r = self.inject(b"import json\njson.loads('{')\n")
        self.assertEqual(r.text("EXTY"),
                         "json.decoder.JSONDecodeError")
        r = self.inject(b"class E(Exception):\n"
                        b"    def __str__(self):\n"
                        b"        raise RuntimeError('no')\n"
                        b"raise E()\n")
        self.assertEqual(r.text("EXTY"), "__attachpy__.E")
        self.assertEqual(r.text("EXMS"), "<unprintable E>")
        self.assertIn("raise E()", r.text("EXTB"))

    def test_exception_in_proxy_has_no_agent_frames(self):
        path = self.script("badwrite.py", b"")
        r = self.inject(b"import sys\nsys.stdout.write(42)\n", filename=path.encode())
        self.assertEqual(r.text("EXTY"), "TypeError")
        tb = r.text("EXTB")
        self.assertIn('File "%s", line 2' % path, tb)
        if self.version_info >= (3, 7):
            self.assertEqual(tb.count('File "'), 1, tb)

    def test_syntax_error(self):
        path = self.script("syntax.py", b"")
        r = self.inject(b"x = 1\ny = (\n", filename=path.encode())
        self.assertEqual(r.text("END "), "exception")
        self.assertEqual(r.text("EXTY"), "SyntaxError")
        self.assertEqual(r.text("OUT "), "")
        tb = r.text("EXTB")
        self.assertIn('File "%s", line' % path, tb)
        self.assertNotIn('File "<string>"', tb)
        self.assertIn("SyntaxError: ", tb)
        self.check_alive()

    def test_nul_bytes_in_code(self):
        r = self.inject(b"print('a')\0print('b')\n")
        self.assertEqual(r.text("END "), "exception")
        self.assertIn(r.text("EXTY"), ("ValueError", "SyntaxError", "TypeError"))
        self.assertIn("null", r.text("EXMS"))
        self.assertEqual(r.text("OUT "), "")
        self.check_alive()

    # the agent's own failures

    def test_bootstrap_fails_inside(self):
        # The bootstrap catches its own errors and reports them as FAIL.
        self.target.run("real_fsencoding = sys.getfilesystemencoding\n"
                        "sys.getfilesystemencoding = lambda: 'no-such-codec'")
        try:
            session = self.session(b"import __main__\n__main__.ran = True\n", args=[b"a"])
            self.assertEqual(self.target.start(session.dir), 0)
            r = session.collect(self.target.pid)
        finally:
            self.target.run("sys.getfilesystemencoding = real_fsencoding")
        self.assertEqual(r.tags, ["HELO", "VERS", "RUN ", "FAIL", "END "], r)
        self.assertIn("LookupError", r.text("FAIL"))
        self.assertEqual(r.text("END "), "failed")
        self.assertIsNone(self.target.run("_result = globals().get('ran')"))
        self.assertTrue(self.target.run(
            "_result = sys.stdout is orig_stdout and sys.stderr is orig_stderr"))
        self.check_alive()

    def test_bootstrap_fails_outright(self):
        # An __import__ hook that refuses everything: the bootstrap's first
        # line raises, agent.c reports FAIL without printing anything.
        self.target.run("builtins_module = sys.modules['builtins']\n"
                        "real_import = builtins_module.__import__\n"
                        "def refuse(*args, **kw):\n"
                        "    raise ImportError('refused')\n")
        session = self.session(b"print(1)\n")
        self.assertEqual(self.target.start(session.dir), 0)
        conn = session.accept(self.target.pid)
        try:
            first = read_records(conn, 2)
            self.target.run("builtins_module.__import__ = refuse")
            try:
                conn.sendall(GO)
                rest = parse_records(read_to_eof(conn))
            finally:
                self.target.run("builtins_module.__import__ = real_import")
        finally:
            conn.close()
        r = Result(first + rest)
        self.assertEqual(r.tags, ["HELO", "VERS", "RUN ", "FAIL", "END "], r)
        self.assertEqual(r.text("END "), "failed")
        self.check_alive()
        _, out, err = self.target.finish()
        # On PyPy starting cpyext, before the bootstrap, is the first import.
        self.assertEqual(r.text("FAIL"), "could not start PyPy's C API (cpyext)" if self.pypy
                         else "the agent's bootstrap raised an exception")
        self.assertEqual(err, b"")

    # leaving the interpreter as it was

    def test_streams_restored(self):
        self.assertTrue(self.target.run("_result = sys.stdout is orig_stdout"))
        r = self.inject(b"import sys, __main__\n"
                        b"__main__.kept_out, __main__.kept_err = sys.stdout, sys.stderr\n"
                        b"print(sys.stdout is sys.__stdout__)\n")
        self.assertEqual(r.text("OUT "), "False\n")
        self.assertTrue(self.target.run(
            "_result = sys.stdout is orig_stdout and sys.stderr is orig_stderr"))
        # The proxies the code kept are inert: they forward to the originals.
        self.target.run("kept_out.write('inert out\\n'); kept_out.flush()\n"
                        "kept_err.write('inert err\\n'); kept_err.flush()\n")
        _, out, err = self.target.finish()
        self.assertIn(b"inert out\n", out)
        self.assertIn(b"inert err\n", err)

    def test_stream_replaced_by_code_is_kept(self):
        r = self.inject(b"import sys, __main__\n"
                        b"class Mine(object):\n"
                        b"    def write(self, s): return len(s)\n"
                        b"    def flush(self): pass\n"
                        b"__main__.mine = sys.stdout = Mine()\n"
                        b"print('swallowed')\n")
        self.assertEqual(r.text("END "), "ok")
        self.assertEqual(r.text("OUT "), "")
        self.assertTrue(self.target.run("_result = sys.stdout is mine"))
        self.assertTrue(self.target.run("_result = sys.stderr is orig_stderr"))
        self.target.run("sys.stdout = orig_stdout")

    def test_sys_modules_clean(self):
        self.target.run("before = set(sys.modules)\n"
                        "_result = 'traceback' in before")
        r = self.inject(b"import colorsys\nraise ValueError('x')\n")
        self.assertEqual(r.text("EXTY"), "ValueError")
        self.assertEqual(self.target.run(
            "_result = sorted(set(sys.modules) ^ before)"), ["colorsys"])
        self.target.run("del sys.modules['colorsys']")
        r = self.inject(b"x = 1\n")
        self.assertEqual(r.text("END "), "ok")
        self.assertEqual(self.target.run("_result = sorted(set(sys.modules) ^ before)"), [])
        session = self.session(b"raise ValueError('quiet')\n", wait=False)
        self.assertEqual(self.target.start(session.dir), 0)
        result = session.collect(self.target.pid)
        self.assertEqual(result.tags, ["HELO", "VERS", "RUN ", "END "])
        self.assertEqual(self.target.run("_result = sorted(set(sys.modules) ^ before)"), [])
        _, _, err = self.target.finish()
        self.assertIn(b"ValueError: quiet", err)

    def test_no_globals_added(self):
        snapshot = ("_result = [sorted(dir(sys)), sorted(k for k in globals() if k != '_result'), "
                    "sorted(__builtins__.__dict__ if hasattr(__builtins__, '__dict__') "
                    "else __builtins__)]")
        before = self.target.run(snapshot)
        self.inject(b"raise ValueError('x')\n")
        self.inject(b"print(1)\n")
        self.assertEqual(self.target.run(snapshot), before)

    def test_stdout_none(self):
        # pythonw, daemons: no streams at all.  The code's output is still
        # captured; other threads' writes are dropped, as print() does.
        self.target.run("sys.stdout = sys.stderr = None")
        try:
            r = self.inject(b"import sys\nprint('to none')\nsys.stderr.write('err none\\n')\n")
            self.assertEqual(r.text("OUT "), "to none\n")
            self.assertEqual(r.text("ERR "), "err none\n")
            self.assertTrue(self.target.run("_result = sys.stdout is None and sys.stderr is None"))
        finally:
            self.target.run("sys.stdout, sys.stderr = orig_stdout, orig_stderr")

    def test_large_output_streamed(self):
        # Everything reaches the CLI (which keeps the first 16 MiB and
        # counts the rest), in records of at most 1 MiB: the target never
        # holds more than 64 KiB of it, and a character cut by the
        # chunking is not mangled (check_stream decodes every payload).
        # An odd count first: the 1 MiB records fall inside two-byte characters.
        size = 20 * 1024 * 1024 + 11
        r = self.inject(b"import sys\n"
                        b"sys.stdout.write('x' * %d + u'\\u00e9' * 700000)\n"
                        b"print('short')\n" % size, timeout=150 if self.pypy else DEADLINE_S)
        out = r.raw("OUT ")
        self.assertEqual(len(out), size + 1400000 + 6)
        self.assertEqual(out[:size], b"x" * size)
        self.assertEqual(out[size:].decode("utf-8"), u"\u00e9" * 700000 + u"short\n")
        sizes = [len(p) for t, p in r.records if t == "OUT "]
        self.assertLessEqual(max(sizes), 1024 * 1024, sizes[:5])
        self.assertEqual(r.text("ERR "), "")
        self.check_alive()

    def test_output_sent_as_written(self):
        # A line reaches the CLI while the code still runs (it waits until
        # the harness has seen it); a partial line waits for a flush.
        self.target.run("import threading\nseen = threading.Event()\n")
        session = self.session(b"import sys, __main__\n"
                               b"print('first line')\n"
                               b"sys.stdout.write('partial')\n"
                               b"sys.stdout.flush()\n"
                               b"sys.stderr.write('err line\\n')\n"
                               b"__main__.seen.wait(30)\n"
                               b"print('after')\n")
        self.assertEqual(self.target.start(session.dir), 0)
        conn = session.accept(self.target.pid)
        try:
            conn.sendall(GO)
            head = read_records(conn, 6)
            self.assertEqual(head[3:], [("OUT ", b"first line\n"), ("OUT ", b"partial"),
                                        ("ERR ", b"err line\n")])
            self.target.run("seen.set()")
            result = Result(head + parse_records(read_to_eof(conn)))
        finally:
            conn.close()
        self.check_stream(result)
        self.assertEqual(result.text("OUT "), "first line\npartialafter\n")

    def test_output_from_another_thread_through_the_code(self):
        # A thread the code started writes to the capture through a
        # reference the code gave it (sys.stdout.buffer): nothing breaks,
        # and its bytes go out with the code's next line.
        r = self.inject(b"import sys, threading\n"
                        b"b = sys.stdout.buffer\n"
                        b"t = threading.Thread(target=lambda: b.write(b'from other\\n'))\n"
                        b"t.start(); t.join()\n"
                        b"print('mine')\n")
        self.assertEqual(r.text("OUT "), "from other\nmine\n")
        self.assertEqual(r.text("ERR "), "")
        self.check_alive()

    def test_output_before_exit_kept(self):
        # The code ends the process: what it had written is out already,
        # the stream ends without END.
        session = self.session(b"import os\nprint('bye', flush=True)\nos._exit(3)\n")
        self.assertEqual(self.target.start(session.dir), 0)
        result = session.collect(self.target.pid)
        self.assertEqual(result.tags, ["HELO", "VERS", "RUN ", "OUT "], result)
        self.assertEqual(result.text("OUT "), "bye\n")
        self.assertEqual(self.target.proc.wait(DEADLINE_S), 3)

    def test_code_runs_with_the_callers_signal_mask(self):
        # The agent's thread blocks every signal until the go-ahead, then
        # takes the mask of the thread that called the entry point, as a
        # thread the target started would (subprocesses inherit it).
        before = self.target.run(
            "import signal\n"
            "_result = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))")
        r = self.inject(b"import signal\n"
                        b"print(sorted(int(s) for s in "
                        b"signal.pthread_sigmask(signal.SIG_BLOCK, [])))\n")
        self.assertEqual(r.text("OUT "), "%r\n" % (before,))
        after = self.target.run(
            "_result = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))")
        self.assertEqual(after, before)

    def _tasks_and_fds(self):
        pid = self.target.pid
        return (len(os.listdir("/proc/%d/task" % pid)), len(os.listdir("/proc/%d/fd" % pid)))

    def test_thread_and_fds_released(self):
        before = self._tasks_and_fds()
        for code in (b"print(1)\n", b"raise ValueError(1)\n", b"x = (\n"):
            self.inject(code)
        session = self.session(b"print(1)\n", wait=False)
        self.assertEqual(self.target.start(session.dir), 0)
        session.collect(self.target.pid)
        deadline = time.monotonic() + DEADLINE_S
        while self._tasks_and_fds() != before and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self._tasks_and_fds(), before)

    def test_memory_released(self):
        # A 2 MiB request and a 1 MiB result, run again and again: leaking
        # either (in C or in Python) would add 1 MiB or more a run.  The
        # resident size goes up and down with the collector, so it is read
        # every few runs and the lowest of the first four readings is
        # compared with the lowest of the last four.  PyPy's heap grows in
        # steps of up to 60 MB and is not given back at once: it gets more
        # runs (the readings compared are 130 runs apart, so a leak of 1 MiB
        # a run adds 130 MB) and a bound above its steps.
        runs, every, bound_kb = (200, 10, 96 * 1024) if self.pypy else (80, 5, 24 * 1024)
        code = b"#" * (2 * 1024 * 1024) + b"\nprint('ok' + 'x' * (1024 * 1024))\n"
        rss = "_result = int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])"
        for _ in range(5):
            self.inject(code)
        self.target.run("import gc")
        samples = []
        for n in range(1, runs + 1):
            self.assertEqual(len(self.inject(code).raw("OUT ")), 1024 * 1024 + 3)
            if n % every == 0:
                samples.append(self.target.run("gc.collect()\n" + rss))
        first, last = min(samples[:4]), min(samples[-4:])
        self.assertLess(last - first, bound_kb,
                        "VmRSS grew from %d kB to %d kB (every %dth run: %s)" %
                        (first, last, every, samples))

    def test_busy_target(self):
        # A thread that never sleeps: the code still gets the GIL at the next
        # switch.
        self.target.run("import threading\n"
                        "spinning = [True]\n"
                        "def spin():\n"
                        "    while spinning[0]:\n"
                        "        pass\n"
                        "spinner = threading.Thread(target=spin)\n"
                        "spinner.start()\n")
        try:
            r = self.inject(b"print('got the GIL')\n")
            self.assertEqual(r.text("OUT "), "got the GIL\n")
        finally:
            self.target.run("spinning[0] = False\nspinner.join(30)")

    def test_threading_imported_by_code_then_exit(self):
        # The target never imported threading; the code does, in the
        # agent's thread.  The target must still exit, and cleanly (PyPy
        # waited forever for the agent thread's sentinel lock).
        r = self.inject(b"import threading\nprint(threading.current_thread().name)\n")
        self.assertEqual(r.text("END "), "ok")
        self.check_alive()
        status, _, err = self.target.finish()
        self.assertEqual(status, 0, err)
        self.assertEqual(err, b"")

    def test_threading_tells_the_truth(self):
        # A target that never imported threading: the code that imports it
        # is told the truth (its own thread is not MainThread, the real main
        # thread is listed and is main_thread()), and threading is gone from
        # sys.modules afterwards, so that the target's own first import, in
        # its main thread, is as it would have been.
        main = self.target.run("import _thread\n_result = _thread.get_ident()")
        if self.target.run("_result = 'threading' in sys.modules"):
            # (pyenv's 3.11 here: a .pth file of its site-packages imports it.)
            self.skipTest("this interpreter imports threading at startup")
        r = self.inject(b"import threading\n"
                        b"me, main = threading.current_thread(), threading.main_thread()\n"
                        b"print(me is main, me.name == 'MainThread', type(me).__name__)\n"
                        b"print(main.ident, main.name)\n"
                        b"print([t.ident for t in threading.enumerate()].count(main.ident))\n"
                        b"print(me.ident == threading.get_ident() != main.ident)\n")
        self.assertEqual(r.text("OUT ").splitlines(), [
            "False False _DummyThread", "%d MainThread" % main, "1", "True"])
        self.assertFalse(self.target.run("_result = 'threading' in sys.modules"))
        # Also through a module that imports it (logging), and the module's
        # own reference keeps it (taking it away would split the target's
        # threading in two).
        r = self.inject(b"import logging, threading\n"
                        b"print(threading.current_thread() is threading.main_thread())\n"
                        b"print(threading.main_thread().ident)\n")
        self.assertEqual(r.text("OUT "), "False\n%d\n" % main)
        self.assertTrue(self.target.run("_result = 'threading' in sys.modules"))
        self.assertEqual(self.target.run(
            "import threading\n"
            "_result = [threading.current_thread() is threading.main_thread(),\n"
            "           threading.main_thread().ident == _thread.get_ident(),\n"
            "           [t.name for t in threading.enumerate()]]"), [True, True, ["MainThread"]])
        self.check_alive()
        status, _, err = self.target.finish()
        self.assertEqual(status, 0, err)
        self.assertEqual(err, b"")

    def test_threading_left_as_before(self):
        # A target that had imported threading: after code that asked for
        # its thread, _active, _limbo, _main_thread and _dangling are what
        # they were (the dummy thread registered for the code is gone from
        # each, at once, not when the garbage collector gets to it).
        self.target.run("import threading\n"
                        "snap = lambda: (dict(threading._active), dict(threading._limbo),\n"
                        "                threading._main_thread, set(threading._dangling))\n"
                        "before = snap()")
        r = self.inject(b"import threading\n"
                        b"kept = threading.current_thread()\n"
                        b"print(kept is threading.main_thread(), kept in threading.enumerate())\n")
        self.assertEqual(r.text("OUT "), "False True\n")
        self.assertTrue(self.target.run("after = snap()\n"
                                        "_result = after[0] == before[0] and after[1] == before[1]"
                                        " and after[2] is before[2] and after[3] == before[3]"))
        self.assertTrue(self.target.run("_result = 'threading' in sys.modules"))

    def test_script_directory_on_sys_path(self):
        # As with "python script.py": the script's directory comes first on
        # sys.path while it runs, so the script imports its neighbours; then
        # sys.path (and the import cache) are exactly as before.
        path = self.script("probe_main.py", b"")
        directory = os.path.dirname(path)
        with open(os.path.join(directory, "attachpy_probe_neighbour.py"), "w") as f:
            f.write("VALUE = 42\n")
        snapshot = ("_result = [list(sys.path), %r in sys.path_importer_cache]" % directory)
        before = self.target.run(snapshot)
        r = self.inject(b"import sys, attachpy_probe_neighbour\n"
                        b"sys.stdout.write('%s %d\\n' % (sys.path[0], attachpy_probe_neighbour.VALUE))\n",
                        filename=path.encode())
        self.assertEqual(r.text("OUT "), "%s 42\n" % directory)
        self.assertEqual(self.target.run(snapshot), before)
        self.target.run("del sys.modules['attachpy_probe_neighbour']")
        # -c code: nothing is added.
        r = self.inject(b"import sys\nprint(sys.path == %r)\n" % (before[0],))
        self.assertEqual(r.text("OUT "), "True\n")

    def test_no_dummy_thread_left(self):
        self.target.run("import threading\n"
                        "_result = [t.__class__.__name__ for t in threading.enumerate()]")
        r = self.inject(b"import threading\n"
                        b"print(threading.current_thread().__class__.__name__)\n"
                        b"print(len([t for t in threading.enumerate() "
                        b"if t is threading.current_thread()]))\n")
        self.assertEqual(r.text("OUT "), "_DummyThread\n1\n")
        self.assertEqual(self.target.run(
            "_result = [t.__class__.__name__ for t in threading.enumerate()]"), ["_MainThread"])

    # wait = 0

    def test_no_wait(self):
        path = self.script("nowait.py", b"")
        code = (b"import sys\n"
                b"print('nowait-out')\n"
                b"sys.stderr.write('nowait-err\\n')\n"
                b"raise ValueError('nowait-exc')\n")
        session = self.session(code, filename=path.encode(), wait=False)
        self.assertEqual(self.target.start(session.dir), 0)
        result = session.collect(self.target.pid)
        self.assertEqual(result.tags, ["HELO", "VERS", "RUN ", "END "])
        self.assertEqual(result.text("END "), "exception")
        self.assertTrue(self.target.run("_result = sys.stdout is orig_stdout"))
        _, out, err = self.target.finish()
        self.assertIn(b"nowait-out\n", out)
        self.assertIn(b"nowait-err\n", err)
        tb = err[err.index(b"Traceback"):].decode()
        self.check_traceback(tb, path, "ValueError: nowait-exc")

    def test_no_wait_without_socket(self):
        # The go-ahead comes through the socket: without one, nothing starts.
        session = self.session(b"import __main__\n__main__.ran = True\n", wait=False,
                               listen=False)
        self.assertEqual(self.target.start(session.dir), -5)
        self.assertIsNone(self.target.run("_result = globals().get('ran')"))

    def test_no_wait_go_then_hang_up(self):
        # What the CLI does with --no-wait: the go-ahead, then goodbye,
        # possibly before the agent's HELO went out (its sends fail then,
        # the go-ahead must still count).  Repeated to meet that race.
        self.target.run("runs = [0]")
        for i in range(1, 31):
            session = self.session(b"import __main__\nprint('ran anyway')\n"
                                   b"__main__.runs[0] += 1\n", wait=False)
            self.assertEqual(self.target.start(session.dir), 0)
            conn = session.accept(self.target.pid)
            conn.sendall(GO)
            conn.close()
            self.target.wait_for("runs[0] == %d" % i)
        _, out, _ = self.target.finish()
        self.assertEqual(out.count(b"ran anyway\n"), 30)

    # the go-ahead

    def test_waits_for_go(self):
        session = self.session(b"import __main__\n__main__.ran = True\nprint('ran')\n")
        self.assertEqual(self.target.start(session.dir), 0)
        conn = session.accept(self.target.pid)
        try:
            first = read_records(conn, 2)
            self.assertEqual([tag for tag, _ in first], ["HELO", "VERS"])
            time.sleep(0.3)
            conn.settimeout(0.2)
            self.assertRaises(socket.timeout, conn.recv, 1)
            self.assertIsNone(self.target.run("_result = globals().get('ran')"))
            conn.sendall(GO)
            rest = parse_records(read_to_eof(conn))
        finally:
            conn.close()
        result = Result(first + rest)
        self.check_stream(result)
        self.assertEqual(result.text("OUT "), "ran\n")
        self.assertTrue(self.target.run("_result = globals().get('ran')"))

    def _check_nothing_ran(self, before):
        deadline = time.monotonic() + DEADLINE_S
        while self._tasks_and_fds() != before and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self._tasks_and_fds(), before)
        self.assertIsNone(self.target.run("_result = globals().get('ran')"))
        self.check_alive()

    def test_no_go_runs_nothing(self):
        code = b"import __main__\n__main__.ran = True\n"
        before = self._tasks_and_fds()
        for answer in (b"", b"STOP\0\0\0\0", b"GO  \x01\0\0\0x", b"GO", b"go  \0\0\0\0",
                       b"GO \0\0\0\0\0"):
            session = self.session(code)
            self.assertEqual(self.target.start(session.dir), 0)
            conn = session.accept(self.target.pid)
            try:
                if answer:
                    conn.sendall(answer)
                conn.shutdown(socket.SHUT_WR)
                records = parse_records(read_to_eof(conn, reset_ok=True))
            finally:
                conn.close()
            self.assertEqual([tag for tag, _ in records], ["HELO", "VERS"], answer)
            self._check_nothing_ran(before)

    def test_never_accepted(self):
        # attachpy died between the injection and accept().
        before = self._tasks_and_fds()
        session = self.session(b"import __main__\n__main__.ran = True\n")
        self.assertEqual(self.target.start(session.dir), 0)
        session.server.close()
        session.server = None
        self._check_nothing_ran(before)

    # return codes

    def test_bad_arguments(self):
        self.assertEqual(self.target.start(None), -1)
        self.assertEqual(self.target.start(""), -1)
        self.assertEqual(self.target.start("/tmp/" + "d" * 200), -1)
        self.assertEqual(self.target.start("/tmp/" + "d" * 5000), -1)
        self.check_alive()

    def test_bad_requests(self):
        good = make_request(b"print(1)\n")
        bad = [
            b"",
            b"ATTACHPY-REQUEST 2\n" + good[len(b"ATTACHPY-REQUEST 1\n"):],
            good[:-1],
            good + b"x",
            good.replace(b"code 9\n", b"code 10\n"),
            good.replace(b"code 9\n", b"code +9\n"),
            good.replace(b"wait 1\n1", b"wait 1\n2"),
            make_request(b"x", args=[b"a"]).replace(b"arg ", b"arx "),
            b"ATTACHPY-REQUEST 1\ncode 1\nx\nfilename 1\nx\nwait 1\n1\n",
            b"ATTACHPY-REQUEST 1\nfilename 1\nx\ncode 1\nx\n",
        ]
        for request in bad:
            session = self.session(request=request)
            self.assertEqual(self.target.start(session.dir), -4, request)
        # missing, a directory, a FIFO (must not hang), too large
        session = self.session()
        self.assertEqual(self.target.start(session.dir), -4)
        self.assertEqual(self.target.start(session.dir + "/nonexistent"), -4)
        os.mkdir(os.path.join(session.dir, "request"))
        self.assertEqual(self.target.start(session.dir), -4)
        session = self.session()
        os.mkfifo(os.path.join(session.dir, "request"))
        self.assertEqual(self.target.start(session.dir), -4)
        session = self.session()
        with open(os.path.join(session.dir, "request"), "wb") as f:
            f.write(good)
            f.truncate(17 * 1024 * 1024 + 1)
        self.assertEqual(self.target.start(session.dir), -4)
        # Nothing was ever started: no connection came.
        self.check_alive()

    def test_no_socket(self):
        session = self.session(b"print(1)\n", listen=False)
        self.assertEqual(self.target.start(session.dir), -5)
        # A socket file nobody listens on.
        session = self.session(b"print(1)\n", listen=False)
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(os.path.join(session.dir, "result.sock"))
        dead.close()
        self.assertEqual(self.target.start(session.dir), -5)
        self.check_alive()

    def _start_with_address_space(self, session, headroom):
        return self.target.run(
            "import resource\n"
            "def _vsize():\n"
            "    with open('/proc/self/statm') as f:\n"
            "        return int(f.read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
            "_soft, _hard = resource.getrlimit(resource.RLIMIT_AS)\n"
            "resource.setrlimit(resource.RLIMIT_AS, (_vsize() + %d, _hard))\n"
            "try:\n"
            "    _result = start(%r.encode('ascii'))\n"
            "finally:\n"
            "    resource.setrlimit(resource.RLIMIT_AS, (_soft, _hard))\n"
            % (headroom, session.dir))

    def test_no_thread(self):
        # Room for small allocations, not for an 8 MiB thread stack.
        stack = self.target.run("import resource\n"
                                "_result = resource.getrlimit(resource.RLIMIT_STACK)[0]")
        if stack < 0 or stack < 6 * 1024 * 1024:
            self.skipTest("RLIMIT_STACK %d: thread stacks too small to provoke -6" % stack)
        session = self.session(b"print(1)\n")
        self.assertEqual(self._start_with_address_space(session, 2 * 1024 * 1024), -6)
        self.check_alive()

    def test_no_memory(self):
        session = self.session(b"#" * (16 * 1024 * 1024) + b"\n")
        self.assertEqual(self._start_with_address_space(session, 2 * 1024 * 1024), -7)
        self.check_alive()

    def test_finalizing(self):
        if self.pypy:
            self.skipTest("PyPy cannot be asked whether it is finalising (docs/pypy.md)")
        session = self.session(b"print(1)\n")
        self.target.run(
            "class Late(object):\n"
            "    def __init__(self, start, path, write, fd):\n"
            "        self.start, self.path, self.write, self.fd = start, path, write, fd\n"
            "    def __del__(self):\n"
            "        self.write(self.fd, ('late %%d\\n' %% self.start(self.path)).encode())\n"
            "late = Late(start, %r.encode('ascii'), os.write, os.dup(control_fd))\n"
            % session.dir)
        self.target.proc.stdin.close()
        line = self.target.read_line()
        self.assertEqual(line, "late -3")
        status, _, err = self.target.finish()
        self.assertEqual(status, 0, err)

    def test_finalizing_before_go(self):
        # Started while all was well; the go-ahead arrives while the
        # interpreter finalises: FAIL, never PyGILState_Ensure().
        if self.pypy:
            self.skipTest("PyPy cannot be asked whether it is finalising (docs/pypy.md)")
        session = self.session(b"print(1)\n")
        self.assertEqual(self.target.start(session.dir), 0)
        conn = session.accept(self.target.pid)
        try:
            first = read_records(conn, 2)
            self.target.run(
                "import time\n"
                "class Slow(object):\n"
                "    def __init__(self, sleep, write, fd):\n"
                "        self.sleep, self.write, self.fd = sleep, write, fd\n"
                "    def __del__(self):\n"
                "        self.write(self.fd, b'finalizing\\n')\n"
                "        self.sleep(3)\n"
                "slow = Slow(time.sleep, os.write, os.dup(control_fd))\n")
            self.target.proc.stdin.close()
            self.assertEqual(self.target.read_line(), "finalizing")
            conn.sendall(GO)
            rest = parse_records(read_to_eof(conn))
        finally:
            conn.close()
        r = Result(first + rest)
        self.assertEqual(r.tags, ["HELO", "VERS", "FAIL", "END "], r)
        self.assertEqual(r.text("FAIL"), "the interpreter is finalising")
        self.assertEqual(r.text("END "), "failed")
        status, _, err = self.target.finish()
        self.assertEqual(status, 0, err)

    # a host that loaded libpython RTLD_LOCAL, or none at all

    def _libpython(self):
        out = subprocess.run(
            [self.python, "-c",
             "import sysconfig, os\n"
             "print(os.path.join(sysconfig.get_config_var('LIBDIR'), "
             "sysconfig.get_config_var('INSTSONAME') or ''))\n"
             "print(sysconfig.get_config_var('Py_ENABLE_SHARED'))\n"
             "import sys; print(sys.prefix)"],
            stdout=subprocess.PIPE, env=child_env(), timeout=DEADLINE_S, check=True)
        path, shared, prefix = out.stdout.decode().splitlines()
        if shared != "1" or not os.path.exists(path):
            self.skipTest("%s has no shared libpython" % self.python)
        return path, prefix

    def _embedder(self, session, mode, *extra, **kw):
        embedder = GeneralTests.embedder()
        args = [embedder, AGENT, session.dir, mode] + list(extra)
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=child_env(kw.get("env")))
        return proc

    def _embedder_rc(self, proc):
        ready, _, _ = select.select([proc.stdout], [], [], DEADLINE_S)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("rc "):
            proc.kill()
            self.fail("embedder: %r, stderr %r" % (line, proc.communicate()[1]))
        return int(line.split()[1])

    def _embedder_end(self, proc):
        try:
            _, err = proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        return proc.returncode, err

    def test_libpython_uninitialised(self):
        libpython, prefix = self._libpython()
        session = self.session(b"print(1)\n")
        proc = self._embedder(session, "uninit", libpython)
        try:
            # -3, not -2: the agent found the RTLD_LOCAL libpython.
            self.assertEqual(self._embedder_rc(proc), -3)
        finally:
            self._embedder_end(proc)

    def test_libpython_rtld_local(self):
        libpython, prefix = self._libpython()
        session = self.session(b"import sys\nprint(sys.version.split()[0] + ' ' + __name__)\n")
        proc = self._embedder(session, "embed", libpython, env={"PYTHONHOME": prefix})
        try:
            self.assertEqual(self._embedder_rc(proc), 0)
            result = session.collect(proc.pid)
        finally:
            status, err = self._embedder_end(proc)
        self.assertEqual(result.tags, ["HELO", "VERS", "RUN ", "OUT ", "END "], result)
        self.assertRegex(result.text("HELO"), r"^1 %d \d+ cpython$" % proc.pid)
        self.assertEqual(result.text("OUT "), "%s __attachpy__\n" % self.version)
        self.assertEqual(status, 0, err)

    def _embedded_run(self, *flags):
        """The agent in an embedding host (embedder.c) with flags; returns
        (rc, result or None, host's stdout after the rc line)."""
        libpython, prefix = self._libpython()
        session = self.session(b"import sys\nprint(sys.version.split()[0] + ' ' + __name__)\n")
        proc = self._embedder(session, "embed", libpython, *flags, env={"PYTHONHOME": prefix})
        result = None
        try:
            rc = self._embedder_rc(proc)
            if rc == 0:
                result = session.collect(proc.pid)
        finally:
            try:
                out, err = proc.communicate(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        if result is not None:
            self.assertEqual(result.tags, ["HELO", "VERS", "RUN ", "OUT ", "END "], result)
            self.assertEqual(result.text("OUT "), "%s __attachpy__\n" % self.version)
            self.assertEqual(result.text("END "), "ok")
        # The host's main thread takes the GIL back and runs Python again.
        self.assertEqual(out, b"main-after\n", err)
        return rc, result

    def test_gil_not_created(self):
        # Before 3.7 a process that never started a thread has no GIL.  The
        # entry point, called from the thread that runs Python while it is
        # outside Python (a blocking call), creates it and leaves it free.
        rc, result = self._embedded_run("nothreads")
        self.assertEqual(rc, 0)

    def test_gil_not_created_held(self):
        # The same, called while that thread runs Python (a breakpoint in
        # the allocator, a pending call): the GIL is created and held by
        # it, and it releases it as any holder does.
        rc, result = self._embedded_run("nothreads", "held")
        self.assertEqual(rc, 0)

    def test_gil_not_created_other_thread(self):
        # From a thread that never ran Python the GIL cannot be created
        # safely: -3, nothing runs, the host goes on.
        rc, result = self._embedded_run("nothreads", "otherthread")
        self.assertEqual(rc, -3 if self.version_info < (3, 7) else 0)

    def test_called_while_running_python(self):
        rc, result = self._embedded_run("held")
        self.assertEqual(rc, 0)

    def test_called_from_a_thread_without_python(self):
        rc, result = self._embedded_run("otherthread")
        self.assertEqual(rc, 0)


# ---- interpreter-independent ----------------------------------------------------


class GeneralTests(unittest.TestCase):
    _embedder_path = None
    _embedder_dir = None

    @classmethod
    def embedder(cls):
        if cls._embedder_path is None:
            if not shutil.which(CC):
                raise unittest.SkipTest("no C compiler (%s) for embedder.c" % CC)
            cls._embedder_dir = tempfile.mkdtemp(prefix="aptest-embedder-")
            path = os.path.join(cls._embedder_dir, "embedder")
            subprocess.run([CC, "-O0", "-Wall", "-o", path, EMBEDDER_SOURCE, "-ldl",
                            "-lpthread"],
                           check=True, timeout=120)
            cls._embedder_path = path
        return cls._embedder_path

    def test_exports_one_symbol(self):
        if not shutil.which("nm"):
            self.skipTest("no nm")
        out = subprocess.run(["nm", "-D", "--defined-only", AGENT], stdout=subprocess.PIPE,
                             check=True, timeout=DEADLINE_S).stdout.decode()
        symbols = [line.split()[-1] for line in out.splitlines() if line.strip()]
        self.assertEqual(symbols, ["attachpy_agent_start_v1"])
        out = subprocess.run(["nm", "-D", "--undefined-only", AGENT], stdout=subprocess.PIPE,
                             check=True, timeout=DEADLINE_S).stdout.decode()
        self.assertFalse([l for l in out.splitlines() if "Py" in l], out)

    def test_no_python(self):
        session = Session(make_request(b"print(1)\n"))
        try:
            proc = subprocess.Popen([self.embedder(), AGENT, session.dir, "nopython"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            out, err = proc.communicate(timeout=DEADLINE_S)
            self.assertEqual(out, b"rc -2\n", err)
        finally:
            session.close()

    def test_embed_roundtrip(self):
        if not shutil.which(CC):
            self.skipTest("no C compiler")
        data = (b"plain\n\ttab \"quoted\" back\\slash ??= trigraph?\n"
                b"\r\n\x01\x7f octal\x017 digits after\n"
                + u"\u00e9t\u00e9 \u2603\n".encode("utf-8") + b"no final newline")
        work = tempfile.mkdtemp(prefix="aptest-embed-")
        try:
            src = os.path.join(work, "input.txt")
            with open(src, "wb") as f:
                f.write(data)
            header = os.path.join(work, "gen.h")
            subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "agent", "embed.py"),
                            src, header, "the_text"], check=True, timeout=DEADLINE_S)
            prog = os.path.join(work, "prog.c")
            with open(prog, "w") as f:
                f.write('#include <stdio.h>\n#include "gen.h"\n'
                        "int main(void) { fwrite(the_text, 1, sizeof the_text - 1, stdout);"
                        " return 0; }\n")
            exe = os.path.join(work, "prog")
            subprocess.run([CC, "-std=c11", "-Wall", "-Werror", "-o", exe, prog], check=True,
                           timeout=120)
            out = subprocess.run([exe], stdout=subprocess.PIPE, check=True,
                                 timeout=DEADLINE_S).stdout
            self.assertEqual(out, data)
            # NUL bytes and bad identifiers are refused.
            with open(src, "wb") as f:
                f.write(b"a\0b")
            r = subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "agent",
                                                             "embed.py"), src, header, "x"],
                               stderr=subprocess.PIPE, timeout=DEADLINE_S)
            self.assertNotEqual(r.returncode, 0)
            r = subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "agent",
                                                             "embed.py"), prog, header, "1x"],
                               stderr=subprocess.PIPE, timeout=DEADLINE_S)
            self.assertNotEqual(r.returncode, 0)
        finally:
            shutil.rmtree(work, ignore_errors=True)


class SummaryResult(unittest.TextTestResult):
    """Also counts outcomes per interpreter, for the summary at the end."""

    def __init__(self, *args, **kw):
        unittest.TextTestResult.__init__(self, *args, **kw)
        self.per_label = {}

    def _note(self, test, outcome):
        label = getattr(test, "label", None) or "general"
        counts = self.per_label.setdefault(label, {})
        counts[outcome] = counts.get(outcome, 0) + 1

    def addSuccess(self, test):
        unittest.TextTestResult.addSuccess(self, test)
        self._note(test, "passed")

    def addFailure(self, test, err):
        unittest.TextTestResult.addFailure(self, test, err)
        self._note(test, "failed")

    def addError(self, test, err):
        unittest.TextTestResult.addError(self, test, err)
        self._note(test, "errors")

    def addSkip(self, test, reason):
        unittest.TextTestResult.addSkip(self, test, reason)
        self._note(test, "skipped")

    def summary(self):
        lines = ["", "per interpreter:"]
        for label in sorted(self.per_label):
            counts = self.per_label[label]
            lines.append("  %-22s %s" % (label, ", ".join(
                "%d %s" % (counts[k], k) for k in ("passed", "failed", "errors", "skipped")
                if counts.get(k))))
        return "\n".join(lines) + "\n"


def make_cases():
    cases = {}
    for label, python, optional in interpreter_list():
        name = "Test_" + label.replace("-", "_").replace(".", "_")
        cases[name] = type(name, (AgentCases, unittest.TestCase),
                           {"label": label, "python": python, "optional": optional})
    return cases


globals().update(make_cases())


def main(argv):
    global AGENT, CC
    rest = [argv[0]]
    i = 1
    while i < len(argv):
        if argv[i] == "--agent" and i + 1 < len(argv):
            AGENT = os.path.abspath(argv[i + 1])
            i += 2
        elif argv[i].startswith("--agent="):
            AGENT = os.path.abspath(argv[i][len("--agent="):])
            i += 1
        elif argv[i] == "--cc" and i + 1 < len(argv):
            CC = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if not AGENT or not os.path.exists(AGENT):
        sys.stderr.write("usage: %s --agent PATH/attachpy-agent.so [unittest options]\n"
                         % argv[0])
        return 2
    try:
        runner = unittest.TextTestRunner(verbosity=2, resultclass=SummaryResult)
        program = unittest.main(argv=rest, exit=False, testRunner=runner)
        sys.stderr.write(program.result.summary())
    finally:
        if GeneralTests._embedder_dir:
            shutil.rmtree(GeneralTests._embedder_dir, ignore_errors=True)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    if os.environ.get("APTEST_FAULTHANDLER"):
        import faulthandler
        faulthandler.dump_traceback_later(float(os.environ["APTEST_FAULTHANDLER"]), exit=True)
    sys.exit(main(sys.argv))
