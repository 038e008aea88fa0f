# bootstrap.py: the Python half of the agent (docs/protocol.md).
#
# agent.c runs this text with PyRun_StringFlags() in the agent's own thread,
# holding the GIL, in a fresh dict holding only __builtins__ and
# __attachpy_request__ (the raw request bytes).  It runs the user's code and
# leaves the encoded result records (OUT, ERR, EXTY, EXMS, EXTB, END; or
# FAIL and END; FAIL and END "vetoed" when an audit hook refused the code)
# in __attachpy_result__ as bytes; HELO, VERS and RUN are sent
# by the C side.
#
# The cure: everything defined here lives in that dict, never in builtins,
# sys or __main__; sys.stdout and sys.stderr are put back; a module imported
# for the agent's own use is removed from sys.modules again.  The dict is
# left to the garbage collector (functions and classes that a proxy kept by
# the user's code still uses live in it); the request is taken out of it at
# once, and agent.c removes the result as soon as it has a copy.
#
# Valid on CPython 3.6 and later and on PyPy 3.9 and later (what the CLI
# accepts, cli/runtimes.c): nothing newer than 3.6's syntax.
import sys

_TEXT = str
_BINARY = bytes

# A limit on what the user's code can make the target keep in memory: each
# captured stream (and each exception text) is cut after this many bytes,
# with a note saying how much was dropped.
_CAPTURE_LIMIT = 64 * 1024 * 1024


def _code_objects(code, found):
    # Every code object of the bootstrap, to tell its frames apart from the
    # user's in a traceback (both may be called "<string>").
    found.add(code)
    for const in code.co_consts:
        if type(const) is type(code):
            _code_objects(const, found)
    return found


# By identity: code objects compare equal by value.  They stay alive with
# the functions that hold them.
_OWN_CODE = frozenset(id(code) for code in _code_objects(sys._getframe().f_code, set()))


def _own_import(name, added):
    # Import a module the agent needs for itself; remember it in added when
    # it was not loaded before, so that it can be removed again.
    module = sys.modules.get(name)
    if module is not None:
        return module
    before = set(sys.modules)
    __import__(name)
    for key in list(sys.modules):
        if key not in before:
            added.append(key)
    return sys.modules[name]


def _forget_modules(names):
    for name in names:
        sys.modules.pop(name, None)


# ---- the request ---------------------------------------------------------

_MAGIC = b"ATTACHPY-REQUEST 1\n"


def _parse_request(data):
    # Returns [(key, value)], both bytes.
    if not data.startswith(_MAGIC):
        raise ValueError("bad request header")
    fields = []
    pos = len(_MAGIC)
    while pos < len(data):
        nl = data.index(b"\n", pos)
        key, sep, length = data[pos:nl].partition(b" ")
        if not sep or not length.isdigit():
            raise ValueError("bad request field")
        start = nl + 1
        end = start + int(length)
        if data[end:end + 1] != b"\n":
            raise ValueError("bad request field length")
        fields.append((key, data[start:end]))
        pos = end + 1
    keys = [key for key, value in fields]
    rest = keys[3:]
    for optional in (b"serve", b"mode"):
        if rest[:1] == [optional]:
            rest = rest[1:]
    if keys[:3] != [b"filename", b"code", b"wait"] or set(rest) - set([b"arg"]):
        raise ValueError("bad request keys")
    return fields


def _fs_text(data):
    # File-system bytes as str, the way Python decodes sys.argv.
    return data.decode(sys.getfilesystemencoding(), "surrogateescape")


# ---- text and records ----------------------------------------------------


def _utf8(value):
    # Anything as valid UTF-8 bytes, never raising: invalid data is replaced
    # with backslash escapes, never dropped.
    if isinstance(value, (_BINARY, bytearray)):
        data = bytes(value)
        try:
            data.decode("utf-8")
            return data
        except UnicodeDecodeError:
            pass
        return data.decode("utf-8", "backslashreplace").encode("utf-8")
    if not isinstance(value, _TEXT):
        value = _TEXT(value)
    return value.encode("utf-8", "backslashreplace")


