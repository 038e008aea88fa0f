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

typedef enum ap_impl {
        AP_IMPL_CPYTHON,
        AP_IMPL_PYPY,
} ap_impl;

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
        bool same_root; /* same mount namespace and root directory as attachpy */

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

void ap_target_free(ap_target *t);

/* "stopped", "other_user", ...; NULL for AP_REFUSAL_NONE. */
const char *ap_refusal_name(ap_refusal r);

/* "cpython" or "pypy". */
const char *ap_impl_name(ap_impl impl);

/* Exposed for the unit tests. */

/* Does a python command line ask to disable remote debugging (-X
 * disable_remote_debug, -X disable-remote-debug, -Xdisable_remote_debug)?
 * argv is the NUL-separated /proc/PID/cmdline. */
bool ap_cmdline_disables_remote_debug(const char *cmdline, size_t len);

/* Is VAR set to a non-empty value in a NUL-separated environment block? */
bool ap_environ_has_nonempty(const char *environ, size_t len, const char *var);

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

/* Parse "libpython3.12.so.1.0", "libpython3.13t.so", "python3.11": 0 and the
 * version on success, -1 if the name carries no version.  *free_threaded
 * is set for a "t" suffix. */
int ap_python_version_from_name(const char *name, int *major, int *minor, bool *free_threaded);

/* Parse a PY_VERSION string ("3.9.18", "3.13.0rc1", "2.7.18+") at the start
 * of s, which must end (NUL) within n bytes.  Returns 0 and major and minor,
 * or -1. */
int ap_python_version_parse(const char *s, size_t n, int *major, int *minor);

/* Format a PY_VERSION_HEX (Py_Version) as PY_VERSION would read: "3.12.1",
 * "3.13.0rc1", "3.14.0a2".  Returns 0, or -1 when buf is too small or hex
 * is not a version. */
int ap_python_version_from_hex(uint32_t hex, char *buf, size_t size);

/* The head of _Py_DebugOffsets, which CPython 3.13+ places at the start of
 * _PyRuntime (its own section, .PyRuntime): the cookie "xdebugpy", then
 * PY_VERSION_HEX and free_threaded as 64-bit words.  Returns 0 with both
 * set, -1 when data (len bytes) is not such a head. */
int ap_debug_offsets_parse(const uint8_t *data, size_t len, uint32_t *ret_hex,
                           bool *ret_free_threaded);

/* Find PyPy's sys.version in a block of bytes (the libpypy file): "3.9.16
 * (7.3.11+dfsg..., date)\n[PyPy 7.3.11 with GCC ...]".  Returns 0 with the
 * language version ("3.9.16") and PyPy's ("7.3.11"), or -1. */
int ap_pypy_versions_parse(const char *data, size_t n, char *ret_lang, size_t lang_size,
                           char *ret_pypy, size_t pypy_size);

/* The addresses an x86-64 function's first bytes load into registers: the
 * targets of "lea disp32(%rip), %reg" and the immediates of
 * "mov $imm32, %reg32" (a non-PIE executable).  code holds n bytes read at
 * the link-time address vaddr.  Before 3.11 this is how the exact version
 * is found: Py_GetVersion() formats PY_VERSION, a string whose address it
 * loads.  Returns how many were stored in out (at most max). */
size_t ap_code_address_operands(const uint8_t *code, size_t n, uint64_t vaddr, uint64_t *out,
                                size_t max);
