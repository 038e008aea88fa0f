/* test_options.c: the command line grammar, its limits and its messages. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "options.h"
#include "usage.h"
#include "util.h"

#define SYNOPSIS_HINT                                                                              \
        "usage: attachpy [OPTIONS] PID SCRIPT [ARG...] or attachpy [OPTIONS] PID -c CODE [ARG...]"
#define HELP_HINT "run 'attachpy --help' for the list of options"
#define PID_HINT "give the process id of the running Python program; 'attachpy ps' lists them"
#define TIMEOUT_HINT "give a number of seconds greater than 0 and at most 86400, such as 30 or 2.5"

static ap_options o;
static ap_error e;

static void setup(void) {
        o = (ap_options){0};
        e = (ap_error)AP_ERROR_INIT;
}

static void teardown(void) {
        ap_options_free(&o);
        ap_error_clear(&e);
}

/* Parse a NULL-terminated list of words (argv[0] included) from a private
 * copy of argv that is scribbled over and freed afterwards: the options must
 * own everything they keep. */
static int parse_words(const char *const *words) {
        int argc = 0;
        while (words[argc])
                argc++;
        char **argv = calloc((size_t)argc + 1, sizeof *argv);
        ck_assert_ptr_nonnull(argv);
        for (int i = 0; i < argc; i++) {
                argv[i] = strdup(words[i]);
                ck_assert_ptr_nonnull(argv[i]);
        }
        ap_options_free(&o);
        memset(&o, 0xA5, sizeof o); /* parse must not rely on a zeroed struct */
        int r = ap_options_parse(&o, argc, argv, &e);
        for (int i = 0; i < argc; i++) {
                memset(argv[i], 'X', strlen(argv[i]));
                free(argv[i]);
        }
        free(argv);
        return r;
}

#define PARSE(...) parse_words((const char *const[]){"attachpy", __VA_ARGS__, NULL})
#define PARSE_NOTHING() parse_words((const char *const[]){"attachpy", NULL})

#define assert_ok(r)                                                                               \
        do {                                                                                       \
                int r_ = (r);                                                                      \
                ck_assert_msg(r_ == 0, "parse failed: %s", e.message ? e.message : "(null)");      \
                ck_assert(!ap_error_is_set(&e));                                                   \
        } while (0)

#define assert_args(...)                                                                           \
        do {                                                                                       \
                const char *const want_[] = {__VA_ARGS__};                                         \
                ck_assert_uint_eq(o.n_args, AP_ARRAY_SIZE(want_));                                 \
                for (size_t k_ = 0; k_ < AP_ARRAY_SIZE(want_); k_++)                               \
                        ck_assert_str_eq(o.args[k_], want_[k_]);                                   \
        } while (0)

static void assert_no_args(void) {
        ck_assert_uint_eq(o.n_args, 0);
        ck_assert_ptr_null(o.args);
}

static void assert_zeroed(void) {
        ck_assert_int_eq(o.debugger, 0);
        ck_assert(!o.debugger_set);
        ck_assert(o.timeout_s == 0);
        ck_assert(!o.timeout_set);
        /* json survives a failure: the usage error is reported as JSON. */
        ck_assert(!o.verbose && !o.no_wait && !o.show_help && !o.show_version);
        ck_assert_ptr_null(o.config_path);
        ck_assert_int_eq(o.pid, 0);
        ck_assert_ptr_null(o.pid_text);
        ck_assert_ptr_null(o.script_path);
        ck_assert_ptr_null(o.code);
        ck_assert_ptr_null(o.args);
        ck_assert_uint_eq(o.n_args, 0);
        ck_assert_int_eq(o.command, AP_CMD_INJECT);
}

/* A usage error with exactly this message and hint; opts left zeroed. */
static void assert_usage(int r, const char *message, const char *hint) {
        ck_assert_int_eq(r, -1);
        ck_assert_int_eq(e.code, AP_ERR_USAGE);
        ck_assert_str_eq(e.message, message);
        if (hint)
                ck_assert_str_eq(e.hint, hint);
        else
                ck_assert_ptr_nonnull(e.hint); /* every usage error says what to do */
        assert_zeroed();
}

static void assert_defaults(void) {
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_AUTO);
        ck_assert(!o.debugger_set);
        ck_assert(o.timeout_s == AP_DEFAULT_TIMEOUT_S);
        ck_assert(!o.timeout_set);
        ck_assert(!o.json);
        ck_assert(!o.verbose);
        ck_assert(!o.no_wait);
        ck_assert(!o.show_help);
        ck_assert(!o.show_version);
        ck_assert_ptr_null(o.config_path);
}

/* --- the script form --- */

START_TEST(test_json_survives_usage_error) {
        ck_assert_int_eq(PARSE("--json", "abc", "-c", "pass"), -1);
        ck_assert(o.json);
        ck_assert_int_eq(e.code, AP_ERR_USAGE);
        ck_assert_int_eq(PARSE("abc", "-c", "pass"), -1);
        ck_assert(!o.json);
}
END_TEST

START_TEST(test_script) {
        assert_ok(PARSE("42", "s.py"));
        ck_assert_int_eq(o.pid, 42);
        ck_assert_str_eq(o.pid_text, "42");
        ck_assert_str_eq(o.script_path, "s.py");
        ck_assert_ptr_null(o.code);
        assert_no_args();
        assert_defaults();
}
END_TEST

START_TEST(test_script_with_args) {
        assert_ok(PARSE("42", "dir/s.py", "a", "b c", ""));
        ck_assert_str_eq(o.script_path, "dir/s.py");
        assert_args("a", "b c", "");
}
END_TEST

START_TEST(test_script_args_that_look_like_options) {
        assert_ok(PARSE("42", "s.py", "--json", "-v", "--", "-c", "x", "--help", "--version",
                        "--timeout=abc", "-"));
        assert_args("--json", "-v", "--", "-c", "x", "--help", "--version", "--timeout=abc", "-");
        assert_defaults(); /* none of them was taken for ours */
        ck_assert_str_eq(o.script_path, "s.py");
        ck_assert_ptr_null(o.code);
}
END_TEST

START_TEST(test_script_path_as_typed) {
        assert_ok(PARSE("1", "/no/such/dir/x y.py"));
        ck_assert_str_eq(o.script_path, "/no/such/dir/x y.py"); /* not checked here */
        ck_assert_int_eq(o.pid, 1);
}
END_TEST

START_TEST(test_script_named_dash) {
        assert_ok(PARSE("42", "-"));
        ck_assert_str_eq(o.script_path, "-");
}
END_TEST

START_TEST(test_script_dash_name_through_dot_slash) {
        assert_ok(PARSE("42", "./--json", "x"));
        ck_assert_str_eq(o.script_path, "./--json");
        assert_args("x");
}
END_TEST

