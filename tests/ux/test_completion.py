"""Shell completion.  bash: the function called with COMP_WORDS set (both
ways readline splits "--opt=value"), PIDs of Python processes from
'attachpy ps' (and from /proc when attachpy cannot run), then one real TAB
in an interactive bash on a pty.  zsh: the file parses, compinit registers
it, and a real TAB on a pty completes.  Every option of --help is offered
by both.

    python3 test_completion.py --attachpy build/cli/attachpy
"""
import argparse
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

BASH = os.path.join(ROOT, "completions", "attachpy.bash")
ZSH = os.path.join(ROOT, "completions", "_attachpy")
ATTACHPY = None


def complete(*words, prog=None):
    """COMPREPLY for the words (the last one is being completed)."""
    words = [prog or ATTACHPY] + list(words)
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              '_attachpy; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", BASH] + words,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, timeout=60)
    assert p.returncode == 0 and not p.stderr, p.stderr
    return [l for l in p.stdout.decode().split("\n") if l]


def help_options():
    out = subprocess.run([ATTACHPY, "--help"], stdout=subprocess.PIPE).stdout.decode()
    opts = set()
    for line in out.split("Options")[1].split("\n\n")[0].splitlines():
        m = re.match(r"^ {2,}(?:(-\w), )?(--[\w-]*)", line)
        if m:
            opts.update(x for x in m.groups() if x)
    return opts


