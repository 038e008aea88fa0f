"""Busy targets for the stress runs (tests/stress/stress.py).

    python busy_target.py MODE

Prints "ready <pid> <version> [<port>]" once it is in its state; SIGUSR1
makes it print "alive <n>" (n: work done so far).  Modes:

  alloc8   8 threads allocating all the time (lists, dicts, strings), the
           main thread waiting in join()
  spin8    8 threads allocating all the time and the main thread too: no
           thread ever waits in a system call for long
  http     a thread-per-request HTTP server (http.server.ThreadingHTTPServer
           on 127.0.0.1, a free port); each GET is answered "ok <n>"

Runs on CPython 3.6+ and PyPy 3.
"""
import os
import signal
import sys
import threading

MODE = sys.argv[1] if len(sys.argv) > 1 else "alloc8"
work = [0]


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


signal.signal(signal.SIGUSR1, lambda s, f: say("alive", work[0]))
VERSION = "%d.%d.%d" % sys.version_info[:3]


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
    say("ready", os.getpid(), VERSION)
    for t in ts:
        t.join()
elif MODE == "spin8":
    start_allocators(8)
    say("ready", os.getpid(), VERSION)
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
    say("ready", os.getpid(), VERSION, server.server_address[1])
    server.serve_forever()
else:
    sys.exit("unknown mode %r" % MODE)
