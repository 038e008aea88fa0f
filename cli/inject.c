/* inject.c: one run, told as its verbs (inject.h).
 *
 * lock → preflight → stage → inject → go → collect, then cure on every
 * path.  The parts live in files of their own: attempt.c (one debugger
 * session), debugger_run.c (the debugger process), safe_point_wait.c (a
 * queued call), remote_exec.c (the runtime's own way in), collect.c (the
 * agent's result).
 */
#include "inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attempt.h"
#include "collect.h"
#include "fault.h"
#include "paths.h"
#include "remote_exec.h"
#include "request.h"
#include "run_context.h"
#include "runtime_remote.h"
#include "safe_point_wait.h"
#include "session_reaper.h"
#include "target_lock.h"

/* The state of inject's attempts, from one debugger session to the next. */
typedef struct attempts {
        int n;                      /* the next session's number (its files' prefix) */
        ap_faults faults;           /* ATTACHPY_FAULT */
        ap_plan_want want;          /* what the first look chooses */
        pid_t moved_tid;            /* the thread that was not where attachpy saw it */
        int moved_retries;          /* sessions run again because a thread moved */
        ap_injection_plan fallback; /* the thread ap_await_scheduled fell back to */
        bool have_fallback;         /* the next session calls in it */
        bool fallback_used;         /* once per run */
} attempts;

/* What the next step of inject is: look again (the same number), run the
 * next session, or stop (connected, or failed with the report's error). */
typedef enum step { STEP_DONE = 0, STEP_AGAIN = 1, STEP_FAILED = -1 } step;

/* The report's facts about the target, from preflight (inspected: it
 * passed; else as far as it got). */
static void report_target(ap_report *report, const ap_target *t, bool inspected) {
        if (!inspected && !t->exe)
                return;
        report->have_target = inspected || (t->python_path != NULL && t->version);
        report->impl = t->impl;
        report->version = t->version ? strdup(t->version) : NULL;
        report->executable = strdup(t->exe);
}

/* The agent came in through mechanism, at safepoint. */
static void report_way_in(ap_report *report, const char *mechanism, const char *safepoint) {
        if (strcmp(mechanism, "remote_exec") == 0)
                report->debugger = NULL;
        report->mechanism = mechanism;
        snprintf(report->safepoint, sizeof report->safepoint, "%s", safepoint);
}

/* One attachpy at a time per target. */
static int lock(ap_run_ctx *c) {
        c->lock = ap_target_lock(c->cfg->opts->pid, c->deadline, c->cfg->cancel_fd,
                                 &c->report->error);
        return c->lock == -1 ? -1 : 0;
}

/* /proc only: the process may be entered.  (A refusal gets the whole
 * account, the interpreter's facts too.) */
static int preflight(ap_run_ctx *c) {
        ap_error *err = &c->report->error;
        pid_t pid = c->cfg->opts->pid;
        int r = ap_target_inspect_process(&c->target, pid, err);
        if (r < 0) {
                ap_target_free(&c->target);
                ap_error_clear(err);
                r = ap_target_inspect(&c->target, pid, err);
                report_target(c->report, &c->target, r == 0);
        }
        c->report->ms_preflight = ap_now_ms() - c->t0;
        return r;
}

/* /proc and ELF: the interpreter, and the functions the debugger calls. */
static int preflight_python(ap_run_ctx *c) {
        ap_error *err = &c->report->error;
        pid_t pid = c->cfg->opts->pid;
        int inspected = ap_target_inspect_python(&c->target, err);
        report_target(c->report, &c->target, inspected == 0);
        c->report->ms_preflight = ap_now_ms() - c->t0;
        if (inspected < 0)
                return -1;
        ap_log_line(c->log, "process %d: %s %s (%s), C API in %s, C library %s", (int)pid,
                    ap_impl_name(c->target.impl), c->target.version, c->target.exe,
                    c->target.python_path, c->target.libc_path);
        return 0;
}

/* The request, for the agent: through the session's file or a serving
 * agent's socket.  serve: the directory an agent that stays makes, or NULL. */
static int encode_request(ap_run_ctx *c, const char *serve) {
        const ap_run_config *cfg = c->cfg;
        ap_request req = {.filename = cfg->filename,
                          .code = cfg->code,
                          .code_len = cfg->code_len,
                          .wait = !cfg->opts->no_wait,
                          .serve = serve,
                          .args = cfg->opts->args,
                          .n_args = cfg->opts->n_args};
        if (ap_request_encode(&req, &c->request) < 0)
                return ap_error_set(&c->report->error, AP_ERR_INJECTION_FAILED, "out of memory");
        return 0;
}

