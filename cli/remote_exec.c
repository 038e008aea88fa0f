/* remote_exec.c: the agent in through the runtime's own remote execution
 * (remote_exec.h). */
#include "remote_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_remote.h"
#include "safe_point_wait.h"

bool ap_main_thread_may_run(pid_t pid) {
        char path[64];
        _cleanup_free_ char *text = NULL;
        snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
        if (ap_read_file(path, 4096, &text, NULL) < 0)
                return false;
        if (strncmp(text, "running", 7) == 0)
                return true;
        char *end = NULL;
        long nr = strtol(text, &end, 10);
        return end != text && !ap_parked_syscall(AP_PARKED_WAITS, nr);
}

/* Write the script and ask the runtime to run it. */
static int request(ap_run_ctx *c, ap_runtime_remote *r, ap_buf *script, char **ret_inside,
                   ap_error *err) {
        _cleanup_free_ char *inside = NULL;
        if (ap_runtime_remote_script(r, c->session.agent, c->session.target_dir, script) < 0 ||
            asprintf(&inside, "%s/remote.py", c->session.target_dir) < 0) {
                inside = NULL;
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        }
        if (ap_session_write(&c->session, "remote.py", script->data, script->len, err) < 0 ||
            ap_runtime_remote_request(r, inside, err) < 0)
                return -1;
        *ret_inside = inside;
        inside = NULL;
        return 0;
}

/* The deadline passed: withdraw the request, or give the agent of one that
 * was taken just now a moment to connect. */
static int deadline_passed(ap_run_ctx *c, ap_runtime_remote *r, ap_error *err) {
        pid_t pid = c->cfg->opts->pid;
        if (ap_runtime_remote_withdraw(r) == 1) {
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "process %d did not take attachpy's request within %g s: none of "
                             "its threads ran Python code (the runtime's own remote "
                             "execution); the request was withdrawn, nothing was injected and "
                             "it runs on",
                             (int)pid, c->cfg->opts->timeout_s);
                ap_error_hint(err, "its threads may be in long C calls; try again with a longer "
                                   "--timeout");
                return -1;
        }
        ap_error_clear(err);
        return ap_accept_started(c, err,
                                 "process %d took attachpy's request but its agent did not "
                                 "report back within %g s; the code did not run",
                                 (int)pid, c->cfg->opts->timeout_s);
}

int ap_remote_exec(ap_run_ctx *c, double patience_ms, ap_error *err) {
        const ap_run_config *cfg = c->cfg;
        pid_t pid = c->target.pid;
        ap_buf script = {0};
        ap_runtime_remote r = AP_RUNTIME_REMOTE_INIT;
        _cleanup_free_ char *inside = NULL;
        int conn = -2;
        if (ap_runtime_remote_open(&r, &c->target, err) < 0)
                goto out;
        conn = -1;
        if (request(c, &r, &script, &inside, err) < 0)
                goto out;
        ap_log_line(c->log, "asked process %d to run %s (the runtime's own remote execution)",
                    (int)pid, inside);
        ap_progress_stage(cfg->progress, "waiting for %d to run Python", (int)pid);
        double until = c->deadline;
        if (patience_ms > 0 && ap_now_ms() + patience_ms < until)
                until = ap_now_ms() + patience_ms;
        conn = ap_session_accept(&c->session, pid, cfg->cancel_fd, until, err);
        if (conn == -2 && until < c->deadline && ap_runtime_remote_withdraw(&r) == 1) {
                ap_log_line(c->log,
                            "process %d did not take the request within %.0f ms; withdrew it",
                            (int)pid, patience_ms);
                ap_error_clear(err);
                goto out; /* -2: the debugger's turn */
        }
        if (conn == -2 && until < c->deadline) /* taken meanwhile */
                conn = ap_session_accept(&c->session, pid, cfg->cancel_fd, c->deadline, err);
        if (conn == -2)
                conn = deadline_passed(c, &r, err);
out:
        ap_runtime_remote_close(&r);
        ap_buf_free(&script);
        return conn;
}