def _limit(data):
    if len(data) <= _CAPTURE_LIMIT:
        return data
    note = "\n[attachpy: %d more bytes dropped]\n" % (len(data) - _CAPTURE_LIMIT)
    return data[:_CAPTURE_LIMIT] + note.encode("ascii")


def _record(tag, payload):
    return tag + len(payload).to_bytes(4, "little") + payload


# ---- capture -------------------------------------------------------------


# What the agent holds back of a stream before sending it, and the largest
# record it sends: output goes to the CLI at each newline, each flush(),
# and whenever this much has gathered, so the target never keeps more than
# this of it, and what was written before the process ended is not lost.
# The CLI keeps the first AP_MAX_RESULT_BYTES of each stream and counts the
# rest (result.truncated).
_HOLD = 64 * 1024
_CHUNK = 1024 * 1024


def _complete_utf8(data):
    # How many leading bytes of data end on a character boundary: a UTF-8
    # sequence cut by the chunking waits for its last bytes.
    n = len(data)
    for back in range(1, min(4, n) + 1):
        c = data[n - back]
        if c < 0x80:
            return n
        if c >= 0xC0:
            need = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            return n if back >= need else n - back
    return n


def _boundary(data, end):
    # The nearest index at or before end where a character starts: a chunk
    # cut there never splits a UTF-8 sequence (data that is not UTF-8 is
    # cut where it falls).
    for back in range(4):
        i = end - back
        if i <= 0 or i >= len(data):
            return end
        if data[i] & 0xC0 != 0x80:
            return i
    return end


class _Channel(object):
    # One captured stream on its way to the CLI as OUT or ERR records,
    # through agent.c's __attachpy_send__.  Without it (an interpreter that
    # cannot make the function) the records are kept until the code ends,
    # at most _CAPTURE_LIMIT bytes, with a note saying how much was dropped.

    def __init__(self, tag, send, me, get_ident):
        self._tag = tag
        self._send = send
        # agent.c sends only from the code's own thread: what another
        # thread writes through a reference the code gave it (sys.stdout.
        # buffer) waits here for the code's next push.
        self._me = me
        self._get_ident = get_ident
        self._held = bytearray()
        self._kept = []
        self._kept_size = 0
        self._dropped = 0
        self._open = True

    def write(self, data):
        if not self._open:
            return
        if len(data) >= _HOLD and self._get_ident() == self._me:
            # A large write goes out from its own buffer, never copied
            # whole (PyPy copies a bytearray a byte at a time).
            view = memoryview(data)
            if self._held:
                first = _boundary(view, min(_HOLD, len(view)))
                self._held += view[:first]
                self.push(False)
                if self._held:
                    self.push(True)
                view = view[first:]
            self._emit_view(view)
            return
        start = len(self._held)
        self._held += data
        if len(self._held) >= _HOLD or self._held.find(b"\n", start) >= 0:
            self.push(False)

    def push(self, final):
        held = self._held
        if not held or not self._open or self._get_ident() != self._me:
            return
        n = len(held)
        # A line ends in "\n": complete, the common case.
        cut = n if final or held[-1] < 0x80 else _complete_utf8(held)
        if cut == 0:
            return
        if cut == n and n <= _CHUNK:
            self._held = bytearray()
            self._emit(_record(self._tag, _utf8(bytes(held))))
            return
        self._held = held[cut:]
        i = 0
        while i < cut:
            end = _boundary(held, min(i + _CHUNK, cut))
            if end <= i:
                end = min(i + _CHUNK, cut)
            self._emit(_record(self._tag, _utf8(bytes(held[i:end]))))
            i = end

    def _emit_view(self, view):
        # Python 3, held empty: view in records, its incomplete last
        # character (if any) held back for the next write.
        n = len(view)
        cut = _complete_utf8(view)
        i = 0
        while i < cut:
            end = _boundary(view, min(i + _CHUNK, cut))
            if end <= i:
                end = min(i + _CHUNK, cut)
            self._emit(_record(self._tag, _utf8(view[i:end].tobytes())))
            i = end
        if cut < n:
            self._held += view[cut:]

    def _emit(self, record):
        if self._send is not None:
            self._send(record)
            return
        room = _CAPTURE_LIMIT - self._kept_size
        if len(record) - 8 > room:
            self._dropped += len(record) - 8
            return
        self._kept.append(record)
        self._kept_size += len(record) - 8

    def close(self):
        # The rest, and then nothing more; returns what was kept.
        self.push(True)
        self._open = False
        if self._dropped:
            note = "\n[attachpy: %d more bytes dropped]\n" % self._dropped
            self._kept.append(_record(self._tag, note.encode("ascii")))
        kept, self._kept = self._kept, []
        return kept


