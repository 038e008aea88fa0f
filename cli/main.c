/* main.c: argv → options → run → report → exit status. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>

#include "agent_channel.h"
#include "build-config.h"
#include "config.h"
#include "console.h"
#include "inject.h"
#include "options.h"
#include "progress.h"
#include "ps.h"
#include "recipe.h"
#include "report.h"
#include "usage.h"
#include "user_code.h"
#include "util.h"

static int finish_early(const ap_options *o, pid_t pid, ap_error *err) {
        ap_report r;
        memset(&r, 0, sizeof r);
        r.pid = pid;
        r.serving = -1; /* not known: nothing was looked at */
        r.error = *err;
        int status = o->json ? ap_report_print_json(&r, stdout)
                             : ap_report_print_text(&r, stdout, stderr);
        ap_error_clear(err);
        return status;
}

/* attachpy ps: list, print, no config, no lock, no debugger. */
static int run_ps(const ap_options *o) {
        ap_ps_list list = {0};
        ap_error err = AP_ERROR_INIT;
        (void)ap_agent_reap_stale("/tmp");
        if (ap_ps_scan(&list, "/proc", &err) < 0)
                return finish_early(o, 0, &err);
        int width = 0;
        struct winsize ws;
        if (!o->json && isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
                width = ws.ws_col;
        int status =
                o->json ? ap_ps_print_json(&list, stdout) : ap_ps_print_text(&list, stdout, width);
        ap_ps_list_free(&list);
        return status;
}

/* The code of the command line, run in the target and reported. */
static int run_code(ap_options *o, int cancel_fd, const sigset_t *child_mask, ap_error *err) {
        char *code = NULL, *filename = NULL;
        size_t code_len = 0;
        if (ap_user_code_load(o, &code, &code_len, &filename, err) < 0)
                return finish_early(o, o->pid, err);

        ap_run_config run = {
                .opts = o,
                .code = code,
                .code_len = code_len,
                .filename = filename,
                /* --verbose: the run's log on stderr. */
                .log = o->verbose ? ap_log_file(stderr) : (ap_log){0},
                .cancel_fd = cancel_fd,
                .child_mask = child_mask,
        };
        /* The status line: for a person watching a terminal only. */
        const char *term = getenv("TERM");
        if (!o->json && !o->verbose && isatty(STDERR_FILENO) &&
            !(term && strcmp(term, "dumb") == 0))
                run.progress = ap_progress_new(STDERR_FILENO, true);
        ap_report report;
        ap_run(&run, &report);
        ap_progress_free(run.progress); /* erased before the report is printed */
        if (o->command == AP_CMD_RECIPE)
                ap_recipe_take_output(o->recipe, &report);
        if (!o->json)
                ap_recipe_print_text(&report, stdout);
        int status = o->json ? ap_report_print_json(&report, stdout)
                             : ap_report_print_text(&report, stdout, stderr);
        ap_report_free(&report);
        free(code);
        free(filename);
        return status;
}

/* The config file's settings under the command line's. */
static int load_config(ap_options *o, ap_error *err) {
        ap_config cfg;
        memset(&cfg, 0, sizeof cfg);
        char *cfg_path = o->config_path ? strdup(o->config_path) : ap_config_default_path();
        int r = cfg_path ? ap_config_load(&cfg, cfg_path, o->config_path == NULL, err) : 0;
        free(cfg_path);
        if (r < 0)
                return -1;
        ap_options_apply_config(o, &cfg);
        /* A recipe that waits by design (objects --diff) gets that long more. */
        o->timeout_s += o->recipe_wait_s;
        return 0;
}

/* What the command line asks for, to its exit status. */
static int dispatch(ap_options *o, int argc, char **argv, int cancel_fd,
                    const sigset_t *child_mask) {
        ap_error err = AP_ERROR_INIT;
        if (ap_options_parse(o, argc, argv, &err) < 0)
                return finish_early(o, o->pid, &err);
        if (o->show_help) {
                fputs(ap_usage_text, stdout);
                return 0;
        }
        if (o->show_version) {
                printf("attachpy %s\n", AP_VERSION);
                return 0;
        }
        if (o->command == AP_CMD_PS)
                return run_ps(o);
        if (load_config(o, &err) < 0)
                return finish_early(o, o->pid, &err);
        if (o->command == AP_CMD_CONSOLE)
                return ap_console_run(o, cancel_fd, child_mask);
        return run_code(o, cancel_fd, child_mask, &err);
}

int main(int argc, char **argv) {
        /* Signals that end attachpy arrive through a signalfd, so that a
         * run can interrupt its debugger gracefully and clean up. */
        sigset_t stop_signals, old_mask;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGHUP);
        sigaddset(&stop_signals, SIGQUIT);
        sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
        signal(SIGPIPE, SIG_IGN);
        int cancel_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);

        ap_options opts;
        memset(&opts, 0, sizeof opts);
        int status = dispatch(&opts, argc, argv, cancel_fd, &old_mask);
        ap_options_free(&opts);
        if (cancel_fd >= 0)
                close(cancel_fd);
        return status;
}
