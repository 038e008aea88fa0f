/* safe_point_wait.c: the wait for a queued call and for a safe point
 * (safe_point_wait.h). */
#include "safe_point_wait.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gil_holder.h"
#include "pending.h"
#include "transcript.h"

/* How often attachpy looks again for a waiting thread in a target without
 * a pending call to use (PyPy). */
#define NO_SAFE_POINT_POLL_MS 20.0
/* Time a debugger needs to attach and let go again: not started closer to
 * the deadline than this, so that --timeout is kept. */
#define NO_SAFE_POINT_MARGIN_MS 300.0
/* How often the trampoline's page is read while the agent has not
 * connected. */
#define SCHEDULE_POLL_MS 5.0

/* What a failed trampoline left in its page, as an error. */
static void trampoline_failed(ap_pending *pend, int state, int64_t detail, ap_error *err) {
        pid_t pid = pend->pid;
        if (state == AP_TRAMPOLINE_UNARMED) {
                ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                             "the debugger ended before it let the queued call in process %d "
                             "run; the call did nothing",
                             (int)pid);
                ap_error_hint(err, "run attachpy again (a 4 KiB scratch page stays mapped in the "
                                   "process)");
        } else if (state == AP_TRAMPOLINE_DLOPEN_FAILED) {
                char msg[512];
                ap_pending_read_string(pend, (uint64_t)detail, msg, sizeof msg);
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "process %d could not load the attachpy agent: %s", (int)pid,
                             msg[0] ? msg : "unknown dlopen error");
                ap_error_hint(err, "check that the agent library is installed and readable by the "
                                   "target's user (a 4 KiB scratch page stays mapped in it)");
        } else if (state == AP_TRAMPOLINE_DLSYM_FAILED) {
                ap_agent_no_entry_point(err, pid);
        } else {
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "%s (code %d)",
                             ap_agent_start_error((int)detail), (int)detail);
                ap_error_hint(err,
                              "run with --verbose and report it (a 4 KiB scratch page stays "
                              "mapped in process %d)",
                              (int)pid);
        }
}

/* ap_session_accept failed (not a timeout): the call withdrawn if it had
 * not run, the error told in those terms. */
static void accept_failed(ap_pending *pend, pid_t pid, ap_error *err) {
        int withdrawn = ap_pending_cancel(pend);
        if (withdrawn == 1 && err->code == AP_ERR_INTERRUPTED) {
                char holder[1536];
                ap_gil_holder_describe(pid, 0, holder, sizeof holder);
                ap_error_set(err, AP_ERR_INTERRUPTED,
                             "attachpy was interrupted before the queued call ran "
                             "in process %d: its main thread ran no Python code "
                             "(%s); the call was withdrawn and will not run",
                             (int)pid, holder);
                ap_error_hint(err,
                              "the queued call was withdrawn; process %d runs on as "
                              "before",
                              (int)pid);
        } else if (withdrawn == 1)
                ap_error_hint(err, "the queued call was withdrawn: the code will "
                                   "not run");
}

/* The state of the wait for a queued call. */
typedef struct schedule_wait {
        ap_run_ctx *c;
        ap_pending pend;
        ap_injection_plan *fallback; /* NULL: no falling back */
        double since, looked;        /* when the wait began, when it last looked */
        ap_parked_thread waiter;     /* the thread in a futex wait seen last */
        bool have_waiter;
} schedule_wait;

/* The main thread ran no bytecode for a while.  A thread parked in a
 * blocking call, or one that has waited in the same futex wait since we
 * last looked, holds no lock of the C library: withdraw the call and call
 * in that thread instead.  Returns whether the call was withdrawn. */
static bool fall_back(schedule_wait *w) {
        ap_injection_plan *fallback = w->fallback;
        w->looked = ap_now_ms();
        bool use = false;
        if (ap_plan_choose(fallback, AP_WANT_WAITER) == 1) {
                const ap_parked_thread *t = &fallback->thread;
                use = fallback->kind == AP_PARKED_WAITS ||
                      (w->have_waiter && t->tid == w->waiter.tid && t->sp == w->waiter.sp &&
                       t->pc == w->waiter.pc);
                if (fallback->kind == AP_PARKED_FUTEX) {
                        w->waiter = *t;
                        w->have_waiter = true;
                }
        }
        if (!use || ap_pending_cancel(&w->pend) != 1)
                return false;
        ap_log_line(w->c->log,
                    "the pending call did not run within %.0f ms; withdrew "
                    "it to call in a waiting thread",
                    ap_now_ms() - w->since);
        return true;
}

/* One look at the queued call between accepts.  Returns 1 to wait on, -2
 * when withdrawn for a waiting thread, -1 with err set. */
