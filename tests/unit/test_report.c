/* test_report.c: the JSON status object (DESIGN.md, "JSON status"), the text
 * reporter's routing of output and errors, exit statuses, and the UTF-8
 * clean-up of what the code printed. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "report.h"
#include "result.h"
#include "util.h"

/* ---- building reports ---------------------------------------------------- */

static void set_target(ap_report *r) {
        r->have_target = true;
        r->impl = AP_IMPL_CPYTHON;
        r->version = strdup("3.12.1");
        r->executable = strdup("/usr/bin/python3.12");
}

static void set_result(ap_report *r, const char *out, size_t out_len, const char *err,
                       size_t err_len) {
        r->have_result = true;
        ck_assert_int_eq(ap_buf_append(&r->result.out, out, out_len), 0);
        ck_assert_int_eq(ap_buf_append(&r->result.err, err, err_len), 0);
        r->result.ended = true;
}

static void set_timing(ap_report *r) {
        r->ms_total = 123.5;
        r->ms_preflight = 1.25;
        r->ms_debugger = 100.0;
        r->ms_run = 22.25;
}

static void report_success(ap_report *r) {
        memset(r, 0, sizeof *r);
        r->pid = 4242;
        r->debugger = "gdb";
        r->mechanism = "debugger";
        set_target(r);
        set_result(r, "hi\n", 3, "", 0);
        r->result.end = strdup("ok");
        r->ok = true;
        set_timing(r);
}

static void report_script_error(ap_report *r) {
        memset(r, 0, sizeof *r);
        r->pid = 4242;
        r->debugger = "gdb";
        set_target(r);
        set_result(r, "partial\n", 8, "to stderr\n", 10);
        r->result.end = strdup("exception");
        r->result.exc_type = strdup("ValueError");
        r->result.exc_message = strdup("boom");
        r->result.exc_traceback = strdup("Traceback (most recent call last):\n"
                                         "  File \"/tmp/s.py\", line 1, in <module>\n"
                                         "ValueError: boom\n");
        ap_error_set(&r->error, AP_ERR_SCRIPT_ERROR, "the code raised ValueError: boom");
        ap_error_hint(&r->error, "process 4242 is unharmed");
        set_timing(r);
}

static void report_no_process(ap_report *r) {
        memset(r, 0, sizeof *r);
        r->pid = 999999;
        ap_error_set(&r->error, AP_ERR_NO_SUCH_PROCESS, "no process with PID 999999");
        ap_error_hint(&r->error, "check the PID with 'ps -p 999999'");
        r->ms_total = 0.5;
}

static void report_no_wait(ap_report *r) {
        memset(r, 0, sizeof *r);
        r->pid = 4242;
        r->debugger = "gdb";
        set_target(r);
        r->ok = true;
        r->scheduled_only = true;
        set_timing(r);
}

/* ---- JSON helpers -------------------------------------------------------- */

static json_t *get(json_t *o, const char *key) {
        ck_assert_msg(json_is_object(o), "not an object looking up '%s'", key);
        json_t *v = json_object_get(o, key);
        ck_assert_msg(v != NULL, "key '%s' missing", key);
        return v;
}

static void expect_keys(json_t *o, const char *const *keys, size_t n) {
        ck_assert(json_is_object(o));
        ck_assert_uint_eq(json_object_size(o), n);
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(json_object_get(o, keys[i]) != NULL, "key '%s' missing", keys[i]);
}

static const char *str_of(json_t *o, const char *key) {
        json_t *v = get(o, key);
        ck_assert_msg(json_is_string(v), "'%s' is not a string", key);
        return json_string_value(v);
}

