/* pending.h: a queued trampoline, watched and cancelled from outside.
 *
 * After a scheduled injection the debugger has detached and the trampoline
 * waits in the target's pending-call queue.  attachpy follows it through
 * /proc/PID/mem (which needs the same permission as ptrace, not a tracer):
 * the page's state word says whether it ran and what failed, and writing its
 * cancel word withdraws it (cli/page.h, cli/trampoline.S).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct ap_pending {
        pid_t pid;
        int mem_fd;
        uint64_t page;
} ap_pending;

#define AP_PENDING_INIT                                                                            \
        { .pid = 0, .mem_fd = -1, .page = 0 }

typedef enum ap_pending_status {
        AP_PENDING_QUEUED,  /* not run yet */
        AP_PENDING_RUNNING, /* loading the agent */
        AP_PENDING_DONE,    /* the page is gone: the agent started (or a
                               cancelled call ran and did nothing) */
        AP_PENDING_FAILED,  /* the page says what failed: see detail */
        AP_PENDING_LOST,    /* the process cannot be read any more */
} ap_pending_status;

int ap_pending_open(ap_pending *p, pid_t pid, uint64_t page, ap_error *err)
        __attribute__((warn_unused_result));

/* The trampoline's status; for AP_PENDING_FAILED, *state is the page's state
 * word and *detail its detail word. */
ap_pending_status ap_pending_status_read(ap_pending *p, int *state, int64_t *detail);

/* Withdraw the call.  Returns 1 when it had not started (it never will
 * load the agent; when it runs it only unmaps its page), 0 when it had
 * already started or finished, -1 when the process cannot be written. */
int ap_pending_cancel(ap_pending *p);

/* Arm a call its debugger queued but did not arm (it died first).  Returns
 * 1 when armed before it ran, 0 when it was armed or withdrawn already or
 * has run (unarmed), -1 when the page cannot be read or written (the call
 * ran, or the process is gone). */
int ap_pending_arm(ap_pending *p);

/* A NUL-terminated string of the target's at addr (at most size-1 bytes);
 * "" when unreadable. */
void ap_pending_read_string(ap_pending *p, uint64_t addr, char *buf, size_t size);

void ap_pending_close(ap_pending *p);
