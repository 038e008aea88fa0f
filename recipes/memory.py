# attachpy memory: tracemalloc in the target, between runs of attachpy.
#
#   start [--frames N]   start tracing (N frames a traceback, default 10)
#   top [--top N]        the top N allocation sites now (default 10)
#   diff [--top N]       what changed since the previous snapshot
#   stop                 stop tracing, free the traces, leave nothing behind
#
# One JSON document on stdout: {"action": ..., ...}, or {"error": {"code",
# "message", "hint"}} when the action is refused (recipe.c turns it into the
# run's error).  attachpy_args: [ACTION] then ["--frames", N] or ["--top", N].
#
# The state lives in the target between runs, in the module object
# sys.modules["_attachpy_memory"]: the reference snapshot (the one the next
# diff compares against), the frame count, the tracemalloc module, whether
# attachpy started the tracing (always, while the state exists), and which
# modules the start imported.  Those modules are taken out of sys.modules at
# the end of every run (the state keeps its references to them), so the
# target's sys.modules holds nothing of ours but the state itself, and stop
# removes that: sys.modules is then as it was before start.  Tracing the
# program started itself is never taken over nor stopped; top reads it.
#
# Snapshots leave out the traces of attachpy's own code (files "<attachpy*"
# and tracemalloc's own file, which holds the snapshots): the answer is about
# the program.
import sys

_before = set(sys.modules)
import os  # noqa: E402  (loaded in every interpreter)
import time  # noqa: E402

STATE = "_attachpy_memory"
_args = list(attachpy_args)  # noqa: F821 (given by attachpy)
ACTION = _args[0] if _args else ""
FRAMES = int(_args[_args.index("--frames") + 1]) if "--frames" in _args else 10
TOP = int(_args[_args.index("--top") + 1]) if "--top" in _args else 10
PID = os.getpid()


class Refused(Exception):
    def __init__(self, code, message, hint):
        Exception.__init__(self, message)
        self.code, self.message, self.hint = code, message, hint


def _not_started():
    return Refused("recipe_refused",
                   "attachpy memory is not started in process %d" % PID,
                   "run 'attachpy memory start %d' first" % PID)


def _tracemalloc():
    if sys.implementation.name != "cpython":
        raise Refused("unsupported_python",
                      "process %d runs %s, which has no tracemalloc: attachpy memory needs "
                      "CPython" % (PID, sys.implementation.name),
                      "'attachpy objects %d' counts the objects by type instead" % PID)
    if "tracemalloc" in sys.modules:
        return sys.modules["tracemalloc"]  # the program's: no import while it traces
    try:
        import tracemalloc
    except ImportError as e:
        raise Refused("unsupported_python",
                      "process %d has no tracemalloc module (%s)" % (PID, e),
                      "'attachpy objects %d' counts the objects by type instead" % PID)
    return tracemalloc


def _program_traces(tracemalloc):
    return Refused("recipe_refused",
                   "the program in process %d traces its memory with tracemalloc itself: "
                   "attachpy does not take it over or stop it" % PID,
                   "'attachpy memory top %d' reads the program's own tracing" % PID)


def _agent_line():
    # The line of the agent's bootstrap ("<string>", module level) that runs
    # this recipe: every block the agent allocates in this run has it in its
    # traceback (when the traceback is not cut shorter by --frames).
    f, line = sys._getframe(), None
    while f is not None:
        if f.f_code.co_filename == "<string>" and f.f_code.co_name == "<module>":
            line = f.f_lineno
        f = f.f_back
    return line


def _snapshot(tracemalloc):
    """A snapshot without attachpy's own blocks: those allocated under the
    recipe, tracemalloc's file (the snapshots themselves) or this run of the
    agent (its bootstrap's module-level code, "<string>" up to the line that
    runs the recipe, as the thread's outermost frame)."""
    snap = tracemalloc.take_snapshot()
    own = tracemalloc.__file__
    line = _agent_line()
    here = ("<string>", line)
    kept = []
    for trace in snap.traces._traces:
        frames = trace[2]  # most recent first
        complete = len(trace) < 4 or trace[3] <= len(frames)
        ours = False
        for name, lineno in frames:
            if name.startswith("<attachpy") or name == own or (name, lineno) == here:
                ours = True
                break
        if not ours and complete and line is not None and frames:
            name, lineno = frames[-1]
            ours = name == "<string>" and lineno <= line
        if not ours:
            kept.append(trace)
    return tracemalloc.Snapshot(kept, snap.traceback_limit)


def _where(frame):
    return {"file": frame.filename, "line": frame.lineno}


def _frames(traceback):
    # oldest first, as stacks gives them (3.6's order is the other way)
    frames = [_where(f) for f in traceback]
    if sys.version_info < (3, 7):
        frames.reverse()
    return frames


def _innermost(traceback):
    return _frames(traceback)[-1]


def _totals(tracemalloc, snap):
    current, peak = tracemalloc.get_traced_memory()
    size = count = 0
    for t in snap.traces:
        size += t.size
        count += 1
    return {"size": size, "count": count, "traced": current, "peak": peak,
            "overhead": tracemalloc.get_tracemalloc_memory()}


