/* trace_policy.c: may attachpy attach, and does the target allow it. */
#include "trace_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

static bool have_cap_sys_ptrace(void) {
        _cleanup_free_ char *status = NULL;
        if (ap_read_file("/proc/self/status", AP_MAX_PROC_FILE, &status, NULL) < 0)
                return false;
        const char *p = strstr(status, "\nCapEff:");
        if (!p)
                return false;
        unsigned long long caps = strtoull(p + strlen("\nCapEff:"), NULL, 16);
        return caps & (1ULL << 19); /* CAP_SYS_PTRACE */
}

/* Yama's ptrace_scope, or -1 when Yama is not there. */
static int yama_scope(void) {
        _cleanup_free_ char *s = NULL;
        if (ap_read_file("/proc/sys/kernel/yama/ptrace_scope", 64, &s, NULL) < 0)
                return -1;
        return atoi(s);
}

int ap_dumpable_from_owner(uid_t owner_uid, gid_t owner_gid, uid_t euid, gid_t egid) {
        if (euid == 0 && egid == 0)
                return -1; /* a root process's files belong to root either way */
        return owner_uid == euid && owner_gid == egid;
}

/* The kernel's order (ptrace_may_access, then Yama), each refusal with its
 * own message.  Yama 3 first: nothing lifts it. */
ap_refusal ap_ptrace_permitted(const ap_ptrace_facts *f, ap_error *err) {
        int pid = (int)f->pid;
        if (f->yama_scope >= 3)
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "ptrace is disabled on this machine "
                                    "(kernel.yama.ptrace_scope = %d): no process may attach to "
                                    "another, not even root",
                                    f->yama_scope),
                       ap_error_hint(err, "scope 3 cannot be lowered without a reboot; "
                                          "attachpy cannot work on this machine"),
                       AP_REFUSAL_PTRACE_SCOPE;
        if (!f->cap_sys_ptrace) {
                for (int i = 0; i < 3; i++)
                        if (f->target_uid[i] != f->uid)
                                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                                    "process %d belongs to uid %u and attachpy "
                                                    "runs as uid %u",
                                                    pid, (unsigned)f->target_uid[i],
                                                    (unsigned)f->uid),
                                       ap_error_hint(err, "run attachpy as the same user as the "
                                                          "target, or as root (CAP_SYS_PTRACE)"),
                                       AP_REFUSAL_OTHER_USER;
                for (int i = 0; i < 3; i++)
                        if (f->target_gid[i] != f->gid)
                                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                                    "process %d runs with group id %u and "
                                                    "attachpy with group id %u (a set-group-id "
                                                    "program, or a changed group)",
                                                    pid, (unsigned)f->target_gid[i],
                                                    (unsigned)f->gid),
                                       ap_error_hint(err, "run attachpy as root (CAP_SYS_PTRACE)"),
                                       AP_REFUSAL_OTHER_USER;
                if (f->dumpable == 0)
                        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                            "process %d is not dumpable (it called "
                                            "prctl(PR_SET_DUMPABLE, 0), changed its user or "
                                            "group id, or runs a program its user cannot read): "
                                            "only root may attach to it",
                                            pid),
                               ap_error_hint(err, "run attachpy as root (CAP_SYS_PTRACE); a "
                                                  "process that wants no debugger at all should "
                                                  "set PYTHON_DISABLE_REMOTE_DEBUG"),
                               AP_REFUSAL_NOT_DUMPABLE;
                if (f->yama_scope == 2)
                        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                            "only root may attach to processes here "
                                            "(kernel.yama.ptrace_scope = 2: admin-only attach)"),
                               ap_error_hint(err, "run attachpy as root, or grant it "
                                                  "CAP_SYS_PTRACE"),
                               AP_REFUSAL_PTRACE_SCOPE;
                if (f->yama_scope == 1)
                        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                            "kernel.yama.ptrace_scope = 1 (restricted ptrace) "
                                            "lets a process trace only its own descendants, and "
                                            "process %d is not a descendant of attachpy",
                                            pid),
                               ap_error_hint(err,
                                             "run attachpy as root (or with CAP_SYS_PTRACE), or "
                                             "lower the scope with 'sysctl "
                                             "kernel.yama.ptrace_scope=0' (this lets any process "
                                             "of a user debug the others: see the README)"),
                               AP_REFUSAL_PTRACE_SCOPE;
        }
        return AP_REFUSAL_NONE;
}

