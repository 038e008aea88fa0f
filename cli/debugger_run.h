/* debugger_run.h: one debugger process, from its rendered script to its end.
 *
 * Render a backend's script template with a plan's values; run the
 * debugger to its end against the deadline, interrupting it gracefully
 * (and harder after a grace), while the interactive drive answers its
 * markers; show the transcript on the run's log as it arrives.
 */
#pragma once

#include <stdbool.h>

#include "backend.h"
#include "error.h"
#include "inject.h"
#include "spawn.h"
#include "transcript.h"
#include "util.h"

/* Render the backend's template file with the plan's values into *ret
 * (caller frees).  Returns 0, or -1 with err set. */
int ap_render_script(const ap_backend *b, const char *file, const ap_injection_plan *plan,
                     char **ret, ap_error *err) __attribute__((warn_unused_result));

/* The interactive drive: once the script says every thread is stopped
 * (@@ATTACHPY:stopped), on_stopped chooses the plan from /proc and sends its
 * command on the debugger's stdin.  The debugger answers @@ATTACHPY:fit (the
 * plan goes on: the CLI closes the debugger's stdin, and the debugger quits
 * after its last command) or @@ATTACHPY:unfit (the thread's system call had
 * completed when the debugger stopped it): on_stopped is called again, the
 * target still stopped, and chooses another plan or lets go.  The debugger
 * ready without having stopped the target (the attach failed): stdin is
 * closed at once. */
typedef struct ap_drive {
        /* unfit: how many plans were found unfit so far (0: the first). */
        void (*on_stopped)(void *userdata, ap_child *child, int unfit);
        void *userdata;
        int sent;     /* plans sent */
        pid_t caller; /* the thread the plan's calls run in, once sent, or 0 */
        bool done;
} ap_drive;

/* Run the debugger child to its end, interrupting it gracefully at the
 * deadline (or when cfg->cancel_fd is readable); the transcript collects
 * its output and end says how it ended.  drive may be NULL. */
void ap_debugger_run(const ap_run_config *cfg, ap_child *child, ap_buf *transcript, double deadline,
                     const ap_backend *backend, ap_drive *drive, ap_debugger_end *end);
