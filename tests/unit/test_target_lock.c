/* test_target_lock.c: one attachpy at a time per target (cli/target_lock.c):
 * the lock's name, waiting for it within a deadline, its release when the
 * holder closes it or exits, cancellation, and a process that is gone. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target_lock.h"
#include "util.h"

/* Field 22 of /proc/PID/stat, read here independently of target_lock.c. */
static unsigned long long starttime_of(pid_t pid) {
        char path[64], text[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        char *p = strrchr(text, ')');
        ck_assert_ptr_nonnull(p);
        p += 2; /* field 3 */
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                ck_assert_ptr_nonnull(p);
                p++;
        }
        return strtoull(p, NULL, 10);
}

/* Is an abstract unix socket with this name bound (/proc/net/unix shows
 * it with a leading '@')? */
static bool abstract_bound(const char *name) {
        FILE *f = fopen("/proc/net/unix", "r");
        ck_assert_ptr_nonnull(f);
        char line[1024], want[256];
        snprintf(want, sizeof want, " @%s\n", name);
        bool found = false;
        while (fgets(line, sizeof line, f))
                if (strlen(line) >= strlen(want) &&
                    strcmp(line + strlen(line) - strlen(want), want) == 0)
                        found = true;
        fclose(f);
        return found;
}

START_TEST(test_name_format) {
        char buf[128];
        ap_target_lock_name(1234, 987654321ULL, buf, sizeof buf);
        ck_assert_str_eq(buf, "attachpy/target/1234/987654321");
        ap_target_lock_name(1, 0, buf, sizeof buf);
        ck_assert_str_eq(buf, "attachpy/target/1/0");
        /* Cut to the buffer, NUL-terminated. */
        char small[10];
        ap_target_lock_name(1234, 5, small, sizeof small);
        ck_assert_str_eq(small, "attachpy/");
}
END_TEST

START_TEST(test_held_then_released) {
        pid_t self = getpid();
        char name[128];
        ap_target_lock_name(self, starttime_of(self), name, sizeof name);
        ck_assert(!abstract_bound(name));
        ap_error err = AP_ERROR_INIT;
        int first = ap_target_lock(self, ap_now_ms() + 1000, -1, &err);
        ck_assert_msg(first >= 0, "%s", err.message ? err.message : "");
        ck_assert(!ap_error_is_set(&err));
        /* The name holds the process's start time (a reused PID is another
         * target). */
        ck_assert_msg(abstract_bound(name), "no abstract socket @%s", name);

        /* A second run waits until its deadline, then gives up. */
        double t0 = ap_now_ms();
        int second = ap_target_lock(self, t0 + 300, -1, &err);
        double waited = ap_now_ms() - t0;
        ck_assert_int_eq(second, -1);
        ck_assert_int_eq(err.code, AP_ERR_TIMEOUT);
        ck_assert_msg(strstr(err.message, "another attachpy"), "%s", err.message);
        ck_assert_ptr_nonnull(err.hint);
        ck_assert_msg(waited >= 290 && waited < 1500, "waited %.0f ms for a 300 ms deadline",
                      waited);
        ap_error_clear(&err);

        /* Released by close: the next one gets it at once. */
        close(first);
        ck_assert(!abstract_bound(name));
        t0 = ap_now_ms();
        int third = ap_target_lock(self, t0 + 2000, -1, &err);
        ck_assert_msg(third >= 0, "%s", err.message ? err.message : "");
        ck_assert_double_lt(ap_now_ms() - t0, 200);
        close(third);
}
END_TEST

START_TEST(test_released_when_holder_exits) {
        /* A child holds the lock for our pid and exits (without closing
         * anything itself): the waiter gets the lock before its deadline. */
        pid_t self = getpid();
        int ready[2];
        ck_assert_int_eq(pipe(ready), 0);
        pid_t holder = fork();
        ck_assert_int_ge(holder, 0);
        if (holder == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                ap_error e = AP_ERROR_INIT;
                int fd = ap_target_lock(self, ap_now_ms() + 5000, -1, &e);
                char c = fd >= 0 ? 'y' : 'n';
                if (write(ready[1], &c, 1) != 1)
                        _exit(2);
                usleep(300 * 1000);
                _exit(0);
        }
        close(ready[1]);
        char c = 0;
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        ap_error err = AP_ERROR_INIT;
        double t0 = ap_now_ms();
        int fd = ap_target_lock(self, t0 + 5000, -1, &err);
        double waited = ap_now_ms() - t0;
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        ck_assert_int_eq(c, 'y');
        ck_assert_msg(fd >= 0, "%s", err.message ? err.message : "");
        /* It did wait for the holder. */
        ck_assert_msg(waited >= 150 && waited < 4000, "waited %.0f ms", waited);
        close(fd);
}
END_TEST

START_TEST(test_cancel_fd) {
        pid_t self = getpid();
        ap_error err = AP_ERROR_INIT;
        int first = ap_target_lock(self, ap_now_ms() + 1000, -1, &err);
        ck_assert_int_ge(first, 0);
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(write(p[1], "x", 1), 1);
        double t0 = ap_now_ms();
        int second = ap_target_lock(self, t0 + 5000, p[0], &err);
        ck_assert_int_eq(second, -1);
        ck_assert_double_lt(ap_now_ms() - t0, 1000);
        ck_assert_int_eq(err.code, AP_ERR_INTERRUPTED);
        ck_assert_msg(strstr(err.message, "interrupted"), "%s", err.message);
        ap_error_clear(&err);
        close(p[0]);
        close(p[1]);
        close(first);
}
END_TEST

START_TEST(test_no_such_process) {
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_target_lock(0x7ffffff0, ap_now_ms() + 1000, -1, &err), -2);
        ck_assert(!ap_error_is_set(&err));
        /* A reaped child. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(0);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        ck_assert_int_eq(ap_target_lock(pid, ap_now_ms() + 1000, -1, &err), -2);
        ck_assert(!ap_error_is_set(&err));
}
END_TEST

static Suite *target_lock_suite(void) {
        Suite *s = suite_create("target_lock");
        TCase *tc = tcase_create("lock");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_name_format);
        tcase_add_test(tc, test_held_then_released);
        tcase_add_test(tc, test_released_when_holder_exits);
        tcase_add_test(tc, test_cancel_fd);
        tcase_add_test(tc, test_no_such_process);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(target_lock_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