ap_refusal ap_trace_permission(pid_t pid, ap_error *err) {
        _cleanup_free_ char *status = NULL;
        unsigned long uids[3], gids[3];
        if (ap_proc_read(pid, "status", &status, NULL) < 0 ||
            !ap_proc_status_ids(status, "\nUid:", uids) ||
            !ap_proc_status_ids(status, "\nGid:", gids))
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the owner of process %d", (int)pid),
                       ap_error_hint(err, "%s", ap_proc_unreadable_hint()), AP_REFUSAL_UNREADABLE;
        ap_ptrace_facts f = {
                .pid = pid,
                .uid = getuid(),
                .gid = getgid(),
                .cap_sys_ptrace = have_cap_sys_ptrace(),
                .dumpable = -1,
                .yama_scope = yama_scope(),
        };
        for (int i = 0; i < 3; i++) {
                f.target_uid[i] = (uid_t)uids[i];
                f.target_gid[i] = (gid_t)gids[i];
        }
        /* A process that is not dumpable has its /proc files owned by root. */
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        if (stat(path, &st) == 0)
                f.dumpable = ap_dumpable_from_owner(st.st_uid, st.st_gid, f.target_uid[1],
                                                    f.target_gid[1]);
        return ap_ptrace_permitted(&f, err);
}

bool ap_environ_has_nonempty(const char *env, size_t len, const char *var) {
        size_t vlen = strlen(var);
        for (size_t i = 0; i < len;) {
                const char *e = env + i;
                size_t elen = strnlen(e, len - i);
                if (elen > vlen + 1 && strncmp(e, var, vlen) == 0 && e[vlen] == '=')
                        return true;
                i += elen + 1;
        }
        return false;
}

static bool x_option_disables(const char *val) {
        size_t n = strcspn(val, "="); /* CPython ignores a value after '=' */
        return (n == strlen("disable_remote_debug") &&
                strncmp(val, "disable_remote_debug", n) == 0) ||
               (n == strlen("disable-remote-debug") &&
                strncmp(val, "disable-remote-debug", n) == 0);
}

/* Walk the interpreter's own options the way CPython's getopt does: they end
 * at the first word that is not an option, at "-", "--", or at -c/-m (what
 * follows belongs to the program).  Single-letter flags may be combined
 * ("-BX disable_remote_debug", "-bWignore"); -X and -W take a value, glued
 * or as the next word. */
bool ap_cmdline_disables_remote_debug(const char *cmdline, size_t len) {
        size_t i = strnlen(cmdline, len) + 1; /* skip argv[0] */
        while (i < len) {
                const char *a = cmdline + i;
                i += strnlen(a, len - i) + 1;
                if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
                        return false;
                if (a[1] == '-') {
                        if (strcmp(a, "--check-hash-based-pycs") == 0 && i < len)
                                i += strnlen(cmdline + i, len - i) + 1;
                        continue;
                }
                for (const char *c = a + 1; *c; c++) {
                        if (*c == 'c' || *c == 'm')
                                return false;
                        if (*c != 'X' && *c != 'W')
                                continue;
                        const char *val = c + 1;
                        if (!*val) {
                                if (i >= len)
                                        return false;
                                val = cmdline + i;
                                i += strnlen(val, len - i) + 1;
                        }
                        if (*c == 'X' && x_option_disables(val))
                                return true;
                        break;
                }
        }
        return false;
}

ap_refusal ap_remote_debug_opt_out(pid_t pid, const char *cmdline, size_t cmdline_len,
                                   ap_error *err) {
        _cleanup_free_ char *env = NULL;
        size_t env_len = 0;
        if (ap_proc_read(pid, "environ", &env, &env_len) < 0) {
                /* Without it attachpy cannot tell whether the target opted out. */
                if (errno == ENOENT || errno == ESRCH)
                        return ap_error_set(err, AP_ERR_TARGET_EXITED, "process %d exited",
                                            (int)pid),
                               AP_REFUSAL_GONE;
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the environment of process %d (to check "
                                    "PYTHON_DISABLE_REMOTE_DEBUG): %s",
                                    (int)pid, strerror(errno)),
                       ap_error_hint(err, "run attachpy as the same user as the target, or as "
                                          "root"),
                       AP_REFUSAL_UNREADABLE;
        }
        if (ap_environ_has_nonempty(env, env_len, "PYTHON_DISABLE_REMOTE_DEBUG"))
                return ap_error_set(err, AP_ERR_REMOTE_DEBUG_DISABLED,
                                    "process %d disabled remote debugging "
                                    "(PYTHON_DISABLE_REMOTE_DEBUG is set in its environment)",
                                    (int)pid),
                       ap_error_hint(err, "attachpy respects this; restart the program without "
                                          "PYTHON_DISABLE_REMOTE_DEBUG to allow it"),
                       AP_REFUSAL_REMOTE_DEBUG_DISABLED;
        if (cmdline && ap_cmdline_disables_remote_debug(cmdline, cmdline_len))
                return ap_error_set(err, AP_ERR_REMOTE_DEBUG_DISABLED,
                                    "process %d disabled remote debugging "
                                    "(started with -X disable_remote_debug)",
                                    (int)pid),
                       ap_error_hint(err, "attachpy respects this; restart the program without "
                                          "that option to allow it"),
                       AP_REFUSAL_REMOTE_DEBUG_DISABLED;
        return AP_REFUSAL_NONE;
}