/* Every key of the contract, with its type, whatever the outcome. */
static void check_shape(json_t *j) {
        static const char *const top[] = {"ok",     "pid",   "debugger",  "mechanism", "target",
                                          "result", "error", "timing_ms", "retries",   "serving"};
        expect_keys(j, top, AP_ARRAY_SIZE(top));
        json_t *m = get(j, "mechanism");
        ck_assert(json_is_null(m) ||
                  (json_is_string(m) && (strcmp(json_string_value(m), "debugger") == 0 ||
                                         strcmp(json_string_value(m), "remote_exec") == 0 ||
                                         strcmp(json_string_value(m), "agent") == 0)));
        json_t *serving = get(j, "serving");
        ck_assert(json_is_null(serving) || json_is_boolean(serving));
        ck_assert(json_is_boolean(get(j, "ok")));
        ck_assert(json_is_integer(get(j, "retries")));
        ck_assert_int_ge(json_integer_value(get(j, "retries")), 0);
        ck_assert(json_is_integer(get(j, "pid")));
        json_t *d = get(j, "debugger");
        ck_assert(json_is_null(d) ||
                  (json_is_string(d) && (strcmp(json_string_value(d), "gdb") == 0 ||
                                         strcmp(json_string_value(d), "lldb") == 0)));
        json_t *t = get(j, "target");
        if (!json_is_null(t)) {
                static const char *const keys[] = {"implementation", "version", "executable"};
                expect_keys(t, keys, AP_ARRAY_SIZE(keys));
                const char *impl = str_of(t, "implementation");
                ck_assert(strcmp(impl, "cpython") == 0 || strcmp(impl, "pypy") == 0);
                str_of(t, "version");
                str_of(t, "executable");
        }
        json_t *res = get(j, "result");
        if (!json_is_null(res)) {
                static const char *const keys[] = {"stdout", "stderr", "exception", "truncated",
                                                   "target_exit"};
                expect_keys(res, keys, AP_ARRAY_SIZE(keys));
                str_of(res, "stdout");
                str_of(res, "stderr");
                json_t *tr = get(res, "truncated");
                static const char *const tkeys[] = {"stdout", "stderr"};
                expect_keys(tr, tkeys, AP_ARRAY_SIZE(tkeys));
                ck_assert(json_is_integer(get(tr, "stdout")) &&
                          json_integer_value(get(tr, "stdout")) >= 0);
                ck_assert(json_is_integer(get(tr, "stderr")) &&
                          json_integer_value(get(tr, "stderr")) >= 0);
                json_t *e = get(res, "exception");
                if (!json_is_null(e)) {
                        static const char *const ekeys[] = {"type", "message", "traceback"};
                        expect_keys(e, ekeys, AP_ARRAY_SIZE(ekeys));
                        str_of(e, "type");
                        str_of(e, "message");
                        str_of(e, "traceback");
                }
        }
        json_t *err = get(j, "error");
        if (!json_is_null(err)) {
                static const char *const keys[] = {"code", "message", "hint"};
                expect_keys(err, keys, AP_ARRAY_SIZE(keys));
                str_of(err, "code");
                str_of(err, "message");
                str_of(err, "hint");
        }
        json_t *tm = get(j, "timing_ms");
        ck_assert(json_is_object(tm));
        ck_assert(json_is_number(get(tm, "total")));
        const char *k;
        json_t *v;
        json_object_foreach(tm, k, v)
                ck_assert_msg(json_is_number(v), "timing_ms.%s is not a number", k);
        /* ok is true iff the code ran and finished without an exception. */
        ck_assert(!json_is_true(get(j, "ok")) || json_is_null(err));
}

/* ---- JSON ---------------------------------------------------------------- */

