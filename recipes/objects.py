# attachpy objects: the objects the garbage collector tracks, counted and
# sized by type, the top N; with --diff=SECONDS two counts SECONDS apart and
# what grew.  One JSON document on stdout.  attachpy_args: ["--top", N] and
# optionally ["--diff", SECONDS].  Leaves no module behind in sys.modules.
import sys

_before = set(sys.modules)
import gc  # noqa: E402
import time  # noqa: E402

_args = list(attachpy_args)  # noqa: F821 (given by attachpy)
TOP = int(_args[_args.index("--top") + 1]) if "--top" in _args else 20
DIFF = float(_args[_args.index("--diff") + 1]) if "--diff" in _args else None


def _qualname(t):
    return "%s.%s" % (getattr(t, "__module__", "?"), getattr(t, "__qualname__", t.__name__))


def _count():
    counts, sizes = {}, {}
    objs = gc.get_objects()
    getsizeof = sys.getsizeof
    for o in objs:
        t = type(o)
        counts[t] = counts.get(t, 0) + 1
        try:
            sizes[t] = sizes.get(t, 0) + getsizeof(o)
        except Exception:  # a type whose __sizeof__ fails
            pass
    n = len(objs)
    del objs
    return n, counts, sizes


def _top(counts, sizes):
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], _qualname(kv[0])))[:TOP]
    return [{"type": _qualname(t), "count": c, "size": sizes.get(t, 0)} for t, c in rows]




try:
    n0, c0, s0 = _count()
    doc = {"tracked": n0, "top": _top(c0, s0), "diff": None}
    if DIFF is not None:
        time.sleep(DIFF)
        n1, c1, s1 = _count()
        grew = []
        for t in set(c0) | set(c1):
            d = c1.get(t, 0) - c0.get(t, 0)
            if d > 0:
                grew.append({"type": _qualname(t), "before": c0.get(t, 0),
                             "after": c1.get(t, 0), "delta": d,
                             "size_delta": s1.get(t, 0) - s0.get(t, 0)})
        grew.sort(key=lambda r: (-r["delta"], r["type"]))
        doc["diff"] = {"seconds": DIFF, "tracked_before": n0, "tracked_after": n1,
                       "grew": grew[:TOP]}
        del c1, s1
    del c0, s0
    _out = []
    _json(doc, _out)
    sys.stdout.write("".join(_out))
finally:
    for _name in set(sys.modules) - _before:
        sys.modules.pop(_name, None)
