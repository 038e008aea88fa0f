/* refusal.h: why a process cannot be attached to, as a value: finer than
 * the error code, with the stable names `attachpy ps` prints.
 */
#pragma once

/* Why a process cannot be attached to: finer than the error code (several
 * refusals share permission_denied), with stable names that `attachpy ps`
 * prints and its JSON carries (see ap_refusal_name). */
typedef enum ap_refusal {
        AP_REFUSAL_NONE = 0,
        AP_REFUSAL_GONE, /* exited while inspected */
        AP_REFUSAL_ZOMBIE,
        AP_REFUSAL_TRACED,                /* another tracer holds it (tracer_pid) */
        AP_REFUSAL_STOPPED,               /* SIGSTOP, SIGTSTP, Ctrl-Z */
        AP_REFUSAL_OTHER_USER,            /* another uid or gid and no CAP_SYS_PTRACE */
        AP_REFUSAL_NOT_DUMPABLE,          /* PR_SET_DUMPABLE 0 and no CAP_SYS_PTRACE */
        AP_REFUSAL_PTRACE_SCOPE,          /* Yama forbids it */
        AP_REFUSAL_UNREADABLE,            /* /proc/PID/{exe,maps} not readable */
        AP_REFUSAL_REMOTE_DEBUG_DISABLED, /* PYTHON_DISABLE_REMOTE_DEBUG, -X disable_remote_debug */
        AP_REFUSAL_NOT_PYTHON,
        AP_REFUSAL_UNSUPPORTED_PYTHON, /* version, PyPy, free-threaded, no exported C API */
        AP_REFUSAL_UNSUPPORTED_LIBC,   /* no glibc, no dlopen */
} ap_refusal;

/* "stopped", "other_user", ...; NULL for AP_REFUSAL_NONE. */
const char *ap_refusal_name(ap_refusal r);