/* An agent that serves the target takes the run: no debugger, no stop.
 * 1: connected and the request sent (attach: the agent asked how it is);
 * 0: none serves; -1: with the report's error. */
static int reach_agent(ap_run_ctx *c) {
        ap_error *err = &c->report->error;
        const ap_options *o = c->cfg->opts;
        int reaped = ap_agent_reap_stale("/tmp");
        if (reaped > 0)
                ap_log_line(c->log, "removed %d agent director%s left by processes that are gone",
                            reaped, reaped == 1 ? "y" : "ies");
        int fd;
        int r = ap_agent_connect(o->pid, &fd, NULL, err);
        c->report->serving = r == 1 ? 1 : r == 0 ? 0 : -1;
        if (r <= 0)
                return r;
        c->conn = fd;
        c->served = true;
        c->report->mechanism = "agent";
        c->report->debugger = NULL;
        ap_log_line(c->log, "an attachpy agent serves process %d: the run goes through it",
                    (int)o->pid);
        if (o->command == AP_CMD_ATTACH) {
                ap_agent_info info;
                if (ap_agent_info_get(fd, &info, err) < 0)
                        return -1;
                ap_log_line(c->log, "it has taken %lu run%s, %lu under way", info.runs,
                            info.runs == 1 ? "" : "s", info.active);
                c->report->ok = true;
                c->report->have_target = true;
                c->report->impl = strcmp(info.impl, "pypy") == 0 ? AP_IMPL_PYPY : AP_IMPL_CPYTHON;
                c->report->version = strdup(info.version);
                c->report->executable = c->target.exe ? strdup(c->target.exe) : NULL;
                return 1;
        }
        if (encode_request(c, NULL) < 0 || ap_agent_send_request(fd, o->pid, &c->request, err) < 0)
                return -1;
        return 1;
}

/* The debugger and the agent's file found. */
static int equip(ap_run_ctx *c) {
        ap_error *err = &c->report->error;
        if (ap_backend_select(c->cfg->opts->debugger, &c->backend, &c->program, err) < 0)
                return -1;
        c->report->debugger = c->backend->name;
        c->agent = ap_path_agent();
        if (!c->agent || access(c->agent, R_OK) < 0) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "the attachpy agent is missing (%s)",
                             c->agent ? c->agent : "?");
                ap_error_hint(err, "reinstall attachpy (meson install), or set ATTACHPY_AGENT to "
                                   "the path of attachpy-agent.so");
                return -1;
        }
        return 0;
}

/* The session (after removing those of runs that died): the agent, the
 * owner, the request, the listening socket. */
static int stage(ap_run_ctx *c) {
        const ap_run_config *cfg = c->cfg;
        ap_error *err = &c->report->error;
        ap_session *session = &c->session;
        int reaped = ap_session_reap_stale("/tmp");
        if (reaped > 0)
                ap_log_line(c->log,
                            "removed %d session director%s left by attachpy runs that were killed",
                            reaped, reaped == 1 ? "y" : "ies");
        if (ap_session_create(session, &c->target, err) < 0 ||
            ap_session_stage_agent(session, &c->target, c->agent, err) < 0)
                return -1;
        char owner[64];
        if (ap_session_owner_text(owner, sizeof owner) < 0 ||
            ap_session_write(session, "owner", owner, strlen(owner), err) < 0 ||
            (session->private_.fd >= 0 &&
             ap_session_write_script(session, "owner", owner, strlen(owner), &c->owner_path, err) <
                     0))
                return -1;
        if (cfg->opts->keep && ap_agent_name(cfg->opts->pid, c->serve_name) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "cannot name the agent's directory for process %d",
                                    (int)cfg->opts->pid);
        if (encode_request(c, cfg->opts->keep ? c->serve_name : NULL) < 0)
                return -1;
        if (ap_session_write(session, "request", c->request.data, c->request.len, err) < 0 ||
            ap_session_listen(session, err) < 0)
                return -1;
        return 0;
}

/* CPython 3.14+ whose main thread may run bytecode soon: the runtime's own
 * remote execution, no debugger and no stop; the debugger when it does not
 * take the request at once (a long C call, a lock), and for a main thread
 * parked in a read or a sleep (it runs no bytecode until it wakes). */
