/* inject.c: the orchestration of one run. */
#include "inject.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cure.h"
#include "gil_holder.h"
#include "lldb_allocations.h"
#include "page.h"
#include "paths.h"
#include "pending.h"
#include "request.h"
#include "runtime_remote.h"
#include "scrub.h"
#include "session.h"
#include "session_reaper.h"
#include "spawn.h"
#include "target_lock.h"
#include "template.h"
#include "transcript.h"
#include "util.h"

/* How long the debugger gets to clean up after an interrupt, and how long
 * the calls into the target get to finish once they have started. */
#define GRACE_AFTER_INTERRUPT_MS 3000.0
#define GRACE_FOR_CALLS_MS 3000.0
/* How much longer lldb gets after its grace: terminated, it is cured by the
 * relay (cli/cure.h), but it ends its own session best. */
#define LLDB_PATIENCE_MS 20000.0
/* How often attachpy looks again for a waiting thread in a target without
 * a pending call to use (PyPy). */
#define NO_SAFE_POINT_POLL_MS 20.0
/* Time a debugger needs to attach and let go again: not started closer to
 * the deadline than this, so that --timeout is kept. */
#define NO_SAFE_POINT_MARGIN_MS 300.0

static void vlog(const ap_run_config *cfg, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void vlog(const ap_run_config *cfg, const char *fmt, ...) {
        if (!cfg->verbose)
                return;
        va_list ap;
        va_start(ap, fmt);
        fputs("attachpy: ", cfg->verbose);
        vfprintf(cfg->verbose, fmt, ap);
        fputc('\n', cfg->verbose);
        va_end(ap);
        fflush(cfg->verbose);
}

/* Render the backend's template file with the plan's values. */
static int render_script(const ap_backend *b, const char *file, const ap_injection_plan *plan,
                         char **ret, ap_error *err) {
        _cleanup_free_ char *path = ap_path_script(b->script_dir, file);
        _cleanup_free_ char *text = NULL;
        if (!path || ap_read_file(path, 1024 * 1024, &text, NULL) < 0)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                    "cannot read the %s script template %s: %s", b->name,
                                    path ? path : "?", strerror(errno)),
                       ap_error_hint(err,
                                     "reinstall attachpy (meson install), or set "
                                     "ATTACHPY_DATADIR to the directory holding %s/",
                                     b->script_dir),
                       -1;
        ap_script_values v = {0};
        int r = ap_script_values_common(&v, plan);
        if (r == 0)
                r = ap_script_values_pauses(&v, plan, b->pause);
        if (r == 0)
                r = b->values(&v, plan);
        if (r < 0) {
                ap_script_values_free(&v);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                    "cannot build the %s script (out of memory)", b->name);
        }
        /* The attach script and each plan's use a part of the values
         * (the renderer refuses an unused one). */
        ap_template_var used[AP_MAX_SCRIPT_VALUES];
        size_t n_used = 0;
        for (size_t i = 0; i < v.n; i++) {
                char ph[64];
                snprintf(ph, sizeof ph, "{{%s}}", v.vars[i].name);
                if (strstr(text, ph))
                        used[n_used++] = v.vars[i];
        }
        r = ap_template_render(text, used, n_used, ret, err);
        ap_script_values_free(&v);
        if (r == 0 && b->strip_comments)
                ap_template_strip_comments(*ret);
        return r;
}

/* The interactive drive: once the script says every thread is stopped
 * (@@ATTACHPY:stopped), on_stopped chooses the plan from /proc and sends its
 * command on the debugger's stdin.  The debugger answers @@ATTACHPY:fit (the
 * plan goes on: the CLI closes the debugger's stdin, and the debugger quits
 * after its last command) or @@ATTACHPY:unfit (the thread's system call had
 * completed when the debugger stopped it): on_stopped is called again, the
 * target still stopped, and chooses another plan or lets go.  The debugger
 * ready without having stopped the target (the attach failed): stdin is
 * closed at once. */
typedef struct ap_drive {
        /* unfit: how many plans were found unfit so far (0: the first). */
        void (*on_stopped)(void *userdata, ap_child *child, int unfit);
        void *userdata;
        int sent; /* plans sent */
        bool done;
} ap_drive;

static void drive_step(ap_drive *drive, ap_child *child, const ap_buf *transcript) {
        if (!drive || drive->done || child->in_fd < 0)
                return;
        const char *text = transcript->data;
        if (drive->sent == 0) {
                if (ap_transcript_has_marker(text, "stopped")) {
                        drive->sent = 1;
                        drive->on_stopped(drive->userdata, child, 0);
                } else if (ap_transcript_has_marker(text, "ready")) {
                        drive->done = true;
                        ap_child_close_stdin(child);
                }
                return;
        }
        if (ap_transcript_has_marker(text, "fit") || ap_transcript_has_marker(text, "moved") ||
            ap_transcript_has_marker(text, "detached")) {
                drive->done = true;
                ap_child_close_stdin(child);
                return;
        }
        int unfit = ap_transcript_count_marker(text, "unfit");
        if (unfit >= drive->sent) {
                drive->sent++;
                drive->on_stopped(drive->userdata, child, unfit);
        }
}