START_TEST(test_option_after_pid) {
        assert_usage(PARSE("42", "--json", "s.py"),
                     "'--json' after PID 42: options must come before PID",
                     "write 'attachpy [OPTIONS] PID SCRIPT [ARG...]'; a script whose name starts "
                     "with '-' can be given as './--json'");
}
END_TEST

START_TEST(test_unknown_word_after_pid) {
        assert_usage(PARSE("42", "-x"), "'-x' after PID 42: options must come before PID", NULL);
}
END_TEST

START_TEST(test_double_dash_after_pid) {
        assert_usage(PARSE("42", "--", "s.py"), "'--' after PID 42: options must come before PID",
                     NULL);
}
END_TEST

START_TEST(test_double_dash_after_script) {
        assert_ok(PARSE("42", "s.py", "--"));
        assert_args("--");
}
END_TEST

START_TEST(test_empty_script) {
        assert_usage(PARSE("42", ""), "the SCRIPT path is empty", SYNOPSIS_HINT);
}
END_TEST

/* --- the code form, -c after PID --- */

START_TEST(test_code_after_pid) {
        assert_ok(PARSE("42", "-c", "print(1)"));
        ck_assert_str_eq(o.code, "print(1)");
        ck_assert_ptr_null(o.script_path);
        assert_no_args();
        assert_defaults();
}
END_TEST

START_TEST(test_code_after_pid_with_args) {
        assert_ok(PARSE("42", "-c", "x", "--json", "a", "-c", "y"));
        ck_assert_str_eq(o.code, "x");
        assert_args("--json", "a", "-c", "y");
        ck_assert(!o.json);
}
END_TEST

START_TEST(test_long_code_after_pid) {
        assert_ok(PARSE("42", "--code", "x", "y"));
        ck_assert_str_eq(o.code, "x");
        assert_args("y");
}
END_TEST

START_TEST(test_long_code_inline_after_pid) {
        assert_ok(PARSE("42", "--code=x = 1", "y"));
        ck_assert_str_eq(o.code, "x = 1");
        assert_args("y");
}
END_TEST

START_TEST(test_empty_code) {
        assert_ok(PARSE("42", "--code="));
        ck_assert_str_eq(o.code, "");
        assert_ok(PARSE("42", "-c", ""));
        ck_assert_str_eq(o.code, "");
}
END_TEST

START_TEST(test_code_value_starting_with_dash) {
        assert_ok(PARSE("42", "-c", "-1", "-c"));
        ck_assert_str_eq(o.code, "-1");
        assert_args("-c");
}
END_TEST

START_TEST(test_code_missing_after_pid) {
        assert_usage(PARSE("42", "-c"), "option '-c' needs a value",
                     "write '-c CODE', e.g. -c 'print(42)'");
}
END_TEST

START_TEST(test_long_code_missing_after_pid) {
        assert_usage(PARSE("42", "--code"), "option '--code' needs a value",
                     "write '--code CODE', e.g. --code 'print(42)'");
}
END_TEST

/* --- the code form, -c before PID --- */

START_TEST(test_code_before_pid) {
        assert_ok(PARSE("-c", "print(1)", "42"));
        ck_assert_str_eq(o.code, "print(1)");
        ck_assert_int_eq(o.pid, 42);
        ck_assert_ptr_null(o.script_path);
        assert_no_args();
}
END_TEST

START_TEST(test_code_before_pid_then_everything_is_args) {
        assert_ok(PARSE("-c", "x", "42", "s.py", "-c", "y", "--json"));
        ck_assert_str_eq(o.code, "x");
        ck_assert_ptr_null(o.script_path);
        assert_args("s.py", "-c", "y", "--json");
        ck_assert(!o.json);
}
END_TEST

START_TEST(test_long_code_before_pid) {
        assert_ok(PARSE("--code", "x", "--json", "42", "a"));
        ck_assert_str_eq(o.code, "x");
        ck_assert(o.json);
        assert_args("a");
        assert_ok(PARSE("--code=y", "42"));
        ck_assert_str_eq(o.code, "y");
}
END_TEST

START_TEST(test_code_before_pid_value_starting_with_dash) {
        assert_ok(PARSE("-c", "--json", "42"));
        ck_assert_str_eq(o.code, "--json");
        ck_assert(!o.json);
}
END_TEST

START_TEST(test_code_before_double_dash) {
        assert_ok(PARSE("-c", "x", "--", "42", "--", "a"));
        ck_assert_str_eq(o.code, "x");
        ck_assert_int_eq(o.pid, 42);
        assert_args("--", "a");
}
END_TEST

START_TEST(test_code_twice) {
        assert_usage(PARSE("-c", "a", "-c", "b", "42"), "option '-c' given twice",
                     "put all the code in one -c argument, or write it to a SCRIPT");
}
END_TEST

START_TEST(test_code_twice_long) {
        assert_usage(PARSE("-c", "a", "--code=b", "42"), "option '--code' given twice", NULL);
}
END_TEST

START_TEST(test_code_missing_before_pid) {
        assert_usage(PARSE("-c"), "option '-c' needs a value", NULL);
}
END_TEST

START_TEST(test_code_without_pid) { assert_usage(PARSE("-c", "x"), "missing PID", SYNOPSIS_HINT); }
END_TEST

START_TEST(test_code_attached_to_c) {
        assert_usage(PARSE("-cprint(1)", "42"), "unknown option '-cprint(1)'",
                     "give -c and the code as two words: -c 'CODE'");
}
END_TEST

START_TEST(test_code_too_long) {
        size_t len = AP_MAX_CODE_BYTES + 1;
        char *code = malloc(len + 1);
        ck_assert_ptr_nonnull(code);
        memset(code, '#', len);
        code[len] = '\0';
        int r = PARSE("-c", code, "42");
        free(code);
        assert_usage(r, "the code given with '-c' is too long (16777217 bytes)",
                     "at most 16777216 bytes; put longer code in a SCRIPT file");
}
END_TEST

/* --- options --- */

START_TEST(test_all_flags_inline) {
        assert_ok(PARSE("--json", "-v", "--no-wait", "--debugger=gdb", "--timeout=2.5",
                        "--config=c.yaml", "42", "s.py"));
        ck_assert(o.json);
        ck_assert(o.verbose);
        ck_assert(o.no_wait);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_GDB);
        ck_assert(o.debugger_set);
        ck_assert(o.timeout_s == 2.5);
        ck_assert(o.timeout_set);
        ck_assert_str_eq(o.config_path, "c.yaml");
        ck_assert(!o.show_help);
        ck_assert(!o.show_version);
        ck_assert_str_eq(o.script_path, "s.py");
}
END_TEST

