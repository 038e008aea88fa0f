/* target.h: what attachpy learns about a process before touching it.
 *
 * Preflight reads /proc/PID and the ELF files the process has mapped; it
 * never stops, traces or writes to the process.  It answers: does the
 * process exist and run, may we trace it, does it allow remote debugging, is
 * it a Python we support, and where (absolute addresses) are the functions
 * the debugger script will call or break on.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "proc.h"
#include "python_version.h"
#include "refusal.h"
#include "trace_policy.h"

typedef enum ap_impl {
        AP_IMPL_CPYTHON,
        AP_IMPL_PYPY,
} ap_impl;

typedef struct ap_target {
        pid_t pid;
        ap_refusal refusal; /* AP_REFUSAL_NONE iff ap_target_inspect() returned 0 */
        char state;         /* from /proc/PID/stat: R, S, D, T, t, Z, ... */
        pid_t tracer_pid;   /* 0 when not traced */
        int exe_errno;      /* why exe is NULL */
        char *cmdline;      /* /proc/PID/cmdline, NUL-separated (cmdline_len bytes), or NULL */
        size_t cmdline_len;
        bool maps_read; /* /proc/PID/maps was readable: python_path is reliable */
        uid_t uid;      /* effective uid of the target */
        gid_t gid;
        char *exe;  /* /proc/PID/exe as the target sees it */
        char *comm; /* /proc/PID/comm */
        ap_impl impl;
        char *version;      /* the language version, exact ("3.12.1") when readable, else "3.12" */
        char *impl_version; /* PyPy's own version ("7.3.11"), NULL for CPython */
        int version_major;
        int version_minor;
        char *python_path; /* the object exporting the C API (libpython or the executable) */
        char *libc_path;
        bool same_root;   /* same mount namespace and root directory as attachpy */
        bool same_pid_ns; /* same PID namespace as attachpy (and its debugger) */

        /* Absolute addresses in the target. */
        uint64_t addr_mmap, addr_munmap, addr_dlopen, addr_dlsym, addr_dlerror;
        uint64_t addr_add_pending_call; /* Py_AddPendingCall; 0: none to use (PyPy) */
        uint64_t addr_pypy_remote;      /* PyPy 8's pypysig_counter (cli/pypy_remote.h), or 0 */
        uint64_t addr_runtime; /* CPython 3.14+'s _PyRuntime (cli/cpython_remote.h), or 0 */
        /* The scripts compare the first 8 bytes of code at addr_check with
         * check_code, read from the file, before calling anything: a PID
         * reused by another program fails (Py_AddPendingCall, or
         * PyPyGILState_Ensure for PyPy). */
        uint64_t addr_check;
        uint64_t check_code;
} ap_target;

/* Preflight, shared by an injection and `attachpy ps`: fill t, and return 0
 * when attachpy may attach, or -1 with one of no_such_process,
 * target_exited, permission_denied, remote_debug_disabled, not_python,
 * unsupported_python, injection_failed (a stopped target, missing loader
 * functions) in err and the finer reason in t->refusal.  Also on failure t
 * holds every fact that could be read (owner, executable, command line,
 * implementation and version when the maps were readable); free it with
 * ap_target_free() in both cases.  The first failing check wins, in this
 * order: state, rights, executable, the target's opt-out, the interpreter. */
int ap_target_inspect(ap_target *t, pid_t pid, ap_error *err) __attribute__((warn_unused_result));

/* The same checks in two halves, for a run that may need only the first
 * (one through a serving agent, cli/agent_channel.h): the process's
 * (state, rights, executable, the opt-out), then, after it passed, the
 * interpreter's.  On failure t holds only what its half read: for the
 * whole account run ap_target_inspect().  0, or -1 with err. */
int ap_target_inspect_process(ap_target *t, pid_t pid, ap_error *err)
        __attribute__((warn_unused_result));
int ap_target_inspect_python(ap_target *t, ap_error *err) __attribute__((warn_unused_result));

void ap_target_free(ap_target *t);

/* "cpython" or "pypy". */
const char *ap_impl_name(ap_impl impl);