START_TEST(test_json_success) {
        ap_report r;
        report_success(&r);
        json_t *j = ap_report_to_json(&r);
        ck_assert_ptr_nonnull(j);
        check_shape(j);
        ck_assert(json_is_true(get(j, "ok")));
        ck_assert_int_eq(json_integer_value(get(j, "pid")), 4242);
        ck_assert_str_eq(str_of(j, "debugger"), "gdb");
        ck_assert_str_eq(str_of(j, "mechanism"), "debugger");
        json_t *t = get(j, "target");
        ck_assert_str_eq(str_of(t, "implementation"), "cpython");
        ck_assert_str_eq(str_of(t, "version"), "3.12.1");
        ck_assert_str_eq(str_of(t, "executable"), "/usr/bin/python3.12");
        json_t *res = get(j, "result");
        ck_assert_str_eq(str_of(res, "stdout"), "hi\n");
        ck_assert_str_eq(str_of(res, "stderr"), "");
        ck_assert(json_is_null(get(res, "exception")));
        ck_assert_int_eq(json_integer_value(get(get(res, "truncated"), "stdout")), 0);
        ck_assert_int_eq(json_integer_value(get(get(res, "truncated"), "stderr")), 0);
        ck_assert(json_is_null(get(j, "error")));
        ck_assert(json_real_value(get(get(j, "timing_ms"), "total")) == 123.5);
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_target_exited) {
        /* How it ended: a signal, an exit code, or unknown (both null). */
        ap_report r;
        report_success(&r);
        r.ok = false;
        ap_error_set(&r.error, AP_ERR_TARGET_EXITED, "process 4242 ended while the code ran");
        r.target_ended = true;
        r.exit = (ap_exit_status){.how = AP_EXIT_SIGNAL, .value = 11, .core_dumped = true};
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        json_t *e = get(get(j, "result"), "target_exit");
        ck_assert(json_is_null(get(e, "exit_code")));
        ck_assert_int_eq(json_integer_value(get(e, "signal")), 11);
        ck_assert_str_eq(str_of(e, "signal_name"), "SIGSEGV");
        ck_assert(json_is_true(get(e, "core_dumped")));
        ck_assert_str_eq(str_of(get(j, "result"), "stdout"), "hi\n");
        ck_assert_str_eq(str_of(get(j, "error"), "code"), "target_exited");
        json_decref(j);
        r.exit = (ap_exit_status){.how = AP_EXIT_CODE, .value = 3};
        j = ap_report_to_json(&r);
        e = get(get(j, "result"), "target_exit");
        ck_assert_int_eq(json_integer_value(get(e, "exit_code")), 3);
        ck_assert(json_is_null(get(e, "signal")));
        ck_assert(json_is_null(get(e, "signal_name")));
        ck_assert(json_is_false(get(e, "core_dumped")));
        json_decref(j);
        r.exit = (ap_exit_status){.how = AP_EXIT_UNKNOWN};
        j = ap_report_to_json(&r);
        e = get(get(j, "result"), "target_exit");
        ck_assert(json_is_null(get(e, "exit_code")));
        ck_assert(json_is_null(get(e, "signal")));
        json_decref(j);
        /* Any other run: null. */
        r.target_ended = false;
        j = ap_report_to_json(&r);
        ck_assert(json_is_null(get(get(j, "result"), "target_exit")));
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_truncated_counts) {
        /* The bytes the CLI dropped, per stream, beyond 2^32 too. */
        ap_report r;
        report_success(&r);
        r.result.out_dropped = 88080384;
        r.result.err_dropped = 5000000000ull;
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        json_t *tr = get(get(j, "result"), "truncated");
        ck_assert_int_eq(json_integer_value(get(tr, "stdout")), 88080384);
        ck_assert_int_eq(json_integer_value(get(tr, "stderr")), 5000000000ll);
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_script_error) {
        ap_report r;
        report_script_error(&r);
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        ck_assert(json_is_false(get(j, "ok")));
        json_t *res = get(j, "result");
        ck_assert_str_eq(str_of(res, "stdout"), "partial\n");
        ck_assert_str_eq(str_of(res, "stderr"), "to stderr\n");
        json_t *e = get(res, "exception");
        ck_assert_str_eq(str_of(e, "type"), "ValueError");
        ck_assert_str_eq(str_of(e, "message"), "boom");
        ck_assert_ptr_nonnull(strstr(str_of(e, "traceback"), "ValueError: boom\n"));
        json_t *err = get(j, "error");
        ck_assert_str_eq(str_of(err, "code"), "script_error");
        ck_assert_str_eq(str_of(err, "message"), "the code raised ValueError: boom");
        ck_assert_str_eq(str_of(err, "hint"), "process 4242 is unharmed");
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_exception_without_details) {
        /* EXTY alone: message and traceback are still strings. */
        ap_report r;
        report_script_error(&r);
        free(r.result.exc_message);
        free(r.result.exc_traceback);
        r.result.exc_message = r.result.exc_traceback = NULL;
        ap_error_hint(&r.error, "%s", "");
        free(r.error.hint);
        r.error.hint = NULL;
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        json_t *e = get(get(j, "result"), "exception");
        ck_assert_str_eq(str_of(e, "message"), "");
        ck_assert_str_eq(str_of(e, "traceback"), "");
        ck_assert_str_eq(str_of(get(j, "error"), "hint"), "");
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_error_before_target) {
        ap_report r;
        report_no_process(&r);
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        ck_assert(json_is_false(get(j, "ok")));
        ck_assert_int_eq(json_integer_value(get(j, "pid")), 999999);
        ck_assert(json_is_null(get(j, "debugger")));
        ck_assert(json_is_null(get(j, "target")));
        ck_assert(json_is_null(get(j, "result")));
        json_t *err = get(j, "error");
        ck_assert_str_eq(str_of(err, "code"), "no_such_process");
        ck_assert_str_eq(str_of(err, "message"), "no process with PID 999999");
        ck_assert_str_eq(str_of(err, "hint"), "check the PID with 'ps -p 999999'");
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_usage_error_pid_zero) {
        /* A usage error before the PID was parsed. */
        ap_report r;
        memset(&r, 0, sizeof r);
        ap_error_set(&r.error, AP_ERR_USAGE, "missing PID");
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        ck_assert_str_eq(str_of(get(j, "error"), "code"), "usage");
        ck_assert_int_eq(json_integer_value(get(j, "pid")), 0);
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_no_wait) {
        ap_report r;
        report_no_wait(&r);
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        ck_assert(json_is_true(get(j, "ok")));
        ck_assert(json_is_null(get(j, "result")));
        ck_assert(json_is_null(get(j, "error")));
        ck_assert(json_is_object(get(j, "target")));
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_every_code) {
        for (int c = AP_OK + 1; c < AP_CODE_COUNT_; c++) {
                ap_report r;
                memset(&r, 0, sizeof r);
                r.pid = 1;
                ap_error_set(&r.error, (ap_code)c, "message %d", c);
                json_t *j = ap_report_to_json(&r);
                check_shape(j);
                ck_assert_str_eq(str_of(get(j, "error"), "code"), ap_code_name((ap_code)c));
                json_decref(j);
                ap_report_free(&r);
        }
}
END_TEST

