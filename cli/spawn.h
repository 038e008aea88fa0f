/* spawn.h: one way to run a child process.
 *
 * argv arrays only (no shell), stdin from /dev/null, stdout and stderr merged
 * into one close-on-exec pipe (so the transcript keeps its order), its own
 * process group, the caller's signal mask undone in the child, and every
 * wait bounded by a CLOCK_MONOTONIC deadline.  A child is always reaped.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

typedef struct ap_child {
        pid_t pid;   /* 0 once reaped or never started */
        int out_fd;  /* read end of the merged output pipe, -1 at EOF */
        int in_fd;   /* write end of the child's stdin pipe (ap_spawn_piped), else -1 */
        int pidfd;   /* pidfd of the child, or -1 */
        bool exited; /* reaped */
        int status;  /* wait status once exited */
} ap_child;

#define AP_CHILD_INIT                                                                              \
        { 0, -1, -1, -1, false, 0 }

/* Start argv[0] (looked up in PATH).  child_mask: the signal mask the child
 * starts with (NULL: empty).  death_signal: sent to the child if attachpy
 * dies first (0: none).  envp: the environment (NULL: attachpy's own).  A missing program is
 * AP_ERR_DEBUGGER_NOT_FOUND (the only programs attachpy runs are debuggers). */
int ap_spawn(ap_child *c, char *const argv[], char *const envp[], const sigset_t *child_mask,
             int death_signal, ap_error *err) __attribute__((warn_unused_result));

/* Like ap_spawn, with the child's stdin a pipe attachpy writes to
 * (ap_child_send): a debugger driven command by command.  At EOF of its
 * stdin (ap_child_close_stdin) a debugger quits. */
int ap_spawn_piped(ap_child *c, char *const argv[], char *const envp[], const sigset_t *child_mask,
                   int death_signal, ap_error *err) __attribute__((warn_unused_result));

/* Write text to the child's stdin, all of it.  Returns 0, or -1 when the
 * child has no stdin pipe or stopped reading (EPIPE). */
int ap_child_send(ap_child *c, const char *text);

/* Close the child's stdin pipe (no-op without one). */
void ap_child_close_stdin(ap_child *c);

/* Wait until the child writes output, exits, extra_fd becomes readable, or
 * deadline_ms (ap_now_ms() clock) passes.  Output is appended to out.
 * Returns 1 if something happened (output, EOF, exit), 2 if extra_fd is
 * readable, 0 on deadline, -1 on error.  Reaps the child once its output
 * reached EOF and it exited. */
int ap_child_wait(ap_child *c, ap_buf *out, int extra_fd, double deadline_ms);

/* Start an idle child: a fork of attachpy that waits in pause() with every
 * other descriptor closed, in its own process group, killed if attachpy dies
 * (the process a debugger warms up on: backend.h).  End it with
 * ap_child_kill_and_reap. */
int ap_spawn_idle(ap_child *c, ap_error *err) __attribute__((warn_unused_result));

/* Send a signal to the child (only if not yet reaped). */
void ap_child_signal(ap_child *c, int sig);

/* Read remaining output and reap, waiting at most until deadline_ms.
 * Returns 0 once reaped, -1 if the deadline passed first. */
int ap_child_finish(ap_child *c, ap_buf *out, double deadline_ms);

/* SIGKILL and reap; for cleanup paths.  Accepts a never-started child. */
void ap_child_kill_and_reap(ap_child *c);

/* Is an executable named name on PATH?  Returns a malloc'd full path or NULL. */
char *ap_find_program(const char *name);
