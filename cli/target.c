/* target.c: preflight of a target process, from /proc and ELF files only:
 * the facts in order (identity, state, rights, executable, opt-out,
 * interpreter) and the first refusal. */
#include "target.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loaded_objects.h"
#include "proc.h"
#include "python_detect.h"
#include "trace_policy.h"
#include "util.h"

const char *ap_impl_name(ap_impl impl) { return impl == AP_IMPL_PYPY ? "pypy" : "cpython"; }

static ap_refusal check_state(const ap_target *t, ap_error *err) {
        pid_t pid = t->pid;
        if (t->state == 'Z' || t->state == 'X')
                return ap_error_set(err, AP_ERR_TARGET_EXITED,
                                    "process %d has exited (it is a zombie waiting for its "
                                    "parent to reap it)",
                                    (int)pid),
                       ap_error_hint(err, "there is nothing left to run code in; start the "
                                          "program again"),
                       AP_REFUSAL_ZOMBIE;
        if (t->tracer_pid != 0) {
                _cleanup_free_ char *comm = NULL;
                if (ap_proc_read(t->tracer_pid, "comm", &comm, NULL) == 0)
                        comm[strcspn(comm, "\n")] = '\0';
                ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                             "process %d is already being traced by process %d (%s)", (int)pid,
                             (int)t->tracer_pid, comm ? comm : "?");
                ap_error_hint(err,
                              "a process can have only one tracer: detach or end process %d "
                              "first",
                              (int)t->tracer_pid);
                return AP_REFUSAL_TRACED;
        }
        if (t->state == 'T' || t->state == 't')
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "process %d is stopped (by SIGSTOP, SIGTSTP or Ctrl-Z); "
                                    "its Python cannot run code until it continues",
                                    (int)pid),
                       ap_error_hint(err, "resume it with 'kill -CONT %d' and run attachpy again",
                                     (int)pid),
                       AP_REFUSAL_STOPPED;
        return AP_REFUSAL_NONE;
}

/* The facts /proc gives without ptrace rights: state, tracer, owner,
 * executable, name and command line.  Fails only when the process is gone
 * or its status cannot be read at all. */
static ap_refusal read_identity(ap_target *t, ap_error *err) {
        pid_t pid = t->pid;
        ap_proc_state st;
        if (ap_proc_state_read(pid, &st) < 0) {
                if (errno == ENOENT || errno == ESRCH)
                        return ap_error_set(err, AP_ERR_NO_SUCH_PROCESS, "no process with PID %d",
                                            (int)pid),
                               ap_error_hint(err, "'attachpy ps' lists the Python processes "
                                                  "attachpy can see"),
                               AP_REFUSAL_GONE;
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the state of process %d: %s", (int)pid,
                                    strerror(errno)),
                       ap_error_hint(err, "%s", ap_proc_unreadable_hint()), AP_REFUSAL_UNREADABLE;
        }
        t->state = st.state;
        t->tracer_pid = st.tracer_pid;

        _cleanup_free_ char *status = NULL;
        if (ap_proc_read(pid, "status", &status, NULL) < 0)
                return ap_error_set(err, AP_ERR_TARGET_EXITED,
                                    "process %d exited while attachpy inspected it", (int)pid),
                       ap_error_hint(err, "there is nothing left to run code in; start the "
                                          "program again"),
                       AP_REFUSAL_GONE;
        unsigned long uids[3], gids[3];
        if (!ap_proc_status_ids(status, "\nUid:", uids) ||
            !ap_proc_status_ids(status, "\nGid:", gids))
                return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                                    "cannot read the owner of process %d", (int)pid),
                       ap_error_hint(err, "%s", ap_proc_unreadable_hint()), AP_REFUSAL_UNREADABLE;
        t->uid = (uid_t)uids[1]; /* effective */
        t->gid = (gid_t)gids[1];

        char path[64];
        snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
        char exe[PATH_MAX];
        ssize_t n = readlink(path, exe, sizeof exe - 1);
        if (n >= 0) {
                exe[n] = '\0';
                const char *del = " (deleted)";
                if ((size_t)n > strlen(del) && strcmp(exe + n - strlen(del), del) == 0)
                        exe[n - strlen(del)] = '\0';
                t->exe = strdup(exe);
        } else {
                t->exe_errno = errno;
        }
        if (ap_proc_read(pid, "comm", &t->comm, NULL) == 0)
                t->comm[strcspn(t->comm, "\n")] = '\0';
        if (ap_proc_read(pid, "cmdline", &t->cmdline, &t->cmdline_len) < 0)
                t->cmdline_len = 0;
        return AP_REFUSAL_NONE;
}

