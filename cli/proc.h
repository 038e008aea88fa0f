/* proc.h: reading /proc/PID: its files, its state and tracer, when it
 * started, its ids, and whether it sees the file system as attachpy does.
 * Nothing here stops or traces the process.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The most attachpy reads of one /proc file. */
#define AP_MAX_PROC_FILE (4u * 1024 * 1024)

/* /proc/PID/NAME, whole (at most AP_MAX_PROC_FILE), malloc'd and
 * NUL-terminated.  Returns 0, or -1 with errno. */
int ap_proc_read(pid_t pid, const char *name, char **ret, size_t *ret_len)
        __attribute__((warn_unused_result));

/* The part of /proc/PID/stat and /proc/PID/status attachpy watches. */
typedef struct ap_proc_state {
        char state;       /* R, S, D, T, t, Z, X, ... */
        pid_t tracer_pid; /* 0 when not traced */
} ap_proc_state;

/* Read the state of pid.  Returns 0, or -1 with errno (ENOENT: gone). */
int ap_proc_state_read(pid_t pid, ap_proc_state *ret) __attribute__((warn_unused_result));

/* When pid started (clock ticks after boot, /proc/PID/stat field 22): with
 * the pid, it names one process for good.  Returns 0, or -1 (gone). */
int ap_proc_starttime(pid_t pid, unsigned long long *ret) __attribute__((warn_unused_result));

/* The real, effective and saved ids on the line of /proc/PID/status that
 * starts with key ("\nUid:", "\nGid:").  false when there is no such line. */
bool ap_proc_status_ids(const char *status, const char *key, unsigned long ret[3]);

/* Why /proc/PID may be unreadable, for whoever attachpy runs as: a hint. */
const char *ap_proc_unreadable_hint(void);

/* Whether process pid sees the file system as attachpy does: the same mount
 * namespace and the same root directory (not a chroot's).  true when it
 * cannot be told. */
bool ap_proc_same_file_system_view(pid_t pid);

/* The process is in attachpy's PID namespace (false when it cannot be
 * told): then the PIDs it sees, its TracerPid among them, are attachpy's.
 * In a namespace of its own a tracer outside it shows as TracerPid 0. */
bool ap_proc_same_pid_namespace(pid_t pid);
