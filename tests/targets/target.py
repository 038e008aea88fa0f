"""A Python program for attachpy to attach to, in one of several states.

    python target.py MODE

It prints "ready <pid> <version> [<port>]" once it is in its state, and from
then on answers a SIGUSR1 with "alive <n>" on stdout, where n counts the work
it has done, so a test can see that it is alive and still working after an
injection; SIGUSR2 makes it exit cleanly (status 0) through the interpreter's
normal shutdown.  Only the threads mode imports threading.  Modes:

  sleep    the main thread sleeps in time.sleep(3600): every thread parked
  accept   the main thread blocks in accept(); each connection gets "pong"
  read     the main thread blocks reading stdin; each line is echoed back
  busy     a pure-Python loop that allocates (big integers)
  spin     a pure-Python loop that never allocates and calls nothing
  mainbusy busy's loop in the main thread, one more thread asleep in
           time.sleep: the thread to call in is not the main thread
  threads  four threads allocating hard, one printing "tick" every 50 ms,
           the main thread waiting in join()
  lockwait the main thread waits on a lock that is never released, a worker
           thread waits on a queue: every thread in a futex wait
  cbusy    the main thread in a C call that holds the GIL for a long time
  forker   forks all the time; children run a little Python and exit
  cpulse   the main thread in C calls that hold the GIL for about a second each
           (TARGET_PULSE seconds)
  gilhold  waits for a line on stdin (the GIL free); on "hold" prints
           "holding <tid>" and holds the GIL in a C call, read(0) through
           ctypes.PyDLL, until one more byte comes on stdin, then prints
           "released" and waits for the next line (ctypes)
  nodump   like sleep, after prctl(PR_SET_DUMPABLE, 0) (Linux, ctypes)
  audit    like sleep, with an audit hook (3.8+) that prints "audit <path>"
           for each attachpy.remote_exec event and vetoes the code when its
           path contains "veto"
  auditspin the audit hook of audit, the main thread in spin's loop
  asyncio  an event loop in the main thread with 50 tasks: 40 wait on an
           Event, 10 in asyncio.sleep chains (3.7+)
  leak     the main thread keeps every dict it makes, 100 a second
  grow     the main thread keeps one more bytes(1000) every 5 ms,
           made in grow() on the line marked "memory grows here"
  selftrace like sleep, after tracemalloc.start() of its own
  badrepr  like sleep, with locals whose __repr__ raises and whose __repr__
           never returns
  alloc8   8 threads allocating all the time (lists, dicts, strings), the
           main thread waiting in join() (the stress runs, 3.6+)
  spin8    8 threads allocating all the time and the main thread too: no
           thread ever waits in a system call for long
  http     a thread-per-request HTTP server (ThreadingHTTPServer on
           127.0.0.1, a free port, printed after the version); each GET is
           answered "ok <n>"
  agent AGENT CONTROL_FD
           the agent suite's target (tests/agent/test_agent.py): loads the
           agent with ctypes, says {"ready": true, "pid": ...} on CONTROL_FD,
           then obeys one JSON command per line on stdin, answering each with
           one JSON line on CONTROL_FD: {"op": "start", "dir": DIR or null}
           -> {"rc": int}; {"op": "exec", "code": "..."} -> {"result": R}
           ("exec" runs the code in this module's globals, in its main
           thread, and answers with what the code left in _result); exits
           when stdin closes.  It imports nothing before the agent's tests
           look at sys.modules (no threading, no traceback, no socket), and
           none of the other modes' protocol applies.
  heartbeat [--threads N] [--libs DIR] [--busy N --spin]
             the benchmark's target (3.6+): a main thread that ticks every
             millisecond and remembers the longest gap between two ticks; its
             own protocol, below, replaces the SIGUSR1/SIGUSR2 one

  --threads N   N threads in all: the heartbeat (the main thread) and N-1 idle
                threads sleeping in time.sleep()
  --libs DIR    load every *.so in DIR with ctypes.CDLL first
  --busy N      N more threads that run bytecode all the time
  --spin        the main thread does not sleep between ticks: with --busy, no
                thread of the process is ever parked in a system call (its
                gaps then include the GIL's switch interval: compare with the
                "none" method)

  The main thread sleeps 1 ms per tick (time.sleep: clock_nanosleep, a thread
  parked in a system call, as in an idle server).  While the process is
  ptrace-stopped, or while another thread holds the GIL, it does not tick, so
  the longest gap is how long the target was frozen for its main thread.

  Protocol, on stdout (one line each):
    ready <pid> <version> <threads> <libs>   once every thread runs
    SIGUSR1 -> "reset <n>"                   the longest gap is forgotten
    SIGUSR2 -> "gap <ms> ticks <n>"          the longest gap since the reset,
                                             sent after three more ticks, so a
                                             pause that just ended is counted
    SIGTERM -> exits (status 0)

Runs on Python 2.7 and 3.6 to 3.13 (for the refusal tests too).
"""
from __future__ import print_function