def type_on_pty(argv, setup, keys, expect, env=None):
    """Start an interactive shell on a pty, run setup, type keys; return what
    the terminal shows after them (as soon as expect appears, or after 10 s)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execvpe(argv[0], argv, env or os.environ)

    def read(until, seconds):
        out, end = b"", time.monotonic() + seconds
        while time.monotonic() < end and until not in out:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return out.decode("utf-8", "replace")
    try:
        os.write(fd, setup.encode() + b"; echo setup-done\n")
        read(b"setup-done\r\n", 10)
        os.write(fd, keys.encode())
        return read(expect.encode(), 10)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


class BashTest(unittest.TestCase):
    target = sleeper = None

    @classmethod
    def setUpClass(cls):
        interps, _ = harness.discover()
        ok = harness.supported(interps)
        if ok:
            cls.target = harness.Target(ok[-1].path, "sleep")
        cls.sleeper = subprocess.Popen(["sleep", "300"])

    @classmethod
    def tearDownClass(cls):
        if cls.target:
            cls.target.stop()
        if cls.sleeper:
            os.kill(cls.sleeper.pid, signal.SIGKILL)
            cls.sleeper.wait()

    def test_options(self):
        self.assertEqual(complete("--deb"), ["--debugger="])
        self.assertEqual(complete("--no"), ["--no-wait"])
        self.assertEqual(set(complete("-")) - {"--debugger=", "--timeout=", "--config=",
                                               "--code="}, help_options() - {"--debugger",
                                                                             "--timeout",
                                                                             "--config",
                                                                             "--code"})
        # After options, still options.
        self.assertEqual(complete("--json", "--verb"), ["--verbose"])
        self.assertEqual(complete("--timeout", "=", "5", "--j"), ["--json"])

    def test_every_help_option_offered(self):
        offered = {o.rstrip("=") for o in complete("-")}
        self.assertEqual(sorted(help_options() - offered), [])

    def test_debugger_names(self):
        # readline splits at '=' (bash's default COMP_WORDBREAKS): bare values.
        self.assertEqual(complete("--debugger", "="), ["gdb", "lldb", "auto"])
        self.assertEqual(complete("--debugger", "=", "l"), ["lldb"])
        # Not split: the whole word.
        self.assertEqual(complete("--debugger=g"), ["--debugger=gdb"])
        # As a separate word.
        self.assertEqual(complete("--debugger", "a"), ["auto"])

    def test_pids(self):
        if not self.target:
            self.fail("no supported interpreter to start a target with")
        got = complete("")
        self.assertIn(str(self.target.pid), got)
        self.assertIn("ps", got)
        self.assertNotIn(str(self.sleeper.pid), got)
        prefix = str(self.target.pid)[:-1]
        self.assertIn(str(self.target.pid), complete(prefix))
        self.assertNotIn("ps", complete("--", ""))  # after --, PID only
        self.assertIn(str(self.target.pid), complete("--json", "-c", "pass", ""))

    def test_pids_come_from_attachpy_ps(self):
        """A Python started under another name ("myapp") is found by its
        mapped interpreter, which only 'attachpy ps' sees, not by /proc names."""
        interps, _ = harness.discover()
        ok = harness.supported(interps)
        if not ok:
            self.fail("no supported interpreter to start a target with")
        with tempfile.TemporaryDirectory() as d:
            link = os.path.join(d, "myapp")
            os.symlink(ok[-1].path, link)
            t = harness.Target(link, "sleep")
            try:
                with open("/proc/%d/comm" % t.pid) as f:
                    self.assertEqual(f.read().strip(), "myapp")
                self.assertIn(str(t.pid), complete(""))
                self.assertNotIn(str(t.pid), complete("", prog="/nonexistent/attachpy"))
            finally:
                t.stop()

    def test_pids_without_attachpy(self):
        """When attachpy cannot run, PIDs come from /proc by name."""
        if not self.target:
            self.fail("no supported interpreter to start a target with")
        got = complete("", prog="/nonexistent/attachpy")
        self.assertIn(str(self.target.pid), got)
        self.assertNotIn(str(self.sleeper.pid), got)

    def test_after_pid(self):
        with tempfile.TemporaryDirectory(dir=ROOT) as d:
            for name in ("probe.py", "notes.txt"):
                open(os.path.join(d, name), "w").close()
            os.mkdir(os.path.join(d, "sub"))
            rel = os.path.relpath(d, ROOT)
            self.assertEqual(sorted(complete("4242", rel + "/")),
                             sorted([rel + "/probe.py", rel + "/sub"]))
            # The code's own arguments: any file.
            self.assertIn(rel + "/notes.txt", complete("4242", "x.py", rel + "/"))
        self.assertEqual(complete("4242", "-"), ["-c", "--code="])
        self.assertEqual(complete("4242", "-c", ""), [])

    def test_ps(self):
        self.assertEqual(complete("ps", ""), ["--json", "--help"])
        self.assertEqual(complete("ps", "--j"), ["--json"])

    def test_real_tab(self):
        setup = ("PS1='$ '; source %s; PATH=%s:$PATH" %
                 (BASH, os.path.dirname(ATTACHPY)))
        shown = type_on_pty(["bash", "--norc", "--noprofile", "-i"], setup,
                            "attachpy --debugger=l\t", "attachpy --debugger=lldb ")
        self.assertIn("attachpy --debugger=lldb ", shown)


class ZshTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("zsh"):
            if harness.IN_CI:
                self.fail("zsh is not installed")
            self.skipTest("zsh is not installed")

    def test_parses(self):
        p = subprocess.run(["zsh", "-n", ZSH], stderr=subprocess.PIPE)
        self.assertEqual((p.returncode, p.stderr), (0, b""))

    def test_every_help_option_offered(self):
        with open(ZSH) as f:
            text = f.read()
        for opt in help_options() - {"--"}:
            self.assertRegex(text, r"['{,)]%s[=+\[,}']" % re.escape(opt), opt)

    def test_registered_by_compinit(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run(
                ["zsh", "-f", "-c", 'fpath=(%s $fpath); autoload -Uz compinit; '
                 'compinit -u -d %s/dump; print -r -- $_comps[attachpy]' %
                 (os.path.dirname(ZSH), d)], stdout=subprocess.PIPE, timeout=60)
        self.assertEqual(p.stdout.decode().strip(), "_attachpy")

    def test_real_tab(self):
        with tempfile.TemporaryDirectory() as d:
            setup = ("PROMPT='$ '; fpath=(%s $fpath); autoload -Uz compinit; "
                     "compinit -u -d %s/dump; path=(%s $path)" %
                     (os.path.dirname(ZSH), d, os.path.dirname(ATTACHPY)))
            shown = type_on_pty(["zsh", "-f", "-i"], setup, "attachpy --debugger=l\t",
                                "attachpy --debugger=lldb")
        self.assertIn("attachpy --debugger=lldb", shown)


def main():
    global ATTACHPY
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ATTACHPY = os.path.abspath(ap.parse_args().attachpy)
    suite = unittest.TestSuite()
    for case in (BashTest, ZshTest):
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if harness.IN_CI and result.skipped:
        print("FAILURE (CI=true): tests were skipped")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
