"""The progress line: on a terminal (a pseudo-terminal here) a run whose code
takes ~2.5 s shows "attachpy: running in PID… 1.x s", redrawn in place and
erased at the end, so that nothing of it is left on the screen; with stderr
not a terminal, or with --json, nothing of it at all.  These tests inject:
run them under the shared lock (flock /tmp/attachpy-itest.lock).

    python3 test_progress.py --attachpy build/cli/attachpy
"""
import argparse
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))
import harness  # noqa: E402

ATTACHPY = None
SLOW = os.path.join(harness.SCRIPTS, "slow.py")
ERASE = "\r\x1b[K"


def screen(raw):
    """What a terminal shows at the end: apply \\r and ESC[K line by line."""
    lines, cur, col = [], [], 0
    i = 0
    while i < len(raw):
        if raw.startswith("\x1b[K", i):
            del cur[col:]
            i += 3
            continue
        c = raw[i]
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            if col < len(cur):
                cur[col] = c
            else:
                cur.append(c)
            col += 1
        i += 1
    if cur:
        lines.append("".join(cur))
    return lines


def run_on_pty(argv, env):
    """Run argv with stderr on a pty (stdout a pipe); return rc, stdout, the
    raw bytes the terminal received."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                             env=env)
    finally:
        os.close(slave)
    raw = b""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                raw += chunk
            elif p.poll() is not None:
                break
        out = p.stdout.read()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
        p.stdout.close()
    return p.returncode, out.decode(), raw.decode("utf-8", "replace")


class ProgressTest(unittest.TestCase):
    target = None

    @classmethod
    def setUpClass(cls):
        if not shutil.which("gdb") and not shutil.which("lldb"):
            raise unittest.SkipTest("no debugger installed")
        interps, missing = harness.discover()
        ok = harness.supported(interps)
        if not ok:
            raise unittest.SkipTest("no supported interpreter")
        # The Debian one when there, else the newest found.
        pick = [i for i in ok if i.name == "debian-3.11"] or ok[-1:]
        cls.target_python = pick[0].path
        cls.target = harness.Target(pick[0].path, "sleep")
        cls.env = dict(os.environ, LANG="C.UTF-8", TERM="xterm")
        cls.env.pop("LC_ALL", None)

    @classmethod
    def tearDownClass(cls):
        if cls.target:
            cls.target.stop()

    def tearDown(self):
        problem = harness.check_alive(self.target)
        self.assertIsNone(problem)

    def test_tty_shows_and_erases(self):
        rc, out, raw = run_on_pty([ATTACHPY, str(self.target.pid), SLOW, "2.5"], self.env)
        self.assertEqual(rc, 0, raw)
        self.assertEqual(out, "slow start\nslow end\n")
        pid = self.target.pid
        shown = re.findall(r"attachpy: running in %d\u2026 (\d+\.\d) s" % pid, raw)
        self.assertTrue(shown, "no progress line in %r" % raw)
        secs = [float(s) for s in shown]
        self.assertGreaterEqual(min(secs), 1.0, "shown before a second passed")
        self.assertGreaterEqual(max(secs), 2.0, "not redrawn as time passed: %r" % secs)
        self.assertEqual(secs, sorted(secs))
        self.assertGreater(len(secs), 5)
        # Every drawing starts by erasing the line, and the last thing is an erase.
        self.assertTrue(raw.endswith(ERASE), repr(raw[-80:]))
        self.assertNotIn("\n", raw, "the status line must never scroll: %r" % raw[:200])
        self.assertEqual([l for l in screen(raw) if l], [], "left on the screen")

    def test_tty_ascii_ellipsis_without_utf8(self):
        env = dict(self.env, LANG="C")
        rc, out, raw = run_on_pty([ATTACHPY, str(self.target.pid), SLOW, "1.5"], env)
        self.assertEqual(rc, 0, raw)
        self.assertRegex(raw, r"attachpy: running in %d\.\.\. 1\.\d s" % self.target.pid)
        self.assertEqual([l for l in screen(raw) if l], [])

    def test_tty_json_shows_nothing(self):
        rc, out, raw = run_on_pty([ATTACHPY, "--json", str(self.target.pid), SLOW, "1.5"],
                                  self.env)
        self.assertEqual(rc, 0, raw)
        self.assertEqual(raw, "")

    def test_errors_still_readable_on_tty(self):
        rc, out, raw = run_on_pty([ATTACHPY, "--timeout=2", str(self.target.pid), SLOW, "3"],
                                  self.env)
        self.assertEqual(rc, 7, raw)
        lines = [l for l in screen(raw) if l]
        self.assertTrue(lines and lines[0].startswith("attachpy: error: the code did not finish"),
                        lines)
        self.assertNotIn("running in %d\u2026" % self.target.pid, "\n".join(lines))
        self.assertRegex(raw, "running in %d\u2026 1\\.\\d s" % self.target.pid)  # it was shown

    def test_waiting_for_a_safe_point(self):
        """A target in one long C call holding the GIL: the line says attachpy
        waits for a safe point, then the timeout error stands alone."""
        if not shutil.which("gdb"):
            self.skipTest("gdb is not installed")
        cbusy = harness.Target(self.target_python, "cbusy")
        try:
            rc, out, raw = run_on_pty([ATTACHPY, "--timeout=2.5", "--debugger=gdb",
                                       str(cbusy.pid), "-c", "pass"], self.env)
            self.assertEqual(rc, 7, raw)
            self.assertRegex(raw, r"attachpy: waiting for a safe point in %d\u2026 1\.\d s" %
                             cbusy.pid)
            lines = [l for l in screen(raw) if l]
            self.assertTrue(lines and lines[0].startswith("attachpy: error: process %d did not "
                                                          "reach a safe point" % cbusy.pid),
                            lines)
            self.assertIsNone(harness.check_alive(cbusy))
        finally:
            cbusy.stop()

    def test_not_a_tty_shows_nothing(self):
        run = harness.attachpy(ATTACHPY, self.target.pid, SLOW, "1.5", env=self.env)
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.stdout, "slow start\nslow end\n")
        self.assertEqual(run.stderr, "")


def main():
    global ATTACHPY
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ATTACHPY = os.path.abspath(ap.parse_args().attachpy)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ProgressTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if harness.IN_CI and result.skipped:
        print("FAILURE (CI=true): tests were skipped")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
