/* run_context.h: the state of one run, shared by the files that tell it.
 *
 * Internal to ap_run (inject.c) and its parts: debugger_run.c (one
 * debugger process, its script rendered and driven), attempt.c (one
 * debugger session against the target), pending_wait.c (the wait for a
 * queued call) and collect.c (the agent's result).  Not for the front end.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent_channel.h"
#include "backend.h"
#include "exitwatch.h"
#include "inject.h"
#include "lldb_allocations.h"
#include "session.h"
#include "target.h"

/* How long the calls into the target get to finish once they have started
 * (and the agent to connect once its call has started). */
#define AP_GRACE_FOR_CALLS_MS 3000.0

typedef struct ap_run_ctx {
        const ap_run_config *cfg;
        const ap_log *log; /* &cfg->log */
        ap_report *report; /* filled as the run goes */
        double t0;         /* when the run started */
        double deadline;   /* t0 + --timeout */
        int lock;          /* the target's lock (target_lock.h), or -1 */
        ap_target target;  /* preflight's facts */
        const ap_backend *backend;
        char *program;                          /* the debugger's path */
        char *agent;                            /* the agent's path */
        ap_session session;                     /* the staged session, removed by cure */
        char *owner_path;                       /* the private copy of "owner", or NULL */
        ap_buf request;                         /* the encoded request */
        int conn;                               /* the agent's connection, or -1 */
        bool served;                            /* conn is to an agent that was already serving */
        char serve_name[AP_AGENT_NAME_MAX + 1]; /* --keep: the directory it is asked to make */
        double t_run;                           /* when the go-ahead was being prepared */
        ap_exit_watch exit_watch;
        /* Memory the debugger allocated in the target and left there. */
        ap_range leftovers[AP_MAX_LLDB_ALLOCATIONS];
        size_t n_leftovers;
} ap_run_ctx;

/* How the plan is chosen once the target is stopped (ap_plan_choose_stopped). */
typedef struct ap_plan_choice {
        ap_plan_want want;
        bool have_waiter; /* the thread a withdrawn scheduled call chose */
        ap_parked_thread waiter;
        ap_parked_kind waiter_kind;
} ap_plan_choice;