/* Run the debugger to its end, interrupting it gracefully at the deadline. */
static void run_debugger(const ap_run_config *cfg, ap_child *child, ap_buf *transcript,
                         double deadline, const ap_backend *backend, ap_drive *drive,
                         ap_debugger_end *end) {
        bool interrupted = false, calls_grace = false, lldb_patience_used = false;
        double hard_deadline = 0;
        size_t shown = 0;
        for (;;) {
                double until = interrupted ? hard_deadline : deadline;
                int r = ap_child_wait(child, transcript, interrupted ? -1 : cfg->cancel_fd, until);
                if (cfg->verbose && transcript->len > shown) {
                        fwrite(transcript->data + shown, 1, transcript->len - shown, cfg->verbose);
                        fflush(cfg->verbose);
                        shown = transcript->len;
                }
                if (!interrupted)
                        drive_step(drive, child, transcript);
                if (child->exited && child->out_fd < 0)
                        break;
                if (backend->done_at_detach && !interrupted &&
                    ap_transcript_stage(transcript->data) >= AP_STAGE_DETACHED) {
                        /* Only quitting is left to it (its last command). */
                        ap_child_kill_and_reap(child);
                        end->let_go = true;
                        break;
                }
                if (r == 1)
                        continue;
                if (r < 0) {
                        ap_child_kill_and_reap(child);
                        break;
                }
                if (!interrupted) {
                        /* The deadline passed, or attachpy was asked to stop. */
                        ap_stage stage = ap_transcript_stage(transcript->data);
                        if (r == 2)
                                end->cancelled = true;
                        else
                                end->deadline_hit = true;
                        if (stage == AP_STAGE_SAFEPOINT && r == 0 && !calls_grace) {
                                /* The agent is being loaded: interrupting dlopen
                                 * could leave the loader's lock held.  Let it
                                 * finish. */
                                vlog(cfg,
                                     "deadline passed while loading the agent; giving the "
                                     "debugger %.0f ms more",
                                     GRACE_FOR_CALLS_MS);
                                calls_grace = true;
                                deadline = ap_now_ms() + GRACE_FOR_CALLS_MS;
                                continue;
                        }
                        if (stage == AP_STAGE_NONE) {
                                /* Not attached yet (or attaching): nothing in the
                                 * target to clean up, and a debugger still starting
                                 * may swallow SIGINT.  SIGTERM makes gdb detach from
                                 * whatever it attached to and quit. */
                                vlog(cfg, "stopping the debugger (SIGTERM)");
                                ap_child_signal(child, SIGTERM);
                        } else if (stage < AP_STAGE_STARTED && backend->interrupt_target_signal) {
                                vlog(cfg, "interrupting process %d for the debugger (%s)",
                                     (int)cfg->opts->pid,
                                     strsignal(backend->interrupt_target_signal));
                                kill(cfg->opts->pid, backend->interrupt_target_signal);
                        } else if (stage < AP_STAGE_STARTED) {
                                vlog(cfg, "interrupting the debugger (SIGINT)");
                                ap_child_signal(child, SIGINT);
                        }
                        interrupted = true;
                        /* Nothing more to send: at EOF the debugger quits. */
                        if (drive)
                                drive->done = true;
                        ap_child_close_stdin(child);
                        hard_deadline = ap_now_ms() + GRACE_AFTER_INTERRUPT_MS;
                        continue;
                }
                /* It did not end after the interrupt: ask harder, then kill.
                 * lldb terminated while attached is cured by the relay
                 * (cli/cure.h), which interrupts a call that has not
                 * returned within its grace: give lldb longer. */
                ap_stage now_stage = ap_transcript_stage(transcript->data);
                if (backend->interrupt_target_signal && !lldb_patience_used &&
                    now_stage >= AP_STAGE_ATTACHED && now_stage < AP_STAGE_DETACHED) {
                        lldb_patience_used = true;
                        vlog(cfg, "%s has not detached; waiting %.0f ms more before terminating it",
                             backend->name, LLDB_PATIENCE_MS);
                        hard_deadline = ap_now_ms() + LLDB_PATIENCE_MS;
                        continue;
                }
                vlog(cfg, "the debugger did not exit; terminating it");
                ap_child_signal(child, SIGTERM);
                if (ap_child_finish(child, transcript, ap_now_ms() + 1000.0) < 0)
                        ap_child_kill_and_reap(child);
                break;
        }
        if (end->let_go) {
                end->exited = true;
                end->exit_code = 0;
        } else if (WIFEXITED(child->status)) {
                end->exited = true;
                end->exit_code = WEXITSTATUS(child->status);
        } else if (WIFSIGNALED(child->status)) {
                end->exited = false;
                end->term_signal = WTERMSIG(child->status);
        }
}

/* Cure: the target must be left running and untraced, whatever happened. */
static void ensure_target_running(const ap_run_config *cfg, pid_t pid) {
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
                vlog(cfg, "process %d was left stopped; sending SIGCONT", (int)pid);
                kill(pid, SIGCONT);
        }
}

/* The go-ahead, after the memory the debugger left for the agent to unmap
 * (UNMP: little-endian address and length pairs). */
static int send_go(int fd, const ap_range *unmap, size_t n_unmap) {
        ap_buf b = {0};
        int r = 0;
        if (n_unmap > 0) {
                unsigned char pairs[AP_MAX_LLDB_ALLOCATIONS * 16];
                for (size_t i = 0; i < n_unmap; i++)
                        for (int k = 0; k < 8; k++) {
                                pairs[16 * i + k] = (unsigned char)(unmap[i].addr >> (8 * k));
                                pairs[16 * i + 8 + k] = (unsigned char)(unmap[i].len >> (8 * k));
                        }
                r = ap_record_encode(&b, "UNMP", pairs, 16 * n_unmap);
        }
        if (r == 0)
                r = ap_record_encode(&b, "GO  ", NULL, 0);
        if (r == 0) {
                ssize_t n = send(fd, b.data, b.len, MSG_NOSIGNAL);
                r = n == (ssize_t)b.len ? 0 : -1;
        }
        ap_buf_free(&b);
        return r;
}

/* One record with an empty payload to the agent ("RUN ", "CANC",
 * "INTR"); MSG_NOSIGNAL: the agent may be gone. */
static int send_word(int fd, const char tag[4]) {
        unsigned char h[8] = {(unsigned char)tag[0],
                              (unsigned char)tag[1],
                              (unsigned char)tag[2],
                              (unsigned char)tag[3],
                              0,
                              0,
                              0,
                              0};
        return send(fd, h, sizeof h, MSG_NOSIGNAL) == (ssize_t)sizeof h ? 0 : -1;
}

/* Take what the agent sent without waiting (its HELO names its thread). */
static void drain(int fd, ap_result *res) {
        char chunk[4096];
        for (int i = 0; i < 16; i++) {
                ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
                ap_error e = AP_ERROR_INIT;
                if (n <= 0 || ap_result_feed(res, chunk, (size_t)n, &e) < 0) {
                        ap_error_clear(&e);
                        return;
                }
        }
}

/* The code had not started at the deadline or at an interrupt: withdraw it
 * (the agent asks before it runs it, and runs nothing without RUN: CANC, or
 * the connection closed), and say who holds the GIL. */
static void withdraw(const ap_run_config *cfg, int fd, pid_t pid, ap_result *res, bool cancelled,
                     ap_error *err) {
        (void)send_word(fd, "CANC");
        drain(fd, res);
        char holder[1536];
        ap_gil_holder_describe(pid, (pid_t)res->agent_tid, holder, sizeof holder);
        vlog(cfg, "withdrew the code; the GIL holder: %s", holder);
        if (cancelled)
                ap_error_set(err, AP_ERR_INTERRUPTED,
                             "attachpy was interrupted before the code started in process %d: "
                             "it waited for the GIL, which %s holds; the code was withdrawn "
                             "and will not run",
                             (int)pid, holder);
        else
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the code did not start within %g s: %s holds the GIL of process "
                             "%d; the code was withdrawn and will not run",
                             cfg->opts->timeout_s, holder, (int)pid);
        ap_error_hint(err,
                      "process %d runs on as before; a longer --timeout, or --no-wait to let "
                      "the code run whenever the GIL comes free",
                      (int)pid);
}

/* How long code that was sent KeyboardInterrupt gets to end. */
#define GRACE_AFTER_INTR_MS 2000.0

/* Read the agent's records until END, EOF or the deadline; answer the
 * agent's GIL (docs/protocol.md, "The last word").  Returns 0 at END; -1
 * with err set; -2 with err set (interrupted, or the deadline while the
 * code ran) and the output so far in res; -3 with err set when the stream
 * ended without END (the caller looks whether the target ended). */