START_TEST(test_values_as_next_word) {
        assert_ok(PARSE("--debugger", "lldb", "--timeout", "5", "--config", "c.yaml", "--verbose",
                        "42", "s.py"));
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_LLDB);
        ck_assert(o.debugger_set);
        ck_assert(o.timeout_s == 5.0);
        ck_assert(o.timeout_set);
        ck_assert_str_eq(o.config_path, "c.yaml");
        ck_assert(o.verbose);
}
END_TEST

START_TEST(test_value_may_contain_equals) {
        assert_ok(PARSE("--config=a=b.yaml", "--config", "--x=y", "42", "s.py"));
        ck_assert_str_eq(o.config_path, "--x=y");
}
END_TEST

START_TEST(test_last_setting_wins) {
        assert_ok(PARSE("--debugger=gdb", "--debugger=lldb", "--timeout=1", "--timeout", "2",
                        "--config=a", "--config=b", "42", "s.py"));
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_LLDB);
        ck_assert(o.timeout_s == 2.0);
        ck_assert_str_eq(o.config_path, "b");
}
END_TEST

START_TEST(test_debugger_auto_is_set) {
        assert_ok(PARSE("--debugger=auto", "42", "s.py"));
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_AUTO);
        ck_assert(o.debugger_set);
}
END_TEST

START_TEST(test_bad_debugger) {
        assert_usage(PARSE("--debugger=gbd", "42", "s.py"),
                     "unknown debugger 'gbd': use gdb, lldb or auto",
                     "auto picks gdb if it is on PATH, else lldb");
}
END_TEST

START_TEST(test_bad_debugger_case) {
        assert_usage(PARSE("--debugger", "GDB", "42", "s.py"),
                     "unknown debugger 'GDB': use gdb, lldb or auto", NULL);
}
END_TEST

START_TEST(test_empty_debugger) {
        assert_usage(PARSE("--debugger=", "42", "s.py"),
                     "unknown debugger '': use gdb, lldb or auto", NULL);
}
END_TEST

START_TEST(test_bad_timeout) {
        assert_usage(PARSE("--timeout=abc", "42", "s.py"), "invalid timeout 'abc'", TIMEOUT_HINT);
}
END_TEST

START_TEST(test_zero_timeout) {
        assert_usage(PARSE("--timeout", "0", "42", "s.py"), "invalid timeout '0'", TIMEOUT_HINT);
}
END_TEST

START_TEST(test_negative_timeout) {
        assert_usage(PARSE("--timeout", "-5", "42", "s.py"), "invalid timeout '-5'", TIMEOUT_HINT);
}
END_TEST

START_TEST(test_timeout_takes_next_word_as_is) {
        assert_usage(PARSE("--timeout", "--json", "42", "s.py"), "invalid timeout '--json'",
                     TIMEOUT_HINT);
}
END_TEST

START_TEST(test_empty_config) {
        assert_usage(PARSE("--config=", "42", "s.py"), "option '--config' needs a file name",
                     "write '--config=FILE'");
}
END_TEST

static const struct {
        const char *option;
        const char *hint;
} missing_values[] = {
        {"--debugger", "write '--debugger=gdb', 'lldb' or 'auto'"},
        {"--timeout", "write '--timeout=SECONDS', e.g. --timeout=30"},
        {"--config", "write '--config=FILE'"},
        {"-c", "write '-c CODE', e.g. -c 'print(42)'"},
        {"--code", "write '--code CODE', e.g. --code 'print(42)'"},
};

START_TEST(test_missing_value) {
        char message[64];
        snprintf(message, sizeof message, "option '%s' needs a value", missing_values[_i].option);
        assert_usage(PARSE("--json", missing_values[_i].option), message, missing_values[_i].hint);
}
END_TEST

static const char *const flags[] = {"--json", "-v", "--verbose", "--no-wait",
                                    "--help", "-h", "--version"};

START_TEST(test_flag_with_value) {
        char word[32], message[96], hint[64];
        snprintf(word, sizeof word, "%s=1", flags[_i]);
        snprintf(message, sizeof message, "option '%s' takes no value, got '%s'", flags[_i], word);
        snprintf(hint, sizeof hint, "write '%s' alone", flags[_i]);
        if (flags[_i][1] != '-') { /* "-v=1" is no option at all */
                snprintf(message, sizeof message, "unknown option '%s'", word);
                assert_usage(PARSE(word, "42", "s.py"), message, HELP_HINT);
        } else
                assert_usage(PARSE(word, "42", "s.py"), message, hint);
}
END_TEST

START_TEST(test_unknown_option) {
        assert_usage(PARSE("--jsn", "42", "s.py"), "unknown option '--jsn'", HELP_HINT);
}
END_TEST

START_TEST(test_unknown_short_option) {
        assert_usage(PARSE("-x", "42", "s.py"), "unknown option '-x'", HELP_HINT);
}
END_TEST

START_TEST(test_grouped_short_options) {
        assert_usage(PARSE("-vh", "42", "s.py"), "unknown option '-vh'", HELP_HINT);
}
END_TEST

START_TEST(test_long_option_with_one_dash) {
        assert_usage(PARSE("-json", "42", "s.py"), "unknown option '-json'",
                     "did you mean '--json'? " HELP_HINT);
        ap_options_free(&o);
        assert_usage(PARSE("-timeout=3", "42", "s.py"), "unknown option '-timeout=3'",
                     "did you mean '--timeout=3'? " HELP_HINT);
}
END_TEST

START_TEST(test_option_prefix_is_not_enough) {
        assert_usage(PARSE("--deb=gdb", "42", "s.py"), "unknown option '--deb=gdb'", HELP_HINT);
}
END_TEST

START_TEST(test_negative_number_is_an_option) {
        assert_usage(PARSE("-1", "s.py"), "unknown option '-1'", HELP_HINT);
}
END_TEST

START_TEST(test_first_error_is_reported) {
        assert_usage(PARSE("--jsn", "--timeout=0", "42", "s.py"), "unknown option '--jsn'",
                     HELP_HINT);
}
END_TEST

/* --- "--" --- */

START_TEST(test_double_dash) {
        assert_ok(PARSE("--", "42", "s.py", "a"));
        ck_assert_int_eq(o.pid, 42);
        ck_assert_str_eq(o.script_path, "s.py");
        assert_args("a");
}
END_TEST

START_TEST(test_double_dash_after_options) {
        assert_ok(PARSE("--json", "--", "42", "-c", "x"));
        ck_assert(o.json);
        ck_assert_str_eq(o.code, "x");
}
END_TEST

START_TEST(test_double_dash_then_option_is_pid) {
        assert_usage(PARSE("--", "--help"), "PID must be a positive number, got '--help'",
                     PID_HINT);
}
END_TEST

START_TEST(test_double_dash_then_negative_pid) {
        assert_usage(PARSE("--", "-5", "s.py"), "PID must be a positive number, got '-5'",
                     PID_HINT);
}
END_TEST

