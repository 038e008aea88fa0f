"""`meson install --destdir` into a fresh directory gives a working attachpy:
the files are where they belong, and the installed copy finds its agent,
debugger scripts, schemas, man page and completion there (not in the source
or build tree), lists processes, and injects into a live target with gdb
(and lldb when installed).  Injects: run under the shared lock
(flock /tmp/attachpy-itest.lock).

    python3 test_install.py --builddir build
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))
sys.path.insert(0, TESTS)
import harness  # noqa: E402
import schema  # noqa: E402

BUILDDIR = None


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTACHPY_")}
    env.update(extra)
    return env


class InstallTest(unittest.TestCase):
    dest = None
    target = None

    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="ux-install-")
        p = subprocess.run(["meson", "install", "-C", BUILDDIR, "--destdir", cls.dest,
                            "--no-rebuild", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if p.returncode != 0:
            shutil.rmtree(cls.dest, ignore_errors=True)
            raise RuntimeError("meson install failed:\n" + p.stdout.decode())
        with open(os.path.join(BUILDDIR, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
        cls.prefix = cls.dest + opts["prefix"]
        cls.bindir = os.path.join(cls.prefix, opts["bindir"])
        cls.datadir = os.path.join(cls.prefix, opts["datadir"])
        cls.libdir = os.path.join(cls.prefix, opts["libdir"])
        cls.exe = os.path.join(cls.bindir, "attachpy")

    @classmethod
    def tearDownClass(cls):
        if cls.target:
            cls.target.stop()
        if cls.dest:
            shutil.rmtree(cls.dest, ignore_errors=True)

    def start_target(self):
        if InstallTest.target is None:
            interps, _ = harness.discover()
            ok = harness.supported(interps)
            if not ok:
                self.fail("no supported interpreter found")
            pick = [i for i in ok if i.name == "debian-3.11"] or ok[-1:]
            InstallTest.target = harness.Target(pick[0].path, "sleep")
        return InstallTest.target

    def test_files_in_place(self):
        want = [
            os.path.join(self.bindir, "attachpy"),
            os.path.join(self.libdir, "attachpy", "attachpy-agent.so"),
            os.path.join(self.datadir, "attachpy", "gdbscripts", "direct.gdb"),
            os.path.join(self.datadir, "attachpy", "gdbscripts", "schedule.gdb"),
            os.path.join(self.datadir, "attachpy", "lldbscripts", "direct.lldb"),
            os.path.join(self.datadir, "attachpy", "lldbscripts", "schedule.lldb"),
            os.path.join(self.datadir, "attachpy", "schema", "status.schema.json"),
            os.path.join(self.datadir, "attachpy", "schema", "ps.schema.json"),
            os.path.join(self.datadir, "man", "man1", "attachpy.1"),
            os.path.join(self.datadir, "bash-completion", "completions", "attachpy"),
            os.path.join(self.datadir, "zsh", "site-functions", "_attachpy"),
        ]
        for path in want:
            self.assertTrue(os.path.isfile(path), path)
        self.assertTrue(glob.glob(os.path.join(self.datadir, "attachpy", "lldbscripts", "*.lldb")))
        self.assertTrue(os.access(self.exe, os.X_OK))
        # Nothing of the tests or the sources is installed.
        everything = [os.path.relpath(os.path.join(d, f), self.dest)
                      for d, _, fs in os.walk(self.dest) for f in fs]
        self.assertEqual([f for f in everything if "test" in os.path.basename(f)], [])
        print("\ninstalled files:\n  " + "\n  ".join(sorted(everything)))

    def test_version_help_and_man(self):
        p = subprocess.run([self.exe, "--version"], stdout=subprocess.PIPE, env=clean_env())
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^attachpy \d+\.\d+\.\d+\n$")
        man = os.path.join(self.datadir, "man", "man1", "attachpy.1")
        p = subprocess.run(["groff", "-man", "-Tascii", "-ww", man], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        self.assertEqual(p.stderr, b"")
        # The installed page names the installed locations (of the configured prefix).
        text = p.stdout.decode()
        self.assertIn("ATTACHPY(1)", text)
        self.assertNotIn("@DATADIR@", open(man).read())

    def test_ps_validates_against_installed_schema(self):
        p = subprocess.run([self.exe, "ps", "--json"], stdout=subprocess.PIPE, env=clean_env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0)
        old = os.environ.get("ATTACHPY_SCHEMA_DIR")
        os.environ["ATTACHPY_SCHEMA_DIR"] = os.path.join(self.datadir, "attachpy", "schema")
        try:
            schema.validate_ps(json.loads(p.stdout.decode()))
        finally:
            if old is None:
                os.environ.pop("ATTACHPY_SCHEMA_DIR")
            else:
                os.environ["ATTACHPY_SCHEMA_DIR"] = old

    def test_installed_bash_completion(self):
        comp = os.path.join(self.datadir, "bash-completion", "completions", "attachpy")
        script = ('source "$1"; COMP_WORDS=(attachpy --debugger = l); COMP_CWORD=3; _attachpy; '
                  'echo "${COMPREPLY[*]}"')
        p = subprocess.run(["bash", "--norc", "-c", script, "bash", comp], stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.decode().strip(), "lldb")

    def inject(self, debugger):
        target = self.start_target()
        run = harness.attachpy(self.exe, "--verbose", "--debugger=" + debugger, target.pid, "-c",
                               "import sys; print('installed', sys.version_info[0])",
                               env=clean_env())
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.stdout, "installed 3\n")
        # The agent and the script came from the installed copy.
        agent = os.path.join(self.libdir, "attachpy", "attachpy-agent.so")
        self.assertIn("agent " + agent, run.stderr)
        self.assertNotIn(os.path.abspath(BUILDDIR), run.stderr.split("transcript ----")[0])
        self.assertIsNone(harness.check_alive(target))
        run = harness.attachpy(self.exe, "--json", "--debugger=" + debugger, target.pid, "-c",
                               "print(6 * 7)", env=clean_env())
        self.assertEqual((run.rc, run.json["result"]["stdout"]), (0, "42\n"), run)
        self.assertIsNone(harness.check_alive(target))

    def test_inject_gdb(self):
        if not shutil.which("gdb"):
            if harness.IN_CI:
                self.fail("gdb is not installed")
            self.skipTest("gdb is not installed")
        self.inject("gdb")

    def test_inject_lldb(self):
        if not shutil.which("lldb"):
            if harness.IN_CI:
                self.fail("lldb is not installed")
            self.skipTest("lldb is not installed")
        self.inject("lldb")

    def test_missing_files_read_well(self):
        """A copy of the binary alone (no agent, no scripts) fails before
        touching the target, naming what is missing and what to do."""
        broken = tempfile.mkdtemp(prefix="ux-broken-")
        try:
            os.makedirs(os.path.join(broken, "bin"))
            shutil.copy(self.exe, os.path.join(broken, "bin", "attachpy"))
            target = self.start_target()
            run = harness.attachpy(os.path.join(broken, "bin", "attachpy"), "--json",
                                   "--debugger=gdb", target.pid, "-c", "pass", env=clean_env())
            self.assertEqual(run.rc, 6, run)
            self.assertIn("attachpy-agent.so", run.json["error"]["message"])
            self.assertIn("ATTACHPY_AGENT", run.json["error"]["hint"])
            # With the agent given, the missing script is named.
            agent = os.path.join(self.libdir, "attachpy", "attachpy-agent.so")
            run = harness.attachpy(os.path.join(broken, "bin", "attachpy"), "--json",
                                   "--debugger=gdb", target.pid, "-c", "pass",
                                   env=clean_env(ATTACHPY_AGENT=agent))
            self.assertEqual(run.rc, 6, run)
            self.assertRegex(run.json["error"]["message"], r"attach\.gdb")
            self.assertIn("ATTACHPY_DATADIR", run.json["error"]["hint"])
            self.assertIsNone(harness.check_alive(target))
        finally:
            shutil.rmtree(broken, ignore_errors=True)


def main():
    global BUILDDIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    BUILDDIR = os.path.abspath(ap.parse_args().builddir)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(InstallTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if harness.IN_CI and result.skipped:
        print("FAILURE (CI=true): tests were skipped")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