static step try_remote_exec(ap_run_ctx *c) {
        const ap_options *o = c->cfg->opts;
        ap_error *err = &c->report->error;
        if (c->target.impl != AP_IMPL_CPYTHON || !ap_runtime_remote_available(&c->target) ||
            o->debugger != AP_DEBUGGER_AUTO || !ap_main_thread_may_run(o->pid))
                return STEP_AGAIN;
        c->conn = ap_remote_exec(c, AP_RUNTIME_REMOTE_PATIENCE_MS, err);
        if (c->conn == -1)
                return STEP_FAILED;
        if (c->conn >= 0) {
                report_way_in(c->report, "remote_exec", "remote");
                return STEP_DONE;
        }
        ap_log_line(c->log, "the runtime's remote execution: %s; using %s",
                    err->message ? err->message : "withdrawn", c->backend->name);
        ap_error_clear(err);
        c->conn = -1;
        return STEP_AGAIN;
}

/* No thread to attach for at the first look.  PyPy 8 with every thread
 * running: its own remote execution needs no thread that waits; older PyPy:
 * no safe point yet (docs/pypy.md), look again. */
static step no_thread(ap_run_ctx *c) {
        const ap_options *o = c->cfg->opts;
        ap_error *err = &c->report->error;
        ap_proc_state st;
        bool alive = ap_proc_state_read(o->pid, &st) == 0 && st.state != 'Z';
        if (!c->target.addr_add_pending_call && alive && ap_runtime_remote_available(&c->target) &&
            o->debugger == AP_DEBUGGER_AUTO) {
                c->conn = ap_remote_exec(c, 0, err);
                if (c->conn < 0) {
                        c->conn = -1;
                        return STEP_FAILED;
                }
                report_way_in(c->report, "remote_exec", "remote");
                return STEP_DONE;
        }
        if (!c->target.addr_add_pending_call && alive) {
                if (ap_no_safe_point_wait(c->deadline))
                        return STEP_AGAIN;
                ap_no_safe_point(err, &c->target, o->timeout_s);
                return STEP_FAILED;
        }
        ap_error_set(err, AP_ERR_INJECTION_FAILED, "cannot read the threads of process %d",
                     (int)o->pid);
        ap_error_hint(err, "check that process %d is still alive", (int)o->pid);
        return STEP_FAILED;
}

/* A first look, before attaching: only whether there is anything to attach
 * for (PyPy: a thread that waits).  The plan is chosen again once the
 * debugger holds the target stopped (attempt.c, on_stopped). */
static bool first_look(attempts *a, ap_injection_plan *plan, ap_plan_choice *choice) {
        *choice = (ap_plan_choice){.want = a->want};
        if (a->have_fallback) {
                /* The waiting thread ap_await_scheduled chose. */
                ap_plan_use_thread(plan, &a->fallback.thread, a->fallback.kind);
                choice->have_waiter = true;
                choice->waiter = a->fallback.thread;
                choice->waiter_kind = a->fallback.kind;
                a->have_fallback = false;
                return true;
        }
        return ap_plan_choose(plan, a->want) || ap_plan_choose(plan, AP_WANT_SCHEDULE);
}

/* The session did not start the agent. */
static step session_failed(ap_run_ctx *c, attempts *a, const ap_injection_plan *plan,
                           const ap_transcript_outcome *outcome, bool no_fit) {
        ap_error *err = &c->report->error;
        pid_t pid = c->cfg->opts->pid;
        if (no_fit && !c->target.addr_add_pending_call) {
                /* PyPy: the thread that waited before the attach ran Python
                 * again when the debugger stopped it.  The next attempt has
                 * a number of its own: this one's files are in the
                 * session. */
                ap_error_clear(err);
                c->report->retries++;
                if (ap_no_safe_point_wait(c->deadline))
                        return STEP_AGAIN;
                ap_no_safe_point(err, &c->target, c->cfg->opts->timeout_s);
                return STEP_FAILED;
        }
        /* The chosen thread was not where /proc showed it while the target
         * was stopped (a system call that had completed when the debugger
         * stopped it): look again, twice at most, with time left.  First
         * for a thread that waits, the main thread first, then schedule;
         * the thread that moved is chosen only when no other one fits. */
        if (!outcome->moved || a->moved_retries >= 2 || ap_now_ms() + 1000.0 >= c->deadline)
                return STEP_FAILED;
        ap_log_line(c->log, "process %d was not where attachpy saw it; trying again", (int)pid);
        a->want = a->moved_retries == 0 ? AP_WANT_WAITER : AP_WANT_SCHEDULE;
        if (plan->have_thread)
                a->moved_tid = plan->thread.tid;
        a->moved_retries++;
        c->report->retries++;
        ap_error_clear(err);
        return STEP_AGAIN;
}

