/* attempt.h: one debugger session against the target (the n-th of a run).
 *
 * Render the attach script (and, for backends that define them up front,
 * both plans' commands with their page files), run the debugger, choose the
 * plan while it holds the target stopped (on_stopped), then cure: the
 * target left running and untraced, the breakpoints a dying debugger left
 * scrubbed, a call it queued and did not arm armed or withdrawn.
 */
#pragma once

#include <stdbool.h>

#include "backend.h"
#include "error.h"
#include "run_context.h"
#include "transcript.h"

/* Render, run and classify one debugger session (the n-th of this run):
 * attach, choose while the target is stopped (choice), inject, detach.
 * Returns 0 when the agent was started or its start queued (outcome says
 * which), else -1 with err set (*no_fit: no plan fitted the stopped
 * target).  The allocations the debugger left are added to c->leftovers. */
int ap_attempt_run(ap_run_ctx *c, ap_injection_plan *plan, const ap_plan_choice *choice, int n,
                   ap_transcript_outcome *outcome, bool *no_fit, ap_error *err)
        __attribute__((warn_unused_result));
