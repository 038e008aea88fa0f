# _json.py: the JSON writer every recipe uses (cli/recipe.c puts this file
# before the recipe's own code).  The json module would import re and more
# into the target, and recipes leave no module behind.

def _json(v, out):
    """Append v's JSON text to the list out (None, bool, int, float, str,
    dict, and any other iterable as an array)."""
    if v is None:
        out.append("null")
    elif v is True or v is False:
        out.append("true" if v else "false")
    elif isinstance(v, (int, float)):
        out.append(repr(v))
    elif isinstance(v, str):
        out.append('"' + "".join(
            "\\" + ch if ch in '"\\' else
            "\\u%04x" % ord(ch) if ord(ch) < 0x20 or 0xd800 <= ord(ch) < 0xe000 else ch
            for ch in v) + '"')
    elif isinstance(v, dict):
        out.append("{")
        for k, (key, x) in enumerate(v.items()):
            out.append("," if k else "")
            _json(str(key), out)
            out.append(":")
            _json(x, out)
        out.append("}")
    else:
        out.append("[")
        for k, x in enumerate(v):
            out.append("," if k else "")
            _json(x, out)
        out.append("]")
