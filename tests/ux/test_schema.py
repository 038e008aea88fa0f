"""The JSON Schemas in schema/: valid against their metaschema, in step with
the code (error codes from cli/error.c, refusal names from cli/refusal.c),
accepting the documents in tests/fixtures/json/valid and rejecting those in
invalid/, and matching what attachpy really prints on the paths that need no
debugger (usage, no_such_process, not_python, ps).  The integration harness
validates every --json output of the injection tests too (harness.Run).

    python3 test_schema.py --attachpy build/cli/attachpy
"""
import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import schema  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "json")
ATTACHPY = None


def load(name):
    with open(os.path.join(ROOT, "schema", name + ".schema.json")) as f:
        return json.load(f)


def attachpy_json(*args):
    p = subprocess.run([ATTACHPY] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=60)
    return p.returncode, json.loads(p.stdout.decode())


class SchemaTest(unittest.TestCase):
    def test_schemas_are_valid(self):
        import jsonschema
        for name in ("status", "ps"):
            doc = load(name)
            jsonschema.validators.validator_for(doc).check_schema(doc)
            self.assertEqual(doc["$schema"], "https://json-schema.org/draft/2020-12/schema")

    def test_error_definition_shared(self):
        self.assertEqual(load("status")["$defs"]["error"]["properties"],
                         load("ps")["$defs"]["error"]["properties"])

    def test_error_codes_match_the_code(self):
        with open(os.path.join(ROOT, "cli", "error.c")) as f:
            codes = re.findall(r'\[AP_ERR_\w+\] = \{"(\w+)"', f.read())
        self.assertGreater(len(codes), 10)
        self.assertEqual(sorted(load("status")["$defs"]["error"]["properties"]["code"]["enum"]),
                         sorted(codes))

    def test_refusals_match_the_code(self):
        with open(os.path.join(ROOT, "cli", "refusal.c")) as f:
            names = re.findall(r'\[AP_REFUSAL_\w+\] = "(\w+)"', f.read())
        self.assertGreater(len(names), 8)
        enum = load("ps")["items"]["properties"]["reason"]["enum"]
        self.assertEqual(sorted(n for n in enum if n), sorted(names))

    def test_valid_fixtures(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "valid", "*.json")))
        self.assertTrue(files)
        for path in files:
            with self.subTest(path=os.path.basename(path)), open(path) as f:
                schema.validate(json.load(f))

    def test_invalid_fixtures(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.json")))
        self.assertTrue(files)
        for path in files:
            with self.subTest(path=os.path.basename(path)), open(path) as f:
                doc = json.load(f)
                self.assertRaises(schema.SchemaError, schema.validate, doc)

    def test_real_outputs(self):
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            cases = [
                (["--json"], 2, "usage"),
                (["--json", "--timeout=0", "1", "-c", "pass"], 2, "usage"),
                (["--json", "4194304", "-c", "pass"], 3, "no_such_process"),
                (["--json", str(sleeper.pid), "-c", "pass"], 5, "not_python"),
            ]
            for argv, rc, code in cases:
                with self.subTest(argv=argv):
                    got_rc, doc = attachpy_json(*argv)
                    schema.validate_status(doc)
                    self.assertEqual((got_rc, doc["error"]["code"]), (rc, code))
        finally:
            os.kill(sleeper.pid, signal.SIGKILL)
            sleeper.wait()
        rc, doc = attachpy_json("ps", "--json")
        self.assertEqual(rc, 0)
        schema.validate_ps(doc)


def main():
    global ATTACHPY
    ap = argparse.ArgumentParser()
    ap.add_argument("--attachpy", required=True)
    ATTACHPY = os.path.abspath(ap.parse_args().attachpy)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(SchemaTest)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    return 0 if result.wasSuccessful() and not result.skipped else 1


if __name__ == "__main__":
    sys.exit(main())