import sys

if sys.argv[1:2] == ["agent"]:
    # The agent suite's target (tests/agent/test_agent.py), before anything
    # else is imported (see "agent" above).
    import ctypes
    import json
    import os

    agent_path = sys.argv[2]
    control_fd = int(sys.argv[3])
    control = os.fdopen(control_fd, "w")

    agent = ctypes.CDLL(agent_path)
    start = agent.attachpy_agent_start_v1
    start.argtypes = [ctypes.c_char_p]
    start.restype = ctypes.c_int

    orig_stdout = sys.stdout
    orig_stderr = sys.stderr


    def reply(obj):
        control.write(json.dumps(obj) + "\n")
        control.flush()


    def to_bytes(text):
        if text is None:
            return None
        return text.encode("utf-8")


    def serve():
        reply({"ready": True, "pid": os.getpid()})
        while True:
            line = sys.stdin.readline()
            if not line:
                return
            cmd = json.loads(line)
            try:
                if cmd["op"] == "start":
                    reply({"rc": start(to_bytes(cmd["dir"]))})
                elif cmd["op"] == "exec":
                    namespace = globals()
                    namespace["_result"] = None
                    exec(cmd["code"], namespace)
                    reply({"result": namespace["_result"]})
                else:
                    reply({"error": "unknown op"})
            except Exception as e:
                reply({"error": repr(e)})


    serve()
    sys.exit(0)

import os
import signal
import socket
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "sleep"
TARGET_MARK = "attachpy-target-" + MODE  # read by injected code via __main__
work = [0]


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def on_usr1(signum, frame):
    say("alive", work[0])


def on_usr2(signum, frame):
    # A clean exit through the interpreter's own shutdown (threading's too).
    say("exiting")
    sys.exit(0)


signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGUSR2, on_usr2)
version = "%d.%d.%d" % sys.version_info[:3]

if MODE == "sleep":
    say("ready", os.getpid(), version)
    while True:
        time.sleep(3600)
        work[0] += 1

elif MODE == "accept":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    say("ready", os.getpid(), version, srv.getsockname()[1])
    while True:
        conn, _ = srv.accept()
        work[0] += 1
        conn.sendall(b"pong\n")
        conn.close()

elif MODE == "read":
    say("ready", os.getpid(), version)
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        work[0] += 1
        say("echo", line.strip())

elif MODE == "busy":
    say("ready", os.getpid(), version)
    n = 10 ** 30
    while True:
        n += 1
        work[0] += 1

elif MODE == "spin":
    say("ready", os.getpid(), version)
    while True:
        pass

elif MODE == "mainbusy":
    import _thread

    def doze():
        while True:
            time.sleep(3600)

    _thread.start_new_thread(doze, ())
    say("ready", os.getpid(), version)
    n = 10 ** 30
    while True:
        n += 1
        work[0] += 1

elif MODE == "threads":
    import threading

    stop = []

    def allocate():
        while not stop:
            junk = [object() for _ in range(200)]
            junk.append({"k": list(range(50))})
            work[0] += 1

    def ticker():
        i = 0
        while not stop:
            i += 1
            say("tick", i)
            time.sleep(0.05)

    def idle():
        while not stop:
            time.sleep(0.5)

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    threads.append(threading.Thread(target=ticker))
    # TARGET_IDLE_THREADS more threads that only sleep (the stress suite).
    threads += [threading.Thread(target=idle)
                for _ in range(int(os.environ.get("TARGET_IDLE_THREADS", "0")))]
    for t in threads:
        t.daemon = True
        t.start()
    say("ready", os.getpid(), version)
    for t in threads:
        t.join()

