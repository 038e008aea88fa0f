/* test_template.c: {{name}} substitution into debugger scripts and the
 * checks that keep anything but generated values out of them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "util.h"

/* Render and expect success; returns the text (caller frees). */
static char *render_ok(const char *text, const ap_template_var *vars, size_t n) {
        ap_error err = AP_ERROR_INIT;
        char *out = NULL;
        int r = ap_template_render(text, vars, n, &out, &err);
        ck_assert_msg(r == 0, "render failed: %s", err.message ? err.message : "(no message)");
        ck_assert(!ap_error_is_set(&err));
        ck_assert_ptr_nonnull(out);
        return out;
}

/* Render and expect failure; *ret must stay untouched.  Returns the message
 * (caller frees). */
static char *render_fails(const char *text, const ap_template_var *vars, size_t n) {
        ap_error err = AP_ERROR_INIT;
        char sentinel = 0;
        char *out = &sentinel;
        int r = ap_template_render(text, vars, n, &out, &err);
        ck_assert_int_eq(r, -1);
        ck_assert_ptr_eq(out, &sentinel);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ck_assert_ptr_nonnull(err.message);
        char *msg = strdup(err.message);
        ap_error_clear(&err);
        return msg;
}

START_TEST(test_substitution) {
        const ap_template_var vars[] = {
                {"pid", "4242"},
                {"addr_dlopen", "0x7f00deadbeef"},
        };
        char *out = render_ok("attach {{pid}}\ncall {{addr_dlopen}}(0)\nquit\n", vars, 2);
        ck_assert_str_eq(out, "attach 4242\ncall 0x7f00deadbeef(0)\nquit\n");
        free(out);
}
END_TEST

START_TEST(test_placeholder_at_edges_and_adjacent) {
        const ap_template_var vars[] = {{"a", "1"}, {"b", "22"}};
        char *out = render_ok("{{a}}{{b}}", vars, 2);
        ck_assert_str_eq(out, "122");
        free(out);
        out = render_ok("{{b}} middle {{a}}", vars, 2);
        ck_assert_str_eq(out, "22 middle 1");
        free(out);
}
END_TEST

START_TEST(test_placeholder_used_twice) {
        const ap_template_var vars[] = {{"page", "4096"}};
        char *out = render_ok("mmap({{page}}) munmap({{page}})", vars, 1);
        ck_assert_str_eq(out, "mmap(4096) munmap(4096)");
        free(out);
}
END_TEST

START_TEST(test_no_placeholders) {
        char *out = render_ok("set pagination off\n{ not a placeholder }\n}} {x}\n", NULL, 0);
        ck_assert_str_eq(out, "set pagination off\n{ not a placeholder }\n}} {x}\n");
        free(out);
        out = render_ok("", NULL, 0);
        ck_assert_str_eq(out, "");
        free(out);
}
END_TEST

START_TEST(test_empty_value) {
        const ap_template_var vars[] = {{"nothing", ""}};
        char *out = render_ok("a{{nothing}}b", vars, 1);
        ck_assert_str_eq(out, "ab");
        free(out);
}
END_TEST

START_TEST(test_value_not_expanded_again) {
        /* A value that looks like a placeholder is inserted as is: rendering
         * is one pass, values are never re-scanned. */
        const ap_template_var vars[] = {{"a", "{{b}}"}};
        char *out = render_ok("x {{a}} y", vars, 1);
        ck_assert_str_eq(out, "x {{b}} y");
        free(out);
}
END_TEST

START_TEST(test_newline_allowed) {
        const ap_template_var vars[] = {{"break_commands", "  break *0x1000\n  break *0x2000"}};
        char *out = render_ok("if 1\n{{break_commands}}\nend\n", vars, 1);
        ck_assert_str_eq(out, "if 1\n  break *0x1000\n  break *0x2000\nend\n");
        free(out);
}
END_TEST

