/* inject.c: the orchestration of one run. */
#include "inject.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <time.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "paths.h"
#include "request.h"
#include "session.h"
#include "spawn.h"
#include "template.h"
#include "transcript.h"
#include "util.h"

/* How long the debugger gets to clean up after an interrupt, and how long
 * the calls into the target get to finish once they have started. */
#define GRACE_AFTER_INTERRUPT_MS 3000.0
#define GRACE_FOR_CALLS_MS 3000.0

static void vlog(const ap_run_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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

static int render_script(const ap_backend *b, const ap_target *t, const char *agent,
                         const ap_session *s, int attempt, char **ret, ap_error *err) {
        ap_injection_plan plan;
        if (ap_injection_plan_init(&plan, t, agent, s->target_dir, err) < 0)
                return -1;
        plan.attempt = attempt;
        if (b->prepare && b->prepare(&plan, err) < 0)
                return -1;
        const char *file = plan.script_file ? plan.script_file : b->script_file;
        _cleanup_free_ char *path = ap_path_script(b->script_dir, file);
        _cleanup_free_ char *text = NULL;
        if (!path || ap_read_file(path, 1024 * 1024, &text, NULL) < 0)
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                    "cannot read the %s script template %s: %s", b->name,
                                    path ? path : "?", strerror(errno)),
                       ap_error_hint(err, "reinstall attachpy (or set ATTACHPY_DATADIR)"), -1;
        ap_script_values v = {0};
        int r = ap_script_values_common(&v, &plan);
        if (r == 0)
                r = b->values(&v, &plan);
        if (r < 0) {
                ap_script_values_free(&v);
                return ap_error_set(err, AP_ERR_DEBUGGER_FAILED,
                                    "cannot build the %s script (out of memory)", b->name);
        }
        r = ap_template_render(text, v.vars, v.n, ret, err);
        ap_script_values_free(&v);
        return r;
}