def _new_capture(io, channel):
    # Python 3: a text stream like sys.stdout (with .buffer) over a sink
    # that hands everything to the channel and survives close().
    class _Sink(io.BytesIO):
        def write(self, data):
            if self.closed:
                raise ValueError("write to closed file")
            view = memoryview(data).cast("B")
            channel.write(view)
            return view.nbytes

        def flush(self):
            if not self.closed:
                channel.push(False)

    stream = io.TextIOWrapper(
        _Sink(), encoding="utf-8", errors="backslashreplace", line_buffering=False,
        write_through=True,
    )
    return stream


class _StreamProxy(object):
    # Stands in for sys.stdout or sys.stderr while the code runs: what the
    # agent's thread writes goes to the capture, everything else (other
    # threads, and everyone once the run is over) to the original stream.
    # Uses nothing but its own attributes and builtins: it must keep working
    # after the bootstrap's namespace is emptied.

    def __init__(self, original, capture, thread_id, get_ident):
        self._attachpy_original = original
        self._attachpy_capture = capture
        self._attachpy_thread = thread_id
        self._attachpy_get_ident = get_ident

    def _attachpy_target(self):
        capture = self._attachpy_capture
        if capture is not None and self._attachpy_get_ident() == self._attachpy_thread:
            return capture
        return self._attachpy_original

    def _attachpy_deactivate(self):
        self._attachpy_capture = None

    def write(self, data):
        target = self._attachpy_target()
        if target is None:
            return len(data)
        return target.write(data)

    def writelines(self, lines):
        target = self._attachpy_target()
        if target is not None:
            return target.writelines(lines)

    def flush(self):
        target = self._attachpy_target()
        if target is not None:
            return target.flush()

    def __getattr__(self, name):
        if name.startswith("_attachpy_"):
            raise AttributeError(name)
        target = self._attachpy_target()
        if target is None:
            raise AttributeError(name)
        return getattr(target, name)


# ---- running the code ----------------------------------------------------


def _execute(source, filename, namespace):
    # Compile and run; returns sys.exc_info() of what the code raised, or
    # None.  Compiling here too puts a SyntaxError's traceback in the same
    # shape: this frame first, then the user's.
    try:
        code = compile(source, filename, "exec", 0, True)
        exec(code, namespace)
    except BaseException:
        return sys.exc_info()
    return None


def _type_name(exc):
    cls = getattr(exc, "__class__", type(exc))
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", None) or repr(cls)
    module = getattr(cls, "__module__", None)
    if module and module not in ("builtins", "exceptions", "__builtin__"):
        name = "%s.%s" % (module, name)
    return name


def _message(exc):
    try:
        return str(exc)
    except BaseException:
        pass
    return "<unprintable %s>" % getattr(getattr(exc, "__class__", None), "__name__", "exception")


def _strip_own_frames(tb):
    # Drop the bootstrap's frames: the leading one that ran the code, and any
    # in between (a proxy's write that raised).  Relinking needs a writable
    # tb_next (3.7+); before that only the leading frames are dropped.
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    kept = [e for e in entries if id(e.tb_frame.f_code) not in _OWN_CODE]
    if not kept:
        return None
    try:
        for i in range(len(kept) - 1):
            if kept[i].tb_next is not kept[i + 1]:
                kept[i].tb_next = kept[i + 1]
        if kept[-1].tb_next is not None:
            kept[-1].tb_next = None
        return kept[0]
    except (AttributeError, TypeError):
        pass
    for e in entries:
        if id(e.tb_frame.f_code) not in _OWN_CODE:
            return e
    return None


