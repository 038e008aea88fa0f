"""Validate attachpy's JSON output against the schemas it ships (schema/).

    import schema
    schema.validate(obj)          # a status object or a `ps --json` array
    schema.validate_status(obj)
    schema.validate_ps(array)

A failure raises SchemaError naming the path inside the document and the rule
it broke.  Needs python3-jsonschema (tools/setup.sh installs it); without it
every call fails loudly rather than passing unchecked.  ATTACHPY_SCHEMA_DIR
points at another copy of the schemas (the installed ones, for the install
test).
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import jsonschema
except ImportError:  # pragma: no cover - reported on use
    jsonschema = None


class SchemaError(AssertionError):
    pass


_validators = {}


def schema_dir():
    return os.environ.get("ATTACHPY_SCHEMA_DIR") or os.path.join(ROOT, "schema")


def _validator(name):
    path = os.path.join(schema_dir(), name + ".schema.json")
    v = _validators.get(path)
    if v is None:
        if jsonschema is None:
            raise SchemaError("cannot validate attachpy's JSON: the jsonschema module is missing "
                              "(apt-get install python3-jsonschema, or run tools/setup.sh)")
        with open(path) as f:
            doc = json.load(f)
        cls = jsonschema.validators.validator_for(doc)
        cls.check_schema(doc)
        v = _validators[path] = cls(doc)
    return v


def _check(name, obj):
    errors = sorted(_validator(name).iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        lines = ["%s: /%s: %s" % (name, "/".join(str(p) for p in e.absolute_path), e.message)
                 for e in errors[:10]]
        raise SchemaError("attachpy output does not match %s.schema.json:\n  %s\ndocument: %s" %
                          (name, "\n  ".join(lines), json.dumps(obj)[:2000]))


def validate_status(obj):
    _check("status", obj)


def validate_ps(obj):
    _check("ps", obj)


def validate(obj):
    """A `ps --json` array or a status object, told apart by their type."""
    if isinstance(obj, list):
        validate_ps(obj)
    else:
        validate_status(obj)
