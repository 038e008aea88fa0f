/* test_config.c: the YAML config file, its default path and how it merges
 * with the command line.  Every case writes its YAML into a fresh temporary
 * file; error messages are compared whole, "PATH:LINE:COL: ..." included. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "options.h"
#include "util.h"

#define KEYS_HINT "valid keys: debugger (gdb, lldb or auto) and timeout (seconds)"
#define SYNTAX_HINT "the file must be a YAML mapping, such as 'debugger: gdb' and 'timeout: 30'"
#define DEBUGGER_HINT                                                                              \
        "write 'debugger: gdb', 'lldb' or 'auto' (auto: gdb if it is on PATH, else lldb)"
#define TIMEOUT_HINT                                                                               \
        "write 'timeout: SECONDS', a number greater than 0 and at most 86400, such as 30 or 2.5"
#define READER_HINT "the file must be UTF-8 text without control characters"

static char *tmp_path; /* the current temporary file or directory */
static bool tmp_is_dir;
static ap_config cfg;
static ap_error e;

/* Something that is no valid result, to see that failures leave cfg alone. */
static const ap_config sentinel = {true, AP_DEBUGGER_LLDB, true, 1234.5};

static void setup(void) {
        tmp_path = NULL;
        tmp_is_dir = false;
        cfg = sentinel;
        e = (ap_error)AP_ERROR_INIT;
}

static void teardown(void) {
        if (tmp_path) {
                if (tmp_is_dir)
                        rmdir(tmp_path);
                else
                        unlink(tmp_path);
        }
        free(tmp_path);
        tmp_path = NULL;
        ap_error_clear(&e);
}

static const char *tmp_dir(void) {
        const char *dir = getenv("TMPDIR");
        return dir && dir[0] ? dir : "/tmp";
}

/* Write len bytes into a new temporary file; its path is tmp_path. */
static const char *write_config(const void *data, size_t len) {
        ck_assert_ptr_null(tmp_path);
        ck_assert_int_ge(asprintf(&tmp_path, "%s/attachpy-test-config-XXXXXX", tmp_dir()), 0);
        int fd = mkstemp(tmp_path);
        ck_assert_msg(fd >= 0, "mkstemp %s: %s", tmp_path, strerror(errno));
        ck_assert_int_eq(ap_write_all(fd, data, len), 0);
        ck_assert_int_eq(close(fd), 0);
        return tmp_path;
}

/* Load the file at tmp_path and remove it at once: a failing assertion ends
 * a forked test before its teardown. */
static int load_tmp(bool missing_ok, ap_error *err) {
        int r = ap_config_load(&cfg, tmp_path, missing_ok, err);
        unlink(tmp_path);
        return r;
}

static int load_data(const void *data, size_t len) {
        write_config(data, len);
        return load_tmp(false, &e);
}

static int load_text(const char *yaml) { return load_data(yaml, strlen(yaml)); }

static void assert_untouched(void) {
        ck_assert(cfg.has_debugger == sentinel.has_debugger);
        ck_assert_int_eq(cfg.debugger, sentinel.debugger);
        ck_assert(cfg.has_timeout == sentinel.has_timeout);
        ck_assert(cfg.timeout_s == sentinel.timeout_s);
}

static void assert_loaded(int r) {
        ck_assert_msg(r == 0, "load failed: %s", e.message ? e.message : "(null)");
        ck_assert(!ap_error_is_set(&e));
}

/* A usage error whose message is exactly "<tmp_path>:<where_and_what>". */
static void assert_config_error(int r, const char *where_and_what, const char *hint) {
        ck_assert_int_eq(r, -1);
        ck_assert_int_eq(e.code, AP_ERR_USAGE);
        char *want = NULL;
        ck_assert_int_ge(asprintf(&want, "%s:%s", tmp_path, where_and_what), 0);
        ck_assert_str_eq(e.message, want);
        free(want);
        ck_assert_str_eq(e.hint, hint);
        assert_untouched();
}

/* --- files that load --- */

