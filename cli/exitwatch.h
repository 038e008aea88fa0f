/* exitwatch.h: did the target end while the code ran, and how?
 *
 * attachpy is neither the target's parent nor (once the debugger has gone)
 * its tracer, so it cannot wait() for it.  What it can learn, best first:
 *
 *   - the kernel's process-events connector (NETLINK_CONNECTOR, CN_IDX_PROC):
 *     the exit event carries the wait status; it needs CAP_NET_ADMIN and the
 *     initial network namespace, and is subscribed before the code starts;
 *   - /proc/PID/stat's exit_code (field 52) while the process is a zombie
 *     that its parent has not reaped yet, checked against a pidfd so that a
 *     reused PID is never read.
 *
 * When neither tells, the status is AP_EXIT_UNKNOWN, and the report says so.
 * The pidfd (opened while the agent is connected, so it is the target's)
 * says *that* the process ended.  The parsers are pure functions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum ap_exit_how {
        AP_EXIT_UNKNOWN = 0, /* it ended; how could not be learned */
        AP_EXIT_CODE,        /* it exited with code */
        AP_EXIT_SIGNAL,      /* a signal killed it */
} ap_exit_how;

typedef struct ap_exit_status {
        ap_exit_how how;
        int value; /* the exit code, or the signal number */
        bool core_dumped;
} ap_exit_status;

typedef struct ap_exit_watch {
        pid_t pid;
        int pidfd; /* -1 when pidfd_open failed */
        int nl_fd; /* the process-events connector, or -1 */
} ap_exit_watch;

#define AP_EXIT_WATCH_INIT                                                                         \
        { .pid = 0, .pidfd = -1, .nl_fd = -1 }

/* Start watching pid (best effort: what cannot be opened stays -1). */
void ap_exit_watch_open(ap_exit_watch *w, pid_t pid);

/* Whether the process ended, waiting for it until the CLOCK_MONOTONIC
 * time until (ms, ap_now_ms()).  Returns 1 with *ret set when it ended,
 * 0 when it still runs, -1 when that cannot be told. */
int ap_exit_watch_ended(ap_exit_watch *w, double until, ap_exit_status *ret);

/* Accepts a watch never opened. */
void ap_exit_watch_close(ap_exit_watch *w);

/* A wait status (as in waitpid(), or the connector's exit_code) as an
 * ap_exit_status.  Returns 0, or -1 when it is not one of an ended process. */
int ap_exit_status_from_wait(int status, ap_exit_status *ret);

/* /proc/PID/stat's text: the state (field 3) and, for a zombie, the
 * exit_code (field 52, a wait status).  Returns 0 with *ret_state set and
 * *ret_code set or -1 when the text has no field 52; -1 when malformed. */
int ap_proc_stat_exit(const char *text, char *ret_state, int *ret_code);

/* Find the exit of process pid (its thread-group leader) in a buffer of
 * netlink messages from the connector.  Returns 1 with *ret_status (a wait
 * status) set, else 0. */
int ap_proc_connector_find_exit(const void *buf, size_t len, pid_t pid, int *ret_status);

/* "exit status 3", "signal 11 (SIGSEGV), core dumped", "unknown". */
void ap_exit_status_describe(const ap_exit_status *s, char *buf, size_t size);

/* "SIGSEGV" for 11, or NULL for a number without a name. */
const char *ap_signal_name(int sig);
