/* debugger_run.c: one debugger process, rendered, driven and waited for
 * (debugger_run.h). */
#include "debugger_run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "paths.h"
#include "run_context.h"
#include "template.h"

/* How long the debugger gets to clean up after an interrupt. */
#define GRACE_AFTER_INTERRUPT_MS 3000.0
/* How much longer lldb gets after its grace: terminated, it is cured by the
 * relay (cli/cure.h), but it ends its own session best. */
#define LLDB_PATIENCE_MS 20000.0

/* Only the values the text uses (the renderer refuses an unused one). */
static size_t values_used(const ap_script_values *v, const char *text,
                          ap_template_var used[AP_MAX_SCRIPT_VALUES]) {
        size_t n_used = 0;
        for (size_t i = 0; i < v->n; i++) {
                char ph[64];
                snprintf(ph, sizeof ph, "{{%s}}", v->vars[i].name);
                if (strstr(text, ph))
                        used[n_used++] = v->vars[i];
        }
        return n_used;
}

int ap_render_script(const ap_backend *b, const char *file, const ap_injection_plan *plan,
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
        /* The attach script and each plan's use a part of the values. */
        ap_template_var used[AP_MAX_SCRIPT_VALUES];
        size_t n_used = values_used(&v, text, used);
        r = ap_template_render(text, used, n_used, ret, err);
        ap_script_values_free(&v);
        if (r == 0 && b->strip_comments)
                ap_template_strip_comments(*ret);
        return r;
}

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

/* The wait for one debugger, from its start to its end. */
typedef struct debugger_wait {
        const ap_run_config *cfg;
        const ap_backend *backend;
        ap_child *child;
        ap_buf *transcript;
        ap_drive *drive;
        ap_debugger_end *end;
        double deadline;      /* --timeout's, or the calls' grace */
        double hard_deadline; /* once interrupted: when to ask harder */
        bool interrupted, calls_grace, lldb_patience_used;
        size_t shown; /* transcript bytes on the log */
} debugger_wait;

/* The deadline passed (r == 0), or attachpy was asked to stop (r == 2):
 * let the calls finish, or interrupt the debugger as its stage allows. */
static void on_deadline(debugger_wait *w, int r) {
        const ap_run_config *cfg = w->cfg;
        const ap_backend *backend = w->backend;
        ap_stage stage = ap_transcript_stage(w->transcript->data);
        if (r == 2)
                w->end->cancelled = true;
        else
                w->end->deadline_hit = true;
        if (stage == AP_STAGE_SAFEPOINT && r == 0 && !w->calls_grace) {
                /* The agent is being loaded: interrupting dlopen could
                 * leave the loader's lock held.  Let it finish. */
                ap_log_line(&cfg->log,
                            "deadline passed while loading the agent; giving the "
                            "debugger %.0f ms more",
                            AP_GRACE_FOR_CALLS_MS);
                w->calls_grace = true;
                w->deadline = ap_now_ms() + AP_GRACE_FOR_CALLS_MS;
                return;
        }
        if (stage == AP_STAGE_NONE) {
                /* Not attached yet (or attaching): nothing in the target to
                 * clean up, and a debugger still starting may swallow
                 * SIGINT.  SIGTERM makes gdb detach from whatever it
                 * attached to and quit. */
                ap_log_line(&cfg->log, "stopping the debugger (SIGTERM)");
                ap_child_signal(w->child, SIGTERM);
        } else if (stage == AP_STAGE_SAFEPOINT && backend->interrupt_call_signal && w->drive &&
                   w->drive->caller > 0 &&
                   tgkill(cfg->opts->pid, w->drive->caller, backend->interrupt_call_signal) == 0) {
                ap_log_line(&cfg->log, "interrupting the call in thread %d of process %d (%s)",
                            (int)w->drive->caller, (int)cfg->opts->pid,
                            strsignal(backend->interrupt_call_signal));
        } else if (stage < AP_STAGE_STARTED && backend->interrupt_target_signal) {
                ap_log_line(&cfg->log, "interrupting process %d for the debugger (%s)",
                            (int)cfg->opts->pid, strsignal(backend->interrupt_target_signal));
                kill(cfg->opts->pid, backend->interrupt_target_signal);
        } else if (stage < AP_STAGE_STARTED) {
                ap_log_line(&cfg->log, "interrupting the debugger (SIGINT)");
                ap_child_signal(w->child, SIGINT);
        }
        w->interrupted = true;
        /* Nothing more to send: at EOF the debugger quits. */
        if (w->drive)
                w->drive->done = true;
        ap_child_close_stdin(w->child);
        w->hard_deadline = ap_now_ms() + GRACE_AFTER_INTERRUPT_MS;
}

/* It did not end after the interrupt: ask harder, then kill.  lldb
 * terminated while attached is cured by the relay (cli/cure.h), which
 * interrupts a call that has not returned within its grace: give lldb
 * longer.  Returns true to wait on, false once the debugger is gone. */
static bool on_hard_deadline(debugger_wait *w) {
        const ap_backend *backend = w->backend;
        ap_stage now_stage = ap_transcript_stage(w->transcript->data);
        if (backend->interrupt_target_signal && !w->lldb_patience_used &&
            now_stage >= AP_STAGE_ATTACHED && now_stage < AP_STAGE_DETACHED) {
                w->lldb_patience_used = true;
                ap_log_line(&w->cfg->log,
                            "%s has not detached; waiting %.0f ms more before terminating it",
                            backend->name, LLDB_PATIENCE_MS);
                w->hard_deadline = ap_now_ms() + LLDB_PATIENCE_MS;
                return true;
        }
        ap_log_line(&w->cfg->log, "the debugger did not exit; terminating it");
        ap_child_signal(w->child, SIGTERM);
        if (ap_child_finish(w->child, w->transcript, ap_now_ms() + 1000.0) < 0)
                ap_child_kill_and_reap(w->child);
        return false;
}

static void end_status(const ap_child *child, ap_debugger_end *end) {
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

void ap_debugger_run(const ap_run_config *cfg, ap_child *child, ap_buf *transcript, double deadline,
                     const ap_backend *backend, ap_drive *drive, ap_debugger_end *end) {
        debugger_wait w = {.cfg = cfg,
                           .backend = backend,
                           .child = child,
                           .transcript = transcript,
                           .drive = drive,
                           .end = end,
                           .deadline = deadline};
        for (;;) {
                double until = w.interrupted ? w.hard_deadline : w.deadline;
                int r = ap_child_wait(child, transcript, w.interrupted ? -1 : cfg->cancel_fd,
                                      until);
                if (transcript->len > w.shown) {
                        ap_log_write(&cfg->log, transcript->data + w.shown,
                                     transcript->len - w.shown);
                        w.shown = transcript->len;
                }
                if (!w.interrupted)
                        drive_step(drive, child, transcript);
                if (child->exited && child->out_fd < 0)
                        break;
                if (backend->done_at_detach && !w.interrupted &&
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
                if (!w.interrupted)
                        on_deadline(&w, r);
                else if (!on_hard_deadline(&w))
                        break;
        }
        end_status(child, end);
}
