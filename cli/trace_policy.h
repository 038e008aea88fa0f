/* trace_policy.h: the rules attachpy follows before it touches a process:
 * may a debugger it starts attach (the kernel's and Yama's ptrace rules,
 * as one pure function over the facts), and has the target opted out of
 * remote debugging (PYTHON_DISABLE_REMOTE_DEBUG, -X disable_remote_debug,
 * as CPython 3.14 honours them).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "refusal.h"

/* What the kernel and Yama look at when a debugger attachpy starts attaches
 * (PTRACE_MODE_ATTACH_REALCREDS). */
typedef struct ap_ptrace_facts {
        pid_t pid;
        uid_t uid; /* attachpy's real uid and gid */
        gid_t gid;
        bool cap_sys_ptrace; /* attachpy's effective capabilities hold it */
        uid_t target_uid[3]; /* real, effective, saved */
        gid_t target_gid[3];
        int dumpable;   /* 1, 0, or -1 when it cannot be told */
        int yama_scope; /* kernel.yama.ptrace_scope, or -1 without Yama */
} ap_ptrace_facts;

/* May a debugger attachpy starts attach?  AP_REFUSAL_NONE, or the refusal
 * with a permission_denied error naming the reason (Yama 3; another uid or
 * gid; not dumpable; Yama 2; Yama 1) and what to do.  Pure: no I/O. */
ap_refusal ap_ptrace_permitted(const ap_ptrace_facts *f, ap_error *err);

/* Is a process dumpable, from the owner of its /proc/PID/status (the kernel
 * hands a non-dumpable process's /proc files to root) and its effective
 * ids?  1, 0, or -1 when it cannot be told (a root process). */
int ap_dumpable_from_owner(uid_t owner_uid, gid_t owner_gid, uid_t euid, gid_t egid);

/* The facts of process pid and of attachpy, read from /proc, judged by
 * ap_ptrace_permitted.  AP_REFUSAL_UNREADABLE when the owner cannot be
 * read. */
ap_refusal ap_trace_permission(pid_t pid, ap_error *err);

/* Does a python command line ask to disable remote debugging (-X
 * disable_remote_debug, -X disable-remote-debug, -Xdisable_remote_debug)?
 * argv is the NUL-separated /proc/PID/cmdline. */
bool ap_cmdline_disables_remote_debug(const char *cmdline, size_t len);

/* Is VAR set to a non-empty value in a NUL-separated environment block? */
bool ap_environ_has_nonempty(const char *environ, size_t len, const char *var);

/* The target's wish not to be debugged: its environment (read from
 * /proc; unreadable is a refusal, not a pass) and its command line
 * (cmdline_len NUL-separated bytes, or NULL).  AP_REFUSAL_NONE, or the
 * refusal with its error. */
ap_refusal ap_remote_debug_opt_out(pid_t pid, const char *cmdline, size_t cmdline_len,
                                   ap_error *err);