static ap_refusal check_executable(const ap_target *t, ap_error *err) {
        if (t->exe)
                return AP_REFUSAL_NONE;
        if (t->exe_errno == ENOENT)
                return ap_error_set(err, AP_ERR_TARGET_EXITED, "process %d exited", (int)t->pid),
                       ap_error_hint(err, "there is nothing left to run code in; start the "
                                          "program again"),
                       AP_REFUSAL_GONE;
        return ap_error_set(err, AP_ERR_PERMISSION_DENIED,
                            "cannot read the executable of process %d: %s", (int)t->pid,
                            strerror(t->exe_errno)),
               ap_error_hint(err, "%s", ap_proc_unreadable_hint()), AP_REFUSAL_UNREADABLE;
}

/* Which interpreter is mapped, its version, and where the functions the
 * debugger needs are. */
static ap_refusal inspect_python(ap_target *t, ap_error *err) {
        ap_loaded_objects objs = {0};
        int r = ap_loaded_objects_read(t->pid, &objs, err);
        if (r < 0) {
                ap_loaded_objects_free(&objs);
                return err->code == AP_ERR_TARGET_EXITED ? AP_REFUSAL_GONE : AP_REFUSAL_UNREADABLE;
        }
        t->maps_read = true;
        r = ap_python_detect(t, &objs, err);
        if (r < 0) {
                ap_loaded_objects_free(&objs);
                return err->code == AP_ERR_NOT_PYTHON ? AP_REFUSAL_NOT_PYTHON
                                                      : AP_REFUSAL_UNSUPPORTED_PYTHON;
        }
        r = ap_loader_find(t, &objs, err);
        ap_loaded_objects_free(&objs);
        if (r < 0)
                return AP_REFUSAL_UNSUPPORTED_LIBC;

        /* Another mount namespace (a container) or another root (a chroot)
         * is fine: the session is staged through /proc/PID/root
         * (cli/session.c). */
        t->same_root = ap_proc_same_file_system_view(t->pid);
        t->same_pid_ns = ap_proc_same_pid_namespace(t->pid);
        return AP_REFUSAL_NONE;
}

/* The process's checks, in order: state, rights, executable, the target's
 * wish. */
static ap_refusal process_checks(ap_target *t, pid_t pid, ap_error *first) {
        memset(t, 0, sizeof *t);
        t->pid = pid;
        ap_refusal r = read_identity(t, first);
        if (r == AP_REFUSAL_NONE)
                r = check_state(t, first);
        if (r == AP_REFUSAL_NONE)
                r = ap_trace_permission(t->pid, first);
        if (r == AP_REFUSAL_NONE)
                r = check_executable(t, first);
        if (r == AP_REFUSAL_NONE)
                r = ap_remote_debug_opt_out(t->pid, t->cmdline, t->cmdline_len, first);
        return r;
}

static int verdict(ap_target *t, ap_refusal r) {
        t->refusal = r;
        return r == AP_REFUSAL_NONE ? 0 : -1;
}

int ap_target_inspect_process(ap_target *t, pid_t pid, ap_error *err) {
        return verdict(t, process_checks(t, pid, err));
}

int ap_target_inspect_python(ap_target *t, ap_error *err) {
        return verdict(t, inspect_python(t, err));
}

/* Facts first, verdict second: every fact that can be read is read (ps
 * shows them), and the verdict is the first check that fails, in a fixed
 * order: state, rights, executable, the target's wish, the interpreter. */
int ap_target_inspect(ap_target *t, pid_t pid, ap_error *err) {
        ap_error first = AP_ERROR_INIT, later = AP_ERROR_INIT;
        ap_refusal r = process_checks(t, pid, &first);
        if (r != AP_REFUSAL_GONE && (t->exe || r == AP_REFUSAL_NONE)) {
                ap_refusal pr = inspect_python(t, r == AP_REFUSAL_NONE ? &first : &later);
                if (r == AP_REFUSAL_NONE)
                        r = pr;
                ap_error_clear(&later);
        }
        if (verdict(t, r) == 0)
                return 0;
        if (err) {
                ap_error_clear(err);
                *err = first;
        } else {
                ap_error_clear(&first);
        }
        return -1;
}

void ap_target_free(ap_target *t) {
        if (!t)
                return;
        free(t->exe);
        free(t->comm);
        free(t->cmdline);
        free(t->version);
        free(t->impl_version);
        free(t->python_path);
        free(t->libc_path);
        memset(t, 0, sizeof *t);
}
