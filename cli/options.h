/* options.h: the command line and the YAML config, merged into one struct.
 *
 * Order of precedence: command line, then config file, then defaults.
 * Everything the user got wrong is an AP_ERR_USAGE error, reported before
 * anything touches the target.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

typedef enum ap_debugger_choice {
        AP_DEBUGGER_AUTO = 0,
        AP_DEBUGGER_GDB,
        AP_DEBUGGER_LLDB,
} ap_debugger_choice;

#define AP_DEFAULT_TIMEOUT_S 30.0
#define AP_MAX_TIMEOUT_S 86400.0

/* Largest script or -c code accepted (a limit on what a user controls). */
#define AP_MAX_CODE_BYTES (16u * 1024 * 1024)
#define AP_MAX_ARGS 4096

/* What attachpy was asked to do. */
typedef enum ap_command {
        AP_CMD_INJECT = 0, /* attachpy [OPTIONS] PID SCRIPT|-c CODE [ARG...] */
        AP_CMD_PS,         /* attachpy [OPTIONS] ps [--json] */
        AP_CMD_RECIPE,     /* attachpy [OPTIONS] stacks|objects|memory [RECIPE OPTIONS] PID */
        AP_CMD_ATTACH,     /* attachpy [OPTIONS] attach PID: load the agent, leave it serving */
        AP_CMD_DETACH,     /* attachpy [OPTIONS] detach PID: stop serving */
        AP_CMD_CONSOLE,    /* attachpy [OPTIONS] console PID: a Python console inside PID */
} ap_command;

/* The recipes: answers without writing code (cli/recipe.h). */
typedef enum ap_recipe {
        AP_RECIPE_NONE = 0,
        AP_RECIPE_STACKS,  /* stacks [--locals] */
        AP_RECIPE_OBJECTS, /* objects [--top=N] [--diff=SECONDS] */
        AP_RECIPE_MEMORY,  /* memory start [--frames=N] | top [--top=N] | diff [--top=N] | stop */
} ap_recipe;

typedef struct ap_options {
        ap_command command;
        ap_debugger_choice debugger;
        bool debugger_set; /* given on the command line */
        double timeout_s;
        bool timeout_set; /* given on the command line */
        bool json;
        bool verbose;
        bool no_wait;
        bool keep; /* --keep (and attach): the agent stays serving after the run */
        bool show_help;
        bool show_version;
        char *config_path; /* --config, or NULL */

        pid_t pid;
        char *pid_text;    /* as typed */
        char *script_path; /* SCRIPT as typed, or NULL with -c */
        char *code;        /* the -c text, or NULL with SCRIPT */
        char **args;       /* the code's own arguments (attachpy_args) */
        size_t n_args;

        ap_recipe recipe;          /* with AP_CMD_RECIPE; its options are in args */
        double recipe_wait_s;      /* seconds the recipe waits by design (objects
                                      --diff), added to the timeout */
        const char *recipe_action; /* memory's action ("start", "top", "diff",
                                      "stop"; static), also args[0]; or NULL */
} ap_options;

/* The recipe's name as typed ("stacks"), or NULL. */
const char *ap_recipe_name(ap_recipe r);

/* Parse argv.  On success returns 0; opts->show_help or show_version may be
 * set, in which case pid/script may be unset; with command AP_CMD_PS only
 * json is meaningful (options that apply to an injection are accepted before
 * "ps", so that a shell alias keeps working, and ignored).  On failure returns -1 with a
 * usage error in err.  Does not read the script or the config. */
int ap_options_parse(ap_options *opts, int argc, char *const *argv, ap_error *err)
        __attribute__((warn_unused_result));

void ap_options_free(ap_options *opts);

/* "gdb", "lldb", "auto". */
const char *ap_debugger_name(ap_debugger_choice d);
/* Parse a debugger name; -1 if unknown. */
int ap_debugger_from_name(const char *name, ap_debugger_choice *ret);

/* Parse a timeout in seconds ("30", "2.5"): positive, finite, at most
 * AP_MAX_TIMEOUT_S.  -1 if invalid. */
int ap_timeout_from_text(const char *text, double *ret);
