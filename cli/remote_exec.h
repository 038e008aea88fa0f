/* remote_exec.h: the agent in through the runtime's own remote execution.
 *
 * CPython 3.14+ (sys.remote_exec) and PyPy 8 (cli/runtime_remote.h): no
 * debugger and no stop.  The target runs a script of the session that
 * starts the agent; the agent connects as after a debugger's call.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "run_context.h"

/* How long a request to the runtime's own remote execution may stay
 * pending before attachpy withdraws it and lets the debugger in, where the
 * debugger can (a main thread in a long C call that holds the GIL). */
#define AP_RUNTIME_REMOTE_PATIENCE_MS 150.0

/* Whether the target's main thread may run bytecode soon: it is in no
 * system call, or in one that is no long wait (a futex: most often the GIL,
 * which the busy threads of a process hand round).  A main thread parked
 * in a read, a poll or a sleep runs no bytecode until it wakes: that is the
 * debugger's (a direct call in that thread). */
bool ap_main_thread_may_run(pid_t pid);

/* Ask the runtime of c->target to start the agent.  Returns the agent's
 * connection; -2 when the runtime cannot be asked (err says why) or the
 * request was withdrawn within patience_ms (> 0; the debugger's turn); -1
 * with err set at the deadline (the request withdrawn). */
int ap_remote_exec(ap_run_ctx *c, double patience_ms, ap_error *err)
        __attribute__((warn_unused_result));
