/* job.h: one run of the user's code on one connection (agent.c), for the
 * serving agent (serve.c). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "serve.h"

/* Check a request (docs/protocol.md, "The request"): 0, or -EBADMSG.  Its
 * wait flag, its serve name ("" when it has none) and whether its mode is
 * "console" are returned. */
int ap_request_check(const char *data, size_t len, bool *ret_wait,
                     char ret_serve[static AP_SERVE_NAME_MAX + 1], bool *ret_console);

/* Run the request that came on the connection fd, in this thread, as the
 * thread a debugger's call starts does: HELO, VERS, the go-ahead, the code,
 * the records.  Takes fd and request (malloc'd); returns when the run is
 * over.  run_mask is the signal mask the code runs with. */
void ap_job_run_connected(int fd, char *request, size_t request_len, const sigset_t *run_mask);