START_TEST(test_double_dash_alone) { assert_usage(PARSE("--"), "missing PID", SYNOPSIS_HINT); }
END_TEST

/* --- help and version --- */

START_TEST(test_help) {
        assert_ok(PARSE("--help"));
        ck_assert(o.show_help);
        ck_assert(!o.show_version);
        ck_assert_int_eq(o.pid, 0);
        ck_assert_ptr_null(o.pid_text);
        ck_assert_ptr_null(o.script_path);
        ck_assert_ptr_null(o.code);
}
END_TEST

START_TEST(test_short_help) {
        assert_ok(PARSE("-h"));
        ck_assert(o.show_help);
}
END_TEST

START_TEST(test_version) {
        assert_ok(PARSE("--version"));
        ck_assert(o.show_version);
        ck_assert(!o.show_help);
        ck_assert_ptr_null(o.pid_text);
}
END_TEST

START_TEST(test_help_and_version) {
        assert_ok(PARSE("--version", "--help"));
        ck_assert(o.show_help);
        ck_assert(o.show_version);
}
END_TEST

START_TEST(test_help_with_pid_and_script) {
        assert_ok(PARSE("--json", "--help", "42", "s.py"));
        ck_assert(o.show_help);
        ck_assert(o.json);
}
END_TEST

START_TEST(test_help_wins_over_earlier_error) {
        assert_ok(PARSE("--jsn", "--timeout=0", "--help"));
        ck_assert(o.show_help);
}
END_TEST

START_TEST(test_version_wins_over_later_error) {
        assert_ok(PARSE("--version", "--debugger=x"));
        ck_assert(o.show_version);
}
END_TEST

START_TEST(test_help_wins_over_missing_value) {
        assert_ok(PARSE("--help", "--timeout"));
        ck_assert(o.show_help);
}
END_TEST

START_TEST(test_help_after_pid_is_not_help) {
        assert_ok(PARSE("42", "s.py", "--help"));
        ck_assert(!o.show_help);
        assert_args("--help");
        assert_usage(PARSE("42", "--help"), "'--help' after PID 42: options must come before PID",
                     NULL);
}
END_TEST

START_TEST(test_help_after_double_dash_is_not_help) {
        assert_ok(PARSE("--", "42", "s.py", "--help"));
        ck_assert(!o.show_help);
        assert_args("--help");
}
END_TEST

START_TEST(test_help_as_value_is_not_help) {
        assert_usage(PARSE("--timeout", "--help", "42", "s.py"), "invalid timeout '--help'",
                     TIMEOUT_HINT);
}
END_TEST

START_TEST(test_help_as_code_is_not_help) {
        assert_ok(PARSE("-c", "--help", "42"));
        ck_assert(!o.show_help);
        ck_assert_str_eq(o.code, "--help");
}
END_TEST

/* --- PID --- */

START_TEST(test_missing_pid) { assert_usage(PARSE_NOTHING(), "missing PID", SYNOPSIS_HINT); }
END_TEST

START_TEST(test_missing_pid_after_options) {
        assert_usage(PARSE("--json", "-v"), "missing PID", SYNOPSIS_HINT);
}
END_TEST

START_TEST(test_no_argv_at_all) {
        char *argv[] = {NULL};
        assert_usage(ap_options_parse(&o, 0, argv, &e), "missing PID", SYNOPSIS_HINT);
}
END_TEST

START_TEST(test_missing_script) {
        assert_usage(PARSE("42"), "missing SCRIPT or -c CODE after PID 42", SYNOPSIS_HINT);
}
END_TEST

START_TEST(test_missing_script_after_options) {
        assert_usage(PARSE("--json", "--", "7"), "missing SCRIPT or -c CODE after PID 7",
                     SYNOPSIS_HINT);
}
END_TEST

static const char *const bad_pids[] = {"abc",  "4x",  "x4", "+42", " 42", "42 ",
                                       "0x2a", "4.2", "",   "١٢",  "42\n"};

START_TEST(test_pid_not_a_number) {
        char message[64];
        snprintf(message, sizeof message, "PID must be a positive number, got '%s'", bad_pids[_i]);
        assert_usage(PARSE(bad_pids[_i], "s.py"), message, PID_HINT);
}
END_TEST

static const char *const out_of_range_pids[] = {"0", "000", "4194305", "99999999999999999999999"};

START_TEST(test_pid_out_of_range) {
        char message[96];
        snprintf(message, sizeof message, "PID must be between 1 and 4194304, got '%s'",
                 out_of_range_pids[_i]);
        assert_usage(PARSE(out_of_range_pids[_i], "s.py"), message, PID_HINT);
}
END_TEST

START_TEST(test_pid_limits) {
        assert_ok(PARSE("1", "s.py"));
        ck_assert_int_eq(o.pid, 1);
        ap_options_free(&o);
        assert_ok(PARSE("4194304", "s.py"));
        ck_assert_int_eq(o.pid, 4194304);
}
END_TEST

START_TEST(test_pid_leading_zeros) {
        assert_ok(PARSE("0042", "s.py"));
        ck_assert_int_eq(o.pid, 42);
        ck_assert_str_eq(o.pid_text, "0042");
}
END_TEST

/* --- limits --- */

static int parse_with_n_args(size_t n) {
        const char **words = calloc(n + 4, sizeof *words);
        ck_assert_ptr_nonnull(words);
        words[0] = "attachpy";
        words[1] = "42";
        words[2] = "s.py";
        for (size_t i = 0; i < n; i++)
                words[3 + i] = i % 2 ? "-x" : "arg";
        int r = parse_words(words);
        free(words);
        return r;
}

START_TEST(test_max_args) {
        assert_ok(parse_with_n_args(AP_MAX_ARGS));
        ck_assert_uint_eq(o.n_args, AP_MAX_ARGS);
        ck_assert_str_eq(o.args[0], "arg");
        ck_assert_str_eq(o.args[AP_MAX_ARGS - 1], "-x");
}
END_TEST

START_TEST(test_too_many_args) {
        assert_usage(parse_with_n_args(AP_MAX_ARGS + 1), "too many arguments for the code (4097)",
                     "at most 4096; pass more data through a file");
}
END_TEST

/* --- ownership and errors --- */

START_TEST(test_free_zeroed) {
        ap_options zero = {0};
        ap_options_free(&zero);
        ap_options_free(&zero);
        ap_options_free(NULL);
        assert_ok(PARSE("42", "s.py", "a"));
        ap_options_free(&o);
        assert_zeroed();
        ap_options_free(&o);
}
END_TEST

START_TEST(test_error_replaces_previous_error) {
        ap_error_set(&e, AP_ERR_TIMEOUT, "old");
        ap_error_hint(&e, "old hint");
        assert_usage(PARSE("--jsn"), "unknown option '--jsn'", HELP_HINT);
}
END_TEST

