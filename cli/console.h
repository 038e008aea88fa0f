/* console.h: attachpy console PID, an interactive Python console inside the
 * target (docs/protocol.md, "The console").
 *
 * The console runs in a thread of the serving agent's (attachpy attach is
 * done first when none serves, and undone when the session ends, so the
 * target is left as it was).  Lines are edited here, with libedit: history
 * in $XDG_STATE_HOME/attachpy/history (~/.local/state/...), completion
 * from the target's namespace (COMP), Ctrl-C interrupting only the
 * statement that runs (INTR), Ctrl-D ending the session.  With stdin not a
 * terminal the lines are read as they come, without prompts.
 */
#pragma once

#include <signal.h>

#include "options.h"

/* Run the session; returns attachpy's exit status (0, or the error's). */
int ap_console_run(const ap_options *o, int cancel_fd, const sigset_t *child_mask);
