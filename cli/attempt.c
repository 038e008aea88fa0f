/* attempt.c: one debugger session against the target, from its script to
 * its cure (attempt.h). */
#include "attempt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cure.h"
#include "debugger_run.h"
#include "page.h"
#include "pending.h"
#include "scrub.h"
#include "spawn.h"

/* One attempt: its resources, released by attempt_free, and what
 * on_stopped needs and tells. */
typedef struct attempt {
        ap_run_ctx *c;
        ap_injection_plan *plan;
        const ap_plan_choice *choice;
        int n;
        char *script, *script_path;
        char *log_path, *page_direct, *page_schedule;
        char *plan_script_path; /* plan_after_stop backends: the rendered plan */
        char **argv, **envp;
        ap_child child, warm_up;
        ap_cure cure;
        ap_buf transcript;
        ap_debugger_end end;
        bool no_fit;     /* no plan fitted the stopped target */
        ap_drive *drive; /* while the debugger runs */
} attempt;

/* The plans the first look chose from were found unfit while the target
 * was stopped: choose again (see on_stopped).  Returns whether one fits. */
static int choose_after_unfit(attempt *a, int unfit) {
        ap_injection_plan *plan = a->plan;
        pid_t unfit_tid = plan->have_thread ? plan->thread.tid : 0;
        ap_log_line(a->c->log, "while stopped: thread %d had left its system call; choosing again",
                    (int)unfit_tid);
        a->c->report->retries++;
        if (unfit_tid == 0 || unfit > 2)
                return 0; /* the main thread's guard failed: cannot be */
        plan->avoid_tid = unfit_tid;
        int chosen = ap_plan_choose(plan, AP_WANT_SCHEDULE) == 1 &&
                     (plan->mode == AP_PLAN_DIRECT ? plan->thread.tid != unfit_tid : true);
        if (chosen && plan->mode == AP_PLAN_SCHEDULE &&
            (unfit > 1 || (plan->have_thread && plan->thread.tid == unfit_tid)))
                plan->have_thread = false; /* the main thread */
        return chosen;
}

/* plan_after_stop backends: render the chosen plan now, the thread's index
 * and registers as /proc shows them while the debugger holds the process. */
static int render_plan_now(attempt *a, int unfit) {
        const ap_backend *b = a->c->backend;
        ap_injection_plan *plan = a->plan;
        _cleanup_free_ char *script = NULL;
        ap_error e = AP_ERROR_INIT;
        const char *file = plan->mode == AP_PLAN_DIRECT ? b->direct_script : b->schedule_script;
        char name[64];
        snprintf(name, sizeof name, "%d-%d-%s", a->n, unfit + 1, file);
        free(a->plan_script_path);
        a->plan_script_path = NULL;
        if (ap_render_script(b, file, plan, &script, &e) < 0 ||
            ap_session_write_script(&a->c->session, name, script, strlen(script),
                                    &a->plan_script_path, &e) < 0) {
                ap_log_line(a->c->log, "cannot render the %s plan: %s", b->name, e.message);
                ap_error_clear(&e);
                return -1;
        }
        ap_log_printf(a->c->log, "attachpy: ---- %s plan script ----\n%s", b->name, script);
        return 0;
}

/* The target is stopped: read /proc now, choose, send the plan's commands.
 * unfit > 0: the plans sent so far found their thread's system call
 * completed (it returns to user space when the target runs again): schedule
 * instead, in another thread in a system call, then from the main thread
 * (whose guard always holds). */
