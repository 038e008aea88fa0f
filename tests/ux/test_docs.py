"""The README's Troubleshooting table quotes attachpy's own messages: each
quoted message (first column) must still be one the code can print, with
concrete values (PIDs, paths, names, numbers) standing for the format's
placeholders.  A reworded message fails this test until the README follows.

    python3 test_docs.py
"""
import glob
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def c_strings():
    """Every C string literal in cli/, adjacent literals joined; and the
    recipes' double-quoted strings (their refusals become attachpy's error
    messages)."""
    out = []
    for path in (glob.glob(os.path.join(ROOT, "cli", "*.c")) +
                 glob.glob(os.path.join(ROOT, "recipes", "*.py"))):
        with open(path) as f:
            text = f.read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        # Runs of literals separated only by whitespace are one string.
        for run in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', text):
            parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', run.group(0))
            out.append("".join(parts).replace('\\"', '"').replace("\\'", "'"))
    return out


WILD = re.compile(r"""(\.\.\.|\b\w+Error\b|'[^']*'|\([^()]*/[^()]*\)|/\S+|\b\d+(?:\.\d+)*\b|\bgdb\b|\bN\b|\bUSER\b)""")


def fragment_regex(fragment):
    pieces = WILD.split(fragment)
    rx = ""
    for i, p in enumerate(pieces):
        if i % 2:
            if p.startswith("(") and p.endswith(")"):
                rx += r"\(.*?\)"
            else:
                rx += ".*?"
        else:
            rx += re.escape(p)
    return rx


def troubleshooting_fragments():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
    frags = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split(" | ")[0]
        frags += re.findall(r"`([^`]+)`", first)
    return frags


class DocsTest(unittest.TestCase):
    def test_troubleshooting_quotes_real_messages(self):
        sources = c_strings()
        frags = troubleshooting_fragments()
        self.assertGreater(len(frags), 20)
        codes = {"no_such_process", "not_python", "target_exited", "injection_failed",
                 "permission_denied", "remote_debug_disabled", "unsupported_python",
                 "debugger_not_found", "timeout", "script_error", "debugger_failed", "usage",
                 "recipe_refused"}
        missing = []
        for frag in frags:
            if frag in codes:
                continue
            rx = re.compile(fragment_regex(frag))
            if not any(rx.search(s) for s in sources):
                missing.append(frag)
        self.assertEqual(missing, [], "quoted in README's Troubleshooting, printed by no code")

    def test_every_error_code_has_a_row(self):
        with open(os.path.join(ROOT, "cli", "error.c")) as f:
            codes = re.findall(r'\[AP_ERR_\w+\] = \{"(\w+)"', f.read())
        with open(os.path.join(ROOT, "README.md")) as f:
            section = f.read().split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
        for code in codes:
            if code in ("debugger_failed",):
                self.assertIn("debugger_failed", section)
            self.assertIn(code, section, code)


if __name__ == "__main__":
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(DocsTest))
    sys.exit(0 if result.wasSuccessful() and not result.skipped else 1)
