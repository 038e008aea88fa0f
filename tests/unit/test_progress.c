/* test_progress.c: the status line's text and when it is drawn and erased,
 * with a clock the test controls (no ticker thread) writing into a pipe.
 * The real thing on a pseudo-terminal is tests/ux/test_progress.py. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "util.h"

#define ERASE "\r\033[K"

static int fds[2];

static void setup(void) { ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0); }

static void teardown(void) {
        close(fds[0]);
        close(fds[1]);
}

/* Everything written so far (into a static buffer). */
static const char *drain(void) {
        static char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

START_TEST(test_format) {
        char buf[128];
        size_t n = ap_progress_format(buf, sizeof buf, "waiting for a safe point in 4242", 2049,
                                      "\xe2\x80\xa6", 0);
        ck_assert_str_eq(buf, "attachpy: waiting for a safe point in 4242\xe2\x80\xa6 2.0 s");
        ck_assert_uint_eq(n, strlen(buf));
        ap_progress_format(buf, sizeof buf, "running in 7", 5150, "...", 0);
        ck_assert_str_eq(buf, "attachpy: running in 7... 5.2 s");
        /* Cut at the width in columns: the ellipsis is one column, 3 bytes. */
        n = ap_progress_format(buf, sizeof buf, "running in 7", 5150, "\xe2\x80\xa6", 23);
        ck_assert_str_eq(buf, "attachpy: running in 7\xe2\x80\xa6");
        ck_assert_uint_eq(n, 25);
        n = ap_progress_format(buf, sizeof buf, "running in 7", 5150, "\xe2\x80\xa6", 22);
        ck_assert_str_eq(buf, "attachpy: running in 7");
        /* A tiny buffer is never overrun. */
        n = ap_progress_format(buf, 8, "running in 7", 5150, "...", 0);
        ck_assert_str_eq(buf, "attachp");
        ck_assert_uint_eq(n, 7);
}
END_TEST

START_TEST(test_null_is_quiet) {
        ap_progress_stage(NULL, "x %d", 1);
        ap_progress_tick(NULL, 1e9);
        ap_progress_free(NULL);
}
END_TEST

START_TEST(test_drawn_after_a_second_and_erased) {
        ap_progress *p = ap_progress_new(fds[1], false);
        ck_assert_ptr_nonnull(p);
        double t0 = ap_now_ms();
        ap_progress_stage(p, "running in %d", 4242);
        ap_progress_tick(p, t0 + 10);
        ap_progress_tick(p, t0 + 900);
        ck_assert_str_eq(drain(), ""); /* a quick step shows nothing */
        ap_progress_tick(p, t0 + 2100);
        const char *s = drain();
        ck_assert_msg(strncmp(s, ERASE "attachpy: running in 4242", strlen(ERASE) + 25) == 0, "%s",
                      s);
        ck_assert_msg(strstr(s, " 2.1 s") || strstr(s, " 2.0 s"), "%s", s);
        /* The next step erases the line; its own line waits its second. */
        ap_progress_stage(p, "next");
        ck_assert_str_eq(drain(), ERASE);
        ap_progress_tick(p, ap_now_ms() + 500);
        ck_assert_str_eq(drain(), "");
        ap_progress_free(p);
        ck_assert_str_eq(drain(), ""); /* nothing drawn, nothing to erase */
}
END_TEST

START_TEST(test_free_erases) {
        ap_progress *p = ap_progress_new(fds[1], false);
        ap_progress_stage(p, "waiting");
        ap_progress_tick(p, ap_now_ms() + 1500);
        ck_assert_ptr_nonnull(strstr(drain(), "waiting"));
        ap_progress_free(p);
        ck_assert_str_eq(drain(), ERASE);
}
END_TEST

START_TEST(test_ticker_thread) {
        /* The thread draws by itself once a second has passed, and stops. */
        ap_progress *p = ap_progress_new(fds[1], true);
        ap_progress_stage(p, "ticking");
        usleep(1300 * 1000);
        ap_progress_free(p);
        const char *s = drain();
        ck_assert_msg(strstr(s, "attachpy: ticking"), "%s", s);
        size_t n = strlen(s);
        ck_assert_msg(n >= strlen(ERASE) && strcmp(s + n - strlen(ERASE), ERASE) == 0, "%s", s);
}
END_TEST

int main(void) {
        Suite *s = suite_create("progress");
        TCase *tc = tcase_create("progress");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_format);
        tcase_add_test(tc, test_null_is_quiet);
        tcase_add_test(tc, test_drawn_after_a_second_and_erased);
        tcase_add_test(tc, test_free_erases);
        tcase_add_test(tc, test_ticker_thread);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