def _top(tracemalloc, snap, frames):
    stats = snap.statistics("lineno")[:TOP]
    tracebacks = {}
    if frames > 1:
        # each site's traceback: the largest of the call paths that end there
        for st in snap.statistics("traceback"):
            key = tuple(sorted(_innermost(st.traceback).items()))
            if key not in tracebacks:
                tracebacks[key] = _frames(st.traceback)
    sites = []
    for st in stats:
        site = _innermost(st.traceback)
        site.update({"size": st.size, "count": st.count,
                     "traceback": tracebacks.get(tuple(sorted(site.items())))})
        sites.append(site)
    return sites


def start(state):
    if state is not None:
        raise Refused("recipe_refused",
                      "attachpy memory is already started in process %d (%d frames)"
                      % (PID, state.frames),
                      "'attachpy memory top %d' or 'attachpy memory diff %d' read it; "
                      "'attachpy memory stop %d' ends it" % (PID, PID, PID))
    tracemalloc = _tracemalloc()
    if tracemalloc.is_tracing():
        raise _program_traces(tracemalloc)
    tracemalloc.start(FRAMES)
    state = type(sys)(STATE)
    state.__doc__ = "attachpy memory's state (attachpy memory stop removes it)"
    state.tracemalloc = tracemalloc
    state.frames = FRAMES
    state.started_by_attachpy = True
    state.imported = sorted(set(sys.modules) - _before)
    state.modules = dict((n, sys.modules[n]) for n in state.imported)
    state.reference = _snapshot(tracemalloc)
    state.reference_time = time.time()
    sys.modules[STATE] = state
    return {"action": "start", "frames": FRAMES, "imported": state.imported}


def _running(state):
    """The state's tracemalloc, still tracing; or the refusal."""
    if state is None:
        tracemalloc = _tracemalloc()
        if tracemalloc.is_tracing():
            raise _program_traces(tracemalloc)
        raise _not_started()
    if not state.tracemalloc.is_tracing():
        raise Refused("recipe_refused",
                      "tracemalloc was stopped in process %d since 'attachpy memory start' "
                      "(by the program)" % PID,
                      "run 'attachpy memory stop %d' to clean up, then start again" % PID)
    return state.tracemalloc


def top(state):
    if state is None:
        # The program's own tracing: read it, keep nothing.
        tracemalloc = _tracemalloc()
        if not tracemalloc.is_tracing():
            raise _not_started()
        snap = _snapshot(tracemalloc)
        frames = tracemalloc.get_traceback_limit()
        return {"action": "top", "tracing_by": "program", "frames": frames,
                "totals": _totals(tracemalloc, snap), "sites": _top(tracemalloc, snap, frames)}
    tracemalloc = _running(state)
    snap = _snapshot(tracemalloc)
    doc = {"action": "top", "tracing_by": "attachpy", "frames": state.frames,
           "totals": _totals(tracemalloc, snap), "sites": _top(tracemalloc, snap, state.frames)}
    state.reference, state.reference_time = snap, time.time()
    return doc


def diff(state):
    tracemalloc = _running(state)
    snap = _snapshot(tracemalloc)
    now = time.time()
    ref = state.reference
    before = sum(t.size for t in ref.traces)
    after = sum(t.size for t in snap.traces)
    changes = []
    for st in snap.compare_to(ref, "lineno"):
        if not st.size_diff and not st.count_diff:
            continue
        row = _innermost(st.traceback)
        row.update({"size": st.size, "size_diff": st.size_diff, "count": st.count,
                    "count_diff": st.count_diff})
        changes.append(row)
        if len(changes) >= TOP:
            break
    doc = {"action": "diff", "frames": state.frames,
           "seconds": round(max(0.0, now - state.reference_time), 3),
           "size_before": before, "size_after": after,
           "count_before": len(ref.traces), "count_after": len(snap.traces),
           "changes": changes}
    state.reference, state.reference_time = snap, now
    return doc


def stop(state):
    if state is None:
        tracemalloc = _tracemalloc()
        if tracemalloc.is_tracing():
            raise Refused("recipe_refused",
                          "the program in process %d started tracemalloc itself: attachpy "
                          "leaves it running" % PID,
                          "attachpy stops only the tracing 'attachpy memory start' started")
        raise _not_started()
    tracemalloc = state.tracemalloc
    freed = tracemalloc.get_tracemalloc_memory()
    was_tracing = tracemalloc.is_tracing()
    if was_tracing and state.started_by_attachpy:
        tracemalloc.stop()  # frees the traces
    state.reference = None
    for name in state.imported:
        # taken out after every run; the program may have imported its own since
        if sys.modules.get(name) is state.modules.get(name):
            sys.modules.pop(name, None)
    removed = state.imported
    state.__dict__.clear()
    sys.modules.pop(STATE, None)
    return {"action": "stop", "was_tracing": was_tracing, "freed": freed if was_tracing else 0,
            "removed_modules": removed}


def _json(v, out):
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


try:
    _state = sys.modules.get(STATE)
    _actions = {"start": start, "top": top, "diff": diff, "stop": stop}
    try:
        if ACTION not in _actions:
            raise Refused("usage", "unknown memory action %r" % ACTION,
                          "the actions are start, top, diff and stop")
        doc = _actions[ACTION](_state)
    except Refused as e:
        doc = {"error": {"code": e.code, "message": e.message, "hint": e.hint}}
    _out = []
    _json(doc, _out)
    sys.stdout.write("".join(_out))
finally:
    # Nothing of ours stays in sys.modules but the state (start's modules
    # are kept in it, not in sys.modules).
    for _name in set(sys.modules) - _before:
        if _name != STATE:
            sys.modules.pop(_name, None)