def _seed_linecache(linecache, filename, source):
    # Let the traceback show the lines of the code that ran, even when the
    # file is not reachable from the target (another mount namespace), is
    # "<string>", or when the cache holds other lines under that name (3.13
    # caches a "python -c" target's own code as "<string>").  Returns how to
    # undo it, for _unseed_linecache().
    cache = getattr(linecache, "cache", None)
    if not isinstance(cache, dict):
        return None
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith(u"\ufeff"):
        text = text[1:]
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entry = (len(text), None, lines, filename)
    undo = (cache, filename, filename in cache, cache.get(filename), entry)
    cache[filename] = entry
    return undo


def _unseed_linecache(undo):
    if undo is None:
        return
    cache, filename, had, previous, entry = undo
    if cache.get(filename) is entry:
        if had:
            cache[filename] = previous
        else:
            del cache[filename]


def _format_traceback(exc_info, filename, source):
    # The standard format, without the bootstrap's frames.  Modules imported
    # only for the formatting (traceback, linecache and theirs) are removed
    # from sys.modules again.
    before = set(sys.modules)
    etype, value, tb = exc_info
    try:
        import linecache
        import traceback

        undo = _seed_linecache(linecache, filename, source)
        try:
            return "".join(traceback.format_exception(etype, value, _strip_own_frames(tb)))
        finally:
            _unseed_linecache(undo)
    except BaseException:
        return "%s: %s\n[attachpy: the traceback could not be formatted]\n" % (
            _type_name(value), _message(value))
    finally:
        _forget_modules([name for name in list(sys.modules) if name not in before])


def _run_captured(source, filename, namespace, get_ident, send, run=None):
    me = get_ident()
    out_channel = _Channel(b"OUT ", send, me, get_ident)
    err_channel = _Channel(b"ERR ", send, me, get_ident)
    io = sys.modules["io"]
    out = _new_capture(io, out_channel)
    err = _new_capture(io, err_channel)

    stdout = _StreamProxy(sys.stdout, out, me, get_ident)
    stderr = _StreamProxy(sys.stderr, err, me, get_ident)
    sys.stdout, sys.stderr = stdout, stderr
    try:
        exc_info = run() if run is not None else _execute(source, filename, namespace)
    finally:
        if sys.stdout is stdout:
            sys.stdout = stdout._attachpy_original
        if sys.stderr is stderr:
            sys.stderr = stderr._attachpy_original
        stdout._attachpy_deactivate()
        stderr._attachpy_deactivate()

    records = []
    for stream, channel in ((out, out_channel), (err, err_channel)):
        try:
            stream.flush()  # what TextIOWrapper may still hold
        except Exception:
            pass
        records.extend(channel.close())
    if exc_info is None:
        records.append(_record(b"END ", b"ok"))
        return records
    try:
        exc = exc_info[1]
        records.append(_record(b"EXTY", _limit(_utf8(_type_name(exc)))))
        records.append(_record(b"EXMS", _limit(_utf8(_message(exc)))))
        records.append(_record(b"EXTB", _limit(_utf8(_format_traceback(exc_info, filename, source)))))
        records.append(_record(b"END ", b"exception"))
    finally:
        exc_info = exc = None
    return records


# ---- the console -----------------------------------------------------------
#
# attachpy console: a session of records with the CLI (docs/protocol.md,
# "The console").  The CLI edits the lines; each LINE is pushed as into
# code.InteractiveConsole (a complete statement runs, in "single" mode, so
# expressions are echoed and kept in _ of the session's namespace, never
# in builtins); COMP asks for completions.  After each line the agent sends
# PRMT (">>> " or "... ").  The end of the connection ends the session, as
# does exit() (SystemExit never reaches the target).


