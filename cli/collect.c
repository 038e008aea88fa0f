/* collect.c: the go-ahead and the agent's result (collect.h). */
#include "collect.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gil_holder.h"
#include "record.h"
#include "request.h"

/* How long code that was sent KeyboardInterrupt gets to end. */
#define GRACE_AFTER_INTR_MS 2000.0
/* How long the target gets to end once the agent's stream ended without
 * END (the kernel closes the socket before the process is gone). */
#define EXIT_PATIENCE_MS 2000.0

int ap_send_go(int fd, const ap_range *unmap, size_t n_unmap) {
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
        if (r == 0)
                r = ap_record_send_bytes(fd, b.data, b.len); /* UNMP and GO together */
        ap_buf_free(&b);
        return r;
}

/* One record with an empty payload to the agent ("RUN ", "CANC",
 * "INTR"); the agent may be gone. */
static int send_word(int fd, const char tag[4]) { return ap_record_send(fd, tag, NULL, 0); }

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

/* The wait for the agent's records. */
typedef struct collect_state {
        const ap_run_config *cfg;
        int fd;
        pid_t pid;
        ap_result *res;
        bool answered;     /* RUN sent: the code runs */
        bool interrupting; /* INTR sent */
        double until;      /* the deadline, or the interrupted code's grace */
} collect_state;

/* The code had not started at the deadline or at an interrupt: withdraw it
 * (the agent asks before it runs it, and runs nothing without RUN: CANC, or
 * the connection closed), and say who holds the GIL. */
static void withdraw(const collect_state *s, bool cancelled, ap_error *err) {
        const ap_run_config *cfg = s->cfg;
        pid_t pid = s->pid;
        (void)send_word(s->fd, "CANC");
        drain(s->fd, s->res);
        char holder[1536];
        ap_gil_holder_describe(pid, (pid_t)s->res->agent_tid, holder, sizeof holder);
        ap_log_line(&cfg->log, "withdrew the code; the GIL holder: %s", holder);
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

/* attachpy was asked to stop: withdraw code that has not started (-1), or
 * send KeyboardInterrupt to code that runs (0: wait for its end). */
static int on_cancel(collect_state *s, ap_error *err) {
        if (!s->answered && !s->res->running) {
                withdraw(s, true, err);
                return -1;
        }
        /* The code runs: KeyboardInterrupt in its thread. */
        ap_log_line(&s->cfg->log, "interrupting the code in process %d (KeyboardInterrupt)",
                    (int)s->pid);
        (void)send_word(s->fd, "INTR");
        s->interrupting = true;
        s->until = ap_now_ms() + GRACE_AFTER_INTR_MS;
        return 0;
}

/* The stream ended: 0 after END, 1 when the interrupted code is done with,
 * else -3 with err set (the caller looks whether the target ended). */
static int stream_ended(const collect_state *s, ap_error *err) {
        const ap_result *res = s->res;
        if (res->ended && !s->interrupting)
                return 0;
        if (s->interrupting)
                return 1;
        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                     "the agent in process %d stopped before reporting a "
                     "result (%s)",
                     (int)s->pid,
                     !res->helo      ? "it never started"
                     : !res->running ? "before the code started: the "
                                       "interpreter may be shutting down"
                                     : "while the code ran: the "
                                       "interpreter may be shutting down"),
                ap_error_hint(err, "check that process %d is still alive", (int)s->pid);
        return -3;
}

/* The wait ended without END: the code interrupted (-2), or the deadline
 * while it ran (-2), or before it started (-1, withdrawn). */
static int gave_up(const collect_state *s, ap_error *err) {
        const ap_result *res = s->res;
        pid_t pid = s->pid;
        if (s->interrupting) {
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
        if (s->answered || res->running) {
                ap_error_set(err, AP_ERR_TIMEOUT,
                             "the code did not finish within %g s and may still be running in "
                             "process %d",
                             s->cfg->opts->timeout_s, (int)pid);
                ap_error_hint(err, "attachpy stopped waiting; the output until then is in the "
                                   "result, what follows is lost.  Use a longer --timeout, or "
                                   "--no-wait for long-running code");
                return -2;
        }
        withdraw(s, false, err);
        return -1;
}

/* Read the agent's records until END, EOF or the deadline; answer the
 * agent's GIL (docs/protocol.md, "The last word").  Returns 0 at END; -1
 * with err set; -2 with err set (interrupted, or the deadline while the
 * code ran) and the output so far in res; -3 with err set when the stream
 * ended without END (the caller looks whether the target ended). */
static int collect(collect_state *s, ap_error *err) {
        const ap_run_config *cfg = s->cfg;
        ap_result *res = s->res;
        char chunk[65536];
        for (;;) {
                if (res->ended && !s->interrupting)
                        return 0;
                double left = s->until - ap_now_ms();
                if (res->ended || left <= 0)
                        break;
                if (res->gil && !s->answered) {
                        /* The agent holds the GIL and waits for the last
                         * word: the deadline has not passed. */
                        s->answered = true;
                        if (send_word(s->fd, "RUN ") < 0)
                                ap_log_line(&cfg->log,
                                            "the agent hung up before the answer to GIL");
                }
                bool watch_cancel = cfg->cancel_fd >= 0 && !s->interrupting;
                struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
                                      {.fd = cfg->cancel_fd, .events = POLLIN}};
                int r = poll(p, watch_cancel ? 2 : 1, left > INT_MAX ? INT_MAX : (int)ceil(left));
                if (r < 0 && errno != EINTR)
                        return ap_error_set(err, AP_ERR_INJECTION_FAILED, "poll: %s",
                                            strerror(errno));
                if (r <= 0)
                        continue;
                if (watch_cancel && p[1].revents) {
                        if (on_cancel(s, err) < 0)
                                return -1;
                        continue;
                }
                ssize_t n = recv(s->fd, chunk, sizeof chunk, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        n = 0;
                }
                if (n == 0) {
                        int ended = stream_ended(s, err);
                        if (ended != 1)
                                return ended;
                        break;
                }
                if (ap_result_feed(res, chunk, (size_t)n, err) < 0)
                        return -1;
        }
        return gave_up(s, err);
}

static void fill_outcome(ap_report *report, pid_t pid) {
        ap_result *res = &report->result;
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

void ap_collect(ap_run_ctx *c) {
        const ap_run_config *cfg = c->cfg;
        ap_report *report = c->report;
        pid_t pid = cfg->opts->pid;
        ap_progress_stage(cfg->progress, "running in %d", (int)pid);
        ap_log_line(c->log, "sent the go-ahead; waiting for the result");
        collect_state s = {.cfg = cfg,
                           .fd = c->conn,
                           .pid = pid,
                           .res = &report->result,
                           .until = c->deadline};
        int collected = collect(&s, &report->error);
        if (collected == -3)
                target_ended(&c->exit_watch, report);
        report->ms_run = ap_now_ms() - c->t_run;
        if (report->result.version) {
                free(report->version);
                report->version = strdup(report->result.version);
        }
        /* Interrupted, or the deadline while the code ran: the output so
         * far. */
        report->have_result = collected == 0 || collected == -2 || report->have_result;
        if (collected == 0)
                fill_outcome(report, pid);
}