static int collect(const ap_run_config *cfg, int fd, pid_t pid, double deadline, ap_result *res,
                   ap_error *err) {
        char chunk[65536];
        bool answered = false;     /* RUN sent: the code runs */
        bool interrupting = false; /* INTR sent */
        double until = deadline;
        for (;;) {
                if (res->ended && !interrupting)
                        return 0;
                if (res->ended)
                        break;
                double left = until - ap_now_ms();
                if (left <= 0)
                        break;
                if (res->gil && !answered) {
                        /* The agent holds the GIL and waits for the last
                         * word: the deadline has not passed. */
                        answered = true;
                        if (send_word(fd, "RUN ") < 0)
                                vlog(cfg, "the agent hung up before the answer to GIL");
                }
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                                      {.fd = cfg->cancel_fd, .events = POLLIN}};
                int r = poll(p, cfg->cancel_fd >= 0 && !interrupting ? 2 : 1,
                             left > INT_MAX ? INT_MAX : (int)ceil(left));
                if (r < 0 && errno != EINTR)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "poll: %s",
                                            strerror(errno));
                if (r <= 0)
                        continue;
                if (cfg->cancel_fd >= 0 && !interrupting && p[1].revents) {
                        if (!answered && !res->running) {
                                withdraw(cfg, fd, pid, res, true, err);
                                return -1;
                        }
                        /* The code runs: KeyboardInterrupt in its thread. */
                        vlog(cfg, "interrupting the code in process %d (KeyboardInterrupt)",
                             (int)pid);
                        (void)send_word(fd, "INTR");
                        interrupting = true;
                        until = ap_now_ms() + GRACE_AFTER_INTR_MS;
                        continue;
                }
                ssize_t n = recv(fd, chunk, sizeof chunk, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        n = 0;
                }
                if (n == 0) {
                        if (res->ended && !interrupting)
                                return 0;
                        if (interrupting)
                                break;
                        /* -3: the caller looks whether the target ended. */
                        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                     "the agent in process %d stopped before reporting a "
                                     "result (%s)",
                                     (int)pid,
                                     !res->helo      ? "it never started"
                                     : !res->running ? "before the code started: the "
                                                       "interpreter may be shutting down"
                                                     : "while the code ran: the "
                                                       "interpreter may be shutting down"),
                                ap_error_hint(err, "check that process %d is still alive",
                                              (int)pid);
                        return -3;
                }
                if (ap_result_feed(res, chunk, (size_t)n, err) < 0)
                        return -1;
        }
        if (interrupting) {
                bool by_kbi = res->ended && res->exc_type &&
                              strcmp(res->exc_type, "KeyboardInterrupt") == 0;
                if (res->ended)
                        ap_error_set(err, AP_ERR_INTERRUPTED,
                                     "attachpy was interrupted while the code ran in process %d; "
                                     "%s",
                                     (int)pid,
                                     by_kbi ? "the code was stopped with KeyboardInterrupt"
                                            : "the code ended");
                else
                        ap_error_set(err, AP_ERR_INTERRUPTED,
                                     "attachpy was interrupted while the code ran in process %d; "
                                     "it was sent KeyboardInterrupt but did not end within %.0f "
                                     "s: it may still be running",
                                     (int)pid, GRACE_AFTER_INTR_MS / 1000.0);
                ap_error_hint(err,
                              "the output the code had produced is in the result; process %d "
                              "runs on",
                              (int)pid);
                return -2;
        }
        if (answered || res->running) {
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the code did not finish within %g s and may still be running in "
                             "process %d",
                             cfg->opts->timeout_s, (int)pid);
                ap_error_hint(err, "attachpy stopped waiting; the output until then is in the "
                                   "result, what follows is lost.  Use a longer --timeout, or "
                                   "--no-wait for long-running code");
                return -2;
        }
        withdraw(cfg, fd, pid, res, false, err);
        return -1;
}

static void fill_outcome(ap_report *report, pid_t pid) {
        ap_result *res = &report->result;
        if (res->version) {
                free(report->version);
                report->version = strdup(res->version);
        }
        if (res->end && strcmp(res->end, "ok") == 0) {
                report->ok = true;
                return;
        }
        if (res->end && strcmp(res->end, "exception") == 0) {
                ap_error_set(&report->error, AP_ERR_SCRIPT_ERROR, "the code raised %s%s%s",
                             res->exc_type ? res->exc_type : "an exception",
                             res->exc_message && *res->exc_message ? ": " : "",
                             res->exc_message ? res->exc_message : "");
                ap_error_hint(&report->error,
                              "process %d is unharmed; the traceback shows where "
                              "the code failed",
                              (int)pid);
                return;
        }
        if (res->end && strcmp(res->end, "vetoed") == 0) {
                ap_error_set(&report->error, AP_ERR_INJECTION_FAILED,
                             "an audit hook in process %d vetoed the code (event "
                             "attachpy.remote_exec): %s",
                             (int)pid, res->fail ? res->fail : "no reason given");
                ap_error_hint(&report->error, "the target refuses remote code through "
                                              "sys.addaudithook(); nothing ran");
                report->have_result = false;
                return;
        }
        ap_error_set(&report->error, AP_ERR_INJECTION_FAILED,
                     "the agent could not run the code: %s",
                     res->fail ? res->fail : "unknown failure");
        ap_error_hint(&report->error, "run with --verbose and report the transcript");
}

/* How long the target gets to end once the agent's stream ended without
 * END (the kernel closes the socket before the process is gone). */
#define EXIT_PATIENCE_MS 2000.0

/* The agent's stream ended without END: if the target ended, that is the
 * answer (target_exited, how, the output the code wrote until then). */
static void target_ended(ap_exit_watch *w, ap_report *report) {
        ap_exit_status how;
        if (ap_exit_watch_ended(w, ap_now_ms() + EXIT_PATIENCE_MS, &how) != 1)
                return;
        char text[96];
        ap_exit_status_describe(&how, text, sizeof text);
        const ap_result *res = &report->result;
        report->target_ended = true;
        report->exit = how;
        report->have_result = res->running;
        if (res->version) {
                free(report->version);
                report->version = strdup(res->version);
        }
        ap_error *err = &report->error;
        if (how.how == AP_EXIT_UNKNOWN)
                ap_error_set(err, AP_ERR_TARGET_EXITED,
                             "process %d ended %s; how is unknown (attachpy is not its parent, "
                             "and could not see its exit status)",
                             (int)report->pid,
                             res->running ? "while the code ran" : "before the code started");
        else
                ap_error_set(err, AP_ERR_TARGET_EXITED, "process %d ended %s: %s", (int)report->pid,
                             res->running ? "while the code ran" : "before the code started", text);
        ap_error_hint(err, "%s",
                      res->running ? "what the code wrote before is reported (result in --json); "
                                     "os._exit(), a crash or a fatal signal ends the whole "
                                     "process"
                                   : "nothing ran; the process is gone");
}

typedef struct run_ctx {
        const ap_run_config *cfg;
        const ap_backend *backend;
        const char *program;
        ap_session *session;
        double deadline;
        ap_report *report;
        /* Memory the debugger allocated in the target and left there. */
        ap_range leftovers[AP_MAX_LLDB_ALLOCATIONS];
        size_t n_leftovers;
} run_ctx;

/* The allocations the debugger logged at path, added to c->leftovers. */
static void read_leftovers(run_ctx *c, const char *path) {
        _cleanup_free_ char *log = NULL;
        if (ap_read_file(path, 64 * 1024 * 1024, &log, NULL) < 0)
                return;
        c->n_leftovers += ap_lldb_allocations_parse(log, c->leftovers + c->n_leftovers,
                                                    AP_MAX_LLDB_ALLOCATIONS - c->n_leftovers);
}

/* How the plan is chosen once the target is stopped (ap_plan_choose_stopped). */
typedef struct plan_choice {
        ap_plan_want want;
        bool have_waiter; /* the thread a withdrawn scheduled call chose */
        ap_parked_thread waiter;
        ap_parked_kind waiter_kind;
} plan_choice;