def _console_completions(namespace, text, keyword):
    words = []
    head, dot, tail = text.rpartition(".")
    if dot:
        if not all(part.isidentifier() for part in head.split(".")):
            return []
        try:
            value = eval(head, namespace)
        except BaseException:
            return []
        names = set(dir(value))
        prefix = head + "."
        words = [prefix + n for n in names if n.startswith(tail) and (tail or not n.startswith("_"))]
    else:
        builtins = namespace.get("__builtins__")
        builtins = getattr(builtins, "__dict__", builtins) or {}
        names = set(namespace) | set(builtins) | set(keyword.kwlist)
        words = [n for n in names if n.startswith(text)]
    return sorted(words)[:1000]


def _console_runner(namespace, send, added):
    # The agent's own modules go again when the session ends (added).
    recv = globals().pop("__attachpy_recv__")
    watch = globals().pop("__attachpy_watch__")
    compiler = _own_import("codeop", added).CommandCompiler()

    def show(value):
        # sys.displayhook for the session: _ is the session's, not builtins'.
        if value is None:
            return
        namespace["_"] = None
        text = repr(value)
        sys.stdout.write(text + "\n")
        namespace["_"] = value

    def report(exc_info, skip_compile):
        traceback = _own_import("traceback", added)
        etype, value, tb = exc_info
        if skip_compile:
            lines = traceback.format_exception_only(etype, value)
        else:
            lines = traceback.format_exception(etype, value, _strip_own_frames(tb))
        sys.stderr.write("".join(lines))

    def execute(code):
        saved = sys.displayhook
        sys.displayhook = show
        watch(b"1")
        try:
            exec(code, namespace)
        finally:
            watch(b"0")
            if sys.displayhook is show:
                sys.displayhook = saved

    def run():
        lines = []
        send(_record(b"PRMT", b">>> "))
        while True:
            message = recv()
            tag, payload = message[:4], message[4:]
            if not message:
                return None
            if tag == b"COMP":
                words = _console_completions(namespace, _fs_text(payload),
                                             _own_import("keyword", added))
                send(_record(b"CMPL", _utf8("\n".join(words))))
                continue
            if tag == b"RSET":  # Ctrl-C at a prompt: the statement so far goes
                lines = []
                send(_record(b"PRMT", b">>> "))
                continue
            if tag != b"LINE":
                continue  # an INTR that came after its statement ended
            lines.append(_fs_text(payload))
            source = "\n".join(lines)
            try:
                code = compiler(source, "<console>", "single")
            except (OverflowError, SyntaxError, ValueError):
                lines = []
                report(sys.exc_info(), True)
                code = None
            else:
                if code is not None:
                    lines = []
                    try:
                        execute(code)
                    except SystemExit:
                        sys.stdout.flush()
                        return None
                    except BaseException:
                        report(sys.exc_info(), False)
            sys.stdout.flush()
            sys.stderr.flush()
            send(_record(b"PRMT", b"... " if lines else b">>> "))

    return run


def _run_uncaptured(source, filename, namespace):
    # --no-wait: output goes to the target's own streams, and so does the
    # traceback.  Only END is sent.
    exc_info = _execute(source, filename, namespace)
    if exc_info is None:
        return [_record(b"END ", b"ok")]
    try:
        text = _format_traceback(exc_info, filename, source)
        stream = sys.stderr
        if stream is not None:
            try:
                stream.write(text)
                stream.flush()
            except BaseException:
                pass
    finally:
        exc_info = None
    return [_record(b"END ", b"exception")]


def _threading_knows(ident):
    threading = sys.modules.get("threading")
    return threading is not None and ident in getattr(threading, "_active", {})


def _forget_dummy_thread(ident):
    # threading.current_thread() in the agent's thread (logging calls it)
    # registers a _DummyThread that would stay in threading.enumerate() for
    # good, and be taken for the next thread that gets the same ident.
    threading = sys.modules.get("threading")
    if threading is None:
        return
    try:
        with threading._active_limbo_lock:
            dummy = threading._active.get(ident)
            if isinstance(dummy, threading._DummyThread):
                del threading._active[ident]
            else:
                dummy = None
        # Thread.__init__ put it in _dangling too (a WeakSet that would
        # lose it only once the garbage collector got to it).
        dangling = getattr(threading, "_dangling", None)
        if dummy is not None and dangling is not None:
            dangling.discard(dummy)
    except Exception:
        pass


