/* cpython_remote.h: CPython 3.14+'s own remote-execution interface (PEP 768),
 * written from outside.
 *
 * Every thread state has remote_debugger_support: a pending flag (int) and a
 * script path; when a thread next checks its eval breaker between two
 * bytecodes and finds _PY_EVAL_PLEASE_STOP_BIT set and the flag raised, it
 * clears the flag and runs the script (an audit event,
 * cpython.remote_debugger_script, then a fresh namespace, with the GIL).
 * The runtime publishes where everything is in _Py_DebugOffsets, at the
 * start of _PyRuntime; a runtime whose config says remote_debug is off
 * (-X disable_remote_debug, PYTHON_DISABLE_REMOTE_DEBUG, a build configured
 * --without-remote-debug) ignores the flag, and attachpy does not write it.
 * attachpy writes the main thread's, through /proc/PID/mem: no debugger, no
 * stop, no tracer.  Only a thread that runs bytecode picks the request up.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

/* What attachpy reads of _Py_DebugOffsets, as offsets. */
typedef struct ap_remote_offsets {
        uint32_t version;           /* PY_VERSION_HEX */
        uint64_t interpreters_head; /* in _PyRuntimeState */
        uint64_t threads_main;      /* in PyInterpreterState */
        uint64_t eval_breaker;      /* in PyThreadState */
        uint64_t support;           /* remote_debugger_support, in PyThreadState */
        uint64_t enabled;           /* config.remote_debug (int), in PyInterpreterState */
        uint64_t pending;           /* debugger_pending_call (int), in the support */
        uint64_t path;              /* debugger_script_path, in the support */
        uint64_t path_size;
} ap_remote_offsets;

/* How much of _Py_DebugOffsets attachpy reads. */
#define AP_DEBUG_OFFSETS_READ 2048

/* Find the offsets in a copy of _Py_DebugOffsets (len bytes from the start
 * of _PyRuntime).  The fields before the interpreter state's are at the
 * same place in 3.14 and 3.15; debugger_support, the last member, moves with
 * what each version adds before it, so it is found by what it holds (the
 * pending flag first in its struct, the path right after it, a path size
 * between 256 and 4096, offsets within their structures), and exactly one
 * place may hold that.  Returns 0, or -1 when data is no 3.14+ runtime with
 * the GIL or the block cannot be told for certain. */
int ap_remote_offsets_parse(const uint8_t *data, size_t len, ap_remote_offsets *ret);

typedef struct ap_cpython_remote {
        pid_t pid;
        int mem_fd;
        uint64_t pending_addr; /* the main thread's flag */
        uint64_t path_addr;
        uint64_t path_size;
        uint64_t eval_breaker_addr;
} ap_cpython_remote;

#define AP_CPYTHON_REMOTE_INIT                                                                     \
        { .pid = 0, .mem_fd = -1 }

/* Read the live runtime at runtime_addr (the target's _PyRuntime): its
 * offsets, the main interpreter, remote_debug on, the main thread's state,
 * no request pending.  -1 with err set otherwise (then the debugger does the
 * job). */
int ap_cpython_remote_open(ap_cpython_remote *r, pid_t pid, uint64_t runtime_addr, ap_error *err)
        __attribute__((warn_unused_result));

/* Ask the main thread to run the script at path (as the target sees it). */
int ap_cpython_remote_request(ap_cpython_remote *r, const char *path, ap_error *err)
        __attribute__((warn_unused_result));

/* 1 taken (the flag is down again), 0 pending, -1 unreadable. */
int ap_cpython_remote_taken(ap_cpython_remote *r);

/* 1 withdrawn while pending, 0 taken already, -1 cannot be written. */
int ap_cpython_remote_withdraw(ap_cpython_remote *r);

void ap_cpython_remote_close(ap_cpython_remote *r);

/* The script the target runs: loads the agent with _ctypes and calls its
 * entry point in a call that releases the GIL; catches everything; takes
 * _ctypes out of sys.modules again when the target had not imported it. */
int ap_cpython_remote_script(const char *agent_path, const char *session_dir, ap_buf *out)
        __attribute__((warn_unused_result));