static const struct {
        const char *yaml;
        ap_config want;
} valid[] = {
        {"", {0}},
        {"\n\n", {0}},
        {"# nothing here\n\n   # indented comment\n", {0}},
        {"---\n", {0}},
        {"--- # empty\n...\n", {0}},
        {"{}\n", {0}},
        {"debugger: gdb\n", {true, AP_DEBUGGER_GDB, false, 0}},
        {"debugger: lldb\n", {true, AP_DEBUGGER_LLDB, false, 0}},
        {"debugger: auto\n", {true, AP_DEBUGGER_AUTO, false, 0}},
        {"timeout: 2.5\n", {false, 0, true, 2.5}},
        {"timeout: 86400\n", {false, 0, true, 86400}},
        {"timeout: .5\n", {false, 0, true, 0.5}},
        {"debugger: gdb\ntimeout: 30\n", {true, AP_DEBUGGER_GDB, true, 30}},
        {"timeout: 7 # seconds\ndebugger: lldb # no gdb here\n", {true, AP_DEBUGGER_LLDB, true, 7}},
        {"# attachpy\n---\ndebugger: gdb\n...\n", {true, AP_DEBUGGER_GDB, false, 0}},
        {"{debugger: lldb, timeout: 7}", {true, AP_DEBUGGER_LLDB, true, 7}},
        {"\"debugger\": 'gdb'\n'timeout': \"12\"\n", {true, AP_DEBUGGER_GDB, true, 12}},
        {"debugger: gdb\r\ntimeout: 5\r\n", {true, AP_DEBUGGER_GDB, true, 5}},
        {"timeout: 5", {false, 0, true, 5}},
        {"\xEF\xBB\xBFtimeout: 3\n", {false, 0, true, 3}},
        {"%YAML 1.1\n---\ntimeout: 1\n", {false, 0, true, 1}},
        {"timeout: &t 4\n", {false, 0, true, 4}},
        {"timeout: !!str 6\n", {false, 0, true, 6}},
        {"  debugger:   gdb\n  timeout:    9\n", {true, AP_DEBUGGER_GDB, true, 9}},
};

START_TEST(test_valid) {
        assert_loaded(load_text(valid[_i].yaml));
        ck_assert_int_eq(cfg.has_debugger, valid[_i].want.has_debugger);
        ck_assert_int_eq(cfg.has_timeout, valid[_i].want.has_timeout);
        if (cfg.has_debugger)
                ck_assert_int_eq(cfg.debugger, valid[_i].want.debugger);
        if (cfg.has_timeout)
                ck_assert_double_eq_tol(cfg.timeout_s, valid[_i].want.timeout_s, 1e-12);
}
END_TEST

#define K10 "kkkkkkkkkk"

/* --- golden errors: the YAML, "LINE:COL: message" after the path, the hint --- */

