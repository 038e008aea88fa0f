/* report.h: the only code that writes attachpy's results.
 *
 * Text for people: the code's stdout on stdout, its stderr and any traceback
 * on stderr, errors as "attachpy: error: ..." and "attachpy: hint: ...".
 * JSON for programs: exactly one object on stdout (DESIGN.md, "JSON
 * status").
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"
#include "exitwatch.h"
#include "result.h"
#include "target.h"

/* What one run did: ap_run (inject.h) fills it, the functions below print it. */
typedef struct ap_report {
        pid_t pid;
        const char *debugger;        /* "gdb", or NULL when none was run */
        const char *mechanism;       /* how the agent got in: "debugger", "remote_exec" (the
                                        runtime's own interface), "agent" (one that was serving),
                                        or NULL: it did not */
        int serving;                 /* an agent serves the target after the run: 1, 0, or -1:
                                        not known (the run ended before it could tell) */
        const char *command;         /* "attach", "detach", or NULL for a run of code */
        bool detached;               /* attachpy detach: an agent was serving and stopped */
        unsigned long still_running; /* detach: runs under way that go on */
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

/* Free what the report owns; safe on a zeroed report and twice. */
void ap_report_free(ap_report *report);

/* The JSON status object (a new reference). */
json_t *ap_report_to_json(const ap_report *r);

/* Print the report; returns the exit status. */
int ap_report_print_text(const ap_report *r, FILE *out, FILE *err);
int ap_report_print_json(const ap_report *r, FILE *out);

/* j as one compact, ASCII-only line on out, flushed; j is released (NULL:
 * out is only flushed).  Every JSON document attachpy prints goes out so. */
void ap_json_print_line(json_t *j, FILE *out);

/* Turn arbitrary bytes into valid UTF-8 (each invalid byte becomes U+FFFD;
 * NUL bytes stay).  Sets *ret_len; caller frees. */
char *ap_utf8_sanitize(const char *data, size_t len, size_t *ret_len);