/* What on_stopped needs and tells. */
typedef struct stop_ctx {
        run_ctx *c;
        ap_injection_plan *plan;
        const plan_choice *choice;
        int n;
        char *plan_script_path; /* plan_after_stop backends: the rendered plan */
        bool no_fit;            /* no plan fitted the stopped target */
} stop_ctx;

/* The target is stopped: read /proc now, choose, send the plan's commands.
 * unfit > 0: the plans sent so far found their thread's system call
 * completed (it returns to user space when the target runs again): schedule
 * instead, in another thread in a system call, then from the main thread
 * (whose guard always holds). */
static void on_stopped(void *userdata, ap_child *child, int unfit) {
        stop_ctx *s = userdata;
        const ap_run_config *cfg = s->c->cfg;
        const ap_backend *b = s->c->backend;
        ap_injection_plan *plan = s->plan;
        const plan_choice *ch = s->choice;
        int chosen;
        if (unfit == 0) {
                chosen = ap_plan_choose_stopped(
                        plan, ch->want, ch->have_waiter ? &ch->waiter : NULL, ch->waiter_kind);
        } else if (plan->faults.moved && plan->attempt == 0) {
                /* The "moved" fault: the whole attempt fails (cli/fault.h). */
                chosen = 0;
        } else {
                pid_t unfit_tid = plan->have_thread ? plan->thread.tid : 0;
                vlog(cfg, "while stopped: thread %d had left its system call; choosing again",
                     (int)unfit_tid);
                s->c->report->retries++;
                if (unfit_tid == 0 || unfit > 2) {
                        chosen = 0; /* the main thread's guard failed: cannot be */
                } else {
                        plan->avoid_tid = unfit_tid;
                        chosen = ap_plan_choose(plan, AP_WANT_SCHEDULE) == 1 &&
                                 (plan->mode == AP_PLAN_DIRECT ? plan->thread.tid != unfit_tid
                                                               : true);
                        if (chosen && plan->mode == AP_PLAN_SCHEDULE &&
                            (unfit > 1 || (plan->have_thread && plan->thread.tid == unfit_tid)))
                                plan->have_thread = false; /* the main thread */
                }
        }
        if (!chosen) {
                s->no_fit = true;
                (void)ap_child_send(child, b->let_go);
                vlog(cfg, "while stopped: no thread of process %d fits; letting go",
                     (int)cfg->opts->pid);
                return;
        }
        ap_plan_set_cancel(plan);
        if (b->plan_after_stop) {
                /* Rendered now: the thread's index and registers as /proc
                 * shows them while the debugger holds the process. */
                _cleanup_free_ char *script = NULL;
                ap_error e = AP_ERROR_INIT;
                const char *file =
                        plan->mode == AP_PLAN_DIRECT ? b->direct_script : b->schedule_script;
                char name[64];
                snprintf(name, sizeof name, "%d-%d-%s", s->n, unfit + 1, file);
                free(s->plan_script_path);
                s->plan_script_path = NULL;
                if (render_script(b, file, plan, &script, &e) < 0 ||
                    ap_session_write_script(s->c->session, name, script, strlen(script),
                                            &s->plan_script_path, &e) < 0) {
                        vlog(cfg, "cannot render the %s plan: %s", b->name, e.message);
                        ap_error_clear(&e);
                        s->no_fit = true;
                        (void)ap_child_send(child, b->let_go);
                        return;
                }
                if (cfg->verbose)
                        fprintf(cfg->verbose, "attachpy: ---- %s plan script ----\n%s", b->name,
                                script);
        }
        _cleanup_free_ char *text = b->go(plan, s->plan_script_path);
        if (!text || ap_child_send(child, text) < 0) {
                s->no_fit = true;
                (void)ap_child_send(child, b->let_go);
                return;
        }
        vlog(cfg, "while stopped: %s %s%s %d; sent %s",
             plan->mode == AP_PLAN_DIRECT ? "calling in" : "scheduling",
             plan->mode == AP_PLAN_DIRECT ? plan->safepoint : "a pending call",
             plan->have_thread ? " thread" : " from the main thread, thread",
             plan->have_thread ? (int)plan->thread.tid : (int)cfg->opts->pid, text);
}

/* The page for a plan mode, as a file next to the script. */
static int write_page(run_ctx *c, ap_injection_plan *plan, ap_plan_mode mode, int n,
                      char **ret_path, ap_error *err) {
        ap_plan_mode saved = plan->mode;
        plan->mode = mode;
        ap_plan_set_cancel(plan);
        plan->mode = saved;
        char page_name[32];
        snprintf(page_name, sizeof page_name, "%d-%s-%s.page", n, c->backend->name,
                 mode == AP_PLAN_DIRECT ? "direct" : "schedule");
        return ap_session_write_script(c->session, page_name, plan->page, AP_PAGE_SIZE, ret_path,
                                       err);
}

/* Render, run and classify one debugger session (the n-th of this run):
 * attach, choose while the target is stopped (choice), inject, detach.
 * Returns 0 when the agent was started or its start queued, else -1 with
 * err set (*no_fit: no plan fitted the stopped target). */