elif MODE == "lockwait":
    import threading

    try:
        import queue
    except ImportError:
        import Queue as queue
    jobs = queue.Queue()

    def worker():
        while True:
            jobs.get()
            work[0] += 1

    w = threading.Thread(target=worker)
    w.daemon = True
    w.start()
    never = threading.Lock()
    never.acquire()
    say("ready", os.getpid(), version)
    while True:
        # Python 2's lock.acquire() cannot be interrupted by signals.
        if never.acquire(True, 3600) if sys.version_info[0] >= 3 else never.acquire():
            break

elif MODE == "cbusy":
    import itertools

    say("ready", os.getpid(), version)
    while True:
        # One C call that holds the GIL for tens of seconds and calls nothing
        # attachpy could stop at: sum() over one repeated small int neither
        # allocates nor checks for signals.
        work[0] += sum(itertools.repeat(1, 10 ** 10))

elif MODE == "forker":
    # Forks all the time; each child checks that it can still run Python
    # (allocate, import) and exits 0.  "forks N bad M" on SIGUSR1 via work.
    bad = [0]

    def on_usr1_forker(signum, frame):
        say("alive", work[0], "bad", bad[0])

    signal.signal(signal.SIGUSR1, on_usr1_forker)
    say("ready", os.getpid(), version)
    while True:
        child = os.fork()
        if child == 0:
            try:
                import json
                json.dumps([object.__name__ for _ in range(100)])
                os._exit(0)
            except BaseException:
                os._exit(3)
        _, st = os.waitpid(child, 0)
        work[0] += 1
        if st != 0:
            bad[0] += 1

elif MODE == "cpulse":
    import itertools

    say("ready", os.getpid(), version)
    n = 10 ** 6
    t = time.time()
    sum(itertools.repeat(1, n))
    # Calibrate: one call of about TARGET_PULSE seconds (default 1).
    n = int(n * float(os.environ.get("TARGET_PULSE", "1")) / max(time.time() - t, 1e-6))
    while True:
        work[0] += sum(itertools.repeat(1, n)) // n
elif MODE == "gilhold":
    import ctypes

    libc = ctypes.PyDLL(None)  # a PyDLL's calls keep the GIL
    byte = ctypes.create_string_buffer(1)
    say("ready", os.getpid(), version)
    while True:
        line = sys.stdin.readline()  # the GIL is free while it waits
        if not line:
            break
        if line.strip() == "hold":
            say("holding", os.getpid())
            libc.read(0, byte, 1)
            say("released")
        work[0] += 1
elif MODE == "nodump":
    import ctypes

    PR_SET_DUMPABLE = 4
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_DUMPABLE, 0) failed")
    say("ready", os.getpid(), version)
    while True:
        time.sleep(3600)
        work[0] += 1

elif MODE == "asyncio":
    # In a string: target.py must stay valid Python 2.7 for the refusal tests.
    exec("""
import asyncio

async def waiter(event):
    await event.wait()

async def napper(depth):
    if depth:
        await napper(depth - 1)
    else:
        while True:
            await asyncio.sleep(3600)

async def main():
    event = asyncio.Event()
    tasks = [asyncio.ensure_future(waiter(event)) for _ in range(40)]
    tasks += [asyncio.ensure_future(napper(3)) for _ in range(10)]
    await asyncio.sleep(0)
    say("ready", os.getpid(), version)
    while True:
        await asyncio.sleep(0.05)
        work[0] += 1

asyncio.new_event_loop().run_until_complete(main())
""")

elif MODE == "leak":
    kept = []
    say("ready", os.getpid(), version)
    while True:
        kept.append({"n": len(kept), "payload": [work[0]]})
        work[0] += 1
        time.sleep(0.01)

elif MODE == "grow":
    kept = []

    def grow():
        kept.append(bytes(1000))  # attachpy-test: memory grows here

    say("ready", os.getpid(), version)
    while True:
        grow()
        work[0] += 1
        time.sleep(0.005)

elif MODE == "selftrace":
    import tracemalloc
    tracemalloc.start()
    say("ready", os.getpid(), version)
    while True:
        time.sleep(3600)
        work[0] += 1

elif MODE == "badrepr":
    class Raises(object):
        def __repr__(self):
            raise RuntimeError("repr of Raises")

    class Forever(object):
        def __repr__(self):
            while True:
                time.sleep(1)

    def hold(a, b):
        say("ready", os.getpid(), version)
        while True:
            time.sleep(3600)
            work[0] += 1

    hold(Raises(), Forever())