START_TEST(test_error_may_be_null) {
        char *argv[] = {(char[]){"attachpy"}, (char[]){"--jsn"}, NULL};
        ck_assert_int_eq(ap_options_parse(&o, 2, argv, NULL), -1);
        assert_zeroed();
}
END_TEST

START_TEST(test_success_clears_nothing_it_did_not_set) {
        assert_ok(PARSE("-c", "x", "42"));
        ck_assert_ptr_null(o.script_path);
        ck_assert_ptr_null(o.config_path);
        assert_no_args();
}
END_TEST

/* --- names and numbers --- */

START_TEST(test_debugger_names) {
        ck_assert_str_eq(ap_debugger_name(AP_DEBUGGER_AUTO), "auto");
        ck_assert_str_eq(ap_debugger_name(AP_DEBUGGER_GDB), "gdb");
        ck_assert_str_eq(ap_debugger_name(AP_DEBUGGER_LLDB), "lldb");
        ck_assert_ptr_null(ap_debugger_name((ap_debugger_choice)3));
        ck_assert_ptr_null(ap_debugger_name((ap_debugger_choice)-1));

        ap_debugger_choice d = AP_DEBUGGER_AUTO;
        for (int i = AP_DEBUGGER_AUTO; i <= AP_DEBUGGER_LLDB; i++) {
                ck_assert_int_eq(ap_debugger_from_name(ap_debugger_name(i), &d), 0);
                ck_assert_int_eq(d, i);
        }
        ck_assert_int_eq(ap_debugger_from_name("gdb", NULL), 0);
        d = AP_DEBUGGER_LLDB;
        ck_assert_int_eq(ap_debugger_from_name("gdb ", &d), -1);
        ck_assert_int_eq(ap_debugger_from_name("Gdb", &d), -1);
        ck_assert_int_eq(ap_debugger_from_name("", &d), -1);
        ck_assert_int_eq(ap_debugger_from_name(NULL, &d), -1);
        ck_assert_int_eq(d, AP_DEBUGGER_LLDB); /* untouched on failure */
}
END_TEST

static const struct {
        const char *text;
        double value;
} good_timeouts[] = {
        {"30", 30.0}, {"2.5", 2.5},       {"0.001", 0.001},      {".5", 0.5},
        {"5.", 5.0},  {"86400", 86400.0}, {"86400.0", 86400.0},  {"007", 7.0},
        {"0.1", 0.1}, {"1.25", 1.25},     {"0.000000001", 1e-9}, {"0.0000000019", 1e-9},
};

START_TEST(test_good_timeouts) {
        double v = -1;
        ck_assert_int_eq(ap_timeout_from_text(good_timeouts[_i].text, &v), 0);
        ck_assert_double_eq_tol(v, good_timeouts[_i].value, 1e-12);
        ck_assert_int_eq(ap_timeout_from_text(good_timeouts[_i].text, NULL), 0);
}
END_TEST

static const char *const bad_timeouts[] = {
        "0",
        "0.0",
        ".0",
        "-1",
        "+5",
        "",
        ".",
        "abc",
        "1e3",
        "inf",
        "nan",
        " 5",
        "5 ",
        "1,5",
        "0x10",
        "1.2.3",
        "86400.1",
        "86401",
        "5s",
        "1e-3",
        "100000000000000000000000000000",
        "0.0000000001",
};

START_TEST(test_bad_timeouts) {
        double v = 42;
        ck_assert_int_eq(ap_timeout_from_text(bad_timeouts[_i], &v), -1);
        ck_assert(v == 42); /* untouched on failure */
}
END_TEST

START_TEST(test_null_timeout) { ck_assert_int_eq(ap_timeout_from_text(NULL, NULL), -1); }
END_TEST

/* --- the help text --- */

static const char *const usage_must_mention[] = {
        "Usage: attachpy [OPTIONS] PID SCRIPT [ARG...]\n",
        "       attachpy [OPTIONS] PID -c CODE [ARG...]\n",
        "       attachpy ps [--json]\n",
        "attachpy(1)",
        "-c, --code=CODE",
        "--debugger=NAME",
        "gdb, lldb or auto",
        "--timeout=SECONDS",
        "--no-wait",
        "--json",
        "-v, --verbose",
        "--config=FILE",
        "-h, --help",
        "--version",
        "\n      --  ",
        "__name__ == \"__attachpy__\"",
        "__file__",
        "\"<string>\"",
        "attachpy_args",
        "$XDG_CONFIG_HOME/attachpy/config.yaml",
        "~/.config/attachpy/config.yaml",
        "debugger: gdb",
        "timeout: 30",
        "Examples:\n  attachpy 4242 ",
        "\n  attachpy --json --timeout=5 4242 -c ",
};

START_TEST(test_usage_mentions) {
        ck_assert_msg(strstr(ap_usage_text, usage_must_mention[_i]), "usage lacks '%s'",
                      usage_must_mention[_i]);
}
END_TEST

static const struct {
        int status;
        const char *codes;
} exit_table[] = {
        {0, "ok"},
        {1, "script_error"},
        {2, "usage"},
        {3, "no_such_process, target_exited"},
        {4, "permission_denied, remote_debug_disabled"},
        {5, "not_python, unsupported_python"},
        {6, "debugger_not_found, debugger_failed, injection_failed"},
        {7, "timeout"},
};

START_TEST(test_usage_exit_table) {
        char line[96];
        snprintf(line, sizeof line, "\n  %d  %s", exit_table[_i].status, exit_table[_i].codes);
        ck_assert_msg(strstr(ap_usage_text, line), "usage lacks '%s'", line + 1);
}
END_TEST

START_TEST(test_usage_layout) {
        ck_assert(ap_usage_text[strlen(ap_usage_text) - 1] == '\n');
        size_t col = 0;
        for (const char *p = ap_usage_text; *p; p++) {
                ck_assert_msg(*p != '\t', "tab in the usage text");
                col = *p == '\n' ? 0 : col + 1;
                ck_assert_msg(col <= 80, "usage line longer than 80 columns");
        }
}
END_TEST

/* --- attachpy ps --- */

START_TEST(test_ps) {
        assert_ok(PARSE("ps"));
        ck_assert_int_eq(o.command, AP_CMD_PS);
        ck_assert(!o.json);
        ck_assert_int_eq(o.pid, 0);
        ck_assert_ptr_null(o.script_path);
        assert_defaults();
}
END_TEST

START_TEST(test_ps_json) {
        assert_ok(PARSE("ps", "--json"));
        ck_assert_int_eq(o.command, AP_CMD_PS);
        ck_assert(o.json);
        assert_ok(PARSE("--json", "ps"));
        ck_assert_int_eq(o.command, AP_CMD_PS);
        ck_assert(o.json);
}
END_TEST

