/* main.c: argv → options → run → report → exit status. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "build-config.h"
#include "config.h"
#include "inject.h"
#include "options.h"
#include "progress.h"
#include "ps.h"
#include "recipe.h"
#include "report.h"
#include "util.h"

static int load_code(const ap_options *o, char **ret_code, size_t *ret_len, char **ret_filename,
                     ap_error *err) {
        if (o->command == AP_CMD_RECIPE)
                return ap_recipe_load(o->recipe, ret_code, ret_len, ret_filename, err);
        if (o->code) {
                *ret_code = strdup(o->code);
                *ret_len = strlen(o->code);
                *ret_filename = strdup("<string>");
                return *ret_code && *ret_filename
                               ? 0
                               : ap_error_set(err, AP_ERR_USAGE, "out of memory");
        }
        struct stat st;
        if (stat(o->script_path, &st) < 0)
                return ap_error_set(err, AP_ERR_USAGE, "script '%s' not found: %s", o->script_path,
                                    strerror(errno)),
                       ap_error_hint(err, "give the path of a Python file, or the code itself "
                                          "with -c CODE"),
                       -1;
        if (S_ISDIR(st.st_mode))
                return ap_error_set(err, AP_ERR_USAGE, "script '%s' is a directory",
                                    o->script_path),
                       ap_error_hint(err, "give the path of a Python file"), -1;
        if (ap_read_file(o->script_path, AP_MAX_CODE_BYTES, ret_code, ret_len) < 0)
                return ap_error_set(err, AP_ERR_USAGE, "cannot read script '%s': %s",
                                    o->script_path,
                                    errno == EFBIG ? "larger than 16 MiB" : strerror(errno)),
                       ap_error_hint(err, "check the file and its permissions"), -1;
        char real[PATH_MAX];
        *ret_filename = strdup(realpath(o->script_path, real) ? real : o->script_path);
        return *ret_filename ? 0 : ap_error_set(err, AP_ERR_USAGE, "out of memory");
}

static int finish_early(const ap_options *o, pid_t pid, ap_error *err) {
        ap_report r;
        memset(&r, 0, sizeof r);
        r.pid = pid;
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

int main(int argc, char **argv) {
        ap_options opts;
        ap_error err = AP_ERROR_INIT;
        memset(&opts, 0, sizeof opts);

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

        if (ap_options_parse(&opts, argc, argv, &err) < 0) {
                int status = finish_early(&opts, opts.pid, &err);
                ap_options_free(&opts);
                return status;
        }
        if (opts.show_help) {
                fputs(ap_usage_text, stdout);
                ap_options_free(&opts);
                return 0;
        }
        if (opts.show_version) {
                printf("attachpy %s\n", AP_VERSION);
                ap_options_free(&opts);
                return 0;
        }
        if (opts.command == AP_CMD_PS) {
                int status = run_ps(&opts);
                ap_options_free(&opts);
                return status;
        }

        ap_config cfg;
        memset(&cfg, 0, sizeof cfg);
        char *cfg_path = opts.config_path ? strdup(opts.config_path) : ap_config_default_path();
        if (cfg_path && ap_config_load(&cfg, cfg_path, opts.config_path == NULL, &err) < 0) {
                free(cfg_path);
                int status = finish_early(&opts, opts.pid, &err);
                ap_options_free(&opts);
                return status;
        }
        free(cfg_path);
        ap_options_apply_config(&opts, &cfg);
        /* A recipe that waits by design (objects --diff) gets that long more. */
        opts.timeout_s += opts.recipe_wait_s;

        char *code = NULL, *filename = NULL;
        size_t code_len = 0;
        if (load_code(&opts, &code, &code_len, &filename, &err) < 0) {
                int status = finish_early(&opts, opts.pid, &err);
                ap_options_free(&opts);
                return status;
        }

        ap_run_config run = {
                .opts = &opts,
                .code = code,
                .code_len = code_len,
                .filename = filename,
                /* --verbose: the run's log on stderr. */
                .log = opts.verbose ? ap_log_file(stderr) : (ap_log){0},
                .cancel_fd = cancel_fd,
                .child_mask = &old_mask,
        };
        /* The status line: for a person watching a terminal only. */
        const char *term = getenv("TERM");
        if (!opts.json && !opts.verbose && isatty(STDERR_FILENO) &&
            !(term && strcmp(term, "dumb") == 0))
                run.progress = ap_progress_new(STDERR_FILENO, true);
        ap_report report;
        ap_run(&run, &report);
        ap_progress_free(run.progress); /* erased before the report is printed */
        if (opts.command == AP_CMD_RECIPE)
                ap_recipe_take_output(opts.recipe, &report);
        if (!opts.json)
                ap_recipe_print_text(&report, stdout);
        int status = opts.json ? ap_report_print_json(&report, stdout)
                               : ap_report_print_text(&report, stdout, stderr);
        ap_report_free(&report);
        free(code);
        free(filename);
        ap_options_free(&opts);
        if (cancel_fd >= 0)
                close(cancel_fd);
        return status;
}
