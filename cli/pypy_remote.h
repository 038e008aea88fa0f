/* pypy_remote.h: PyPy's own remote execution, written from outside.
 *
 * PyPy 8 exports pypysig_counter, {Signed value; char cookie[8] =
 * "pypysigs"; Signed debugger_pending_call; char path[]}.  A client writes a
 * script's path, sets debugger_pending_call to 1 and value to -1; the next
 * time a thread of the target checks for signals between two bytecodes,
 * PyPy clears the pending word and runs the script (a fresh namespace,
 * __name__ "builtins"), in the thread that noticed.  No stop and no tracer:
 * attachpy writes through /proc/PID/mem (ptrace access rights).  Only a
 * thread that runs Python picks the request up, so attachpy uses it for a
 * PyPy whose threads all run Python (the debugger needs a thread that waits)
 * and the debugger otherwise (docs/pypy.md).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

/* The longest script path PyPy's own client writes (its PATH_MAX). */
#define AP_PYPY_REMOTE_PATH_MAX 1024
/* pypysig_counter must be at least this big. */
#define AP_PYPY_REMOTE_MIN_SIZE (24 + AP_PYPY_REMOTE_PATH_MAX)

typedef struct ap_pypy_remote {
        pid_t pid;
        int mem_fd;
        uint64_t addr; /* of pypysig_counter in the target */
} ap_pypy_remote;

#define AP_PYPY_REMOTE_INIT                                                                        \
        { .pid = 0, .mem_fd = -1, .addr = 0 }

/* Open the target's memory and check the cookie there, and that no request
 * is pending already (another client's).  -1 with err set otherwise. */
int ap_pypy_remote_open(ap_pypy_remote *r, pid_t pid, uint64_t addr, ap_error *err)
        __attribute__((warn_unused_result));

/* Ask the target to run the script at path (as the target sees it). */
int ap_pypy_remote_request(ap_pypy_remote *r, const char *path, ap_error *err)
        __attribute__((warn_unused_result));

/* 1 when the target took the request (it runs the script now or has run
 * it), 0 while it is pending, -1 when the target cannot be read. */
int ap_pypy_remote_taken(ap_pypy_remote *r);

/* Withdraw a pending request.  Returns 1 when it was still pending when
 * withdrawn, 0 when the target had taken it, -1 when it cannot be written.
 * A thread that read the pending word just before may still run the
 * script: the agent it starts then finds no go-ahead (cli/inject.c). */
int ap_pypy_remote_withdraw(ap_pypy_remote *r);

void ap_pypy_remote_close(ap_pypy_remote *r);

/* The script the target runs: it loads the agent at agent_path and calls
 * its entry point with session_dir (both as the target sees them), through
 * PyPy's built-in _cffi_backend (a call that releases the GIL, like the
 * debugger's call in a waiting thread), and leaves nothing behind: no
 * module that was not imported before, no name, no exception.  Appended to
 * out.  -1 when a path cannot be written as a Python literal. */
int ap_pypy_remote_script(const char *agent_path, const char *session_dir, ap_buf *out)
        __attribute__((warn_unused_result));