static void on_stopped(void *userdata, ap_child *child, int unfit) {
        attempt *a = userdata;
        const ap_run_config *cfg = a->c->cfg;
        const ap_backend *b = a->c->backend;
        ap_injection_plan *plan = a->plan;
        const ap_plan_choice *ch = a->choice;
        int chosen;
        if (unfit == 0)
                chosen = ap_plan_choose_stopped(
                        plan, ch->want, ch->have_waiter ? &ch->waiter : NULL, ch->waiter_kind);
        else if (plan->faults.moved && plan->attempt == 0)
                chosen = 0; /* the "moved" fault: the whole attempt fails (cli/fault.h) */
        else
                chosen = choose_after_unfit(a, unfit);
        if (!chosen) {
                a->no_fit = true;
                (void)ap_child_send(child, b->let_go);
                ap_log_line(a->c->log, "while stopped: no thread of process %d fits; letting go",
                            (int)cfg->opts->pid);
                return;
        }
        ap_plan_set_cancel(plan);
        if (b->plan_after_stop && render_plan_now(a, unfit) < 0) {
                a->no_fit = true;
                (void)ap_child_send(child, b->let_go);
                return;
        }
        _cleanup_free_ char *text = b->go(plan, a->plan_script_path);
        if (plan->mode == AP_PLAN_DIRECT)
                a->drive->caller = plan->have_thread ? plan->thread.tid : cfg->opts->pid;
        if (!text || ap_child_send(child, text) < 0) {
                a->no_fit = true;
                (void)ap_child_send(child, b->let_go);
                return;
        }
        ap_log_line(a->c->log, "while stopped: %s %s%s %d; sent %s",
                    plan->mode == AP_PLAN_DIRECT ? "calling in" : "scheduling",
                    plan->mode == AP_PLAN_DIRECT ? plan->safepoint : "a pending call",
                    plan->have_thread ? " thread" : " from the main thread, thread",
                    plan->have_thread ? (int)plan->thread.tid : (int)cfg->opts->pid, text);
}

/* The page for a plan mode, as a file next to the script. */
static int write_page(ap_run_ctx *c, ap_injection_plan *plan, ap_plan_mode mode, int n,
                      char **ret_path, ap_error *err) {
        ap_plan_mode saved = plan->mode;
        plan->mode = mode;
        ap_plan_set_cancel(plan);
        plan->mode = saved;
        char page_name[32];
        snprintf(page_name, sizeof page_name, "%d-%s-%s.page", n, c->backend->name,
                 mode == AP_PLAN_DIRECT ? "direct" : "schedule");
        return ap_session_write_script(&c->session, page_name, plan->page, AP_PAGE_SIZE, ret_path,
                                       err);
}