START_TEST(test_ps_after_alias_options) {
        /* alias attachpy='attachpy --debugger=lldb --timeout=5' keeps ps working. */
        assert_ok(PARSE("--debugger=lldb", "--timeout=5", "ps"));
        ck_assert_int_eq(o.command, AP_CMD_PS);
}
END_TEST

START_TEST(test_ps_help) {
        assert_ok(PARSE("ps", "--help"));
        ck_assert(o.show_help);
        assert_ok(PARSE("--help", "ps"));
        ck_assert(o.show_help);
}
END_TEST

START_TEST(test_ps_rejects_arguments) {
        assert_usage(PARSE("ps", "42"), "'attachpy ps' takes no arguments, got '42'",
                     "write 'attachpy ps' or 'attachpy ps --json'");
        assert_usage(PARSE("ps", "--timeout=5"),
                     "option '--timeout=5' does not apply to 'attachpy ps'",
                     "write 'attachpy ps' or 'attachpy ps --json'");
        assert_usage(PARSE("ps", "--json=yes"),
                     "option '--json=yes' does not apply to 'attachpy ps'", NULL);
        assert_usage(PARSE("-c", "pass", "ps"), "'attachpy ps' runs no code: -c does not apply",
                     NULL);
        /* --json before the error survives, so the error is JSON too. */
        ck_assert_int_eq(PARSE("ps", "--json", "x"), -1);
        ck_assert(o.json);
}
END_TEST

START_TEST(test_ps_is_not_a_pid_after_double_dash) {
        /* "--" ends the options; the next word is PID, and "ps" is none. */
        assert_usage(PARSE("--", "ps"), "PID must be a positive number, got 'ps'", PID_HINT);
}
END_TEST

START_TEST(test_attach_detach) {
        assert_ok(PARSE("--json", "attach", "42"));
        ck_assert_int_eq(o.command, AP_CMD_ATTACH);
        ck_assert_int_eq(o.pid, 42);
        ck_assert(o.keep && o.json);
        ap_options_free(&o);
        assert_ok(PARSE("detach", "--timeout=5", "--", "43"));
        ck_assert_int_eq(o.command, AP_CMD_DETACH);
        ck_assert_int_eq(o.pid, 43);
        ck_assert(!o.keep);
        ap_options_free(&o);
        assert_ok(PARSE("--keep", "42", "-c", "x"));
        ck_assert_int_eq(o.command, AP_CMD_INJECT);
        ck_assert(o.keep);
        ap_options_free(&o);
        /* "--" ends the options: "attach" is then a PID, and none. */
        assert_usage(PARSE("--", "attach", "1"), "PID must be a positive number, got 'attach'",
                     PID_HINT);
}
END_TEST

START_TEST(test_attach_detach_bad) {
        assert_usage(PARSE("attach"), "missing PID after 'attach'",
                     "write 'attachpy attach PID'; 'attachpy ps' lists the Python processes");
        assert_usage(PARSE("detach", "1", "2"),
                     "'attachpy detach' takes nothing after PID, got '2'",
                     "its options come before PID");
        assert_usage(PARSE("attach", "-c", "x", "1"),
                     "option '-c' does not apply to 'attachpy attach'",
                     "write 'attachpy attach PID'");
        assert_usage(PARSE("attach", "--keep", "1"),
                     "option '--keep' does not apply to 'attachpy attach'",
                     "write 'attachpy attach PID'");
        assert_usage(
                PARSE("--no-wait", "detach", "1"),
                "'attachpy detach' runs no code of yours: -c, --no-wait and --keep do not apply",
                "write 'attachpy detach PID', then 'attachpy PID -c CODE' runs through the agent");
        assert_usage(PARSE("--json", "console", "1"),
                     "'attachpy console' is interactive: --json does not apply",
                     "for output a program reads, run 'attachpy --json PID -c CODE' (through the "
                     "agent when one serves PID)");
        ap_error_clear(&e);
        assert_ok(PARSE("--timeout=5", "console", "--debugger=lldb", "7"));
        ck_assert_int_eq(o.command, AP_CMD_CONSOLE);
        ck_assert_int_eq(o.pid, 7);
        ck_assert(!o.keep);
        ap_options_free(&o);
}
END_TEST

START_TEST(test_ps_as_script_is_a_script) {
        assert_ok(PARSE("42", "ps"));
        ck_assert_int_eq(o.command, AP_CMD_INJECT);
        ck_assert_str_eq(o.script_path, "ps");
}
END_TEST

/* The recipes: their own options and ours after the word, then PID. */
static const struct {
        const char *words[8];
        ap_recipe recipe;
        const char *args[5]; /* what the recipe gets as attachpy_args */
        double wait_s;
        bool json;
} recipe_ok[] = {
        {{"stacks", "42"}, AP_RECIPE_STACKS, {NULL}, 0, false},
        {{"stacks", "--locals", "42"}, AP_RECIPE_STACKS, {"--locals"}, 0, false},
        {{"--json", "stacks", "--locals", "--timeout=5", "42"},
         AP_RECIPE_STACKS,
         {"--locals"},
         0,
         true},
        {{"stacks", "--json", "--", "42"}, AP_RECIPE_STACKS, {NULL}, 0, true},
        {{"objects", "42"}, AP_RECIPE_OBJECTS, {NULL}, 0, false},
        {{"objects", "--top=5", "42"}, AP_RECIPE_OBJECTS, {"--top", "5"}, 0, false},
        {{"objects", "--top", "7", "--diff=2.5", "42"},
         AP_RECIPE_OBJECTS,
         {"--top", "7", "--diff", "2.5"},
         2.5,
         false},
        {{"memory", "start", "42"}, AP_RECIPE_MEMORY, {"start"}, 0, false},
        {{"memory", "start", "--frames=25", "42"},
         AP_RECIPE_MEMORY,
         {"start", "--frames", "25"},
         0,
         false},
        {{"memory", "start", "--frames", "100", "--json", "42"},
         AP_RECIPE_MEMORY,
         {"start", "--frames", "100"},
         0,
         true},
        {{"memory", "top", "42"}, AP_RECIPE_MEMORY, {"top"}, 0, false},
        {{"memory", "top", "--top=3", "--debugger=lldb", "42"},
         AP_RECIPE_MEMORY,
         {"top", "--top", "3"},
         0,
         false},
        {{"--json", "memory", "diff", "--top", "5", "--", "42"},
         AP_RECIPE_MEMORY,
         {"diff", "--top", "5"},
         0,
         true},
        {{"memory", "stop", "--timeout=5", "42"}, AP_RECIPE_MEMORY, {"stop"}, 0, false},
};

