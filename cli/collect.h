/* collect.h: the agent's side of a run once the debugger has let go.
 *
 * The go-ahead (with the memory the debugger left for the agent to unmap),
 * then the agent's records until END, the deadline or an interrupt: the
 * last word on its GIL answered (docs/protocol.md), the code withdrawn when
 * it had not started, KeyboardInterrupt when it runs; the report filled
 * with the outcome, or with how the target ended.
 */
#pragma once

#include <stddef.h>

#include "lldb_allocations.h"
#include "run_context.h"

/* Send the go-ahead on fd, after the UNMP record of the n_unmap ranges.
 * Returns 0, or -1 when the agent hung up. */
int ap_send_go(int fd, const ap_range *unmap, size_t n_unmap) __attribute__((warn_unused_result));

/* Collect the agent's result on c->conn into c->report: its result, timing,
 * version and outcome (ok, or report->error set). */
void ap_collect(ap_run_ctx *c);