static int look_at_call(schedule_wait *w, ap_error *err) {
        pid_t pid = w->c->cfg->opts->pid;
        int state = 0;
        int64_t detail = 0;
        ap_pending_status st = ap_pending_status_read(&w->pend, &state, &detail);
        if (st == AP_PENDING_LOST) {
                ap_error_set(err, AP_ERR_TARGET_EXITED,
                             "process %d exited before the agent reported back", (int)pid);
                ap_error_hint(err, "there is nothing left to run code in");
                return -1;
        }
        if (st == AP_PENDING_FAILED) {
                trampoline_failed(&w->pend, state, detail, err);
                return -1;
        }
        if (st == AP_PENDING_QUEUED && w->fallback &&
            ap_now_ms() - w->looked >= AP_SCHEDULE_PATIENCE_MS && fall_back(w))
                return -2;
        return 1;
}

/* The deadline passed: withdraw the call, or give the agent of a call that
 * started just now a moment to connect. */
static int deadline_passed(schedule_wait *w, ap_error *err) {
        const ap_run_config *cfg = w->c->cfg;
        pid_t pid = cfg->opts->pid;
        if (ap_pending_cancel(&w->pend) == 1) {
                char holder[1536];
                ap_gil_holder_describe(pid, 0, holder, sizeof holder);
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "process %d did not reach a safe point within %g s: its main thread "
                             "ran no Python code (%s; it holds the GIL); the queued call was "
                             "withdrawn and will not run, nothing was injected and it runs on",
                             (int)pid, cfg->opts->timeout_s, holder);
                ap_error_hint(err, "the main thread may be in a long C call that holds the GIL; "
                                   "try again with a longer --timeout");
                return -1;
        }
        return ap_accept_started(w->c, err,
                                 "the agent started in process %d but did not report back "
                                 "within %g s; the code did not run",
                                 (int)pid, cfg->opts->timeout_s);
}

int ap_await_scheduled(ap_run_ctx *c, uint64_t page, ap_injection_plan *fallback, ap_error *err) {
        const ap_run_config *cfg = c->cfg;
        pid_t pid = cfg->opts->pid;
        schedule_wait w = {.c = c, .pend = AP_PENDING_INIT, .fallback = fallback};
        int conn = -1;
        if (ap_pending_open(&w.pend, pid, page, err) < 0)
                return -1;
        ap_progress_stage(cfg->progress, "waiting for a safe point in %d", (int)pid);
        w.since = w.looked = ap_now_ms();
        w.have_waiter = ap_find_parked_thread(pid, AP_PARKED_FUTEX, &w.waiter) == 1;
        for (;;) {
                double now = ap_now_ms();
                if (now >= c->deadline) {
                        conn = deadline_passed(&w, err);
                        break;
                }
                double until =
                        now + SCHEDULE_POLL_MS < c->deadline ? now + SCHEDULE_POLL_MS : c->deadline;
                conn = ap_session_accept(&c->session, pid, cfg->cancel_fd, until, err);
                if (conn >= 0)
                        break;
                if (conn == -1) {
                        accept_failed(&w.pend, pid, err);
                        break;
                }
                conn = look_at_call(&w, err);
                if (conn != 1)
                        break;
        }
        ap_pending_close(&w.pend);
        return conn;
}

int ap_accept_started(ap_run_ctx *c, ap_error *err, const char *fmt, ...) {
        const ap_run_config *cfg = c->cfg;
        int conn = ap_session_accept(&c->session, cfg->opts->pid, cfg->cancel_fd,
                                     ap_now_ms() + AP_GRACE_FOR_CALLS_MS, err);
        if (conn != -2)
                return conn;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        ap_error_set(err, AP_ERR_TIMEOUT, "%s", msg ? msg : "out of memory");
        ap_error_hint(err, "try again with a longer --timeout");
        return -1;
}

bool ap_no_safe_point_wait(double deadline) {
        if (ap_now_ms() + NO_SAFE_POINT_POLL_MS + NO_SAFE_POINT_MARGIN_MS >= deadline)
                return false;
        struct timespec ts = {0, (long)(NO_SAFE_POINT_POLL_MS * 1e6)};
        nanosleep(&ts, NULL);
        return true;
}

void ap_no_safe_point(ap_error *err, const ap_target *target, double timeout_s) {
        ap_error_set(err, AP_ERR_TIMEOUT,
                     "process %d did not reach a safe point within %g s: every thread of this %s "
                     "ran Python, and only a thread that waits in a system call will do; nothing "
                     "was injected and it runs on",
                     (int)target->pid, timeout_s, ap_impl_name(target->impl));
        ap_error_hint(err, "try again when the program waits (for I/O, a lock, a sleep), or with "
                           "a longer --timeout");
}