static int debug_once(run_ctx *c, ap_injection_plan *plan, const plan_choice *choice, int n,
                      ap_transcript_outcome *outcome, bool *no_fit, ap_error *err) {
        const ap_run_config *cfg = c->cfg;
        const ap_backend *backend = c->backend;
        pid_t pid = cfg->opts->pid;
        char *script = NULL, *script_path = NULL;
        char **argv = NULL, **envp = NULL;
        ap_child child = AP_CHILD_INIT, warm_up = AP_CHILD_INIT;
        ap_cure cure = AP_CURE_INIT;
        ap_buf transcript = {0};
        int started = -1;
        memset(outcome, 0, sizeof *outcome);
        *no_fit = false;
        stop_ctx stop = {.c = c, .plan = plan, .choice = choice, .n = n};

        _cleanup_free_ char *log_path = NULL;
        _cleanup_free_ char *page_direct = NULL, *page_schedule = NULL;
        if (backend->logs_allocations) {
                /* Written by the debugger: next to its script, where only
                 * attachpy can write. */
                char log_name[32];
                snprintf(log_name, sizeof log_name, "%d-%s.log", n, backend->name);
                if (ap_session_write_script(c->session, log_name, "", 0, &log_path, err) < 0)
                        goto out;
                plan->log_path = log_path;
        }
        if (plan->faults.hang_call) {
                plan->page[AP_PAGE_OFFSET_HANG] = 0xeb; /* jmp . */
                plan->page[AP_PAGE_OFFSET_HANG + 1] = 0xfe;
        }
        if (backend->relays_server) {
                /* lldb-server behind attachpy's relay: the target survives
                 * lldb's death (cli/cure.h). */
                _cleanup_free_ char *server = ap_cure_server_path(c->program);
                if (!server) {
                        ap_error_set(err, AP_ERR_DEBUGGER_NOT_FOUND,
                                     "lldb-server is not installed next to %s", c->program);
                        ap_error_hint(err, "install lldb's server (Debian: package lldb), or "
                                           "set LLDB_DEBUGSERVER_PATH");
                        goto out;
                }
                if (ap_cure_start(&cure, pid, server, err) < 0)
                        goto out;
                plan->server_fd = cure.lldb_fd;
        }
        /* Only values attachpy generated go into the script. */
        if (render_script(backend, backend->attach_script, plan, &script, err) < 0)
                goto out;
        if (!backend->plan_after_stop) {
                /* Both plans' commands, defined before the attach, each
                 * with its page file (a queued call's starts unarmed). */
                if (write_page(c, plan, AP_PLAN_DIRECT, n, &page_direct, err) < 0 ||
                    write_page(c, plan, AP_PLAN_SCHEDULE, n, &page_schedule, err) < 0)
                        goto out;
                ap_injection_plan each = *plan;
                for (int m = 0; m < 2; m++) {
                        each.mode = m == 0 ? AP_PLAN_DIRECT : AP_PLAN_SCHEDULE;
                        each.page_path = m == 0 ? page_direct : page_schedule;
                        _cleanup_free_ char *part = NULL;
                        if (render_script(backend,
                                          m == 0 ? backend->direct_script
                                                 : backend->schedule_script,
                                          &each, &part, err) < 0)
                                goto out;
                        char *joined = NULL;
                        if (asprintf(&joined, "%s\n%s", script, part) < 0) {
                                ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
                                goto out;
                        }
                        free(script);
                        script = joined;
                }
        }
        char name[64];
        snprintf(name, sizeof name, "%d-%s", n, backend->attach_script);
        if (ap_session_write_script(c->session, name, script, strlen(script), &script_path, err) <
            0)
                goto out;
        if (backend->warms_up) {
                /* Without it the debugger warms up on the target: slower
                 * for the target, not wrong. */
                ap_error e = AP_ERROR_INIT;
                if (ap_spawn_idle(&warm_up, &e) < 0)
                        vlog(cfg, "no process for %s to warm up on: %s", backend->name, e.message);
                ap_error_clear(&e);
        }
        argv = script_path ? backend->argv(c->program, script_path, warm_up.pid) : NULL;
        envp = ap_debugger_environ();
        if (!script_path || !argv || !envp) {
                ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
                goto out;
        }
        if (cfg->verbose) {
                vlog(cfg, "session %s (%s in the target), agent %s", c->session->dir,
                     c->session->target_dir, c->session->agent);
                fputs("attachpy: debugger command:", cfg->verbose);
                for (char **a = argv; *a; a++)
                        fprintf(cfg->verbose, " %s", *a);
                fprintf(cfg->verbose, "\nattachpy: ---- %s script ----\n%s", backend->name, script);
                fprintf(cfg->verbose, "attachpy: ---- %s transcript ----\n", backend->name);
                fflush(cfg->verbose);
        }

        double t = ap_now_ms();
        ap_progress_stage(cfg->progress, "attaching to %d with %s", (int)pid, backend->name);
        if (ap_spawn_piped(&child, argv, envp, cfg->child_mask, SIGINT, err) < 0)
                goto out;
        ap_cure_lldb_started(&cure, child.pid);
        ap_debugger_end end = {.timeout_s = cfg->opts->timeout_s};
        ap_drive drive = {.on_stopped = on_stopped, .userdata = &stop};
        run_debugger(cfg, &child, &transcript, c->deadline, backend, &drive, &end);
        *no_fit = stop.no_fit;
        char cure_done[512] = "";
        int cured = 0;
        if (cure.relay)
                cured = ap_cure_finish(&cure, ap_now_ms() + AP_CURE_WAIT_MS, cure_done,
                                       sizeof cure_done);
        double ms = ap_now_ms() - t;
        c->report->ms_debugger += ms;
        if (cfg->verbose) {
                if (end.let_go)
                        fprintf(cfg->verbose,
                                "attachpy: ---- end of transcript (%s detached; ended without "
                                "waiting for it to quit, %.1f ms) ----\n",
                                backend->name, ms);
                else
                        fprintf(cfg->verbose,
                                "attachpy: ---- end of transcript (%s %s %d, %.1f ms) ----\n",
                                backend->name, end.exited ? "exit status" : "killed by signal",
                                end.exited ? end.exit_code : end.term_signal, ms);
        }

        if (cured != 0 || cure_done[0])
                vlog(cfg, "%s",
                     cured < 0 && !cure_done[0] ? "the relay to lldb-server did not finish"
                                                : cure_done);
        ensure_target_running(cfg, pid);
        if (log_path)
                read_leftovers(c, log_path);
        if (!end.exited || ap_transcript_stage(transcript.data) < AP_STAGE_DETACHED) {
                /* The debugger did not let go by itself: it may have left
                 * breakpoints in the process. */
                int scrubbed = ap_scrub_breakpoints(pid);
                if (scrubbed > 0)
                        vlog(cfg, "removed %d breakpoint%s %s left in process %d", scrubbed,
                             scrubbed == 1 ? "" : "s", backend->name, (int)pid);
        }
        started = ap_transcript_classify(transcript.data, backend->name, pid, &end,
                                         backend->patterns, outcome, err);
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
        if (started < 0 && outcome->mapped && !outcome->scheduled &&
            plan->mode == AP_PLAN_SCHEDULE &&
            ap_transcript_stage(transcript.data) < AP_STAGE_DETACHED) {
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
                        vlog(cfg, "armed the call %s queued before it died", backend->name);
                ap_pending_close(&p);
                ap_error_clear(&e);
        }
out:
        if (cure.relay) {
                char done[512];
                (void)ap_cure_finish(&cure, ap_now_ms() + AP_CURE_WAIT_MS, done, sizeof done);
        }
        plan->log_path = NULL;
        plan->page_path = NULL;
        plan->server_fd = 0;
        free(stop.plan_script_path);
        ap_child_kill_and_reap(&child);
        ap_child_kill_and_reap(&warm_up);
        ap_buf_free(&transcript);
        ap_strv_free(argv);
        ap_strv_free(envp);
        free(script);
        free(script_path);
        return started;
}

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
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "the agent loaded into process %d has no entry point "
                             "attachpy_agent_start_v1",
                             (int)pid);
                ap_error_hint(err, "an older agent of another attachpy version is loaded in the "
                                   "target; restart the target or use the matching attachpy");
        } else {
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "%s (code %d)",
                             ap_agent_start_error((int)detail), (int)detail);
                ap_error_hint(err,
                              "run with --verbose and report it (a 4 KiB scratch page stays "
                              "mapped in process %d)",
                              (int)pid);
        }
}

#define SCHEDULE_POLL_MS 5.0

/* The trampoline waits in the target's pending-call queue: wait for the
 * agent to connect.  Returns the connection; -2 when the call was
 * withdrawn so that a waiting thread can be used instead (only with a
 * fallback plan, which then holds that thread); else -1 with err set, the
 * call withdrawn when it had not started. */