static const struct {
        const char *yaml;
        const char *message;
        const char *hint;
} invalid[] = {
        /* keys */
        {"debugger: gdb\nfoo: 1\n", "2:1: unknown key 'foo'", KEYS_HINT},
        {"# c\n\n   colour: red\n", "3:4: unknown key 'colour'", KEYS_HINT},
        {"{timeout: 5, colour: red}\n", "1:14: unknown key 'colour'", KEYS_HINT},
        {"Timeout: 5\n", "1:1: unknown key 'Timeout'", KEYS_HINT},
        {"\"a\\tb\\0\": 1\n", "1:1: unknown key 'a?b?'", KEYS_HINT},
        {K10 K10 K10 K10 K10 K10 K10 K10 ": 1\n",
         "1:1: unknown key '" K10 K10 K10 K10 K10 K10 "...'", KEYS_HINT},
        /* cut before a UTF-8 sequence, not inside it */
        {K10 K10 K10 K10 K10 "kkkkkkkkk\xc3\xa9kkk: 1\n",
         "1:1: unknown key '" K10 K10 K10 K10 K10 "kkkkkkkkk...'", KEYS_HINT},
        {K10 K10 K10 K10 K10 "kkkkkkkk\xc3\xa9: 1\n", /* 60 bytes: whole */
         "1:1: unknown key '" K10 K10 K10 K10 K10 "kkkkkkkk\xc3\xa9'", KEYS_HINT},
        {"timeout: 1\ntimeout: 2\n", "2:1: duplicate key 'timeout'", "give each key once"},
        {"debugger: gdb\ntimeout: 1\n'debugger': lldb\n", "3:1: duplicate key 'debugger'",
         "give each key once"},
        {"? [a]\n: 1\n", "1:3: a key must be a name, not a list", KEYS_HINT},
        {"? {a: 1}\n: 1\n", "1:3: a key must be a name, not a mapping", KEYS_HINT},
        {"timeout: &k 5\n*k : 1\n", "2:1: a key must be a name, not an alias", KEYS_HINT},

        /* debugger values */
        {"debugger: gbd\n", "1:11: unknown debugger 'gbd': use gdb, lldb or auto", DEBUGGER_HINT},
        {"debugger: GDB\n", "1:11: unknown debugger 'GDB': use gdb, lldb or auto", DEBUGGER_HINT},
        {"debugger: \"\"\n", "1:11: unknown debugger '': use gdb, lldb or auto", DEBUGGER_HINT},
        {"debugger: \"gdb\\0\"\n", "1:11: unknown debugger 'gdb?': use gdb, lldb or auto",
         DEBUGGER_HINT},
        {"debugger: 1\n", "1:11: unknown debugger '1': use gdb, lldb or auto", DEBUGGER_HINT},
        {"debugger:\ntimeout: 1\n", "1:10: 'debugger' needs a value", DEBUGGER_HINT},
        {"debugger: [gdb]\n", "1:11: 'debugger' takes a single value, not a list", DEBUGGER_HINT},
        {"debugger:\n  - gdb\n", "2:3: 'debugger' takes a single value, not a list", DEBUGGER_HINT},
        {"debugger: {name: gdb}\n", "1:11: 'debugger' takes a single value, not a mapping",
         DEBUGGER_HINT},
        {"timeout: &a 5\ndebugger: *a\n", "2:11: 'debugger' may not be an alias", DEBUGGER_HINT},

        /* timeout values */
        {"timeout: 0\n", "1:10: invalid timeout '0'", TIMEOUT_HINT},
        {"timeout: -1\n", "1:10: invalid timeout '-1'", TIMEOUT_HINT},
        {"timeout: 1e3\n", "1:10: invalid timeout '1e3'", TIMEOUT_HINT},
        {"timeout: 90000\n", "1:10: invalid timeout '90000'", TIMEOUT_HINT},
        {"timeout: 5s\n", "1:10: invalid timeout '5s'", TIMEOUT_HINT},
        {"timeout: .inf\n", "1:10: invalid timeout '.inf'", TIMEOUT_HINT},
        {"timeout: ~\n", "1:10: invalid timeout '~'", TIMEOUT_HINT},
        {"timeout: ' 5'\n", "1:10: invalid timeout ' 5'", TIMEOUT_HINT},
        {"timeout:\n", "1:9: 'timeout' needs a value", TIMEOUT_HINT},
        {"timeout:\n  a: 1\n", "2:3: 'timeout' takes a single value, not a mapping", TIMEOUT_HINT},
        {"timeout: [1]\n", "1:10: 'timeout' takes a single value, not a list", TIMEOUT_HINT},
        {"timeout: *x\n", "1:10: 'timeout' may not be an alias", TIMEOUT_HINT},

        /* the top level */
        {"gdb\n", "1:1: the top level must be a mapping, not a scalar", SYNTAX_HINT},
        {"# c\n\n42\n", "3:1: the top level must be a mapping, not a scalar", SYNTAX_HINT},
        {"- debugger\n- gdb\n", "1:1: the top level must be a mapping, not a list", SYNTAX_HINT},
        {"[debugger, gdb]\n", "1:1: the top level must be a mapping, not a list", SYNTAX_HINT},
        {"*a\n", "1:1: the top level must be a mapping, not an alias", SYNTAX_HINT},
        {"timeout: 5\n---\ndebugger: gdb\n", "2:1: only one YAML document is allowed",
         "remove the second '---' and what follows it"},
        {"timeout: 1\n...\n---\n", "3:1: only one YAML document is allowed",
         "remove the second '---' and what follows it"},

        /* YAML syntax, as libyaml words it */
        {"\tdebugger: gdb\n", "1:1: found character that cannot start any token",
         "while scanning for the next token at 1:1; " SYNTAX_HINT},
        {"timeout: \"5\n", "2:1: found unexpected end of stream",
         "while scanning a quoted scalar at 1:10; " SYNTAX_HINT},
        {"debugger: gdb: lldb\n", "1:14: mapping values are not allowed in this context",
         SYNTAX_HINT},
        {"debugger: gdb\n timeout: 5\n", "2:9: mapping values are not allowed in this context",
         SYNTAX_HINT},
        {"timeout: [1\n", "2:1: did not find expected ',' or ']'",
         "while parsing a flow sequence at 1:10; " SYNTAX_HINT},
        {"%FOO bar\n---\n", "1:5: found unknown directive name",
         "while scanning a directive at 1:1; " SYNTAX_HINT},
        /* syntax errors win over earlier meaning errors */
        {"colour: red\ndebugger: [\n", "3:1: did not find expected node content",
         "while parsing a flow node at 3:1; " SYNTAX_HINT},

        /* bytes that are not text */
        {"timeout: 5\n\xff\n", "2:1: invalid leading UTF-8 octet (byte 0xFF)", READER_HINT},
        {"timeout: 5\x01\n", "1:11: control characters are not allowed (byte 0x01)", READER_HINT},
};

