/* options.c: the command line, walked word by word.
 *
 *     attachpy [OPTIONS] [--] PID SCRIPT [ARG...]
 *     attachpy [OPTIONS] [--] PID -c CODE [ARG...]
 *     attachpy [OPTIONS] -c CODE [OPTIONS] [--] PID [ARG...]
 *     attachpy [OPTIONS] ps [--json]
 *
 * getopt is not used: it permutes argv and would take the code's own
 * arguments ("attachpy 42 s.py --json") for ours.  Options end at the first
 * word that does not start with '-' (or at "--"); that word is PID.  After
 * PID and SCRIPT (or CODE) every word belongs to the code.
 *
 * --debugger, --timeout and --config may be repeated: the last one wins, so
 * that a shell alias can be overridden.  -c may not.
 *
 * "ps" where PID would be is the subcommand (a PID is digits only, so the
 * two cannot be confused); only --json and --help may follow it.  So are
 * the recipes, "stacks", "objects" and "memory": their own options and the
 * usual ones (not -c, not --no-wait) may follow, then PID, and nothing after
 * it.  "memory" takes its action (start, top, diff, stop) as the next word,
 * before any option: each action has options of its own.
 */
#include "options.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define AP_PID_MAX 4194304 /* PID_MAX_LIMIT on 64-bit Linux */

#define SYNOPSIS_HINT                                                                              \
        "usage: attachpy [OPTIONS] PID SCRIPT [ARG...] or attachpy [OPTIONS] PID -c CODE [ARG...]"
#define HELP_HINT "run 'attachpy --help' for the list of options"
#define PID_HINT "give the process id of the running Python program; 'attachpy ps' lists them"

static const char *const debugger_names[] = {
        [AP_DEBUGGER_AUTO] = "auto",
        [AP_DEBUGGER_GDB] = "gdb",
        [AP_DEBUGGER_LLDB] = "lldb",
};

const char *ap_debugger_name(ap_debugger_choice d) {
        if ((unsigned)d >= AP_ARRAY_SIZE(debugger_names))
                return NULL;
        return debugger_names[d];
}