static int await_scheduled(run_ctx *c, uint64_t page, ap_injection_plan *fallback, ap_error *err) {
        bool may_fall_back = fallback != NULL;
        const ap_run_config *cfg = c->cfg;
        pid_t pid = cfg->opts->pid;
        ap_pending pend = AP_PENDING_INIT;
        int conn = -1;
        if (ap_pending_open(&pend, pid, page, err) < 0)
                return -1;
        ap_progress_stage(cfg->progress, "waiting for a safe point in %d", (int)pid);
        double since = ap_now_ms(), looked = since;
        ap_parked_thread waiter;
        bool have_waiter = ap_find_parked_thread(pid, AP_PARKED_FUTEX, &waiter) == 1;
        for (;;) {
                double now = ap_now_ms();
                if (now >= c->deadline)
                        break;
                double until =
                        now + SCHEDULE_POLL_MS < c->deadline ? now + SCHEDULE_POLL_MS : c->deadline;
                conn = ap_session_accept(c->session, pid, cfg->cancel_fd, until, err);
                if (conn >= 0)
                        goto out;
                if (conn == -1) {
                        int withdrawn = ap_pending_cancel(&pend);
                        if (withdrawn == 1 && err->code == AP_ERR_INTERRUPTED) {
                                char holder[1536];
                                ap_gil_holder_describe(pid, 0, holder, sizeof holder);
                                ap_error_set(err, AP_ERR_INTERRUPTED,
                                             "attachpy was interrupted before the queued call ran "
                                             "in process %d: its main thread ran no Python code "
                                             "(%s); the call was withdrawn and will not run",
                                             (int)pid, holder);
                                ap_error_hint(
                                        err,
                                        "the queued call was withdrawn; process %d runs on as "
                                        "before",
                                        (int)pid);
                        } else if (withdrawn == 1)
                                ap_error_hint(err, "the queued call was withdrawn: the code will "
                                                   "not run");
                        goto out;
                }
                int state = 0;
                int64_t detail = 0;
                ap_pending_status st = ap_pending_status_read(&pend, &state, &detail);
                if (st == AP_PENDING_LOST) {
                        conn = -1;
                        ap_error_set(err, AP_ERR_TARGET_EXITED,
                                     "process %d exited before the agent reported back", (int)pid);
                        ap_error_hint(err, "there is nothing left to run code in");
                        goto out;
                }
                if (st == AP_PENDING_FAILED) {
                        conn = -1;
                        trampoline_failed(&pend, state, detail, err);
                        goto out;
                }
                if (st == AP_PENDING_QUEUED && may_fall_back &&
                    ap_now_ms() - looked >= AP_SCHEDULE_PATIENCE_MS) {
                        /* The main thread ran no bytecode for a while.  A
                         * thread parked in a blocking call, or one that has
                         * waited in the same futex wait since we last looked,
                         * holds no lock of the C library: withdraw the call
                         * and call in that thread instead. */
                        looked = ap_now_ms();
                        bool use = false;
                        if (ap_plan_choose(fallback, AP_WANT_WAITER) == 1) {
                                const ap_parked_thread *t = &fallback->thread;
                                use = fallback->kind == AP_PARKED_WAITS ||
                                      (have_waiter && t->tid == waiter.tid && t->sp == waiter.sp &&
                                       t->pc == waiter.pc);
                                if (fallback->kind == AP_PARKED_FUTEX) {
                                        waiter = *t;
                                        have_waiter = true;
                                }
                        }
                        if (use && ap_pending_cancel(&pend) == 1) {
                                vlog(cfg,
                                     "the pending call did not run within %.0f ms; withdrew "
                                     "it to call in a waiting thread",
                                     ap_now_ms() - since);
                                conn = -2;
                                goto out;
                        }
                }
        }
        /* The deadline passed. */
        if (ap_pending_cancel(&pend) == 1) {
                conn = -1;
                char holder[1536];
                ap_gil_holder_describe(pid, 0, holder, sizeof holder);
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "process %d did not reach a safe point within %g s: its main thread "
                             "ran no Python code (%s; it holds the GIL); the queued call was "
                             "withdrawn and will not run, nothing was injected and it runs on",
                             (int)pid, cfg->opts->timeout_s, holder);
                ap_error_hint(err, "the main thread may be in a long C call that holds the GIL; "
                                   "try again with a longer --timeout");
                goto out;
        }
        /* It started just now: give the agent a moment to connect. */
        conn = ap_session_accept(c->session, pid, cfg->cancel_fd, ap_now_ms() + GRACE_FOR_CALLS_MS,
                                 err);
        if (conn == -2) {
                conn = -1;
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the agent started in process %d but did not report back within %g "
                             "s; the code did not run",
                             (int)pid, cfg->opts->timeout_s);
                ap_error_hint(err, "try again with a longer --timeout");
        }
out:
        ap_pending_close(&pend);
        return conn;
}

/* How long a request to the runtime's own remote execution may stay
 * pending before attachpy withdraws it and lets the debugger in, where the
 * debugger can (a main thread in a long C call that holds the GIL). */
#define RUNTIME_REMOTE_PATIENCE_MS 150.0

/* Whether the target's main thread may run bytecode soon: it is in no
 * system call, or in one that is no long wait (a futex: most often the GIL,
 * which the busy threads of a process hand round).  A main thread parked
 * in a read, a poll or a sleep runs no bytecode until it wakes: that is the
 * debugger's (a direct call in that thread). */
static bool main_thread_may_run(pid_t pid) {
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

/* The runtime's own remote execution (cli/runtime_remote.h): no debugger, no
 * stop.  The target runs a script of the session that starts the agent; the
 * agent connects as after a debugger's call.  Returns the agent's
 * connection; -2 when the runtime cannot be asked (err says why) or the
 * request was withdrawn within patience_ms (the debugger's turn); -1 with
 * err set at the deadline (the request withdrawn). */
static int inject_through_runtime(run_ctx *c, const ap_target *t, double patience_ms,
                                  ap_error *err) {
        const ap_run_config *cfg = c->cfg;
        pid_t pid = t->pid;
        ap_buf script = {0};
        ap_runtime_remote r = AP_RUNTIME_REMOTE_INIT;
        _cleanup_free_ char *inside = NULL;
        int conn = -2;
        if (ap_runtime_remote_open(&r, t, err) < 0)
                goto out;
        if (ap_runtime_remote_script(&r, c->session->agent, c->session->target_dir, &script) < 0 ||
            asprintf(&inside, "%s/remote.py", c->session->target_dir) < 0) {
                inside = NULL;
                conn = -1;
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
                goto out;
        }
        if (ap_session_write(c->session, "remote.py", script.data, script.len, err) < 0 ||
            ap_runtime_remote_request(&r, inside, err) < 0) {
                conn = -1;
                goto out;
        }
        vlog(cfg, "asked process %d to run %s (the runtime's own remote execution)", (int)pid,
             inside);
        ap_progress_stage(cfg->progress, "waiting for %d to run Python", (int)pid);
        double until = c->deadline;
        if (patience_ms > 0 && ap_now_ms() + patience_ms < until)
                until = ap_now_ms() + patience_ms;
        conn = ap_session_accept(c->session, pid, cfg->cancel_fd, until, err);
        if (conn == -2 && until < c->deadline && ap_runtime_remote_withdraw(&r) == 1) {
                vlog(cfg, "process %d did not take the request within %.0f ms; withdrew it",
                     (int)pid, patience_ms);
                ap_error_clear(err);
                goto out; /* -2: the debugger's turn */
        }
        if (conn == -2 && until < c->deadline) /* taken meanwhile */
                conn = ap_session_accept(c->session, pid, cfg->cancel_fd, c->deadline, err);
        if (conn != -2)
                goto out;
        conn = -1;
        if (ap_runtime_remote_withdraw(&r) == 1) {
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "process %d did not take attachpy's request within %g s: none of "
                             "its threads ran Python code (the runtime's own remote "
                             "execution); the request was withdrawn, nothing was injected and "
                             "it runs on",
                             (int)pid, cfg->opts->timeout_s);
                ap_error_hint(err, "its threads may be in long C calls; try again with a longer "
                                   "--timeout");
                goto out;
        }
        /* Taken just now: give the agent a moment to connect. */
        ap_error_clear(err);
        conn = ap_session_accept(c->session, pid, cfg->cancel_fd, ap_now_ms() + GRACE_FOR_CALLS_MS,
                                 err);
        if (conn == -2) {
                conn = -1;
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "process %d took attachpy's request but its agent did not report "
                             "back within %g s; the code did not run",
                             (int)pid, cfg->opts->timeout_s);
                ap_error_hint(err, "try again with a longer --timeout");
        }
