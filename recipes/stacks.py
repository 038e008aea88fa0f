# attachpy stacks: every thread's Python stack, and every event loop's asyncio
# tasks, as one JSON document on stdout.  Runs in the target (CPython 3.6+,
# PyPy) through attachpy's normal run; attachpy_args: ["--locals"] or [].
# It leaves no module in sys.modules that was not there (what it needs is
# built in), and calls no repr() the target's classes define.
import sys

_before = set(sys.modules)
import _thread  # noqa: E402

WITH_LOCALS = "--locals" in attachpy_args  # noqa: F821 (given by attachpy)
MAX_REPR = 200
MAX_LOCALS = 64
MAX_DEPTH = 200

# Types whose repr is attachpy's to call: the interpreter's own, bounded by
# reprlib-like cutting below.  Everything else is shown by type and address.
_SAFE = (int, float, complex, bool, type(None), str, bytes)
_CONTAINERS = (list, tuple, dict, set, frozenset)


def _qualname(t):
    return "%s.%s" % (getattr(t, "__module__", "?"), getattr(t, "__qualname__", t.__name__))


def _cut(s):
    return s if len(s) <= MAX_REPR else s[:MAX_REPR - 3] + "..."


def _safe_repr(v, depth=0):
    t = type(v)
    if t in _SAFE:
        if t is int and v.bit_length() > 640:
            return "<int of %d bits>" % v.bit_length()
        if t in (str, bytes) and len(v) > MAX_REPR:
            v = v[:MAX_REPR]
        return _cut(repr(v))
    if t in _CONTAINERS and depth < 2:
        items = []
        it = v.items() if t is dict else v
        for k, x in enumerate(it):
            if k >= 8:
                items.append("...")
                break
            if t is dict:
                items.append("%s: %s" % (_safe_repr(x[0], depth + 1), _safe_repr(x[1], depth + 1)))
            else:
                items.append(_safe_repr(x, depth + 1))
        open_, close = {list: "[]", tuple: "()", dict: "{}", set: "{}", frozenset: "{}"}[t]
        return _cut(open_[0] + ", ".join(items) + close[-1] if t is not frozenset
                    else "frozenset({" + ", ".join(items) + "})")
    return "<%s object at %#x>" % (_qualname(t), id(v))


def _frame(f):
    code = f.f_code
    d = {"function": getattr(code, "co_qualname", code.co_name),
         "file": code.co_filename, "line": f.f_lineno}
    if WITH_LOCALS:
        loc = {}
        try:
            names = list(f.f_locals.items())
        except Exception:
            names = []
        for k, (name, value) in enumerate(names):
            if k >= MAX_LOCALS:
                loc["..."] = {"type": "", "repr": "%d more" % (len(names) - MAX_LOCALS)}
                break
            try:
                r = _safe_repr(value)
            except Exception as e:  # a container whose items changed
                r = "<unrepresentable: %s>" % type(e).__name__
            loc[str(name)] = {"type": _qualname(type(value)), "repr": r}
        d["locals"] = loc
    return d


def _stack(f):
    out = []
    while f is not None and len(out) < MAX_DEPTH:
        out.append(_frame(f))
        f = f.f_back
    out.reverse()  # outermost first, as a traceback
    return out


def _state(native_id):
    try:
        with open("/proc/self/task/%d/stat" % native_id) as fh:
            s = fh.read()
        return {"R": "running", "S": "sleeping", "D": "disk", "T": "stopped",
                "t": "stopped", "Z": "zombie"}.get(s.rsplit(")", 1)[1].split()[0], "other")
    except (OSError, IndexError, ValueError):
        return None


def _threads():
    th = sys.modules.get("threading")
    active = dict(getattr(th, "_active", {})) if th else {}
    main = getattr(th, "_main_thread", None) if th else None
    main_ident = main.ident if main is not None else None
    if main_ident is None and hasattr(_thread, "_get_main_thread_ident"):
        main_ident = _thread._get_main_thread_ident()  # 3.12+, threading not imported
    me = _thread.get_ident()
    frames = sys._current_frames()
    if main_ident is None and len([i for i in frames if i != me]) == 1:
        main_ident = [i for i in frames if i != me][0]  # the only thread there is
    out = []
    for ident, f in frames.items():
        if ident == me:
            continue  # attachpy's own thread
        t = active.get(ident)
        native = getattr(t, "native_id", None) if t is not None else None
        if native is None and ident == main_ident:
            native = sys.modules["os"].getpid()  # the main thread's id is the process's
        out.append({"ident": ident,
                    "native_id": native,
                    "name": t.name if t is not None else None,
                    "main": ident == main_ident,
                    "daemon": bool(t.daemon) if t is not None else None,
                    "state": _state(native) if native else None,
                    "frames": _stack(f)})
    out.sort(key=lambda d: (not d["main"], d["native_id"] or 0))
    return out


def _await_chain(coro):
    chain = []
    while coro is not None and len(chain) < 50:
        f = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if f is not None:
            chain.append(_frame(f))
        nxt = getattr(coro, "cr_await", None)
        if nxt is None:
            nxt = getattr(coro, "gi_yieldfrom", None)
        if nxt is not None and not hasattr(nxt, "cr_frame") and not hasattr(nxt, "gi_frame"):
            # a future or a task: what the chain waits for
            chain.append({"function": "<%s>" % type(nxt).__name__, "file": "", "line": 0,
                          "awaits": repr_task(nxt)})
            break
        coro = nxt
    return chain


def repr_task(t):
    name = getattr(t, "get_name", None)
    return name() if name else "<%s at %#x>" % (type(t).__name__, id(t))


def _asyncio():
    aio = sys.modules.get("asyncio")
    if aio is None:
        return []
    import gc
    loops = [o for o in gc.get_objects() if isinstance(o, aio.AbstractEventLoop)]
    out = []
    for loop in loops:
        for _ in range(5):
            try:
                tasks = list(aio.all_tasks(loop) if hasattr(aio, "all_tasks")
                             else aio.Task.all_tasks(loop))
                break
            except RuntimeError:  # the set changed while it was read
                tasks = []
        entries = []
        for t in tasks:
            coro = t.get_coro() if hasattr(t, "get_coro") else getattr(t, "_coro", None)
            entries.append({"name": repr_task(t),
                            "coro": getattr(coro, "__qualname__", type(coro).__name__),
                            "state": "cancelled" if t.cancelled() else
                                     "done" if t.done() else "pending",
                            "awaits": _await_chain(coro) if not t.done() else []})
        entries.sort(key=lambda e: e["name"])
        out.append({"loop": "<%s at %#x>" % (type(loop).__name__, id(loop)),
                    "running": loop.is_running(), "closed": loop.is_closed(),
                    "tasks": entries})
    return out




try:
    _doc = []
    _json({"threads": _threads(), "asyncio": _asyncio()}, _doc)
    sys.stdout.write("".join(_doc))
finally:
    for _name in set(sys.modules) - _before:
        sys.modules.pop(_name, None)