int ap_debugger_from_name(const char *name, ap_debugger_choice *ret) {
        if (!name)
                return -1;
        for (size_t i = 0; i < AP_ARRAY_SIZE(debugger_names); i++)
                if (strcmp(name, debugger_names[i]) == 0) {
                        if (ret)
                                *ret = (ap_debugger_choice)i;
                        return 0;
                }
        return -1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Digits with an optional decimal point, parsed by hand: strtod would also
 * take signs, spaces, exponents, hex, "inf" and a locale's decimal comma. */
int ap_timeout_from_text(const char *text, double *ret) {
        if (!text)
                return -1;
        const char *p = text;
        size_t n_digits = 0;
        double whole = 0;
        for (; is_digit(*p); p++, n_digits++) {
                whole = whole * 10 + (*p - '0');
                if (whole > AP_MAX_TIMEOUT_S)
                        return -1;
        }
        double frac = 0;
        if (*p == '.') {
                uint64_t num = 0, den = 1;
                for (p++; is_digit(*p); p++, n_digits++)
                        if (den < UINT64_C(1000000000)) { /* below a nanosecond is noise */
                                num = num * 10 + (uint64_t)(*p - '0');
                                den *= 10;
                        }
                frac = (double)num / (double)den;
        }
        if (*p != '\0' || n_digits == 0)
                return -1;
        double v = whole + frac;
        if (!(v > 0) || v > AP_MAX_TIMEOUT_S)
                return -1;
        if (ret)
                *ret = v;
        return 0;
}

void ap_options_free(ap_options *opts) {
        if (!opts)
                return;
        free(opts->config_path);
        free(opts->pid_text);
        free(opts->script_path);
        free(opts->code);
        for (size_t i = 0; i < opts->n_args; i++)
                free(opts->args[i]);
        free(opts->args);
        *opts = (ap_options){0};
}

typedef enum opt_id {
        OPT_HELP,
        OPT_VERSION,
        OPT_JSON,
        OPT_VERBOSE,
        OPT_NO_WAIT,
        OPT_DEBUGGER,
        OPT_TIMEOUT,
        OPT_CONFIG,
        OPT_CODE,
        OPT_KEEP,
} opt_id;

static const struct opt_spec {
        const char *long_name; /* without the leading "--" */
        char short_name;       /* 0: none */
        bool takes_value;
        opt_id id;
} opt_specs[] = {
        {"help", 'h', false, OPT_HELP},     {"version", 0, false, OPT_VERSION},
        {"json", 0, false, OPT_JSON},       {"verbose", 'v', false, OPT_VERBOSE},
        {"no-wait", 0, false, OPT_NO_WAIT}, {"debugger", 0, true, OPT_DEBUGGER},
        {"timeout", 0, true, OPT_TIMEOUT},  {"config", 0, true, OPT_CONFIG},
        {"code", 'c', true, OPT_CODE},      {"keep", 0, false, OPT_KEEP},
};

static const struct opt_spec *find_long(const char *name, size_t len) {
        for (size_t i = 0; i < AP_ARRAY_SIZE(opt_specs); i++)
                if (strlen(opt_specs[i].long_name) == len &&
                    memcmp(opt_specs[i].long_name, name, len) == 0)
                        return &opt_specs[i];
        return NULL;
}

static const struct opt_spec *find_short(char c) {
        for (size_t i = 0; i < AP_ARRAY_SIZE(opt_specs); i++)
                if (opt_specs[i].short_name && opt_specs[i].short_name == c)
                        return &opt_specs[i];
        return NULL;
}

/* The option a word names, with its inline value ("--timeout=5") if any;
 * NULL if the word is no option of ours. */
static const struct opt_spec *match_option(const char *word, const char **ret_value) {
        *ret_value = NULL;
        if (word[0] != '-' || word[1] == '\0')
                return NULL;
        if (word[1] != '-')
                return word[2] == '\0' ? find_short(word[1]) : NULL;
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        if (!eq)
                return find_long(name, strlen(name));
        *ret_value = eq + 1;
        return find_long(name, (size_t)(eq - name));
}

static int out_of_memory(ap_error *err) { return ap_error_set(err, AP_ERR_USAGE, "out of memory"); }

static int unknown_option(const char *word, ap_error *err) {
        ap_error_set(err, AP_ERR_USAGE, "unknown option '%s'", word);
        /* "-json": a long option written with one dash. */
        const char *name = word + 1;
        if (name[0] != '-' && find_long(name, strcspn(name, "=")))
                ap_error_hint(err, "did you mean '-%s'? " HELP_HINT, word);
        else if (name[0] == 'c')
                ap_error_hint(err, "give -c and the code as two words: -c 'CODE'");
        else
                ap_error_hint(err, HELP_HINT);
        return -1;
}

static int set_code(ap_options *o, const char *name, const char *code, ap_error *err) {
        if (o->code) {
                ap_error_set(err, AP_ERR_USAGE, "option '%s' given twice", name);
                ap_error_hint(err, "put all the code in one -c argument, or write it to a SCRIPT");
                return -1;
        }
        size_t len = strlen(code);
        if (len > AP_MAX_CODE_BYTES) {
                ap_error_set(err, AP_ERR_USAGE, "the code given with '%s' is too long (%zu bytes)",
                             name, len);
                ap_error_hint(err, "at most %u bytes; put longer code in a SCRIPT file",
                              AP_MAX_CODE_BYTES);
                return -1;
        }
        o->code = strdup(code);
        return o->code ? 0 : out_of_memory(err);
}

/* Apply one option word (and take its value from the next word when it needs
 * one and has none inline).  *i indexes the word after it. */
static int parse_option(ap_options *o, const char *word, int argc, char *const *argv, int *i,
                        ap_error *err) {
        const char *value;
        const struct opt_spec *spec = match_option(word, &value);
        if (!spec)
                return unknown_option(word, err);

        /* The option's name as typed, without "=VALUE". */
        char name[16];
        size_t name_len = value ? (size_t)(value - 1 - word) : strlen(word);
        snprintf(name, sizeof name, "%.*s", (int)name_len, word);

        if (!spec->takes_value && value) {
                ap_error_set(err, AP_ERR_USAGE, "option '%s' takes no value, got '%s'", name, word);
                ap_error_hint(err, "write '%s' alone", name);
                return -1;
        }
        if (spec->takes_value && !value) {
                if (*i >= argc) {
                        ap_error_set(err, AP_ERR_USAGE, "option '%s' needs a value", name);
                        switch (spec->id) {
                        case OPT_DEBUGGER:
                                ap_error_hint(err, "write '--debugger=gdb', 'lldb' or 'auto'");
                                break;
                        case OPT_TIMEOUT:
                                ap_error_hint(err, "write '--timeout=SECONDS', e.g. --timeout=30");
                                break;
                        case OPT_CONFIG:
                                ap_error_hint(err, "write '--config=FILE'");
                                break;
                        default:
                                ap_error_hint(err, "write '%s CODE', e.g. %s 'print(42)'", name,
                                              name);
                                break;
                        }
                        return -1;
                }
                value = argv[(*i)++];
        }

        switch (spec->id) {
        case OPT_HELP:
                o->show_help = true;
                return 0;
        case OPT_VERSION:
                o->show_version = true;
                return 0;
        case OPT_JSON:
                o->json = true;
                return 0;
        case OPT_VERBOSE:
                o->verbose = true;
                return 0;
        case OPT_NO_WAIT:
                o->no_wait = true;
                return 0;
        case OPT_KEEP:
                o->keep = true;
                return 0;
        case OPT_DEBUGGER:
                if (ap_debugger_from_name(value, &o->debugger) < 0) {
                        ap_error_set(err, AP_ERR_USAGE,
                                     "unknown debugger '%s': use gdb, lldb or auto", value);
                        ap_error_hint(err, "auto picks gdb if it is on PATH, else lldb");
                        return -1;
                }
                o->debugger_set = true;
                return 0;
        case OPT_TIMEOUT:
                if (ap_timeout_from_text(value, &o->timeout_s) < 0) {
                        ap_error_set(err, AP_ERR_USAGE, "invalid timeout '%s'", value);
                        ap_error_hint(err,
                                      "give a number of seconds greater than 0 and at most %.0f, "
                                      "such as 30 or 2.5",
                                      AP_MAX_TIMEOUT_S);
                        return -1;
                }
                o->timeout_set = true;
                return 0;
        case OPT_CONFIG:
                if (value[0] == '\0') {
                        ap_error_set(err, AP_ERR_USAGE, "option '%s' needs a file name", name);
                        ap_error_hint(err, "write '--config=FILE'");
                        return -1;
                }
                free(o->config_path);
                o->config_path = strdup(value);
                return o->config_path ? 0 : out_of_memory(err);
        case OPT_CODE:
                return set_code(o, name, value, err);
        }
        return unknown_option(word, err);
}

static int parse_pid(ap_options *o, const char *text, ap_error *err) {
        size_t n = strspn(text, "0123456789");
        if (n == 0 || text[n] != '\0') {
                ap_error_set(err, AP_ERR_USAGE, "PID must be a positive number, got '%s'", text);
                ap_error_hint(err, PID_HINT);
                return -1;
        }
        long pid = 0;
        for (size_t i = 0; i < n && pid <= AP_PID_MAX; i++)
                pid = pid * 10 + (text[i] - '0');
        if (pid < 1 || pid > AP_PID_MAX) {
                ap_error_set(err, AP_ERR_USAGE, "PID must be between 1 and %d, got '%s'",
                             AP_PID_MAX, text);
                ap_error_hint(err, PID_HINT);
                return -1;
        }
        o->pid = (pid_t)pid;
        o->pid_text = strdup(text);
        return o->pid_text ? 0 : out_of_memory(err);
}

/* The word after PID, when no -c came before it: -c CODE or SCRIPT. */
static int parse_code_or_script(ap_options *o, int argc, char *const *argv, int *i, ap_error *err) {
        if (*i >= argc) {
                ap_error_set(err, AP_ERR_USAGE, "missing SCRIPT or -c CODE after PID %s",
                             o->pid_text);
                ap_error_hint(err, SYNOPSIS_HINT);
                return -1;
        }
        const char *word = argv[(*i)++];
        const char *value;
        const struct opt_spec *spec = match_option(word, &value);
        if (spec && spec->id == OPT_CODE)
                return parse_option(o, word, argc, argv, i, err);
        /* A script may not start with '-': such a word here is almost always an
         * option written after PID, and "./-name" reaches such a script. */
        if (word[0] == '-' && word[1] != '\0') {
                ap_error_set(err, AP_ERR_USAGE, "'%s' after PID %s: options must come before PID",
                             word, o->pid_text);
                ap_error_hint(err,
                              "write 'attachpy [OPTIONS] PID SCRIPT [ARG...]'; a script whose "
                              "name starts with '-' can be given as './%s'",
                              word);
                return -1;
        }
        if (word[0] == '\0') {
                ap_error_set(err, AP_ERR_USAGE, "the SCRIPT path is empty");
                ap_error_hint(err, SYNOPSIS_HINT);
                return -1;
        }
        o->script_path = strdup(word);
        return o->script_path ? 0 : out_of_memory(err);
}

static int take_args(ap_options *o, int argc, char *const *argv, int i, ap_error *err) {
        if (i >= argc)
                return 0;
        size_t n = (size_t)(argc - i);
        if (n > AP_MAX_ARGS) {
                ap_error_set(err, AP_ERR_USAGE, "too many arguments for the code (%zu)", n);
                ap_error_hint(err, "at most %d; pass more data through a file", AP_MAX_ARGS);
                return -1;
        }
        o->args = calloc(n, sizeof *o->args);
        if (!o->args)
                return out_of_memory(err);
        for (; o->n_args < n; o->n_args++) {
                o->args[o->n_args] = strdup(argv[i + (int)o->n_args]);
                if (!o->args[o->n_args])
                        return out_of_memory(err);
        }
        return 0;
}

/* "ps" and the words after it: --json and --help only. */
static int parse_ps(ap_options *o, int argc, char *const *argv, int i, ap_error *err) {
        o->command = AP_CMD_PS;
        if (o->code) {
                ap_error_set(err, AP_ERR_USAGE, "'attachpy ps' runs no code: -c does not apply");
                ap_error_hint(err, "write 'attachpy ps' to list the Python processes, then "
                                   "'attachpy PID -c CODE'");
                return -1;
        }
        for (; i < argc; i++) {
                const char *word = argv[i];
                const char *value;
                const struct opt_spec *spec = word[0] == '-' ? match_option(word, &value) : NULL;
                if (spec && (spec->id == OPT_JSON || spec->id == OPT_HELP) && !value) {
                        if (spec->id == OPT_JSON)
                                o->json = true;
                        else
                                o->show_help = true;
                        continue;
                }
                if (word[0] == '-')
                        ap_error_set(err, AP_ERR_USAGE,
                                     "option '%s' does not apply to 'attachpy ps'", word);
                else
                        ap_error_set(err, AP_ERR_USAGE,
                                     "'attachpy ps' takes no arguments, got '%s'", word);
                ap_error_hint(err, "write 'attachpy ps' or 'attachpy ps --json'");
                return -1;
        }
        return 0;
}

static const char *const recipe_names[] = {
        [AP_RECIPE_NONE] = NULL,
        [AP_RECIPE_STACKS] = "stacks",
        [AP_RECIPE_OBJECTS] = "objects",
        [AP_RECIPE_MEMORY] = "memory",
};

/* memory's actions, the first of its attachpy_args. */
static const char *const memory_actions[] = {"start", "top", "diff", "stop"};

const char *ap_recipe_name(ap_recipe r) {
        return (unsigned)r < AP_ARRAY_SIZE(recipe_names) ? recipe_names[r] : NULL;
}

static ap_recipe recipe_from_word(const char *word) {
        for (size_t r = 1; r < AP_ARRAY_SIZE(recipe_names); r++)
                if (strcmp(word, recipe_names[r]) == 0)
                        return (ap_recipe)r;
        return AP_RECIPE_NONE;
}

static int add_arg(ap_options *o, const char *word, ap_error *err) {
        char **nv = realloc(o->args, (o->n_args + 1) * sizeof *nv);
        if (!nv)
                return out_of_memory(err);
        o->args = nv;
        o->args[o->n_args] = strdup(word);
        return o->args[o->n_args++] ? 0 : out_of_memory(err);
}

/* One of the recipe's own options, "--NAME" or "--NAME=VALUE" (or the value
 * in the next word).  Returns 1 when word was one (its value checked and
 * passed to the recipe as ["--NAME", VALUE]), 0 when it is not, -1 on a
 * bad value. */
static int recipe_option(ap_options *o, const char *word, int argc, char *const *argv, int *i,
                         ap_error *err) {
        static const struct {
                ap_recipe recipe;
                const char *action; /* the memory action it belongs to, or NULL */
                const char *name;
                bool value;
                double min, max;  /* the value's range */
                const char *hint; /* for a bad value */
        } own[] = {
                {AP_RECIPE_STACKS, NULL, "locals", false, 0, 0, NULL},
                {AP_RECIPE_OBJECTS, NULL, "top", true, 1, 100000,
                 "give a whole number from 1 to 100000, e.g. --top=20"},
                {AP_RECIPE_OBJECTS, NULL, "diff", true, 0.001, AP_MAX_TIMEOUT_S,
                 "give a number of seconds greater than 0, e.g. --diff=10"},
                /* tracemalloc keeps this many frames with every block it
                 * traces: the target's memory grows with it. */
                {AP_RECIPE_MEMORY, "start", "frames", true, 1, 100,
                 "give a whole number of frames from 1 to 100, e.g. --frames=10"},
                {AP_RECIPE_MEMORY, "top", "top", true, 1, 100000,
                 "give a whole number from 1 to 100000, e.g. --top=20"},
                {AP_RECIPE_MEMORY, "diff", "top", true, 1, 100000,
                 "give a whole number from 1 to 100000, e.g. --top=20"},
        };
        if (strncmp(word, "--", 2) != 0)
                return 0;
        const char *name = word + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        /* The recipe's option, but another action's: say which take it. */
        char others[64] = "";
        for (size_t k = 0; k < AP_ARRAY_SIZE(own); k++) {
                if (own[k].recipe != o->recipe || strlen(own[k].name) != len ||
                    strncmp(own[k].name, name, len) != 0)
                        continue;
                if (own[k].action && o->recipe_action &&
                    strcmp(own[k].action, o->recipe_action) != 0) {
                        size_t used = strlen(others);
                        snprintf(others + used, sizeof others - used, "%s'%s %s'",
                                 used ? " and " : "", ap_recipe_name(o->recipe), own[k].action);
                        continue;
                }
                if (!own[k].value) {
                        if (eq)
                                return ap_error_set(err, AP_ERR_USAGE,
                                                    "option '--%s' takes no value, got '%s'",
                                                    own[k].name, word),
                                       ap_error_hint(err, "write '--%s' alone", own[k].name), -1;
                        return add_arg(o, word, err) < 0 ? -1 : 1;
                }
                const char *value = eq ? eq + 1 : *i < argc ? argv[(*i)++] : NULL;
                char *end = NULL;
                double v = value ? strtod(value, &end) : 0;
                bool whole = strcmp(own[k].name, "diff") != 0;
                if (!value || !*value || *end || !(v >= own[k].min && v <= own[k].max) ||
                    (whole && v != (double)(long)v))
                        return ap_error_set(err, AP_ERR_USAGE, "invalid value for '--%s': '%s'",
                                            own[k].name, value ? value : ""),
                               ap_error_hint(err, "%s", own[k].hint), -1;
                if (strcmp(own[k].name, "diff") == 0)
                        o->recipe_wait_s = v;
                char flag[16];
                snprintf(flag, sizeof flag, "--%s", own[k].name);
                return add_arg(o, flag, err) < 0 || add_arg(o, value, err) < 0 ? -1 : 1;
        }
        if (*others)
                return ap_error_set(err, AP_ERR_USAGE,
                                    "option '--%.*s' does not apply to "
                                    "'attachpy %s %s'",
                                    (int)len, name, ap_recipe_name(o->recipe), o->recipe_action),
                       ap_error_hint(err, "'--%.*s' goes with %s", (int)len, name, others), -1;
        return 0;
}

/* memory's action, the word after "memory": it becomes attachpy_args[0].
 * Returns the index of the word after it, or -1. */
static int memory_action(ap_options *o, int argc, char *const *argv, int i, ap_error *err) {
        const char *word = i < argc ? argv[i] : NULL;
        if (word && (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0)) {
                o->show_help = true;
                return i + 1;
        }
        for (size_t k = 0; word && k < AP_ARRAY_SIZE(memory_actions); k++)
                if (strcmp(word, memory_actions[k]) == 0) {
                        o->recipe_action = memory_actions[k];
                        return add_arg(o, word, err) < 0 ? -1 : i + 1;
                }
        if (!word || word[0] == '-' || (word[0] >= '0' && word[0] <= '9'))
                return ap_error_set(err, AP_ERR_USAGE,
                                    "'attachpy memory' needs an action first: start, top, diff "
                                    "or stop"),
                       ap_error_hint(err, "write 'attachpy memory start PID', then 'attachpy "
                                          "memory top PID' or 'attachpy memory diff PID', and "
                                          "'attachpy memory stop PID' at the end"),
                       -1;
        return ap_error_set(err, AP_ERR_USAGE, "unknown memory action '%s'", word),
               ap_error_hint(err, "the actions are start, top, diff and stop: e.g. 'attachpy "
                                  "memory start PID'"),
               -1;
}

/* The end of a subcommand that takes a PID ("--" allowed before it), and
 * nothing after it. */
static int final_pid(ap_options *o, const char *name, int argc, char *const *argv, int i,
                     ap_error *err) {
        if (i < argc && strcmp(argv[i], "--") == 0)
                i++;
        if (o->show_help)
                return 0;
        if (i >= argc)
                return ap_error_set(err, AP_ERR_USAGE, "missing PID after '%s'", name),
                       ap_error_hint(err,
                                     "write 'attachpy %s PID'; 'attachpy ps' lists the "
                                     "Python processes",
                                     name),
                       -1;
        if (parse_pid(o, argv[i++], err) < 0)
                return -1;
        if (i < argc)
                return ap_error_set(err, AP_ERR_USAGE,
                                    "'attachpy %s' takes nothing after PID, got '%s'", name,
                                    argv[i]),
                       ap_error_hint(err, "its options come before PID"), -1;
        return 0;
}

/* A recipe and the words after it: its options and ours, then PID. */
static int parse_recipe(ap_options *o, ap_recipe recipe, int argc, char *const *argv, int i,
                        ap_error *err) {
        o->command = AP_CMD_RECIPE;
        o->recipe = recipe;
        const char *name = ap_recipe_name(recipe);
        if (o->code)
                return ap_error_set(err, AP_ERR_USAGE,
                                    "'attachpy %s' runs its own code: -c does "
                                    "not apply",
                                    name),
                       ap_error_hint(err, "write 'attachpy %s PID', or 'attachpy PID -c CODE'",
                                     name),
                       -1;
        if (recipe == AP_RECIPE_MEMORY && (i = memory_action(o, argc, argv, i, err)) < 0)
                return -1;
        char full[32]; /* "memory top": what the errors call it */
        snprintf(full, sizeof full, "%s%s%s", name, o->recipe_action ? " " : "",
                 o->recipe_action ? o->recipe_action : "");
        while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
                const char *word = argv[i++];
                int r = recipe_option(o, word, argc, argv, &i, err);
                if (r < 0)
                        return -1;
                if (r == 1)
                        continue;
                const char *value;
                const struct opt_spec *spec = match_option(word, &value);
                if (spec && (spec->id == OPT_CODE || spec->id == OPT_NO_WAIT))
                        return ap_error_set(err, AP_ERR_USAGE,
                                            "option '%s' does not apply to 'attachpy %s'", word,
                                            full),
                               ap_error_hint(err, "run 'attachpy --help' for what %s takes", name),
                               -1;
                if (parse_option(o, word, argc, argv, &i, err) < 0)
                        return -1;
        }
        return final_pid(o, full, argc, argv, i, err);
}