out:
        ap_runtime_remote_close(&r);
        ap_buf_free(&script);
        return conn;
}

/* PyPy with every thread running Python: wait a little before looking
 * again, if the deadline leaves time for it and for a debugger. */
static bool no_safe_point_wait(double deadline) {
        if (ap_now_ms() + NO_SAFE_POINT_POLL_MS + NO_SAFE_POINT_MARGIN_MS >= deadline)
                return false;
        struct timespec ts = {0, (long)(NO_SAFE_POINT_POLL_MS * 1e6)};
        nanosleep(&ts, NULL);
        return true;
}

static void no_safe_point(ap_error *err, const ap_target *target, double timeout_s) {
        ap_error_set(err, AP_ERR_TIMEOUT,
                     "process %d did not reach a safe point within %g s: every thread of this %s "
                     "ran Python, and only a thread that waits in a system call will do; nothing "
                     "was injected and it runs on",
                     (int)target->pid, timeout_s, ap_impl_name(target->impl));
        ap_error_hint(err, "try again when the program waits (for I/O, a lock, a sleep), or with "
                           "a longer --timeout");
}

void ap_run(const ap_run_config *cfg, ap_report *report) {
        const ap_options *o = cfg->opts;
        memset(report, 0, sizeof *report);
        report->pid = o->pid;
        double t0 = ap_now_ms();
        double deadline = t0 + o->timeout_s * 1000.0;
        ap_error *err = &report->error;

        ap_target target;
        memset(&target, 0, sizeof target);
        ap_session session = AP_SESSION_INIT;
        ap_buf request = {0};
        char *program = NULL, *agent = NULL;
        int conn = -1, lock = -1;
        ap_exit_watch exit_watch = AP_EXIT_WATCH_INIT;
        /* Declared before the first goto out: its cleanup runs at the end of
         * the function, also when a goto jumped over a later declaration. */
        _cleanup_free_ char *owner_path = NULL;

        /* 0. One attachpy at a time per target. */
        lock = ap_target_lock(o->pid, deadline, cfg->cancel_fd, err);
        if (lock == -1)
                goto out;

        /* 1. Preflight: /proc and ELF only. */
        if (ap_target_inspect(&target, o->pid, err) < 0) {
                if (target.exe) {
                        report->have_target = target.python_path != NULL && target.version;
                        report->impl = target.impl;
                        report->version = target.version ? strdup(target.version) : NULL;
                        report->executable = strdup(target.exe);
                }
                report->ms_preflight = ap_now_ms() - t0;
                goto out;
        }
        report->have_target = true;
        report->impl = target.impl;
        report->version = target.version ? strdup(target.version) : NULL;
        report->executable = strdup(target.exe);
        report->ms_preflight = ap_now_ms() - t0;
        vlog(cfg, "process %d: %s %s (%s), C API in %s, C library %s", (int)o->pid,
             ap_impl_name(target.impl), target.version, target.exe, target.python_path,
             target.libc_path);

        const ap_backend *backend = NULL;
        if (ap_backend_select(o->debugger, &backend, &program, err) < 0)
                goto out;
        report->debugger = backend->name;

        agent = ap_path_agent();
        if (!agent || access(agent, R_OK) < 0) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "the attachpy agent is missing (%s)",
                             agent ? agent : "?");
                ap_error_hint(err, "reinstall attachpy (meson install), or set ATTACHPY_AGENT to "
                                   "the path of attachpy-agent.so");
                goto out;
        }

        /* 2. Stage the session (after removing those of runs that died). */
        int reaped = ap_session_reap_stale("/tmp");
        if (reaped > 0)
                vlog(cfg, "removed %d session director%s left by attachpy runs that were killed",
                     reaped, reaped == 1 ? "y" : "ies");
        if (ap_session_create(&session, &target, err) < 0 ||
            ap_session_stage_agent(&session, &target, agent, err) < 0)
                goto out;
        char owner[64];
        if (ap_session_owner_text(owner, sizeof owner) < 0 ||
            ap_session_write(&session, "owner", owner, strlen(owner), err) < 0 ||
            (session.private_.fd >= 0 &&
             ap_session_write_script(&session, "owner", owner, strlen(owner), &owner_path, err) <
                     0))
                goto out;
        ap_request req = {.filename = cfg->filename,
                          .code = cfg->code,
                          .code_len = cfg->code_len,
                          .wait = !o->no_wait,
                          .args = o->args,
                          .n_args = o->n_args};
        if (ap_request_encode(&req, &request) < 0) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
                goto out;
        }
        if (ap_session_write(&session, "request", request.data, request.len, err) < 0 ||
            ap_session_listen(&session, err) < 0)
                goto out;

        /* 3-4. Render and run the debugger script; follow a queued call. */
        run_ctx ctx = {.cfg = cfg,
                       .backend = backend,
                       .program = program,
                       .session = &session,
                       .deadline = deadline,
                       .report = report};
        /* CPython 3.14+ whose main thread may run bytecode soon: the
         * runtime's own remote execution, no debugger and no stop; the
         * debugger when it does not take the request at once (a long C
         * call, a lock), and for a main thread parked in a read or a sleep
         * (it runs no bytecode until it wakes). */
        if (target.impl == AP_IMPL_CPYTHON && ap_runtime_remote_available(&target) &&
            o->debugger == AP_DEBUGGER_AUTO && main_thread_may_run(o->pid)) {
                conn = inject_through_runtime(&ctx, &target, RUNTIME_REMOTE_PATIENCE_MS, err);
                if (conn == -1)
                        goto out;
                if (conn >= 0) {
                        report->debugger = NULL;
                        report->mechanism = "remote_exec";
                        snprintf(report->safepoint, sizeof report->safepoint, "remote");
                }
                if (conn == -2) {
                        vlog(cfg, "the runtime's remote execution: %s; using %s",
                             err->message ? err->message : "withdrawn", backend->name);
                        ap_error_clear(err);
                        conn = -1;
                }
        }
        ap_faults faults = ap_faults_parse(getenv("ATTACHPY_FAULT"));
        ap_injection_plan plan;
        ap_plan_want want = faults.schedule ? AP_WANT_SCHEDULE : AP_WANT_ANY;
        ap_injection_plan fallback; /* the thread await_scheduled fell back to */
        bool fallback_used = false, have_fallback = false;
        int retries = 0;
        pid_t moved_tid = 0; /* the thread that was not where attachpy saw it */
        for (int n = 1; conn < 0; n++) {
                if (ap_injection_plan_init(&plan, &target, session.agent, session.target_dir, err) <
                    0)
                        goto out;
                plan.avoid_tid = moved_tid;
                /* A first look, before attaching: only whether there is
                 * anything to attach for (PyPy: a thread that waits).  The
                 * plan is chosen again once the debugger holds the target
                 * stopped (on_stopped). */
                plan_choice choice = {.want = want};
                bool no_fit = false;
                if (have_fallback) {
                        /* The waiting thread await_scheduled chose. */
                        ap_plan_use_thread(&plan, &fallback.thread, fallback.kind);
                        choice.have_waiter = true;
                        choice.waiter = fallback.thread;
                        choice.waiter_kind = fallback.kind;
                        have_fallback = false;
                } else if (!ap_plan_choose(&plan, want) &&
                           !ap_plan_choose(&plan, AP_WANT_SCHEDULE)) {
                        no_fit = true;
                }
                if (no_fit) {
                        ap_proc_state st;
                        bool alive = ap_proc_state_read(o->pid, &st) == 0 && st.state != 'Z';
                        if (!target.addr_add_pending_call && alive &&
                            ap_runtime_remote_available(&target) &&
                            o->debugger == AP_DEBUGGER_AUTO) {
                                /* PyPy 8, every thread running: its own
                                 * remote execution needs no thread that
                                 * waits. */
                                conn = inject_through_runtime(&ctx, &target, 0, err);
                                if (conn == -2)
                                        conn = -1;
                                if (conn < 0)
                                        goto out;
                                report->debugger = NULL;
                                report->mechanism = "remote_exec";
                                snprintf(report->safepoint, sizeof report->safepoint, "remote");
                                break;
                        }
                        if (!target.addr_add_pending_call && alive) {
                                /* PyPy, every thread running: no safe point
                                 * yet (docs/pypy.md).  Look again. */
                                if (no_safe_point_wait(deadline)) {
                                        n--;
                                        continue;
                                }
                                no_safe_point(err, &target, o->timeout_s);
                                goto out;
                        }
                        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                     "cannot read the threads of process %d", (int)o->pid);
                        ap_error_hint(err, "check that process %d is still alive", (int)o->pid);
                        goto out;
                }
                ap_plan_set_cancel(&plan);
                plan.attempt = n - 1;
                plan.faults = faults;
                ap_transcript_outcome outcome;
                int started = debug_once(&ctx, &plan, &choice, n, &outcome, &no_fit, err);
                if (started < 0 && no_fit && !target.addr_add_pending_call) {
                        /* PyPy: the thread that waited before the attach ran
                         * Python again when the debugger stopped it. */
                        ap_error_clear(err);
                        report->retries++;
                        /* The next attempt has a number of its own: this
                         * one's files are in the session. */
                        if (no_safe_point_wait(deadline))
                                continue;
                        no_safe_point(err, &target, o->timeout_s);
                        goto out;
                }
                if (started < 0) {
                        /* The chosen thread was not where /proc showed it
                         * while the target was stopped (a system call that
                         * had completed when the debugger stopped it): look
                         * again, twice at most, with time left.  First for a
                         * thread that waits, the main thread first, then
                         * schedule; the thread that moved is chosen only
                         * when no other one fits. */
                        if (outcome.moved && retries < 2 && ap_now_ms() + 1000.0 < deadline) {
                                vlog(cfg,
                                     "process %d was not where attachpy saw it; trying "
                                     "again",
                                     (int)o->pid);
                                want = retries == 0 ? AP_WANT_WAITER : AP_WANT_SCHEDULE;
                                if (plan.have_thread)
                                        moved_tid = plan.thread.tid;
                                retries++;
                                report->retries++;
                                ap_error_clear(err);
                                continue;
                        }
                        goto out;
                }
                if (!outcome.scheduled) {
                        snprintf(report->safepoint, sizeof report->safepoint, "%s",
                                 outcome.safepoint);
                        conn = ap_session_accept(&session, o->pid, cfg->cancel_fd, deadline, err);
                        if (conn == -2) {
                                /* The deadline passed while the debugger
                                 * ran: the agent gets no go-ahead. */
                                ap_error_set(err, AP_ERR_TIMEOUT,
                                             "the code did not start within %g s: %s took %.1f s "
                                             "to start the agent in process %d; the code was "
                                             "withdrawn and will not run",
                                             o->timeout_s, backend->name,
                                             report->ms_debugger / 1000.0, (int)o->pid);
                                ap_error_hint(err, "try again with a longer --timeout");
                        }
                        if (conn < 0)
                                goto out;
                        report->mechanism = "debugger";
                        break;
                }
                fallback.target = &target;
                conn = await_scheduled(&ctx, outcome.page,
                                       fallback_used || faults.stay_queued ? NULL : &fallback, err);
                if (conn == -2) {
                        have_fallback = fallback_used = true;
                        report->retries++;
                        continue;
                }
                if (conn < 0)
                        goto out;
                snprintf(report->safepoint, sizeof report->safepoint, "pending");
                report->mechanism = "debugger";
                break;
        }

        /* 5. Run: the debugger has let go; the agent may start the code. */
        double t_run = ap_now_ms();
        ctx.n_leftovers = ap_ranges_keep_anonymous(o->pid, ctx.leftovers, ctx.n_leftovers);
        if (ctx.n_leftovers)
                vlog(cfg, "asking the agent to unmap %zu page%s %s left in process %d",
                     ctx.n_leftovers, ctx.n_leftovers == 1 ? "" : "s", backend->name, (int)o->pid);
        /* Watched from before the go-ahead: the code may end the process. */
        if (!o->no_wait)
                ap_exit_watch_open(&exit_watch, o->pid);
        if (send_go(conn, ctx.leftovers, ctx.n_leftovers) < 0) {
                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                             "the agent in process %d hung up before the go-ahead", (int)o->pid);
                ap_error_hint(err, "check that process %d is still alive", (int)o->pid);
                goto out;
        }
        if (o->no_wait) {
                report->ok = true;
                report->scheduled_only = true;
                report->ms_run = ap_now_ms() - t_run;
                goto out;
        }
        ap_progress_stage(cfg->progress, "running in %d", (int)o->pid);
        vlog(cfg, "sent the go-ahead; waiting for the result");
        int collected = collect(cfg, conn, o->pid, deadline, &report->result, err);
        if (collected == -3)
                target_ended(&exit_watch, report);
        if (collected < 0) {
                report->ms_run = ap_now_ms() - t_run;
                /* Interrupted, or the deadline while the code ran: the
                 * output so far. */
                if (collected == -2)
                        report->have_result = true;
                if (report->result.version) {
                        free(report->version);
                        report->version = strdup(report->result.version);
                }
                goto out;
        }
        report->ms_run = ap_now_ms() - t_run;
        report->have_result = true;
        fill_outcome(report, o->pid);

out:
        if (conn >= 0)
                close(conn);
        ap_exit_watch_close(&exit_watch);
        ap_session_destroy(&session);
        ap_target_free(&target);
        ap_buf_free(&request);
        free(program);
        free(agent);
        if (lock >= 0)
                close(lock);
        report->ms_total = ap_now_ms() - t0;
}

void ap_report_free(ap_report *report) {
        if (!report)
                return;
        free(report->version);
        free(report->executable);
        ap_result_free(&report->result);
        ap_error_clear(&report->error);
        json_decref(report->recipe_data);
        memset(report, 0, sizeof *report);
}