START_TEST(test_recipe_ok) {
        const char *argv[10] = {"attachpy"};
        int argc = 1;
        for (int k = 0; recipe_ok[_i].words[k]; k++)
                argv[argc++] = recipe_ok[_i].words[k];
        argv[argc] = NULL;
        assert_ok(parse_words(argv));
        ck_assert_int_eq(o.command, AP_CMD_RECIPE);
        ck_assert_int_eq(o.recipe, recipe_ok[_i].recipe);
        ck_assert_int_eq(o.pid, 42);
        ck_assert_int_eq(o.json, recipe_ok[_i].json);
        ck_assert(o.recipe_wait_s == recipe_ok[_i].wait_s);
        size_t n = 0;
        while (n < 5 && recipe_ok[_i].args[n])
                n++;
        ck_assert_uint_eq(o.n_args, n);
        for (size_t k = 0; k < n; k++)
                ck_assert_str_eq(o.args[k], recipe_ok[_i].args[k]);
}
END_TEST

static const struct {
        const char *words[6];
        const char *message;
} recipe_bad[] = {
        {{"stacks"}, "missing PID after 'stacks'"},
        {{"stacks", "42", "x"}, "'attachpy stacks' takes nothing after PID, got 'x'"},
        {{"stacks", "--top=3", "42"}, "unknown option '--top=3'"},
        {{"stacks", "--locals=yes", "42"}, "option '--locals' takes no value, got '--locals=yes'"},
        {{"objects", "--top=0", "42"}, "invalid value for '--top': '0'"},
        {{"objects", "--top=2.5", "42"}, "invalid value for '--top': '2.5'"},
        {{"objects", "--diff=-1", "42"}, "invalid value for '--diff': '-1'"},
        {{"objects", "--diff"}, "invalid value for '--diff': ''"},
        {{"objects", "--no-wait", "42"}, "option '--no-wait' does not apply to 'attachpy objects'"},
        {{"-c", "pass", "stacks", "42"}, "'attachpy stacks' runs its own code: -c does not apply"},
        {{"stacks", "abc"}, "abc"},
        {{"memory"}, "'attachpy memory' needs an action first: start, top, diff or stop"},
        {{"memory", "42"}, "'attachpy memory' needs an action first"},
        {{"memory", "--top=3", "top", "42"}, "'attachpy memory' needs an action first"},
        {{"memory", "grow", "42"}, "unknown memory action 'grow'"},
        {{"memory", "START", "42"}, "unknown memory action 'START'"},
        {{"memory", "start"}, "missing PID after 'memory start'"},
        {{"memory", "top", "42", "x"}, "'attachpy memory top' takes nothing after PID, got 'x'"},
        {{"memory", "stop", "--top=3", "42"},
         "option '--top' does not apply to 'attachpy memory stop'"},
        {{"memory", "start", "--top=3", "42"},
         "option '--top' does not apply to 'attachpy memory start'"},
        {{"memory", "top", "--frames=3", "42"},
         "option '--frames' does not apply to 'attachpy memory top'"},
        {{"memory", "diff", "--locals", "42"}, "unknown option '--locals'"},
        {{"memory", "start", "--frames=0", "42"}, "invalid value for '--frames': '0'"},
        {{"memory", "start", "--frames=101", "42"}, "invalid value for '--frames': '101'"},
        {{"memory", "start", "--frames=2.5", "42"}, "invalid value for '--frames': '2.5'"},
        {{"memory", "start", "--frames"}, "invalid value for '--frames': ''"},
        {{"memory", "top", "--top=0", "42"}, "invalid value for '--top': '0'"},
        {{"memory", "diff", "--top=x", "42"}, "invalid value for '--top': 'x'"},
        {{"memory", "top", "--no-wait", "42"},
         "option '--no-wait' does not apply to 'attachpy memory top'"},
        {{"-c", "pass", "memory", "top", "42"}, "'attachpy memory' runs its own code"},
};

START_TEST(test_recipe_bad) {
        const char *argv[10] = {"attachpy"};
        int argc = 1;
        for (int k = 0; recipe_bad[_i].words[k]; k++)
                argv[argc++] = recipe_bad[_i].words[k];
        argv[argc] = NULL;
        ck_assert_int_eq(parse_words(argv), -1);
        ck_assert_int_eq(e.code, AP_ERR_USAGE);
        ck_assert_msg(strstr(e.message, recipe_bad[_i].message), "%s", e.message);
        ck_assert_ptr_nonnull(e.hint);
}
END_TEST

/* Another action's option: the hint names the actions that take it. */
START_TEST(test_memory_option_of_another_action) {
        ck_assert_int_eq(PARSE("memory", "stop", "--top=3", "42"), -1);
        ck_assert_str_eq(e.hint, "'--top' goes with 'memory top' and 'memory diff'");
        ck_assert_int_eq(PARSE("memory", "diff", "--frames", "3", "42"), -1);
        ck_assert_str_eq(e.hint, "'--frames' goes with 'memory start'");
        ck_assert_int_eq(PARSE("memory", "start", "--frames=0", "42"), -1);
        ck_assert_ptr_nonnull(strstr(e.hint, "from 1 to 100"));
}
END_TEST

/* "memory --help" is the help, as "stacks --help" is. */
START_TEST(test_memory_help) {
        assert_ok(PARSE("memory", "--help"));
        ck_assert(o.show_help);
        assert_ok(PARSE("memory", "top", "--help"));
        ck_assert(o.show_help);
}
END_TEST

/* A PID that happens to follow "--" is a PID, not a recipe. */
START_TEST(test_recipe_word_after_double_dash_is_pid) {
        ck_assert_int_eq(PARSE("--", "stacks", "-c", "pass"), -1);
        ck_assert_ptr_nonnull(strstr(e.message, "stacks"));
}
END_TEST