/* Cure: the target must be left running and untraced, whatever happened. */
static void ensure_target_running(const ap_log *log, pid_t pid) {
        ap_proc_state st;
        for (int i = 0; i < 50; i++) {
                if (ap_proc_state_read(pid, &st) < 0)
                        return; /* gone: nothing to repair */
                if (st.tracer_pid == 0)
                        break;
                /* The kernel detaches tracees of a dead tracer asynchronously. */
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        if (st.state == 'T' && st.tracer_pid == 0) {
                ap_log_line(log, "process %d was left stopped; sending SIGCONT", (int)pid);
                kill(pid, SIGCONT);
        }
}

/* The allocations the debugger logged at path, added to c->leftovers. */
static void read_leftovers(ap_run_ctx *c, const char *path) {
        _cleanup_free_ char *log = NULL;
        if (ap_read_file(path, 64 * 1024 * 1024, &log, NULL) < 0)
                return;
        c->n_leftovers += ap_lldb_allocations_parse(log, c->leftovers + c->n_leftovers,
                                                    AP_MAX_LLDB_ALLOCATIONS - c->n_leftovers);
}

/* What the debugger needs besides its script: the file it logs its
 * allocations to, the hang fault's page, lldb-server behind the relay. */
static int prepare(attempt *a, ap_error *err) {
        ap_run_ctx *c = a->c;
        const ap_backend *backend = c->backend;
        if (backend->logs_allocations) {
                /* Written by the debugger: next to its script, where only
                 * attachpy can write. */
                char log_name[32];
                snprintf(log_name, sizeof log_name, "%d-%s.log", a->n, backend->name);
                if (ap_session_write_script(&c->session, log_name, "", 0, &a->log_path, err) < 0)
                        return -1;
                a->plan->log_path = a->log_path;
        }
        if (a->plan->faults.hang_call) {
                a->plan->page[AP_PAGE_OFFSET_HANG] = 0xeb; /* jmp . */
                a->plan->page[AP_PAGE_OFFSET_HANG + 1] = 0xfe;
        }
        if (!backend->relays_server)
                return 0;
        /* lldb-server behind attachpy's relay: the target survives lldb's
         * death (cli/cure.h). */
        _cleanup_free_ char *server = ap_cure_server_path(c->program);
        if (!server) {
                ap_error_set(err, AP_ERR_DEBUGGER_NOT_FOUND,
                             "lldb-server is not installed next to %s", c->program);
                ap_error_hint(err, "install lldb's server (Debian: package lldb), or "
                                   "set LLDB_DEBUGSERVER_PATH");
                return -1;
        }
        if (ap_cure_start(&a->cure, c->cfg->opts->pid, server, err) < 0)
                return -1;
        a->plan->server_fd = a->cure.lldb_fd;
        return 0;
}

/* Both plans' commands, defined before the attach, each with its page file
 * (a queued call's starts unarmed), appended to the attach script. */
static int append_plans(attempt *a, ap_error *err) {
        ap_run_ctx *c = a->c;
        const ap_backend *backend = c->backend;
        if (write_page(c, a->plan, AP_PLAN_DIRECT, a->n, &a->page_direct, err) < 0 ||
            write_page(c, a->plan, AP_PLAN_SCHEDULE, a->n, &a->page_schedule, err) < 0)
                return -1;
        ap_injection_plan each = *a->plan;
        for (int m = 0; m < 2; m++) {
                each.mode = m == 0 ? AP_PLAN_DIRECT : AP_PLAN_SCHEDULE;
                each.page_path = m == 0 ? a->page_direct : a->page_schedule;
                _cleanup_free_ char *part = NULL;
                if (ap_render_script(backend,
                                     m == 0 ? backend->direct_script : backend->schedule_script,
                                     &each, &part, err) < 0)
                        return -1;
                char *joined = NULL;
                if (asprintf(&joined, "%s\n%s", a->script, part) < 0)
                        return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
                free(a->script);
                a->script = joined;
        }
        return 0;
}

/* The script, written next to the session; the debugger's argv and
 * environment. */
static int compose(attempt *a, ap_error *err) {
        ap_run_ctx *c = a->c;
        const ap_backend *backend = c->backend;
        /* Only values attachpy generated go into the script. */
        if (ap_render_script(backend, backend->attach_script, a->plan, &a->script, err) < 0)
                return -1;
        if (!backend->plan_after_stop && append_plans(a, err) < 0)
                return -1;
        char name[64];
        snprintf(name, sizeof name, "%d-%s", a->n, backend->attach_script);
        if (ap_session_write_script(&c->session, name, a->script, strlen(a->script),
                                    &a->script_path, err) < 0)
                return -1;
        if (backend->warms_up) {
                /* Without it the debugger warms up on the target: slower
                 * for the target, not wrong. */
                ap_error e = AP_ERROR_INIT;
                if (ap_spawn_idle(&a->warm_up, &e) < 0)
                        ap_log_line(c->log, "no process for %s to warm up on: %s", backend->name,
                                    e.message);
                ap_error_clear(&e);
        }
        a->argv = a->script_path ? backend->argv(c->program, a->script_path, a->warm_up.pid) : NULL;
        a->envp = ap_debugger_environ();
        if (!a->script_path || !a->argv || !a->envp)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
        return 0;
}

/* --verbose: the session, the debugger's command and script. */
static void show_command(const attempt *a) {
        const ap_run_ctx *c = a->c;
        if (!ap_log_enabled(c->log))
                return;
        ap_log_line(c->log, "session %s (%s in the target), agent %s", c->session.dir,
                    c->session.target_dir, c->session.agent);
        ap_log_printf(c->log, "attachpy: debugger command:");
        for (char **arg = a->argv; *arg; arg++)
                ap_log_printf(c->log, " %s", *arg);
        ap_log_printf(c->log, "\nattachpy: ---- %s script ----\n%s", c->backend->name, a->script);
        ap_log_printf(c->log, "attachpy: ---- %s transcript ----\n", c->backend->name);
}

/* --verbose: how the debugger ended, and what the relay did. */
static void show_end(const attempt *a, double ms, int cured, const char *cure_done) {
        const ap_run_ctx *c = a->c;
        const char *name = c->backend->name;
        if (a->end.let_go)
                ap_log_printf(c->log,
                              "attachpy: ---- end of transcript (%s detached; ended without "
                              "waiting for it to quit, %.1f ms) ----\n",
                              name, ms);
        else
                ap_log_printf(c->log, "attachpy: ---- end of transcript (%s %s %d, %.1f ms) ----\n",
                              name, a->end.exited ? "exit status" : "killed by signal",
                              a->end.exited ? a->end.exit_code : a->end.term_signal, ms);
        if (cured != 0 || cure_done[0])
                ap_log_line(c->log, "%s",
                            cured < 0 && !cure_done[0] ? "the relay to lldb-server did not finish"
                                                       : cure_done);
}

/* Run the debugger to its end, then cure the target of it. */
static int run_and_cure(attempt *a, ap_error *err) {
        ap_run_ctx *c = a->c;
        const ap_run_config *cfg = c->cfg;
        pid_t pid = cfg->opts->pid;
        double t = ap_now_ms();
        ap_progress_stage(cfg->progress, "attaching to %d with %s", (int)pid, c->backend->name);
        if (ap_spawn_piped(&a->child, a->argv, a->envp, cfg->child_mask, SIGINT, err) < 0)
                return -1;
        ap_cure_lldb_started(&a->cure, a->child.pid);
        a->end = (ap_debugger_end){.timeout_s = cfg->opts->timeout_s};
        ap_drive drive = {.on_stopped = on_stopped, .userdata = a};
        a->drive = &drive;
        ap_debugger_run(cfg, &a->child, &a->transcript, c->deadline, c->backend, &drive, &a->end);
        a->drive = NULL;
        char cure_done[512] = "";
        int cured = 0;
        if (a->cure.relay)
                cured = ap_cure_finish(&a->cure, ap_now_ms() + AP_CURE_WAIT_MS, cure_done,
                                       sizeof cure_done);
        double ms = ap_now_ms() - t;
        c->report->ms_debugger += ms;
        show_end(a, ms, cured, cure_done);
        ensure_target_running(c->log, pid);
        if (a->log_path)
                read_leftovers(c, a->log_path);
        if (!a->end.exited || ap_transcript_stage(a->transcript.data) < AP_STAGE_DETACHED) {
                /* The debugger did not let go by itself: it may have left
                 * breakpoints in the process. */
                int scrubbed = ap_scrub_breakpoints(pid);
                if (scrubbed > 0)
                        ap_log_line(c->log, "removed %d breakpoint%s %s left in process %d",
                                    scrubbed, scrubbed == 1 ? "" : "s", c->backend->name, (int)pid);
        }
        return 0;
}

/* A call the debugger queued, or may have queued, and did not finish:
 * withdraw one it may have queued without saying so, arm one it queued
 * and did not arm. */
static void settle_queued_call(attempt *a, int started, const ap_transcript_outcome *outcome) {
        pid_t pid = a->c->cfg->opts->pid;
        if (started < 0 && outcome->mapped && !outcome->scheduled &&
            a->plan->mode == AP_PLAN_SCHEDULE &&
            ap_transcript_stage(a->transcript.data) < AP_STAGE_DETACHED) {
                /* The debugger died after mapping the page: it may have
                 * queued the call without saying so.  Withdraw it: if it
                 * was queued, it unmaps its page when it runs. */
                ap_pending p = AP_PENDING_INIT;
                ap_error e = AP_ERROR_INIT;
                if (ap_pending_open(&p, pid, outcome->mapped, &e) == 0)
                        (void)ap_pending_cancel(&p);
                ap_pending_close(&p);
                ap_error_clear(&e);
        }
        if (started == 0 && outcome->scheduled && !outcome->armed) {
                /* The debugger queued the call and died before arming it:
                 * arm it now that its breakpoints are gone. */
                ap_pending p = AP_PENDING_INIT;
                ap_error e = AP_ERROR_INIT;
                if (ap_pending_open(&p, pid, outcome->page, &e) == 0 && ap_pending_arm(&p) == 1)
                        ap_log_line(a->c->log, "armed the call %s queued before it died",
                                    a->c->backend->name);
                ap_pending_close(&p);
                ap_error_clear(&e);
        }
}

/* How long a direct call gets to end once its debugger is gone (a dlopen
 * takes about a millisecond; the slow-call fault sleeps 2 s). */
#define DIRECT_CALL_GRACE_MS 3000.0

/* gdb killed while its direct call ran: the thread ran the call on without
 * a tracer, and the trampoline, finding none when the call ended, put the
 * thread's registers back itself (cli/trampoline.S).  Wait for the call (a
 * dlopen takes about a millisecond); when the agent started, the run goes
 * on as if the debugger had let go (the code runs: reporting a failure
 * would have the user run it twice). */
static int settle_direct_call(attempt *a, int started, const ap_transcript_outcome *outcome,
                              ap_error *err) {
        pid_t pid = a->c->cfg->opts->pid;
        if (started >= 0 || a->plan->mode != AP_PLAN_DIRECT || !outcome->mapped ||
            ap_transcript_stage(a->transcript.data) >= AP_STAGE_DETACHED)
                return started;
        ap_pending p = AP_PENDING_INIT;
        ap_error e = AP_ERROR_INIT;
        int state = -1;
        if (ap_pending_open(&p, pid, outcome->mapped, &e) == 0) {
                /* Not started yet: gdb died before the call, or as it set
                 * it up (the thread then starts it at once). */
                double t0 = ap_now_ms(), end = t0 + DIRECT_CALL_GRACE_MS;
                for (;;) {
                        ap_pending_status st = ap_pending_status_read(&p, &state, NULL);
                        bool waiting = st == AP_PENDING_RUNNING ||
                                       (st == AP_PENDING_QUEUED && ap_now_ms() < t0 + 50.0);
                        if (!waiting || ap_now_ms() >= end)
                                break;
                        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
                }
        }
        ap_pending_close(&p);
        ap_error_clear(&e);
        if (state != AP_TRAMPOLINE_RESUMED)
                return started;
        ap_log_line(a->c->log,
                    "%s died during its call; the thread finished the call, found no tracer and "
                    "put its registers back itself; the agent started (its 4 KiB page stays "
                    "mapped in process %d)",
                    a->c->backend->name, (int)pid);
        ap_error_clear(err);
        return 0;
}

/* What the transcript says, and what the target does now. */
static int classify(attempt *a, ap_transcript_outcome *outcome, ap_error *err) {
        const ap_backend *backend = a->c->backend;
        pid_t pid = a->c->cfg->opts->pid;
        int started = ap_transcript_classify(a->transcript.data, backend->name, pid, &a->end,
                                             backend->patterns, outcome, err);
        started = settle_direct_call(a, started, outcome, err);
        if (started < 0 && err->code != AP_ERR_TARGET_EXITED) {
                ap_proc_state st;
                if (ap_proc_state_read(pid, &st) < 0 || st.state == 'Z' || st.state == 'X') {
                        ap_error_clear(err);
                        ap_error_set(err, AP_ERR_TARGET_EXITED,
                                     "process %d exited while %s was attached to it", (int)pid,
                                     backend->name);
                        ap_error_hint(err, "there is nothing left to run code in");
                }
        }
        settle_queued_call(a, started, outcome);
        return started;
}

static void attempt_free(attempt *a) {
        if (a->cure.relay) {
                char done[512];
                (void)ap_cure_finish(&a->cure, ap_now_ms() + AP_CURE_WAIT_MS, done, sizeof done);
        }
        a->plan->log_path = NULL;
        a->plan->page_path = NULL;
        a->plan->server_fd = 0;
        free(a->plan_script_path);
        ap_child_kill_and_reap(&a->child);
        ap_child_kill_and_reap(&a->warm_up);
        ap_buf_free(&a->transcript);
        ap_strv_free(a->argv);
        ap_strv_free(a->envp);
        free(a->script);
        free(a->script_path);
        free(a->log_path);
        free(a->page_direct);
        free(a->page_schedule);
}

int ap_attempt_run(ap_run_ctx *c, ap_injection_plan *plan, const ap_plan_choice *choice, int n,
                   ap_transcript_outcome *outcome, bool *no_fit, ap_error *err) {
        attempt a = {.c = c,
                     .plan = plan,
                     .choice = choice,
                     .n = n,
                     .child = AP_CHILD_INIT,
                     .warm_up = AP_CHILD_INIT,
                     .cure = AP_CURE_INIT};
        int started = -1;
        memset(outcome, 0, sizeof *outcome);
        if (prepare(&a, err) == 0 && compose(&a, err) == 0) {
                show_command(&a);
                if (run_and_cure(&a, err) == 0)
                        started = classify(&a, outcome, err);
        }
        *no_fit = a.no_fit;
        attempt_free(&a);
        return started;
}