/* "attach", "detach" or "console" and the words after it: the usual options (not -c,
 * --no-wait, --keep), then PID, and nothing after it. */
static int parse_serving(ap_options *o, ap_command command, int argc, char *const *argv, int i,
                         ap_error *err) {
        const char *name = command == AP_CMD_ATTACH   ? "attach"
                           : command == AP_CMD_DETACH ? "detach"
                                                      : "console";
        o->command = command;
        bool misplaced = o->code || o->no_wait || o->keep;
        while (!misplaced && i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
                const char *word = argv[i++];
                const char *value;
                const struct opt_spec *spec = match_option(word, &value);
                if (spec &&
                    (spec->id == OPT_CODE || spec->id == OPT_NO_WAIT || spec->id == OPT_KEEP))
                        return ap_error_set(err, AP_ERR_USAGE,
                                            "option '%s' does not apply to 'attachpy %s'", word,
                                            name),
                               ap_error_hint(err, "write 'attachpy %s PID'", name), -1;
                if (parse_option(o, word, argc, argv, &i, err) < 0)
                        return -1;
        }
        if (misplaced)
                return ap_error_set(err, AP_ERR_USAGE,
                                    "'attachpy %s' runs no code of yours: -c, --no-wait and "
                                    "--keep do not apply",
                                    name),
                       ap_error_hint(err,
                                     "write 'attachpy %s PID', then 'attachpy PID -c CODE' "
                                     "runs through the agent",
                                     name),
                       -1;
        if (final_pid(o, name, argc, argv, i, err) < 0)
                return -1;
        if (command == AP_CMD_CONSOLE && o->json)
                return ap_error_set(err, AP_ERR_USAGE,
                                    "'attachpy console' is interactive: --json does not apply"),
                       ap_error_hint(err, "for output a program reads, run 'attachpy --json PID -c "
                                          "CODE' (through the agent when one serves PID)"),
                       -1;
        if (command == AP_CMD_ATTACH)
                o->keep = true;
        return 0;
}

