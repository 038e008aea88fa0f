"""attachpy(1) is well-formed roff and in step with `attachpy --help`: every
option in one appears in the other, the exit statuses agree, and the ps
subcommand and the JSON fields are documented.

    python3 test_manpage.py --attachpy build/cli/attachpy --man build/docs/attachpy.1
"""
import argparse
import json
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ATTACHPY = MAN = None
OPTION = re.compile(r"^ {2,}(?:(-\w), )?(--[\w-]*)(?:[= ]|$)")


def render(path):
    p = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", "-rLL=100n", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return p.stdout.decode("ascii", "replace")


def sections(text):
    out, name = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            out[name] = []
        elif name:
            out[name].append(line)
    return out


def options_in(lines):
    found = set()
    for line in lines:
        m = OPTION.match(line)
        if m:
            found.update(x for x in m.groups() if x)
    return found


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.help = subprocess.run([ATTACHPY, "--help"], stdout=subprocess.PIPE,
                                  check=True).stdout.decode()
        cls.man = render(MAN)
        cls.sections = sections(cls.man)

    def test_groff_has_no_warnings(self):
        p = subprocess.run(["groff", "-man", "-ww", "-z", MAN], stderr=subprocess.PIPE)
        self.assertEqual((p.returncode, p.stderr.decode()), (0, ""))

    def test_sections(self):
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS",
                     "WHAT THE CODE SEES", "JSON OUTPUT", "EXIT STATUS", "PERMISSIONS", "SAFETY",
                     "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
            self.assertIn(name, self.sections)

    def test_help_options_in_man(self):
        help_lines = self.help.split("Options")[1].split("\n\n")[0].splitlines()
        in_help = options_in(help_lines)
        self.assertIn("--json", in_help)
        self.assertIn("-c", in_help)
        in_man = options_in(self.sections["OPTIONS"])
        self.assertEqual(sorted(in_help - in_man), [], "in --help, not in the man page")
        self.assertEqual(sorted(in_man - in_help), [], "in the man page, not in --help")

    def test_synopsis_agrees(self):
        synopsis = [" ".join(l.split()) for l in self.sections["SYNOPSIS"] if l.strip()]
        usage = [" ".join(l.replace("Usage:", "").split())
                 for l in self.help.split("\n\n")[0].splitlines()]
        self.assertEqual(synopsis, usage)

    def test_exit_statuses_agree(self):
        table = re.findall(r"^  (\d)  ([\w, ]+)", self.help, re.M)
        self.assertEqual(len(table), 8)
        text = "\n".join(self.sections["EXIT STATUS"])
        for status, codes in table:
            if codes == "ok":
                continue
            self.assertRegex(text, r"(?m)^ +%s +%s\b" % (status, re.escape(codes.strip())))

    def test_json_fields_documented(self):
        text = "\n".join(self.sections["JSON OUTPUT"])
        for name in ("status", "ps"):
            with open(os.path.join(ROOT, "schema", name + ".schema.json")) as f:
                doc = json.load(f)
            props = doc["properties"] if name == "status" else doc["items"]["properties"]
            for field in props:
                self.assertRegex(text, r"\b%s\b" % field, "%s field %s" % (name, field))

    def test_ps_reasons_documented(self):
        with open(os.path.join(ROOT, "schema", "ps.schema.json")) as f:
            reasons = [r for r in json.load(f)["items"]["properties"]["reason"]["enum"]
                       if r and r not in ("gone", "not_python")]
        text = " ".join("\n".join(self.sections["COMMANDS"]).split())
        for r in reasons:
            self.assertIn(r, text)


def main():
    global ATTACHPY, MAN
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ap.add_argument("--man", required=True)
    args = ap.parse_args()
    ATTACHPY, MAN = os.path.abspath(args.attachpy), os.path.abspath(args.man)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ManPageTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    return 0 if result.wasSuccessful() and not result.skipped else 1


if __name__ == "__main__":
    sys.exit(main())
