# target.py: the Python process the agent tests load the agent into.
#
#     python target.py AGENT CONTROL_FD
#
# Loads the agent with ctypes, says {"ready": true, "pid": ...} on
# CONTROL_FD, then obeys one JSON command per line on stdin, answering each
# with one JSON line on CONTROL_FD:
#
#     {"op": "start", "dir": "/session/dir" or null}  -> {"rc": int}
#     {"op": "exec", "code": "..."}                    -> {"result": _result}
#
# "exec" runs the code in this module's globals (its main thread) and answers
# with whatever the code left in _result.  The process exits when stdin
# closes.  Runs on Python 2.7 and 3.6+; imports nothing that would make the
# sys.modules checks meaningless (no threading, no traceback).
import ctypes
import json
import os
import sys

agent_path = sys.argv[1]
control_fd = int(sys.argv[2])
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