static Suite *options_suite(void) {
        Suite *s = suite_create("options");
        TCase *tc;

#define ADD_TCASE(name, ...)                                                                       \
        do {                                                                                       \
                tc = tcase_create(name);                                                           \
                tcase_add_checked_fixture(tc, setup, teardown);                                    \
                __VA_ARGS__;                                                                       \
                suite_add_tcase(s, tc);                                                            \
        } while (0)

        ADD_TCASE("script", {
                tcase_add_test(tc, test_script);
                tcase_add_test(tc, test_json_survives_usage_error);
                tcase_add_test(tc, test_script_with_args);
                tcase_add_test(tc, test_script_args_that_look_like_options);
                tcase_add_test(tc, test_script_path_as_typed);
                tcase_add_test(tc, test_script_named_dash);
                tcase_add_test(tc, test_script_dash_name_through_dot_slash);
                tcase_add_test(tc, test_option_after_pid);
                tcase_add_test(tc, test_unknown_word_after_pid);
                tcase_add_test(tc, test_double_dash_after_pid);
                tcase_add_test(tc, test_double_dash_after_script);
                tcase_add_test(tc, test_empty_script);
        });
        ADD_TCASE("code", {
                tcase_add_test(tc, test_code_after_pid);
                tcase_add_test(tc, test_code_after_pid_with_args);
                tcase_add_test(tc, test_long_code_after_pid);
                tcase_add_test(tc, test_long_code_inline_after_pid);
                tcase_add_test(tc, test_empty_code);
                tcase_add_test(tc, test_code_value_starting_with_dash);
                tcase_add_test(tc, test_code_missing_after_pid);
                tcase_add_test(tc, test_long_code_missing_after_pid);
                tcase_add_test(tc, test_code_before_pid);
                tcase_add_test(tc, test_code_before_pid_then_everything_is_args);
                tcase_add_test(tc, test_long_code_before_pid);
                tcase_add_test(tc, test_code_before_pid_value_starting_with_dash);
                tcase_add_test(tc, test_code_before_double_dash);
                tcase_add_test(tc, test_code_twice);
                tcase_add_test(tc, test_code_twice_long);
                tcase_add_test(tc, test_code_missing_before_pid);
                tcase_add_test(tc, test_code_without_pid);
                tcase_add_test(tc, test_code_attached_to_c);
        });
        ADD_TCASE("options", {
                tcase_add_test(tc, test_all_flags_inline);
                tcase_add_test(tc, test_values_as_next_word);
                tcase_add_test(tc, test_value_may_contain_equals);
                tcase_add_test(tc, test_last_setting_wins);
                tcase_add_test(tc, test_debugger_auto_is_set);
                tcase_add_test(tc, test_bad_debugger);
                tcase_add_test(tc, test_bad_debugger_case);
                tcase_add_test(tc, test_empty_debugger);
                tcase_add_test(tc, test_bad_timeout);
                tcase_add_test(tc, test_zero_timeout);
                tcase_add_test(tc, test_negative_timeout);
                tcase_add_test(tc, test_timeout_takes_next_word_as_is);
                tcase_add_test(tc, test_empty_config);
                tcase_add_loop_test(tc, test_missing_value, 0, AP_ARRAY_SIZE(missing_values));
                tcase_add_loop_test(tc, test_flag_with_value, 0, AP_ARRAY_SIZE(flags));
                tcase_add_test(tc, test_unknown_option);
                tcase_add_test(tc, test_unknown_short_option);
                tcase_add_test(tc, test_grouped_short_options);
                tcase_add_test(tc, test_long_option_with_one_dash);
                tcase_add_test(tc, test_option_prefix_is_not_enough);
                tcase_add_test(tc, test_negative_number_is_an_option);
                tcase_add_test(tc, test_first_error_is_reported);
        });
        ADD_TCASE("double-dash", {
                tcase_add_test(tc, test_double_dash);
                tcase_add_test(tc, test_double_dash_after_options);
                tcase_add_test(tc, test_double_dash_then_option_is_pid);
                tcase_add_test(tc, test_double_dash_then_negative_pid);
                tcase_add_test(tc, test_double_dash_alone);
        });
        ADD_TCASE("help", {
                tcase_add_test(tc, test_help);
                tcase_add_test(tc, test_short_help);
                tcase_add_test(tc, test_version);
                tcase_add_test(tc, test_help_and_version);
                tcase_add_test(tc, test_help_with_pid_and_script);
                tcase_add_test(tc, test_help_wins_over_earlier_error);
                tcase_add_test(tc, test_version_wins_over_later_error);
                tcase_add_test(tc, test_help_wins_over_missing_value);
                tcase_add_test(tc, test_help_after_pid_is_not_help);
                tcase_add_test(tc, test_help_after_double_dash_is_not_help);
                tcase_add_test(tc, test_help_as_value_is_not_help);
                tcase_add_test(tc, test_help_as_code_is_not_help);
        });
        ADD_TCASE("pid", {
                tcase_add_test(tc, test_missing_pid);
                tcase_add_test(tc, test_missing_pid_after_options);
                tcase_add_test(tc, test_no_argv_at_all);
                tcase_add_test(tc, test_missing_script);
                tcase_add_test(tc, test_missing_script_after_options);
                tcase_add_loop_test(tc, test_pid_not_a_number, 0, AP_ARRAY_SIZE(bad_pids));
                tcase_add_loop_test(tc, test_pid_out_of_range, 0, AP_ARRAY_SIZE(out_of_range_pids));
                tcase_add_test(tc, test_pid_limits);
                tcase_add_test(tc, test_pid_leading_zeros);
        });
        ADD_TCASE("limits", {
                tcase_add_test(tc, test_max_args);
                tcase_add_test(tc, test_too_many_args);
                tcase_add_test(tc, test_code_too_long);
                tcase_add_test(tc, test_free_zeroed);
                tcase_add_test(tc, test_error_replaces_previous_error);
                tcase_add_test(tc, test_error_may_be_null);
                tcase_add_test(tc, test_success_clears_nothing_it_did_not_set);
                tcase_set_timeout(tc, 60); /* 4096 args and 16 MiB of code under valgrind */
        });
        ADD_TCASE("names", {
                tcase_add_test(tc, test_debugger_names);
                tcase_add_loop_test(tc, test_good_timeouts, 0, AP_ARRAY_SIZE(good_timeouts));
                tcase_add_loop_test(tc, test_bad_timeouts, 0, AP_ARRAY_SIZE(bad_timeouts));
                tcase_add_test(tc, test_null_timeout);
        });
        ADD_TCASE("ps", {
                tcase_add_test(tc, test_ps);
                tcase_add_test(tc, test_ps_json);
                tcase_add_test(tc, test_ps_after_alias_options);
                tcase_add_test(tc, test_ps_help);
                tcase_add_test(tc, test_ps_rejects_arguments);
                tcase_add_loop_test(tc, test_recipe_ok, 0, AP_ARRAY_SIZE(recipe_ok));
                tcase_add_loop_test(tc, test_recipe_bad, 0, AP_ARRAY_SIZE(recipe_bad));
                tcase_add_test(tc, test_recipe_word_after_double_dash_is_pid);
                tcase_add_test(tc, test_memory_option_of_another_action);
                tcase_add_test(tc, test_memory_help);
                tcase_add_test(tc, test_ps_is_not_a_pid_after_double_dash);
                tcase_add_test(tc, test_ps_as_script_is_a_script);
                tcase_add_test(tc, test_attach_detach);
                tcase_add_test(tc, test_attach_detach_bad);
        });
        ADD_TCASE("usage", {
                tcase_add_loop_test(tc, test_usage_mentions, 0, AP_ARRAY_SIZE(usage_must_mention));
                tcase_add_loop_test(tc, test_usage_exit_table, 0, AP_ARRAY_SIZE(exit_table));
                tcase_add_test(tc, test_usage_layout);
        });
#undef ADD_TCASE
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(options_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