def _watch_threading_import(me, builtins):
    # The target never imported threading.  Should the code import it (or
    # a module that does: logging, queue, subprocess...), it happens in our
    # thread, and threading (3.12 and older) takes the importing thread for
    # the main thread: the code would be told that it is MainThread and
    # would not see the real one.  Each import the code makes goes through
    # this __import__ while it runs; once threading is there it is made to
    # describe the real main thread, before the code can ask.  Returns the
    # function that puts the original __import__ back.
    if not isinstance(builtins, dict):
        builtins = getattr(builtins, "__dict__", {})
    original = builtins.get("__import__")
    if original is None:
        return None
    state = [False]

    def _attachpy_import(*args, **kwargs):
        module = original(*args, **kwargs)
        # The imports threading makes itself come here too, while it is
        # half made: wait until its main thread exists.
        threading = sys.modules.get("threading")
        if not state[0] and getattr(threading, "_main_thread", None) is not None:
            state[0] = True
            try:
                _repair_main_thread(me)
            except Exception:
                pass
        return module

    builtins["__import__"] = _attachpy_import

    def restore():
        if builtins.get("__import__") is _attachpy_import:
            builtins["__import__"] = original

    return restore


def _drop_threading():
    # The target had not imported threading and the code did: take it out
    # of sys.modules again, so that the target's own first import (from its
    # main thread) makes a fresh one, as it would have.  Kept when it is
    # still needed: a thread the code started still runs, or a module left
    # in sys.modules (logging, queue...) refers to it.
    threading = sys.modules.get("threading")
    if threading is None:
        return
    with threading._active_limbo_lock:
        threads = list(threading._active.values()) + list(getattr(threading, "_limbo", {}).values())
    main = getattr(threading, "_main_thread", None)
    for thread in threads:
        if thread is not main and not isinstance(thread, threading._DummyThread):
            return
    for name, module in list(sys.modules.items()):
        if name == "threading" or module is None:
            continue
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            for value in list(namespace.values()):
                if value is threading:
                    return
    del sys.modules["threading"]


def _push_script_dir(filename):
    # As "python script.py" does: the script's directory first on sys.path
    # while it runs.  Not for -c ("<string>"): the target's working
    # directory is not the user's.  Returns what _pop_script_dir() needs.
    if filename == "<string>" or not filename.startswith("/"):
        return None
    directory = filename.rpartition("/")[0] or "/"
    path = getattr(sys, "path", None)
    if not isinstance(path, list):
        return None
    cache = getattr(sys, "path_importer_cache", None)
    cached = isinstance(cache, dict) and directory in cache
    entry = _TEXT(directory)
    path.insert(0, entry)
    return (path, entry, cached)


def _pop_script_dir(pushed):
    # Remove exactly the entry we added (the code may have changed the
    # list: its own changes stay), and the import cache's entry for it
    # unless it was there before or the directory is on sys.path anyway.
    if pushed is None:
        return
    path, entry, cached = pushed
    for i, item in enumerate(path):
        if item is entry:
            del path[i]
            break
    cache = getattr(sys, "path_importer_cache", None)
    if not cached and isinstance(cache, dict) and entry not in path:
        cache.pop(entry, None)


def _main_thread_ident(me):
    # The interpreter's oldest thread state is the main thread's, and
    # sys._current_frames() lists thread states newest first.
    idents = [ident for ident in sys._current_frames() if ident != me]
    return idents[-1] if idents else None