/* A direct call started the agent: its connection. */
static step accept_direct(ap_run_ctx *c, const ap_transcript_outcome *outcome) {
        const ap_options *o = c->cfg->opts;
        ap_error *err = &c->report->error;
        snprintf(c->report->safepoint, sizeof c->report->safepoint, "%s", outcome->safepoint);
        c->conn = ap_session_accept(&c->session, o->pid, c->cfg->cancel_fd, c->deadline, err);
        if (c->conn == -2) {
                /* The deadline passed while the debugger ran: the agent
                 * gets no go-ahead. */
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the code did not start within %g s: %s took %.1f s to start the "
                             "agent in process %d; the code was withdrawn and will not run",
                             o->timeout_s, c->backend->name, c->report->ms_debugger / 1000.0,
                             (int)o->pid);
                ap_error_hint(err, "try again with a longer --timeout");
        }
        if (c->conn < 0) {
                c->conn = -1;
                return STEP_FAILED;
        }
        c->report->mechanism = "debugger";
        return STEP_DONE;
}

/* A queued call: wait for it to run, or fall back to a waiting thread. */
static step follow_queued(ap_run_ctx *c, attempts *a, const ap_transcript_outcome *outcome) {
        a->fallback.target = &c->target;
        bool may_fall_back = !a->fallback_used && !a->faults.stay_queued;
        c->conn = ap_await_scheduled(c, outcome->page, may_fall_back ? &a->fallback : NULL,
                                     &c->report->error);
        if (c->conn == -2) {
                c->conn = -1;
                a->have_fallback = a->fallback_used = true;
                c->report->retries++;
                return STEP_AGAIN;
        }
        if (c->conn < 0) {
                c->conn = -1;
                return STEP_FAILED;
        }
        report_way_in(c->report, "debugger", "pending");
        return STEP_DONE;
}

/* One turn of inject: a first look, then a debugger session. */
static step inject_once(ap_run_ctx *c, attempts *a) {
        ap_error *err = &c->report->error;
        ap_injection_plan plan;
        if (ap_injection_plan_init(&plan, &c->target, c->session.agent, c->session.target_dir,
                                   err) < 0)
                return STEP_FAILED;
        plan.avoid_tid = a->moved_tid;
        ap_plan_choice choice;
        if (!first_look(a, &plan, &choice))
                return no_thread(c);
        ap_plan_set_cancel(&plan);
        plan.attempt = a->n - 1;
        plan.faults = a->faults;
        ap_transcript_outcome outcome;
        bool no_fit = false;
        int started = ap_attempt_run(c, &plan, &choice, a->n, &outcome, &no_fit, err);
        a->n++;
        if (started < 0)
                return session_failed(c, a, &plan, &outcome, no_fit);
        if (!outcome.scheduled)
                return accept_direct(c, &outcome);
        return follow_queued(c, a, &outcome);
}

/* Get the agent started and connected: the runtime's own remote execution
 * where it fits, else debugger sessions until one did it. */
static int inject(ap_run_ctx *c) {
        step s = try_remote_exec(c);
        attempts a = {.n = 1, .faults = ap_faults_parse(getenv("ATTACHPY_FAULT"))};
        a.want = a.faults.schedule ? AP_WANT_SCHEDULE : AP_WANT_ANY;
        while (s == STEP_AGAIN)
                s = inject_once(c, &a);
        return s == STEP_DONE ? 0 : -1;
}

/* The debugger has let go: the agent may start the code (after unmapping
 * what the debugger left).  --no-wait ends the run here. */
static int go(ap_run_ctx *c) {
        const ap_options *o = c->cfg->opts;
        ap_report *report = c->report;
        c->t_run = ap_now_ms();
        if (c->n_leftovers)
                c->n_leftovers = ap_ranges_keep_anonymous(o->pid, c->leftovers, c->n_leftovers);
        if (c->n_leftovers && c->backend)
                ap_log_line(c->log, "asking the agent to unmap %zu page%s %s left in process %d",
                            c->n_leftovers, c->n_leftovers == 1 ? "" : "s", c->backend->name,
                            (int)o->pid);
        /* Watched from before the go-ahead: the code may end the process. */
        if (!o->no_wait)
                ap_exit_watch_open(&c->exit_watch, o->pid);
        if (ap_send_go(c->conn, c->leftovers, c->n_leftovers) < 0) {
                ap_error_set(&report->error, AP_ERR_INJECTION_FAILED,
                             "the agent in process %d hung up before the go-ahead", (int)o->pid);
                ap_error_hint(&report->error, "check that process %d is still alive", (int)o->pid);
                return -1;
        }
        if (o->no_wait) {
                report->ok = true;
                report->scheduled_only = true;
                report->ms_run = ap_now_ms() - c->t_run;
        }
        return 0;
}