START_TEST(test_json_target_without_version) {
        ap_report r;
        memset(&r, 0, sizeof r);
        r.pid = 5;
        r.have_target = true;
        r.impl = AP_IMPL_PYPY;
        ap_error_set(&r.error, AP_ERR_UNSUPPORTED_PYTHON, "PyPy");
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        json_t *t = get(j, "target");
        ck_assert_str_eq(str_of(t, "implementation"), "pypy");
        ck_assert_str_eq(str_of(t, "version"), "");
        ck_assert_str_eq(str_of(t, "executable"), "");
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_invalid_utf8_and_nul) {
        /* stdout: invalid byte, NUL, valid multi-byte; stderr: a lone
         * continuation byte; the exception message: truncated sequence. */
        static const char out[] = "a\xff"
                                  "b\0c\xe2\x82\xac";
        ap_report r;
        report_success(&r);
        ap_buf_free(&r.result.out);
        ck_assert_int_eq(ap_buf_append(&r.result.out, out, sizeof out - 1), 0);
        ck_assert_int_eq(ap_buf_append(&r.result.err, "\x80", 1), 0);
        r.result.exc_type = strdup("E");
        r.result.exc_message = strdup("x\xe2\x82");
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        json_t *res = get(j, "result");
        json_t *so = get(res, "stdout");
        static const char want[] = "a\xef\xbf\xbd"
                                   "b\0c\xe2\x82\xac";
        ck_assert_uint_eq(json_string_length(so), sizeof want - 1);
        ck_assert(memcmp(json_string_value(so), want, sizeof want - 1) == 0);
        ck_assert_str_eq(str_of(res, "stderr"), "\xef\xbf\xbd");
        ck_assert_str_eq(str_of(get(res, "exception"), "message"), "x\xef\xbf\xbd\xef\xbf\xbd");

        /* And through the printer: ASCII only, the NUL escaped. */
        FILE *f = tmpfile();
        ck_assert_ptr_nonnull(f);
        ap_report_print_json(&r, f);
        rewind(f);
        char line[4096];
        ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
        ck_assert_msg(strcasestr(line, "\"a\\ufffdb\\u0000c\\u20ac\""), "printed: %s", line);
        fclose(f);
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_json_error_message_utf8) {
        ap_report r;
        memset(&r, 0, sizeof r);
        ap_error_set(&r.error, AP_ERR_USAGE, "script '/tmp/\xff.py' not found");
        json_t *j = ap_report_to_json(&r);
        check_shape(j);
        ck_assert_str_eq(str_of(get(j, "error"), "message"),
                         "script '/tmp/\xef\xbf\xbd.py' not found");
        json_decref(j);
        ap_report_free(&r);
}
END_TEST

