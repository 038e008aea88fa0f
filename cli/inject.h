/* inject.h: one run, from the target's lock to the agent's result.
 *
 * Told as verbs, after CRIU's compel: lock the target, preflight it (/proc
 * and ELF only), stage a session, inject the agent (the runtime's own
 * remote execution, or debugger sessions, each cured: the target left
 * running and untraced), give it the go-ahead, collect what it reports;
 * cure on every path (the session removed, the lock released).  The core
 * prints nothing: --verbose output goes to cfg->log, which the front end
 * binds.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "log.h"
#include "options.h"
#include "progress.h"
#include "report.h"

typedef struct ap_run_config {
        const ap_options *opts;
        const char *code;
        size_t code_len;
        const char *filename;       /* __file__ */
        ap_log log;                 /* where --verbose output goes (log.h; none: no callback) */
        int cancel_fd;              /* readable when attachpy is asked to stop (signalfd), or -1 */
        const sigset_t *child_mask; /* the signal mask children start with */
        ap_progress *progress;      /* the terminal's status line, or NULL */
} ap_run_config;

/* Run.  Always fills report (error.code says what failed). */
void ap_run(const ap_run_config *cfg, ap_report *report);