/* Whatever happened: the connection closed, the session removed, the lock
 * released.  (The target itself is cured after each debugger session:
 * attempt.c.) */
static void cure(ap_run_ctx *c) {
        if (c->conn >= 0)
                close(c->conn);
        ap_exit_watch_close(&c->exit_watch);
        ap_session_destroy(&c->session);
        ap_target_free(&c->target);
        ap_buf_free(&c->request);
        free(c->program);
        free(c->agent);
        free(c->owner_path);
        if (c->lock >= 0)
                close(c->lock);
        c->report->ms_total = ap_now_ms() - c->t0;
}

/* --keep, attach: did the agent stay?  (Its SERV record, after RUN.)  Not
 * staying is the run's failure, even when the code ran. */
static void settle_serving(ap_run_ctx *c) {
        ap_report *report = c->report;
        const ap_options *o = c->cfg->opts;
        const char *serve = report->result.serve;
        if (c->served && report->result.version && !report->have_target) {
                /* Through a serving agent: the interpreter says what it is. */
                report->have_target = true;
                report->impl =
                        strcmp(report->result.impl, "pypy") == 0 ? AP_IMPL_PYPY : AP_IMPL_CPYTHON;
                report->version = strdup(report->result.version);
                report->executable = c->target.exe ? strdup(c->target.exe) : NULL;
        }
        if (!c->served && o->keep && report->have_result) {
                bool stays = serve &&
                             (strncmp(serve, "ok ", 3) == 0 || strncmp(serve, "already ", 8) == 0);
                report->serving = stays ? 1 : 0;
                if (stays)
                        ap_log_line(c->log, "the agent stays, serving process %d from %s",
                                    (int)o->pid, strchr(serve, ' ') + 1);
                else if (report->ok) {
                        report->ok = false;
                        ap_error_set(&report->error, AP_ERR_INJECTION_FAILED,
                                     "the agent in process %d could not stay: %s", (int)o->pid,
                                     !serve                             ? "it did not say why"
                                     : strncmp(serve, "error ", 6) == 0 ? serve + 6
                                                                        : serve);
                        ap_error_hint(&report->error, "check that process %d may write to its /tmp",
                                      (int)o->pid);
                }
        }
        if (report->target_ended)
                report->serving = 0; /* the process is gone, and its agent with it */
        if (o->command == AP_CMD_ATTACH && report->ok && report->have_result) {
                report->have_result = false; /* it ran nothing of the user's */
                ap_result_free(&report->result);
                memset(&report->result, 0, sizeof report->result);
        }
}

/* attachpy detach: the serving agent told to stop. */
static void detach(ap_run_ctx *c) {
        ap_report *report = c->report;
        pid_t pid = c->cfg->opts->pid;
        int fd;
        int r = ap_agent_connect(pid, &fd, NULL, &report->error);
        if (r < 0)
                return;
        report->serving = 0;
        report->ok = true;
        if (r == 0) {
                ap_log_line(c->log, "no attachpy agent serves process %d: nothing to do", (int)pid);
                return;
        }
        r = ap_agent_detach(fd, pid, &report->still_running, &report->error);
        close(fd);
        if (r < 0) {
                report->ok = false;
                report->serving = -1;
                return;
        }
        report->detached = true;
}

void ap_run(const ap_run_config *cfg, ap_report *report) {
        memset(report, 0, sizeof *report);
        report->pid = cfg->opts->pid;
        report->serving = -1;
        report->command = cfg->opts->command == AP_CMD_ATTACH   ? "attach"
                          : cfg->opts->command == AP_CMD_DETACH ? "detach"
                                                                : NULL;
        ap_run_ctx c = {.cfg = cfg,
                        .log = &cfg->log,
                        .report = report,
                        .t0 = ap_now_ms(),
                        .lock = -1,
                        .session = AP_SESSION_INIT,
                        .conn = -1,
                        .exit_watch = AP_EXIT_WATCH_INIT};
        c.deadline = c.t0 + cfg->opts->timeout_s * 1000.0;
        if (lock(&c) == 0 && preflight(&c) == 0) {
                if (cfg->opts->command == AP_CMD_DETACH) {
                        detach(&c);
                        cure(&c);
                        return;
                }
                int served = reach_agent(&c);
                bool info_only = served == 1 && cfg->opts->command == AP_CMD_ATTACH;
                if (!info_only &&
                    (served == 1 || (served == 0 && preflight_python(&c) == 0 && equip(&c) == 0 &&
                                     stage(&c) == 0 && inject(&c) == 0)) &&
                    go(&c) == 0 && !cfg->opts->no_wait)
                        ap_collect(&c);
                settle_serving(&c);
        }
        cure(&c);
}