/* Print r as JSON to a temp file; return its content (caller frees). */
static char *print_json(const ap_report *r, int *ret_status, size_t *ret_len) {
        FILE *f = tmpfile();
        ck_assert_ptr_nonnull(f);
        *ret_status = ap_report_print_json(r, f);
        long n = ftell(f);
        ck_assert_int_ge(n, 0);
        rewind(f);
        char *buf = calloc(1, (size_t)n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        *ret_len = (size_t)n;
        return buf;
}

START_TEST(test_print_json_one_object) {
        void (*makers[])(ap_report *) = {report_success, report_script_error, report_no_process,
                                         report_no_wait};
        const int statuses[] = {0, 1, 3, 0};
        for (size_t i = 0; i < AP_ARRAY_SIZE(makers); i++) {
                ap_report r;
                makers[i](&r);
                int status;
                size_t len;
                char *text = print_json(&r, &status, &len);
                ck_assert_int_eq(status, statuses[i]);
                /* Exactly one line: one object and a newline. */
                ck_assert_uint_gt(len, 2);
                ck_assert_int_eq(text[len - 1], '\n');
                ck_assert_ptr_eq(strchr(text, '\n'), text + len - 1);
                for (size_t k = 0; k < len; k++)
                        ck_assert_msg((unsigned char)text[k] < 0x80, "non-ASCII byte at %zu", k);
                json_error_t jerr;
                json_t *j = json_loadb(text, len, 0, &jerr); /* rejects trailing data */
                ck_assert_msg(j != NULL, "invalid JSON (%s): %s", jerr.text, text);
                check_shape(j);
                json_decref(j);
                free(text);
                ap_report_free(&r);
        }
}
END_TEST

/* ---- UTF-8 clean-up ------------------------------------------------------- */

#define FFFD "\xef\xbf\xbd"

static void expect_sanitized(const char *in, size_t in_len, const char *want, size_t want_len) {
        size_t len = 12345;
        char *s = ap_utf8_sanitize(in, in_len, &len);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(len, want_len);
        ck_assert_msg(memcmp(s, want, want_len) == 0, "sanitized bytes differ");
        ck_assert_int_eq(s[len], '\0');
        free(s);
}

#define SAN(in, want) expect_sanitized((in), sizeof(in) - 1, (want), sizeof(want) - 1)

START_TEST(test_sanitize) {
        SAN("", "");
        SAN("plain ascii\n", "plain ascii\n");
        SAN("\0\0", "\0\0"); /* NULs stay */
        SAN("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
        SAN("\xed\x9f\xbf", "\xed\x9f\xbf");          /* U+D7FF */
        SAN("\xee\x80\x80", "\xee\x80\x80");          /* U+E000 */
        SAN("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");  /* U+10FFFF */
        SAN("\xff", FFFD);                            /* never valid */
        SAN("\x80", FFFD);                            /* lone continuation */
        SAN("\xc0\xaf", FFFD FFFD);                   /* overlong '/' */
        SAN("\xc1\xbf", FFFD FFFD);                   /* overlong */
        SAN("\xe0\x80\xaf", FFFD FFFD FFFD);          /* overlong, 3 bytes */
        SAN("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD); /* overlong, 4 bytes */
        SAN("\xed\xa0\x80", FFFD FFFD FFFD);          /* surrogate U+D800 */
        SAN("\xed\xbf\xbf", FFFD FFFD FFFD);          /* surrogate U+DFFF */
        SAN("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* above U+10FFFF */
        SAN("\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD);
        SAN("a\xe2\x82", "a" FFFD FFFD);                         /* truncated at the end */
        SAN("\xe2\x82x", FFFD FFFD "x");                         /* interrupted */
        SAN("\xc3\xa9\xff\xc3\xa9", "\xc3\xa9" FFFD "\xc3\xa9"); /* resynchronises */
}
END_TEST

START_TEST(test_sanitize_null_and_no_len) {
        char *s = ap_utf8_sanitize(NULL, 0, NULL);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, "");
        free(s);
        s = ap_utf8_sanitize("ok", 2, NULL);
        ck_assert_str_eq(s, "ok");
        free(s);
}
END_TEST

START_TEST(test_sanitize_every_byte) {
        /* Each single byte is itself (ASCII) or one U+FFFD. */
        for (int c = 0; c < 256; c++) {
                char in = (char)c;
                size_t len;
                char *s = ap_utf8_sanitize(&in, 1, &len);
                if (c < 0x80) {
                        ck_assert_uint_eq(len, 1);
                        ck_assert_int_eq(s[0], (char)c);
                } else {
                        ck_assert_uint_eq(len, 3);
                        ck_assert(memcmp(s, FFFD, 3) == 0);
                }
                free(s);
        }
}
END_TEST

/* ---- text ----------------------------------------------------------------- */

typedef struct text_out {
        int status;
        char *out;
        size_t out_len;
        char *err;
        size_t err_len;
} text_out;

static char *slurp(FILE *f, size_t *ret_len) {
        long n = ftell(f);
        ck_assert_int_ge(n, 0);
        rewind(f);
        char *buf = calloc(1, (size_t)n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        *ret_len = (size_t)n;
        return buf;
}

static text_out print_text(const ap_report *r) {
        FILE *out = tmpfile(), *err = tmpfile();
        ck_assert(out && err);
        text_out t;
        t.status = ap_report_print_text(r, out, err);
        t.out = slurp(out, &t.out_len);
        t.err = slurp(err, &t.err_len);
        return t;
}

static void text_out_free(text_out *t) {
        free(t->out);
        free(t->err);
}

START_TEST(test_text_success) {
        ap_report r;
        report_success(&r);
        text_out t = print_text(&r);
        ck_assert_int_eq(t.status, 0);
        ck_assert_str_eq(t.out, "hi\n"); /* stdout carries exactly the result */
        ck_assert_str_eq(t.err, "");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_binary_stdout_verbatim) {
        /* Text mode passes the code's bytes through untouched (no U+FFFD). */
        static const char bytes[] = "\xff\0raw\n";
        ap_report r;
        report_success(&r);
        ap_buf_free(&r.result.out);
        ck_assert_int_eq(ap_buf_append(&r.result.out, bytes, sizeof bytes - 1), 0);
        text_out t = print_text(&r);
        ck_assert_uint_eq(t.out_len, sizeof bytes - 1);
        ck_assert(memcmp(t.out, bytes, sizeof bytes - 1) == 0);
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_script_error) {
        ap_report r;
        report_script_error(&r);
        text_out t = print_text(&r);
        ck_assert_int_eq(t.status, 1);
        ck_assert_str_eq(t.out, "partial\n");
        /* The code's stderr, then the traceback; no attachpy error line (the
         * traceback says it). */
        ck_assert_str_eq(t.err, "to stderr\n"
                                "Traceback (most recent call last):\n"
                                "  File \"/tmp/s.py\", line 1, in <module>\n"
                                "ValueError: boom\n");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_traceback_gets_newline) {
        ap_report r;
        report_script_error(&r);
        free(r.result.exc_traceback);
        r.result.exc_traceback = strdup("ValueError: boom");
        ap_buf_free(&r.result.err);
        text_out t = print_text(&r);
        ck_assert_str_eq(t.err, "ValueError: boom\n");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_error_and_hint) {
        ap_report r;
        report_no_process(&r);
        text_out t = print_text(&r);
        ck_assert_int_eq(t.status, 3);
        ck_assert_str_eq(t.out, "");
        ck_assert_str_eq(t.err, "attachpy: error: no process with PID 999999\n"
                                "attachpy: hint: check the PID with 'ps -p 999999'\n");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_error_without_hint) {
        ap_report r;
        memset(&r, 0, sizeof r);
        ap_error_set(&r.error, AP_ERR_DEBUGGER_FAILED, "gdb failed");
        text_out t = print_text(&r);
        ck_assert_str_eq(t.err, "attachpy: error: gdb failed\n");
        text_out_free(&t);
        ap_error_hint(&r.error, "%s", ""); /* an empty hint prints no line */
        t = print_text(&r);
        ck_assert_str_eq(t.err, "attachpy: error: gdb failed\n");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_exit_status_per_code) {
        /* DESIGN.md, "Exit status". */
        static const struct {
                ap_code code;
                int status;
        } table[] = {
                {AP_ERR_SCRIPT_ERROR, 1},       {AP_ERR_USAGE, 2},
                {AP_ERR_NO_SUCH_PROCESS, 3},    {AP_ERR_TARGET_EXITED, 3},
                {AP_ERR_PERMISSION_DENIED, 4},  {AP_ERR_REMOTE_DEBUG_DISABLED, 4},
                {AP_ERR_NOT_PYTHON, 5},         {AP_ERR_UNSUPPORTED_PYTHON, 5},
                {AP_ERR_DEBUGGER_NOT_FOUND, 6}, {AP_ERR_DEBUGGER_FAILED, 6},
                {AP_ERR_INJECTION_FAILED, 6},   {AP_ERR_TIMEOUT, 7},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++) {
                ap_report r;
                memset(&r, 0, sizeof r);
                r.pid = 10;
                ap_error_set(&r.error, table[i].code, "what happened");
                ap_error_hint(&r.error, "what to do");
                text_out t = print_text(&r);
                ck_assert_int_eq(t.status, table[i].status);
                ck_assert_str_eq(t.out, "");
                if (table[i].code != AP_ERR_SCRIPT_ERROR)
                        ck_assert_str_eq(t.err, "attachpy: error: what happened\n"
                                                "attachpy: hint: what to do\n");
                text_out_free(&t);
                int status;
                size_t len;
                char *json = print_json(&r, &status, &len);
                ck_assert_int_eq(status, table[i].status);
                free(json);
                ap_report_free(&r);
        }
}
END_TEST

START_TEST(test_text_no_wait) {
        ap_report r;
        report_no_wait(&r);
        text_out t = print_text(&r);
        ck_assert_int_eq(t.status, 0);
        ck_assert_str_eq(t.out, "");
        ck_assert_msg(strstr(t.err, "scheduled in process 4242"), "stderr: %s", t.err);
        ck_assert_ptr_null(strstr(t.err, "error"));
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_timeout_with_partial_output) {
        /* An error after some output: the output still goes to stdout. */
        ap_report r;
        report_success(&r);
        r.ok = false;
        ap_error_set(&r.error, AP_ERR_TIMEOUT, "the code did not finish within 30 s");
        text_out t = print_text(&r);
        ck_assert_int_eq(t.status, 7);
        ck_assert_str_eq(t.out, "hi\n");
        ck_assert_str_eq(t.err, "attachpy: error: the code did not finish within 30 s\n");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

START_TEST(test_text_truncated_note) {
        ap_report r;
        report_success(&r);
        r.result.out_dropped = 83886080;
        r.result.err_dropped = 7;
        text_out t = print_text(&r);
        ck_assert_str_eq(t.out, "hi\n");
        ck_assert_str_eq(t.err,
                         "attachpy: note: stdout was cut at 16 MiB: 83886080 more bytes were "
                         "dropped\n"
                         "attachpy: note: stderr was cut at 16 MiB: 7 more bytes were dropped\n");
        text_out_free(&t);
        ap_report_free(&r);
}
END_TEST

static Suite *report_suite(void) {
        Suite *s = suite_create("report");
        TCase *tc = tcase_create("json");
        tcase_add_test(tc, test_json_success);
        tcase_add_test(tc, test_json_truncated_counts);
        tcase_add_test(tc, test_json_target_exited);
        tcase_add_test(tc, test_json_script_error);
        tcase_add_test(tc, test_json_exception_without_details);
        tcase_add_test(tc, test_json_error_before_target);
        tcase_add_test(tc, test_json_usage_error_pid_zero);
        tcase_add_test(tc, test_json_no_wait);
        tcase_add_test(tc, test_json_every_code);
        tcase_add_test(tc, test_json_target_without_version);
        tcase_add_test(tc, test_json_invalid_utf8_and_nul);
        tcase_add_test(tc, test_json_error_message_utf8);
        tcase_add_test(tc, test_print_json_one_object);
        suite_add_tcase(s, tc);

        tc = tcase_create("utf8");
        tcase_add_test(tc, test_sanitize);
        tcase_add_test(tc, test_sanitize_null_and_no_len);
        tcase_add_test(tc, test_sanitize_every_byte);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_test(tc, test_text_success);
        tcase_add_test(tc, test_text_binary_stdout_verbatim);
        tcase_add_test(tc, test_text_script_error);
        tcase_add_test(tc, test_text_traceback_gets_newline);
        tcase_add_test(tc, test_text_error_and_hint);
        tcase_add_test(tc, test_text_error_without_hint);
        tcase_add_test(tc, test_text_exit_status_per_code);
        tcase_add_test(tc, test_text_no_wait);
        tcase_add_test(tc, test_text_timeout_with_partial_output);
        tcase_add_test(tc, test_text_truncated_note);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(report_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