START_TEST(test_invalid) {
        assert_config_error(load_text(invalid[_i].yaml), invalid[_i].message, invalid[_i].hint);
}
END_TEST

START_TEST(test_nul_byte_in_file) {
        static const char yaml[] = "timeout: 5\n\0debugger: gdb\n";
        int r = load_data(yaml, sizeof yaml - 1);
        assert_config_error(r, "2:1: control characters are not allowed (byte 0x00)", READER_HINT);
}
END_TEST

/* --- the file itself --- */

START_TEST(test_missing_file_ok) {
        char *path = NULL;
        ck_assert_int_ge(asprintf(&path, "%s/attachpy-test-no-such-dir/config.yaml", tmp_dir()), 0);
        int r = ap_config_load(&cfg, path, true, &e);
        free(path);
        assert_loaded(r);
        ck_assert(!cfg.has_debugger);
        ck_assert(!cfg.has_timeout);
}
END_TEST

START_TEST(test_missing_file) {
        const char *path = "/nonexistent/attachpy/config.yaml";
        ck_assert_int_eq(ap_config_load(&cfg, path, false, &e), -1);
        ck_assert_int_eq(e.code, AP_ERR_USAGE);
        ck_assert_str_eq(e.message, "cannot read config file /nonexistent/attachpy/config.yaml: "
                                    "No such file or directory");
        ck_assert_str_eq(e.hint, "check the path given with --config");
        assert_untouched();
}
END_TEST

START_TEST(test_directory) {
        ck_assert_int_ge(asprintf(&tmp_path, "%s/attachpy-test-config-XXXXXX", tmp_dir()), 0);
        ck_assert_ptr_nonnull(mkdtemp(tmp_path));
        tmp_is_dir = true;
        /* missing_ok covers a missing file only */
        int r = ap_config_load(&cfg, tmp_path, true, &e);
        rmdir(tmp_path);
        ck_assert_int_eq(r, -1);
        char *want = NULL;
        ck_assert_int_ge(asprintf(&want, "cannot read config file %s: Is a directory", tmp_path),
                         0);
        ck_assert_str_eq(e.message, want);
        free(want);
        ck_assert_str_eq(e.hint, "the config file must be a readable YAML file");
}
END_TEST

START_TEST(test_unreadable) {
        if (geteuid() == 0)
                return; /* root reads everything */
        write_config("timeout: 1\n", 11);
        ck_assert_int_eq(chmod(tmp_path, 0), 0);
        ck_assert_int_eq(load_tmp(true, &e), -1);
        char *want = NULL;
        ck_assert_int_ge(asprintf(&want, "cannot read config file %s: Permission denied", tmp_path),
                         0);
        ck_assert_str_eq(e.message, want);
        free(want);
        ck_assert_str_eq(e.hint, "check the file's permissions");
}
END_TEST

