/* test_log.c: the log sink (cli/log.h): the bytes each call writes, a sink
 * that goes nowhere, a FILE * sink. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* A sink that keeps what it was given, and how many calls gave it. */
typedef struct captured {
        ap_buf text;
        int calls;
} captured;

static void capture(void *ctx, const char *data, size_t len) {
        captured *c = ctx;
        ck_assert_int_eq(ap_buf_append(&c->text, data, len), 0);
        c->calls++;
}

START_TEST(test_line) {
        captured c = {0};
        ap_log log = {.write = capture, .ctx = &c};
        ap_log_line(&log, "process %d: %s", 42, "cpython");
        ck_assert_str_eq(c.text.data, "attachpy: process 42: cpython\n");
        ck_assert_int_eq(c.calls, 1);
        ap_buf_free(&c.text);
}
END_TEST

START_TEST(test_printf_and_write) {
        captured c = {0};
        ap_log log = {.write = capture, .ctx = &c};
        ap_log_printf(&log, "attachpy: ---- %s script ----\n%s", "gdb", "attach 1\n");
        ap_log_write(&log, "a\0b", 3);
        ap_log_write(&log, "", 0); /* nothing to write: no call */
        ck_assert_uint_eq(c.text.len, strlen("attachpy: ---- gdb script ----\nattach 1\n") + 3);
        ck_assert_mem_eq(c.text.data + c.text.len - 3, "a\0b", 3);
        ck_assert_int_eq(c.calls, 2);
        ap_buf_free(&c.text);
}
END_TEST

START_TEST(test_nowhere) {
        ap_log none = {0};
        ck_assert(!ap_log_enabled(&none));
        ck_assert(!ap_log_enabled(NULL));
        ap_log_line(&none, "nothing %d", 1);
        ap_log_line(NULL, "nothing %d", 2);
        ap_log_printf(NULL, "nothing");
        ap_log_write(NULL, "x", 1);
        ap_log to_null = ap_log_file(NULL);
        ck_assert(!ap_log_enabled(&to_null));
}
END_TEST

START_TEST(test_file) {
        char *data = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&data, &len);
        ck_assert_ptr_nonnull(f);
        ap_log log = ap_log_file(f);
        ck_assert(ap_log_enabled(&log));
        ap_log_line(&log, "sent the go-ahead; waiting for the result");
        ap_log_printf(&log, " %s", "-q");
        /* Flushed at once: the bytes are there before fclose. */
        ck_assert_str_eq(data, "attachpy: sent the go-ahead; waiting for the result\n -q");
        fclose(f);
        free(data);
}
END_TEST

static Suite *log_suite(void) {
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("log");
        tcase_add_test(tc, test_line);
        tcase_add_test(tc, test_printf_and_write);
        tcase_add_test(tc, test_nowhere);
        tcase_add_test(tc, test_file);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(log_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
