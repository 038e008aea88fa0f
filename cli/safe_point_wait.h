/* safe_point_wait.h: waiting for the target to reach a safe point.
 *
 * A queued call (Py_AddPendingCall) waits for the main thread to run
 * bytecode: await the agent's connection, watch the trampoline's page, and
 * withdraw the call at the deadline or for a thread that waits.  PyPy with
 * every thread running Python has no safe point yet: look again a little
 * later, or give up with no_safe_point's error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "error.h"
#include "run_context.h"

/* The trampoline waits in the target's pending-call queue at page: wait for
 * the agent to connect.  Returns the connection; -2 when the call was
 * withdrawn so that a waiting thread can be used instead (only with a
 * fallback plan, which then holds that thread); else -1 with err set, the
 * call withdrawn when it had not started. */
int ap_await_scheduled(ap_run_ctx *c, uint64_t page, ap_injection_plan *fallback, ap_error *err)
        __attribute__((warn_unused_result));

/* The call into the target started just now: give its agent a moment to
 * connect.  Returns the connection, else -1 with err set (a timeout: the
 * message fmt, and the hint to use a longer --timeout). */
int ap_accept_started(ap_run_ctx *c, ap_error *err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4), warn_unused_result));

/* PyPy with every thread running Python: wait a little before looking
 * again, if the deadline leaves time for it and for a debugger.  Returns
 * whether it waited. */
bool ap_no_safe_point_wait(double deadline);

/* The error when no thread reached a safe point within the timeout. */
void ap_no_safe_point(ap_error *err, const ap_target *target, double timeout_s);