elif MODE in ("audit", "auditspin"):
    def hook(event, args):
        if event == "attachpy.remote_exec":
            say("audit", args[0])
            if "veto" in args[0]:
                raise PermissionError("remote code is not welcome in " + TARGET_MARK)

    sys.addaudithook(hook)
    say("ready", os.getpid(), version)
    if MODE == "auditspin":
        while True:
            pass
    while True:
        time.sleep(3600)
        work[0] += 1

elif MODE in ("alloc8", "spin8", "http"):
    # The stress runs' busy targets (tests/stress/stress.py), 3.6+.
    import threading

    def allocate():
        while True:
            x = [str(i) for i in range(200)]
            d = dict.fromkeys(x)
            work[0] += len(d) // 200


    def start_allocators(n):
        ts = [threading.Thread(target=allocate, daemon=True) for _ in range(n)]
        for t in ts:
            t.start()
        return ts


    if MODE == "alloc8":
        ts = start_allocators(8)
        say("ready", os.getpid(), version)
        for t in ts:
            t.join()
    elif MODE == "spin8":
        start_allocators(8)
        say("ready", os.getpid(), version)
        allocate()
    elif MODE == "http":
        try:
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        except ImportError:  # 3.6
            from http.server import BaseHTTPRequestHandler, HTTPServer
            from socketserver import ThreadingMixIn

            class ThreadingHTTPServer(ThreadingMixIn, HTTPServer):
                daemon_threads = True

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                work[0] += 1
                body = ("ok %d\n" % work[0]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        say("ready", os.getpid(), version, server.server_address[1])
        server.serve_forever()

elif MODE == "heartbeat":
    # The benchmark's target (tests/bench/bench.py): see the docstring.
    import argparse
    import ctypes
    import glob
    import threading

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--libs", default=None)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--spin", action="store_true")
    args = parser.parse_args(sys.argv[2:])

    TICK = 0.001


    libs = []
    if args.libs:
        for path in sorted(glob.glob(os.path.join(args.libs, "*.so"))):
            libs.append(ctypes.CDLL(path))

    # Idle threads: each parked in clock_nanosleep.  A small stack keeps 1000 of
    # them cheap; what is measured does not depend on it.
    threading.stack_size(256 * 1024)
    started = threading.Semaphore(0)


    def idle():
        started.release()
        while True:
            time.sleep(3600)


    for _ in range(max(0, args.threads - 1)):
        threading.Thread(target=idle, daemon=True).start()
    for _ in range(max(0, args.threads - 1)):
        started.acquire()


    def busy():
        started.release()
        n = 0
        while True:
            n += 1


    for _ in range(args.busy):
        threading.Thread(target=busy, daemon=True).start()
    for _ in range(args.busy):
        started.acquire()

    state = {"max_gap": 0.0, "ticks": 0, "report_at": None, "resets": 0}


    def on_reset(signum, frame):
        state["max_gap"] = 0.0
        state["resets"] += 1
        state["report_at"] = None
        say("reset", state["resets"])


    def on_report(signum, frame):
        state["report_at"] = state["ticks"] + 3


    def on_term(signum, frame):
        sys.exit(0)


    signal.signal(signal.SIGUSR1, on_reset)
    signal.signal(signal.SIGUSR2, on_report)
    signal.signal(signal.SIGTERM, on_term)

    say("ready", os.getpid(), "%d.%d.%d" % sys.version_info[:3], threading.active_count(), len(libs))

    clock = time.perf_counter
    last = clock()
    while True:
        if args.spin:
            # ticks as fast as the loop runs, the GIL permitting
            t_end = clock() + TICK
            while clock() < t_end:
                pass
        else:
            time.sleep(TICK)
        now = clock()
        gap = now - last
        last = now
        state["ticks"] += 1
        if gap > state["max_gap"]:
            state["max_gap"] = gap
        if state["report_at"] is not None and state["ticks"] >= state["report_at"]:
            state["report_at"] = None
            say("gap", "%.3f" % (state["max_gap"] * 1000.0), "ticks", state["ticks"])
            # the report itself (a write to a pipe) is not part of any pause
            last = clock()

else:
    sys.exit("unknown mode " + MODE)
