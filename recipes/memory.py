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
# diff compares against, kept as the size and count of each site only), the frame count, the tracemalloc module, whether
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


def _paths(tracemalloc):
    """The program's call paths now: a list of [frames (most recent first),
    size, count], one per traceback, without attachpy's own blocks: those
    allocated under the recipe, in tracemalloc's file, or by this run of the
    agent (the bootstrap line that runs the recipe in the traceback, or a
    complete traceback that starts in the bootstrap's module-level code,
    "<string>" up to that line).  The raw traces are read once and grouped by
    their traceback: tracemalloc's own statistics() and compare_to() make
    objects for every trace, which takes seconds on a large program."""
    raw = tracemalloc.take_snapshot().traces._traces
    own = tracemalloc.__file__
    line = _agent_line()
    here = ("<string>", line)
    # Tracing goes on meanwhile, this code's allocations too, and each costs:
    # the loop over every trace allocates nothing but the lists' growth (no
    # new int, no id(); sum() adds in C).
    groups = {}
    get = groups.get
    for trace in raw:
        group = get(trace[2])
        if group is None:
            groups[trace[2]] = [trace]
        else:
            group.append(trace)
    del raw
    paths = []
    for frames, group in groups.items():
        ours = False
        for frame in frames:
            name = frame[0]
            if name.startswith("<attachpy") or name == own or frame == here:
                ours = True
                break
        if not ours and line is not None and frames and (len(group[0]) < 4 or
                                                         group[0][3] <= len(frames)):
            name, lineno = frames[-1]
            ours = name == "<string>" and lineno <= line
        if not ours:
            paths.append([frames, sum(t[1] for t in group), len(group)])
    return paths


UNKNOWN = ("<unknown>", 0)


def _by_site(paths):
    """{(file, line): [size, count]}, by the most recent frame; the blocks
    allocated with no Python frame on the stack under UNKNOWN."""
    sites = {}
    for frames, size, count in paths:
        key = frames[0] if frames else UNKNOWN
        entry = sites.get(key)
        if entry is None:
            sites[key] = [size, count]
        else:
            entry[0] += size
            entry[1] += count
    return sites


def _totals(tracemalloc, sites):
    # No Python frame: C threads, and the agent's own thread before it runs
    # Python (about 100 KB on 3.14): counted apart, not a site.
    current, peak = tracemalloc.get_traced_memory()
    unknown = sites.get(UNKNOWN, (0, 0))
    return {"size": sum(e[0] for k, e in sites.items() if k != UNKNOWN),
            "count": sum(e[1] for k, e in sites.items() if k != UNKNOWN),
            "no_python_frame": {"size": unknown[0], "count": unknown[1]},
            "traced": current, "peak": peak, "overhead": tracemalloc.get_tracemalloc_memory()}


def _top(paths, sites, frames):
    top = sorted(((k, e) for k, e in sites.items() if k != UNKNOWN),
                 key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:TOP]
    best = {}
    if frames > 1:
        # each site's traceback: the call path that allocated most there
        wanted = set(key for key, _ in top)
        merged = {}
        for path, size, _ in paths:
            if path and path[0] in wanted:
                merged[path] = merged.get(path, 0) + size
        for path, size in merged.items():
            if path[0] not in best or size > best[path[0]][0]:
                best[path[0]] = (size, path)
    rows = []
    for key, (size, count) in top:
        path = best.get(key)
        rows.append({"file": key[0], "line": key[1], "size": size, "count": count,
                     "traceback": [{"file": f[0], "line": f[1]} for f in reversed(path[1])]
                     if path else None})
    return rows


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
    state.reference = _by_site(_paths(tracemalloc))
    state.reference.pop(UNKNOWN, None)
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
        traces = _paths(tracemalloc)
        sites = _by_site(traces)
        frames = tracemalloc.get_traceback_limit()
        return {"action": "top", "tracing_by": "program", "frames": frames,
                "totals": _totals(tracemalloc, sites), "sites": _top(traces, sites, frames)}
    tracemalloc = _running(state)
    traces = _paths(tracemalloc)
    sites = _by_site(traces)
    doc = {"action": "top", "tracing_by": "attachpy", "frames": state.frames,
           "totals": _totals(tracemalloc, sites), "sites": _top(traces, sites, state.frames)}
    del traces
    sites.pop(UNKNOWN, None)
    state.reference, state.reference_time = sites, time.time()
    return doc


def diff(state):
    tracemalloc = _running(state)
    sites = _by_site(_paths(tracemalloc))
    now = time.time()
    ref = state.reference
    changes = []
    sites.pop(UNKNOWN, None)
    for key in set(sites) | set(ref):
        size, count = sites.get(key, (0, 0))
        size0, count0 = ref.get(key, (0, 0))
        if size != size0 or count != count0:
            changes.append({"file": key[0], "line": key[1], "size": size,
                            "size_diff": size - size0, "count": count,
                            "count_diff": count - count0})
    changes.sort(key=lambda c: (-abs(c["size_diff"]), -c["size"], c["file"], c["line"]))
    doc = {"action": "diff", "frames": state.frames,
           "seconds": round(max(0.0, now - state.reference_time), 3),
           "size_before": sum(e[0] for e in ref.values()),
           "size_after": sum(e[0] for e in sites.values()),
           "count_before": sum(e[1] for e in ref.values()),
           "count_after": sum(e[1] for e in sites.values()),
           "changes": changes[:TOP]}
    state.reference, state.reference_time = sites, now
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
