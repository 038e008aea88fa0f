"""A target for attachpy's benchmark: a main thread that ticks every
millisecond and remembers the longest gap between two ticks.

    python heartbeat.py [--threads N] [--libs DIR] [--busy N --spin]

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
"""
import argparse
import ctypes
import glob
import os
import signal
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--libs", default=None)
parser.add_argument("--busy", type=int, default=0)
parser.add_argument("--spin", action="store_true")
args = parser.parse_args()

TICK = 0.001


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


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
