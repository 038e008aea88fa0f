/* serve.h: the agent that stays (docs/protocol.md, "The serving agent").
 *
 * Once a request asks for it (attachpy attach, --keep), the agent listens
 * on a unix socket in a fresh private directory of the target's /tmp and
 * runs every request that comes on it, with no debugger: one thread blocked
 * in accept(), and one thread per connection.  The state is the process's
 * one (a process has one serving agent): it lives in serve.c, the only
 * state the agent keeps beyond a run.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* The directory's name, chosen by the CLI: "attachpy-agent-" and at most
 * 49 more of [a-z0-9-]. */
#define AP_SERVE_NAME_MAX 64
/* "/tmp/" + the name + NUL. */
#define AP_SERVE_DIR_MAX (5 + AP_SERVE_NAME_MAX + 1)

bool ap_serve_name_valid(const char *name, size_t len);

/* Start serving in /tmp/<name>; the runs' code gets run_mask; identity
 * ("cpython 3.12.1") is what INFO says the interpreter is.  Returns 0
 * (started), 1 (already serving: dir is where), or -1 with why. */
int ap_serve_start(const char *name, const sigset_t *run_mask, const char *identity,
                   char dir[static AP_SERVE_DIR_MAX], char *why, size_t why_size);
