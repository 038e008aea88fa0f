/* job.h: one run of the user's code on one connection (agent.c), for the
 * serving agent (serve.c). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "serve.h"

/* Run the request that came on the connection fd, in this thread, as the
 * thread a debugger's call starts does: HELO, VERS, the go-ahead, the code,
 * the records.  Takes fd and request (malloc'd); returns when the run is
 * over.  run_mask is the signal mask the code runs with. */
void ap_job_run_connected(int fd, char *request, size_t request_len, const sigset_t *run_mask);

/* A thread of the agent's: detached, every signal blocked (the target's
 * signals keep going to its own threads); the caller's mask in
 * *ret_caller_mask when not NULL, for the code to run with.  0, or -errno. */
int ap_thread_start_detached(void *(*fn)(void *), void *arg, sigset_t *ret_caller_mask);