/* opts is overwritten (not freed first); on failure it is left zeroed. */
int ap_options_parse(ap_options *opts, int argc, char *const *argv, ap_error *err) {
        ap_options o = {.debugger = AP_DEBUGGER_AUTO, .timeout_s = AP_DEFAULT_TIMEOUT_S};
        ap_error first = AP_ERROR_INIT;
        int i = 1;
        bool dashdash = false; /* after "--" the next word is PID, even "ps" */

        /* After a bad option keep walking the options, so that --help and
         * --version anywhere before PID still win. */
        while (i < argc) {
                const char *word = argv[i];
                if (strcmp(word, "--") == 0) {
                        i++;
                        dashdash = true;
                        break;
                }
                if (word[0] != '-' || word[1] == '\0')
                        break;
                i++;
                (void)parse_option(&o, word, argc, argv, &i,
                                   ap_error_is_set(&first) ? NULL : &first);
        }

        if (o.show_help || o.show_version) {
                ap_error_clear(&first);
                *opts = o;
                return 0;
        }
        if (ap_error_is_set(&first))
                goto fail;

        if (i >= argc) {
                ap_error_set(&first, AP_ERR_USAGE, "missing PID");
                ap_error_hint(&first, SYNOPSIS_HINT);
                goto fail;
        }
        if (!dashdash && strcmp(argv[i], "ps") == 0) {
                if (parse_ps(&o, argc, argv, i + 1, &first) < 0)
                        goto fail;
                *opts = o;
                return 0;
        }
        if (!dashdash && (strcmp(argv[i], "attach") == 0 || strcmp(argv[i], "detach") == 0 ||
                          strcmp(argv[i], "console") == 0)) {
                ap_command command = argv[i][0] == 'a'   ? AP_CMD_ATTACH
                                     : argv[i][0] == 'd' ? AP_CMD_DETACH
                                                         : AP_CMD_CONSOLE;
                if (parse_serving(&o, command, argc, argv, i + 1, &first) < 0)
                        goto fail;
                *opts = o;
                return 0;
        }
        ap_recipe recipe = dashdash ? AP_RECIPE_NONE : recipe_from_word(argv[i]);
        if (recipe != AP_RECIPE_NONE) {
                if (parse_recipe(&o, recipe, argc, argv, i + 1, &first) < 0)
                        goto fail;
                *opts = o;
                return 0;
        }
        if (parse_pid(&o, argv[i++], &first) < 0)
                goto fail;
        if (!o.code && parse_code_or_script(&o, argc, argv, &i, &first) < 0)
                goto fail;
        if (take_args(&o, argc, argv, i, &first) < 0)
                goto fail;

        *opts = o;
        return 0;

fail:;
        /* Keep --json: the usage error itself is reported as JSON. */
        bool json = o.json;
        ap_options_free(&o);
        *opts = o;
        opts->json = json;
        if (err) {
                ap_error_clear(err);
                *err = first;
        } else
                ap_error_clear(&first);
        return -1;
}
