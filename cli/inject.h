/* inject.h: one run, from preflight to the agent's result.
 *
 * stop → prepare → infect → run → cure, after CRIU's compel: preflight the
 * target, stage a session, render and run the debugger script against a
 * deadline, make sure the target is running and untraced afterwards, give
 * the agent the go-ahead and collect what it reports.  The session is
 * removed on every path.
 */
#pragma once

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"
#include "exitwatch.h"
#include "options.h"
#include "progress.h"
#include "result.h"
#include "target.h"

typedef struct ap_report {
        pid_t pid;
        const char *debugger;  /* "gdb", or NULL when none was run */
        const char *mechanism; /* how the agent got in: "debugger", "remote_exec" (the
                                  runtime's own interface), or NULL: it did not */
        bool have_target;
        ap_impl impl;
        char *version;
        char *executable;
        bool have_result; /* the code ran (or --no-wait scheduled it) */
        ap_result result;
        bool ok;
        bool scheduled_only; /* --no-wait */
        bool target_ended;   /* the target ended while the code ran (target_exited) */
        ap_exit_status exit; /* how, when target_ended */
        ap_error error;
        char safepoint[16]; /* how the agent got in: "parked", "futex" or "pending" */
        double ms_total, ms_preflight, ms_debugger, ms_run;
        const char *recipe;  /* the recipe that ran ("stacks"), or NULL */
        json_t *recipe_data; /* its document (owned), or NULL */
        int retries;         /* debugger sessions run again (the target was elsewhere
                                than chosen, a queued call withdrawn for a waiting
                                thread, PyPy without a thread waiting) */
} ap_report;

typedef struct ap_run_config {
        const ap_options *opts;
        const char *code;
        size_t code_len;
        const char *filename;       /* __file__ */
        FILE *verbose;              /* where --verbose output goes, or NULL */
        int cancel_fd;              /* readable when attachpy is asked to stop (signalfd), or -1 */
        const sigset_t *child_mask; /* the signal mask children start with */
        ap_progress *progress;      /* the terminal's status line, or NULL */
} ap_run_config;

/* Run.  Always fills report (error.code says what failed). */
void ap_run(const ap_run_config *cfg, ap_report *report);

void ap_report_free(ap_report *report);