START_TEST(test_unknown_placeholder) {
        const ap_template_var vars[] = {{"pid", "1"}};
        char *msg = render_fails("attach {{pid}} {{session_dir}}\n", vars, 1);
        ck_assert_msg(strstr(msg, "unknown placeholder"), "message: %s", msg);
        ck_assert_msg(strstr(msg, "'session_dir'"), "message does not name it: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_unknown_placeholder_without_values) {
        char *msg = render_fails("{{pid}}", NULL, 0);
        ck_assert_msg(strstr(msg, "'pid'"), "message: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_name_is_matched_whole) {
        /* "pi" must not match {{pid}}, nor "pid" {{pi}}. */
        const ap_template_var vars[] = {{"pi", "3"}};
        char *msg = render_fails("{{pid}}", vars, 1);
        ck_assert_msg(strstr(msg, "'pid'"), "message: %s", msg);
        free(msg);
        const ap_template_var vars2[] = {{"pid", "3"}};
        msg = render_fails("{{pi}}", vars2, 1);
        ck_assert_msg(strstr(msg, "'pi'"), "message: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_empty_placeholder_name) {
        const ap_template_var vars[] = {{"a", "1"}};
        char *msg = render_fails("{{a}} {{}}", vars, 1);
        ck_assert_msg(strstr(msg, "unknown placeholder ''"), "message: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_unused_value) {
        const ap_template_var vars[] = {{"pid", "1"}, {"addr_mmap", "0x10"}};
        char *msg = render_fails("attach {{pid}}\n", vars, 2);
        ck_assert_msg(strstr(msg, "does not use"), "message: %s", msg);
        ck_assert_msg(strstr(msg, "'addr_mmap'"), "message does not name it: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_unterminated) {
        const ap_template_var vars[] = {{"pid", "1"}};
        char *msg = render_fails("attach {{pid}}\nprint {{pid\n", vars, 1);
        ck_assert_msg(strstr(msg, "unterminated"), "message: %s", msg);
        free(msg);
        msg = render_fails("{{", NULL, 0);
        ck_assert_msg(strstr(msg, "unterminated"), "message: %s", msg);
        free(msg);
        /* A closing brace pair after a line break still closes: the name
         * then holds a newline and is unknown, never silently kept. */
        msg = render_fails("{{pid\n}}", vars, 1);
        ck_assert_msg(strstr(msg, "unknown placeholder"), "message: %s", msg);
        free(msg);
}
END_TEST

static const char *const bad_values[] = {
        "\"",                         /* closes a gdb string */
        "'",                          /* quote */
        "\\",                         /* escape */
        "`",                          /* shell-ish */
        ";",                          /* command separator (lldb) */
        "a\tb",                       /* control characters */
        "a\rb",                       /* a CR would let a value forge a line */
        "\x01",                       /* */
        "\x1b[31m",                   /* escape sequences */
        "\x7f",                       /* DEL */
        "caf\xc3\xa9",                /* non-ASCII */
        "/tmp/x\"; shell rm -rf / #", /* an injection attempt */
};

START_TEST(test_bad_value_refused) {
        const char *bad = bad_values[_i];
        const ap_template_var vars[] = {{"ok", "1"}, {"session_dir", bad}};
        char *msg = render_fails("{{ok}} {{session_dir}}", vars, 2);
        ck_assert_msg(strstr(msg, "unsafe value"), "message: %s", msg);
        ck_assert_msg(strstr(msg, "'session_dir'"), "message does not name it: %s", msg);
        free(msg);
        ck_assert_int_eq(ap_template_value_ok(bad), 0);
}
END_TEST

START_TEST(test_bad_value_refused_even_if_unused_in_text) {
        /* The value check comes first: an unsafe value is reported as such. */
        const ap_template_var vars[] = {{"x", "a;b"}};
        char *msg = render_fails("no placeholder", vars, 1);
        ck_assert_msg(strstr(msg, "unsafe value"), "message: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_null_value_refused) {
        const ap_template_var vars[] = {{"x", NULL}};
        char *msg = render_fails("{{x}}", vars, 1);
        ck_assert_msg(strstr(msg, "'x'"), "message: %s", msg);
        free(msg);
}
END_TEST

START_TEST(test_value_ok) {
        ck_assert_int_ne(ap_template_value_ok(""), 0);
        ck_assert_int_ne(ap_template_value_ok("0x7f0012345678"), 0);
        ck_assert_int_ne(ap_template_value_ok("/tmp/attachpy-Ab3xYz"), 0);
        ck_assert_int_ne(ap_template_value_ok("($rax == -512 || $orig_rax == 7)"), 0);
        ck_assert_int_ne(ap_template_value_ok("set *(unsigned long *) ($attachpy_page + 8) = 0x1"),
                         0);
        ck_assert_int_ne(ap_template_value_ok("line one\nline two\n"), 0);
        ck_assert_int_ne(ap_template_value_ok(" !#$%&()*+,-./0-9:<=>?@A-Z[]^_a-z{|}~"), 0);
}
END_TEST

START_TEST(test_every_byte) {
        /* Exactly printable ASCII and newline, minus " ' \ ` ; */
        for (int c = 1; c < 256; c++) {
                char v[2] = {(char)c, 0};
                int expect = (c == '\n') || (c >= 0x20 && c <= 0x7e && !strchr("\"'\\`;", c));
                ck_assert_msg((ap_template_value_ok(v) != 0) == expect, "byte 0x%02x: got %d", c,
                              ap_template_value_ok(v));
        }
}
END_TEST

/* n values name0..name{n-1}, all used in a text that names them in reverse. */
static void many_values(size_t n, char ***ret_names, char ***ret_values, ap_template_var **ret_vars,
                        char **ret_text, char **ret_expect) {
        char **names = calloc(n, sizeof *names), **values = calloc(n, sizeof *values);
        ap_template_var *vars = calloc(n, sizeof *vars);
        ap_buf text = {0}, expect = {0};
        ck_assert(names && values && vars);
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_ge(asprintf(&names[i], "value_%zu", i), 0);
                ck_assert_int_ge(asprintf(&values[i], "0x%zx", i * 4096 + 7), 0);
                vars[i] = (ap_template_var){names[i], values[i]};
        }
        for (size_t i = n; i-- > 0;) {
                ck_assert_int_eq(ap_buf_printf(&text, "{{%s}} ", names[i]), 0);
                ck_assert_int_eq(ap_buf_printf(&expect, "%s ", values[i]), 0);
        }
        *ret_names = names;
        *ret_values = values;
        *ret_vars = vars;
        *ret_text = ap_buf_steal(&text);
        *ret_expect = ap_buf_steal(&expect);
}

static void free_many(size_t n, char **names, char **values, ap_template_var *vars, char *text,
                      char *expect) {
        for (size_t i = 0; i < n; i++) {
                free(names[i]);
                free(values[i]);
        }
        free(names);
        free(values);
        free(vars);
        free(text);
        free(expect);
}

START_TEST(test_many_values) {
        /* backend.h allows 32 script values; the renderer takes up to 64. */
        for (size_t n = 1; n <= 64; n++) {
                char **names, **values, *text, *expect;
                ap_template_var *vars;
                many_values(n, &names, &values, &vars, &text, &expect);
                char *out = render_ok(text, vars, n);
                ck_assert_str_eq(out, expect);
                free(out);
                free_many(n, names, values, vars, text, expect);
        }
}
END_TEST

START_TEST(test_too_many_values) {
        /* More values than the renderer can track is an error, not an
         * overflow. */
        const size_t n = 65;
        char **names, **values, *text, *expect;
        ap_template_var *vars;
        many_values(n, &names, &values, &vars, &text, &expect);
        char *msg = render_fails(text, vars, n);
        ck_assert_msg(strstr(msg, "too many"), "message: %s", msg);
        free(msg);
        free_many(n, names, values, vars, text, expect);
}
END_TEST

START_TEST(test_long_text) {
        /* A long template (the buffer grows many times). */
        ap_buf text = {0}, expect = {0};
        for (int i = 0; i < 20000; i++) {
                ck_assert_int_eq(ap_buf_printf(&text, "line %d {{pid}}\n", i), 0);
                ck_assert_int_eq(ap_buf_printf(&expect, "line %d 31337\n", i), 0);
        }
        const ap_template_var vars[] = {{"pid", "31337"}};
        char *out = render_ok(text.data, vars, 1);
        ck_assert_str_eq(out, expect.data);
        free(out);
        ap_buf_free(&text);
        ap_buf_free(&expect);
}
END_TEST

START_TEST(test_error_replaces_previous) {
        /* err may hold an earlier error: it is replaced, not leaked. */
        ap_error err = AP_ERROR_INIT;
        ap_error_set(&err, AP_ERR_USAGE, "earlier");
        ap_error_hint(&err, "earlier hint");
        char *out = NULL;
        ck_assert_int_eq(ap_template_render("{{x}}", NULL, 0, &out, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_DEBUGGER_FAILED);
        ck_assert_ptr_null(out);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_strip_comments) {
        char text[] =
                "# head\nset a 1\n  # indented\nif x\n\t#tab\n  b # not a comment line\nend\n#last";
        ap_template_strip_comments(text);
        ck_assert_str_eq(text, "set a 1\nif x\n  b # not a comment line\nend\n");
}
END_TEST

START_TEST(test_strip_comments_keeps_others) {
        char empty[] = "";
        ap_template_strip_comments(empty);
        ck_assert_str_eq(empty, "");
        char none[] = "a\n\nb";
        ap_template_strip_comments(none);
        ck_assert_str_eq(none, "a\n\nb");
        char only[] = "#\n#\n";
        ap_template_strip_comments(only);
        ck_assert_str_eq(only, "");
}
END_TEST

static Suite *template_suite(void) {
        Suite *s = suite_create("template");
        TCase *tc = tcase_create("render");
        /* test_long_text builds 40000 lines with vsnprintf: over check's 4 s
         * default under ASan on a busy 2-core machine. */
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_substitution);
        tcase_add_test(tc, test_placeholder_at_edges_and_adjacent);
        tcase_add_test(tc, test_placeholder_used_twice);
        tcase_add_test(tc, test_no_placeholders);
        tcase_add_test(tc, test_empty_value);
        tcase_add_test(tc, test_value_not_expanded_again);
        tcase_add_test(tc, test_newline_allowed);
        tcase_add_test(tc, test_long_text);
        tcase_add_test(tc, test_many_values);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_unknown_placeholder);
        tcase_add_test(tc, test_unknown_placeholder_without_values);
        tcase_add_test(tc, test_name_is_matched_whole);
        tcase_add_test(tc, test_empty_placeholder_name);
        tcase_add_test(tc, test_unused_value);
        tcase_add_test(tc, test_unterminated);
        tcase_add_test(tc, test_too_many_values);
        tcase_add_test(tc, test_error_replaces_previous);
        suite_add_tcase(s, tc);

        tc = tcase_create("values");
        tcase_add_loop_test(tc, test_bad_value_refused, 0, (int)AP_ARRAY_SIZE(bad_values));
        tcase_add_test(tc, test_bad_value_refused_even_if_unused_in_text);
        tcase_add_test(tc, test_null_value_refused);
        tcase_add_test(tc, test_value_ok);
        tcase_add_test(tc, test_every_byte);
        suite_add_tcase(s, tc);

        tc = tcase_create("comments");
        tcase_add_test(tc, test_strip_comments);
        tcase_add_test(tc, test_strip_comments_keeps_others);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(template_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