/* Run the debugger to its end, interrupting it gracefully at the deadline. */
static void run_debugger(const ap_run_config *cfg, ap_child *child, ap_buf *transcript,
                         double deadline, const ap_backend *backend, ap_debugger_end *end) {
        bool interrupted = false, calls_grace = false, patience_used = !backend->patience_sigint;
        double hard_deadline = 0, waiting_since = 0;
        size_t shown = 0;
        for (;;) {
                double until = interrupted ? hard_deadline : deadline;
                /* Waiting at breakpoints: once, after a little patience,
                 * interrupt gdb so that it looks for threads parked in a
                 * futex wait (an idle target whose threads all wait on
                 * locks never reaches a breakpoint). */
                bool patience_pending = !interrupted && !patience_used && waiting_since > 0;
                if (patience_pending && waiting_since + AP_SAFEPOINT_PATIENCE_MS < until)
                        until = waiting_since + AP_SAFEPOINT_PATIENCE_MS;
                int r = ap_child_wait(child, transcript, interrupted ? -1 : cfg->cancel_fd, until);
                if (waiting_since == 0 && ap_transcript_stage(transcript->data) == AP_STAGE_WAITING)
                        waiting_since = ap_now_ms();
                if (cfg->verbose && transcript->len > shown) {
                        fwrite(transcript->data + shown, 1, transcript->len - shown, cfg->verbose);
                        fflush(cfg->verbose);
                        shown = transcript->len;
                }
                if (child->exited && child->out_fd < 0)
                        break;
                if (r == 1)
                        continue;
                if (r < 0) {
                        ap_child_kill_and_reap(child);
                        break;
                }
                if (r == 0 && patience_pending && ap_now_ms() < deadline) {
                        patience_used = true;
                        if (ap_transcript_stage(transcript->data) == AP_STAGE_WAITING) {
                                vlog(cfg, "no safe point after %.0f ms; asking the debugger to "
                                          "look for threads waiting on a lock (SIGINT)",
                                     AP_SAFEPOINT_PATIENCE_MS);
                                ap_child_signal(child, SIGINT);
                                end->sigints_sent++;
                        }
                        continue;
                }
                if (!interrupted) {
                        /* The deadline passed, or attachpy was asked to stop. */
                        ap_stage stage = ap_transcript_stage(transcript->data);
                        if (r == 2)
                                end->cancelled = true;
                        else
                                end->deadline_hit = true;
                        if (stage == AP_STAGE_SAFEPOINT && r == 0 && !calls_grace) {
                                /* Calls into the target are under way: interrupting
                                 * dlopen could leave the loader's lock held.  Let
                                 * them finish. */
                                vlog(cfg, "deadline passed while loading the agent; giving the "
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
                                end->sigints_sent++;
                        }
                        interrupted = true;
                        hard_deadline = ap_now_ms() + GRACE_AFTER_INTERRUPT_MS;
                        continue;
                }
                /* It did not end after the interrupt: ask harder, then kill. */
                vlog(cfg, "the debugger did not exit; terminating it");
                ap_child_signal(child, SIGTERM);
                if (ap_child_finish(child, transcript, ap_now_ms() + 1000.0) < 0)
                        ap_child_kill_and_reap(child);
                break;
        }
        if (WIFEXITED(child->status)) {
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

static int send_go(int fd) {
        ap_buf b = {0};
        int r = ap_record_encode(&b, "GO  ", NULL, 0);
        if (r == 0) {
                ssize_t n = send(fd, b.data, b.len, MSG_NOSIGNAL);
                r = n == (ssize_t)b.len ? 0 : -1;
        }
        ap_buf_free(&b);
        return r;
}

/* Read the agent's records until END, EOF or the deadline. */
static int collect(const ap_run_config *cfg, int fd, pid_t pid, double deadline, ap_result *res,
                   ap_error *err) {
        char chunk[65536];
        for (;;) {
                if (res->ended)
                        return 0;
                double left = deadline - ap_now_ms();
                if (left <= 0)
                        break;
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                                      {.fd = cfg->cancel_fd, .events = POLLIN}};
                int r = poll(p, cfg->cancel_fd >= 0 ? 2 : 1,
                             left > INT_MAX ? INT_MAX : (int)ceil(left));
                if (r < 0 && errno != EINTR)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "poll: %s",
                                            strerror(errno));
                if (r <= 0)
                        continue;
                if (cfg->cancel_fd >= 0 && p[1].revents) {
                        ap_error_set(err, AP_ERR_TIMEOUT,
                                     "attachpy was interrupted while the code %s in process %d",
                                     res->running ? "ran; it may still be running"
                                                  : "waited for the GIL; it will run once it gets it",
                                     (int)pid);
                        ap_error_hint(err, "its output is lost; use --no-wait for long-running "
                                           "code");
                        return -1;
                }
                ssize_t n = recv(fd, chunk, sizeof chunk, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        n = 0;
                }
                if (n == 0) {
                        if (res->ended)
                                return 0;
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                            "the agent in process %d stopped before reporting a "
                                            "result (%s)",
                                            (int)pid,
                                            !res->helo      ? "it never started"
                                            : !res->running ? "before the code started: the "
                                                              "interpreter may be shutting down"
                                                            : "while the code ran: the "
                                                              "interpreter may be shutting down"),
                               ap_error_hint(err, "check that process %d is still alive", (int)pid),
                               -1;
                }
                if (ap_result_feed(res, chunk, (size_t)n, err) < 0)
                        return -1;
        }
        if (res->running)
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the code did not finish within %g s and may still be running in "
                             "process %d",
                             cfg->opts->timeout_s, (int)pid);
        else
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the code did not start within %g s: process %d did not release "
                             "the GIL; it will run once it does",
                             cfg->opts->timeout_s, (int)pid);
        ap_error_hint(err, "attachpy stopped waiting; its output is lost.  Use a longer "
                           "--timeout, or --no-wait for long-running code");
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
                ap_error_hint(&report->error, "process %d is unharmed; the traceback shows where "
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

void ap_run(const ap_run_config *cfg, ap_report *report) {
        const ap_options *o = cfg->opts;
        memset(report, 0, sizeof *report);
        report->pid = o->pid;
        double t0 = ap_now_ms();
        double deadline = t0 + o->timeout_s * 1000.0;
        ap_error *err = &report->error;

        ap_target target;
        ap_session session = AP_SESSION_INIT;
        ap_child child = AP_CHILD_INIT;
        ap_buf transcript = {0}, request = {0};
        char *program = NULL, *agent = NULL, *script = NULL, *script_path = NULL;
        char **argv = NULL, **envp = NULL;
        int conn = -1;

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
                ap_error_hint(err, "build attachpy with meson, or reinstall it");
                goto out;
        }

        /* 2. Stage the session. */
        if (ap_session_create(&session, &target, err) < 0 ||
            ap_session_stage_agent(&session, &target, agent, err) < 0)
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

        /* 3-4, once more for a backend that decides before attaching (lldb)
         * when the target was no longer where it decided: stopped after
         * attaching, before any safe point, with time left. */
        ap_transcript_outcome outcome;
        int started = -1;
        for (int attempt = 0;; attempt++) {
                /* 3. Render the script: only values attachpy generated. */
                if (render_script(backend, &target, session.agent, &session, attempt, &script,
                                  err) < 0)
                        goto out;
                char script_name[32];
                snprintf(script_name, sizeof script_name, "%s%s", attempt ? "retry-" : "",
                         backend->script_file);
                if (ap_session_write_script(&session, script_name, script, strlen(script),
                                            &script_path, err) < 0)
                        goto out;
                argv = backend->argv(program, script_path ? script_path : "");
                envp = ap_debugger_environ();
                if (!script_path || !argv || !envp) {
                        ap_error_set(err, AP_ERR_DEBUGGER_FAILED, "out of memory");
                        goto out;
                }
                if (cfg->verbose) {
                        vlog(cfg, "session %s (%s in the target), agent %s", session.dir,
                             session.target_dir, session.agent);
                        fputs("attachpy: debugger command:", cfg->verbose);
                        for (char **a = argv; *a; a++)
                                fprintf(cfg->verbose, " %s", *a);
                        fprintf(cfg->verbose, "\nattachpy: ---- %s script ----\n%s", backend->name,
                                script);
                        fprintf(cfg->verbose, "attachpy: ---- %s transcript ----\n",
                                backend->name);
                        fflush(cfg->verbose);
                }

                /* 4. Debug: attach, reach a safe point, load and start the agent, detach. */
                double t_dbg = ap_now_ms();
                if (ap_spawn(&child, argv, envp, cfg->child_mask, SIGINT, err) < 0)
                        goto out;
                ap_debugger_end end = {.timeout_s = o->timeout_s};
                run_debugger(cfg, &child, &transcript, deadline, backend, &end);
                report->ms_debugger = ap_now_ms() - t_dbg;
                if (cfg->verbose)
                        fprintf(cfg->verbose,
                                "attachpy: ---- end of transcript (%s %s %d, %.1f ms) ----\n",
                                backend->name, end.exited ? "exit status" : "killed by signal",
                                end.exited ? end.exit_code : end.term_signal,
                                report->ms_debugger);

                ensure_target_running(cfg, o->pid);

                started = ap_transcript_classify(transcript.data, backend->name, o->pid, &end,
                                                 backend->patterns, &outcome, err);
                if (outcome.sigint_stops > end.sigints_sent) {
                        /* The target itself got a SIGINT while gdb waited, and
                         * gdb kept it from the target: hand it on. */
                        vlog(cfg, "process %d received SIGINT during the injection; passing it on",
                             (int)o->pid);
                        for (int i = end.sigints_sent; i < outcome.sigint_stops; i++)
                                kill(o->pid, SIGINT);
                        if (started < 0 && outcome.interrupted && !end.deadline_hit &&
                            !end.cancelled) {
                                ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                             "process %d received SIGINT while attachpy waited "
                                             "for a safe point; attachpy passed it on and did "
                                             "not inject",
                                             (int)o->pid);
                                ap_error_hint(err, "run attachpy again");
                        }
                }
                if (started == 0 || attempt > 0 || !backend->prepare ||
                    outcome.stage != AP_STAGE_ATTACHED || outcome.safepoint[0] ||
                    end.deadline_hit || end.cancelled || !end.exited ||
                    ap_now_ms() + 1000.0 > deadline)
                        break;
                vlog(cfg, "process %d was not where %s expected it; trying once more",
                     (int)o->pid, backend->name);
                ap_error_clear(err);
                ap_buf_free(&transcript);
                ap_strv_free(argv);
                argv = NULL;
                free(script);
                script = NULL;
                free(script_path);
                script_path = NULL;
                ap_strv_free(envp);
                envp = NULL;
                ap_child_kill_and_reap(&child);
                child = (ap_child)AP_CHILD_INIT;
        }
        snprintf(report->safepoint, sizeof report->safepoint, "%s", outcome.safepoint);
        if (started < 0)
                goto out;

        /* 5. Run: the debugger has let go; the agent may start the code. */
        double t_run = ap_now_ms();
        conn = ap_session_accept(&session, o->pid, cfg->cancel_fd, deadline, err);
        if (conn < 0)
                goto out;
        if (send_go(conn) < 0) {
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
        if (collect(cfg, conn, o->pid, deadline, &report->result, err) < 0) {
                report->ms_run = ap_now_ms() - t_run;
                goto out;
        }
        report->ms_run = ap_now_ms() - t_run;
        report->have_result = true;
        fill_outcome(report, o->pid);

out:
        if (conn >= 0)
                close(conn);
        ap_child_kill_and_reap(&child);
        ap_session_destroy(&session);
        ap_target_free(&target);
        ap_buf_free(&transcript);
        ap_buf_free(&request);
        ap_strv_free(argv);
        ap_strv_free(envp);
        free(program);
        free(agent);
        free(script);
        free(script_path);
        report->ms_total = ap_now_ms() - t0;
}

void ap_report_free(ap_report *report) {
        if (!report)
                return;
        free(report->version);
        free(report->executable);
        ap_result_free(&report->result);
        ap_error_clear(&report->error);
        memset(report, 0, sizeof *report);
}