def _repair_main_thread(me):
    # Python 3.12 and older: when threading is first imported in a thread
    # other than the main one (the code imported it in ours), it takes that
    # thread for the main thread.  Then threading.main_thread() is wrong for
    # good, and at exit _shutdown() trips over a lock that our thread state
    # released (an ignored AssertionError, or worse).  Make it describe the
    # real main thread again, with a held lock as _shutdown() expects.
    threading = sys.modules.get("threading")
    main = getattr(threading, "_main_thread", None)
    if main is None or getattr(main, "_ident", None) != me or not hasattr(main, "_tstate_lock"):
        return
    ident = _main_thread_ident(me)
    if ident is None:
        return
    lock = threading._allocate_lock()
    lock.acquire()
    old_lock = main._tstate_lock
    with threading._active_limbo_lock:
        if threading._active.get(me) is main:
            del threading._active[me]
        main._ident = ident
        main._tstate_lock = lock
        if hasattr(main, "_native_id"):
            os = sys.modules.get("os") or sys.modules.get("posix")
            main._native_id = os.getpid() if os is not None else None
        threading._active[ident] = main
    # 3.9+: _shutdown() also joins every lock in _shutdown_locks, where the
    # main thread's first lock went: our thread state's sentinel.  CPython
    # releases it when our thread state goes; PyPy never does for a thread
    # it did not start, and its exit would wait for it forever.
    shutdown_locks = getattr(threading, "_shutdown_locks", None)
    if shutdown_locks is not None:
        with threading._shutdown_locks_lock:
            shutdown_locks.discard(old_lock)


_AUDIT_EVENT = "attachpy.remote_exec"


def _audit_veto(filename):
    # Tell the target's audit hooks (sys.addaudithook) that code is about to
    # run, as CPython 3.14's sys.remote_exec() does: they may log it, or veto
    # it by raising.  Returns None, or the veto's message.  Python 3.7 and
    # older have no audit hooks (PEP 578 came with 3.8): nothing to tell.
    audit = getattr(sys, "audit", None)
    if audit is None:
        return None
    try:
        audit(_AUDIT_EVENT, filename)
    except BaseException:
        exc = sys.exc_info()[1]
        message = "%s: %s" % (_type_name(exc), _message(exc))
        exc = None
        return message
    return None


def _run(request, send):
    fields = _parse_request(request)
    filename = _fs_text(fields[0][1])
    source = fields[1][1]
    wait = fields[2][1] == b"1"
    console = (b"mode", b"console") in fields[3:5]
    args = [_fs_text(value) for key, value in fields[3:] if key == b"arg"]
    del fields

    veto = _audit_veto(filename)
    if veto is not None:
        return _record(b"FAIL", _limit(_utf8(veto))) + _record(b"END ", b"vetoed")

    added = []
    try:
        thread = _own_import("_thread", added)
        _own_import("io", added)
        me = thread.get_ident()
        known = _threading_knows(me)
        had_threading = "threading" in sys.modules
        module = type(sys)("__attachpy__")
        namespace = module.__dict__
        namespace["__file__"] = filename
        namespace["__builtins__"] = __builtins__
        namespace["attachpy_args"] = args
        restore_import = None
        if not had_threading:
            restore_import = _watch_threading_import(me, __builtins__)
        pushed = _push_script_dir(filename)
        try:
            if console:
                namespace["__name__"] = "__console__"
                namespace["__main__"] = sys.modules.get("__main__")
                run = _console_runner(namespace, send, added)
                records = _run_captured(None, filename, namespace, thread.get_ident, send, run)
            elif wait:
                records = _run_captured(source, filename, namespace, thread.get_ident, send)
            else:
                records = _run_uncaptured(source, filename, namespace)
        finally:
            _pop_script_dir(pushed)
            if restore_import is not None:
                restore_import()
            if not had_threading:
                try:
                    _repair_main_thread(me)
                except Exception:
                    pass
            if not known:
                _forget_dummy_thread(me)
            if not had_threading:
                try:
                    _drop_threading()
                except Exception:
                    pass
    finally:
        _forget_modules(added)
    return b"".join(records)


def _main(request, send):
    try:
        return _run(request, send)
    except BaseException:
        exc = sys.exc_info()[1]
        message = "agent bootstrap error: %s: %s" % (_type_name(exc), _message(exc))
        exc = None
        return _record(b"FAIL", _utf8(message)) + _record(b"END ", b"failed")


# agent.c put the request there; it leaves the namespace at once.
__attachpy_result__ = _main(globals().pop("__attachpy_request__"),
                            globals().pop("__attachpy_send__", None))