/* A valid file of exactly size bytes: one key, then comment lines. */
static char *config_of_size(size_t size) {
        char *data = malloc(size);
        ck_assert_ptr_nonnull(data);
        memset(data, ' ', size);
        memcpy(data, "timeout: 3\n", 11);
        for (size_t i = 11; i < size; i += 64) {
                data[i] = '#';
                if (i + 63 < size)
                        data[i + 63] = '\n';
        }
        data[size - 1] = '\n';
        return data;
}

START_TEST(test_size_limit) {
        char *data = config_of_size(64 * 1024);
        int r = load_data(data, 64 * 1024);
        free(data);
        assert_loaded(r);
        ck_assert(cfg.timeout_s == 3);
}
END_TEST

START_TEST(test_too_big) {
        char *data = config_of_size(64 * 1024 + 1);
        int r = load_data(data, 64 * 1024 + 1);
        free(data);
        ck_assert_int_eq(r, -1);
        char *want = NULL;
        ck_assert_int_ge(asprintf(&want, "%s: config file is larger than 64 KiB", tmp_path), 0);
        ck_assert_str_eq(e.message, want);
        free(want);
        ck_assert_ptr_nonnull(e.hint);
        assert_untouched();
}
END_TEST

START_TEST(test_null_path) {
        assert_loaded(ap_config_load(&cfg, NULL, true, &e));
        ck_assert(!cfg.has_debugger && !cfg.has_timeout);
        cfg = sentinel;
        ck_assert_int_eq(ap_config_load(&cfg, NULL, false, &e), -1);
        ck_assert_int_eq(e.code, AP_ERR_USAGE);
        assert_untouched();
}
END_TEST

START_TEST(test_error_replaces_previous_error) {
        ap_error_set(&e, AP_ERR_TIMEOUT, "old");
        ap_error_hint(&e, "old hint");
        assert_config_error(load_text("foo: 1\n"), "1:1: unknown key 'foo'", KEYS_HINT);
}
END_TEST

START_TEST(test_error_may_be_null) {
        write_config("foo: 1\n", 7);
        ck_assert_int_eq(load_tmp(false, NULL), -1);
        assert_untouched();
}
END_TEST

/* --- the default path --- */

static char *saved_xdg, *saved_home;

static char *dup_env(const char *name) {
        const char *v = getenv(name);
        return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, const char *value) {
        if (value)
                setenv(name, value, 1);
        else
                unsetenv(name);
}

static void env_setup(void) {
        saved_xdg = dup_env("XDG_CONFIG_HOME");
        saved_home = dup_env("HOME");
}

static void env_teardown(void) {
        restore_env("XDG_CONFIG_HOME", saved_xdg);
        restore_env("HOME", saved_home);
        free(saved_xdg);
        free(saved_home);
        saved_xdg = saved_home = NULL;
}

static const struct {
        const char *xdg;  /* NULL: unset */
        const char *home; /* NULL: unset */
        const char *want; /* NULL: no default path */
} default_paths[] = {
        {"/x/cfg", "/home/u", "/x/cfg/attachpy/config.yaml"},
        {"/x/cfg", NULL, "/x/cfg/attachpy/config.yaml"},
        {NULL, "/home/u", "/home/u/.config/attachpy/config.yaml"},
        {"", "/home/u", "/home/u/.config/attachpy/config.yaml"},
        {"relative/cfg", "/home/u", "/home/u/.config/attachpy/config.yaml"},
        {NULL, NULL, NULL},
        {"", "", NULL},
        {"relative", "relative-home", NULL},
        {NULL, "/", "//.config/attachpy/config.yaml"},
};

START_TEST(test_default_path) {
        restore_env("XDG_CONFIG_HOME", default_paths[_i].xdg);
        restore_env("HOME", default_paths[_i].home);
        char *path = ap_config_default_path();
        if (default_paths[_i].want)
                ck_assert_str_eq(path, default_paths[_i].want);
        else
                ck_assert_ptr_null(path);
        free(path);
}
END_TEST

/* --- merging with the command line --- */

START_TEST(test_apply_defaults) {
        ap_options o = {0};
        ap_config empty = {0};
        ap_options_apply_config(&o, &empty);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_AUTO);
        ck_assert(o.timeout_s == AP_DEFAULT_TIMEOUT_S);
        ck_assert(!o.debugger_set && !o.timeout_set);

        o = (ap_options){.debugger = AP_DEBUGGER_GDB, .timeout_s = 1};
        ap_options_apply_config(&o, NULL);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_AUTO);
        ck_assert(o.timeout_s == AP_DEFAULT_TIMEOUT_S);
        ap_options_apply_config(NULL, &empty);
}
END_TEST

START_TEST(test_apply_config) {
        ap_options o = {0};
        ap_config c = {true, AP_DEBUGGER_LLDB, true, 4.5};
        ap_options_apply_config(&o, &c);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_LLDB);
        ck_assert(o.timeout_s == 4.5);
}
END_TEST

START_TEST(test_command_line_wins) {
        ap_options o = {.debugger = AP_DEBUGGER_GDB,
                        .debugger_set = true,
                        .timeout_s = 9,
                        .timeout_set = true};
        ap_config c = {true, AP_DEBUGGER_LLDB, true, 4.5};
        ap_options_apply_config(&o, &c);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_GDB);
        ck_assert(o.timeout_s == 9);
}
END_TEST

START_TEST(test_command_line_auto_wins) {
        ap_options o = {.debugger = AP_DEBUGGER_AUTO, .debugger_set = true};
        ap_config c = {true, AP_DEBUGGER_LLDB, true, 4.5};
        ap_options_apply_config(&o, &c);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_AUTO);
        ck_assert(o.timeout_s == 4.5);
}
END_TEST

START_TEST(test_mixed) {
        ap_options o = {.timeout_s = 2, .timeout_set = true};
        ap_config c = {true, AP_DEBUGGER_GDB, false, 0};
        ap_options_apply_config(&o, &c);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_GDB);
        ck_assert(o.timeout_s == 2);

        o = (ap_options){0};
        ap_options_apply_config(&o, &c);
        ck_assert(o.timeout_s == AP_DEFAULT_TIMEOUT_S);
}
END_TEST

/* The whole way, as main() takes it: argv, then the file, then defaults. */
START_TEST(test_parse_then_load_then_apply) {
        write_config("debugger: lldb\ntimeout: 12\n", 27);
        char *argv[] = {(char[]){"attachpy"},
                        (char[]){"--timeout=3"},
                        (char[]){"--config"},
                        tmp_path,
                        (char[]){"42"},
                        (char[]){"s.py"},
                        NULL};
        ap_options o;
        ck_assert_int_eq(ap_options_parse(&o, 6, argv, &e), 0);
        ck_assert_str_eq(o.config_path, tmp_path);
        assert_loaded(load_tmp(false, &e));
        ap_options_apply_config(&o, &cfg);
        ck_assert_int_eq(o.debugger, AP_DEBUGGER_LLDB);
        ck_assert(o.timeout_s == 3);
        ap_options_free(&o);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");

        TCase *tc = tcase_create("valid");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_valid, 0, AP_ARRAY_SIZE(valid));
        suite_add_tcase(s, tc);

        tc = tcase_create("invalid");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, test_invalid, 0, AP_ARRAY_SIZE(invalid));
        tcase_add_test(tc, test_nul_byte_in_file);
        suite_add_tcase(s, tc);

        tc = tcase_create("file");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_missing_file_ok);
        tcase_add_test(tc, test_missing_file);
        tcase_add_test(tc, test_directory);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_size_limit);
        tcase_add_test(tc, test_too_big);
        tcase_add_test(tc, test_null_path);
        tcase_add_test(tc, test_error_replaces_previous_error);
        tcase_add_test(tc, test_error_may_be_null);
        suite_add_tcase(s, tc);

        tc = tcase_create("default-path");
        tcase_add_checked_fixture(tc, env_setup, env_teardown);
        tcase_add_loop_test(tc, test_default_path, 0, AP_ARRAY_SIZE(default_paths));
        suite_add_tcase(s, tc);

        tc = tcase_create("apply");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_apply_defaults);
        tcase_add_test(tc, test_apply_config);
        tcase_add_test(tc, test_command_line_wins);
        tcase_add_test(tc, test_command_line_auto_wins);
        tcase_add_test(tc, test_mixed);
        tcase_add_test(tc, test_parse_then_load_then_apply);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
