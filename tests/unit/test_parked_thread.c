/* test_parked_thread.c: the x86-64 table of parked system calls, against
 * the kernel's own numbers; the guards and conditions the scripts test in a
 * stopped thread (parsed back and checked); errors of the /proc scan. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "build-config.h"
#include "plan_fixtures.h"
#include "template.h"
#include "util.h"

/* The blocking system calls a parked thread may sit in (backend.c), by their
 * names in the kernel's own table. */
static const long parked_calls[] = {
        SYS_read,       SYS_poll,          SYS_readv,
        SYS_select,     SYS_pause,         SYS_nanosleep,
        SYS_accept,     SYS_recvfrom,      SYS_recvmsg,
        SYS_wait4,      SYS_rt_sigsuspend, SYS_rt_sigtimedwait,
        SYS_epoll_wait, SYS_waitid,        SYS_clock_nanosleep,
        SYS_pselect6,   SYS_ppoll,         SYS_epoll_pwait,
        SYS_accept4,    SYS_recvmmsg,      441 /* SYS_epoll_pwait2, newer than some headers */,
};

START_TEST(test_parked_syscall_kinds) {
        /* Every listed wait and nothing else; futex only for FUTEX; ANY is
         * any system call number (not -1: a thread running user code). */
        for (long nr = -1; nr < 512; nr++) {
                bool listed = false;
                for (size_t i = 0; i < AP_ARRAY_SIZE(parked_calls); i++)
                        listed |= parked_calls[i] == nr;
                ck_assert_msg(ap_parked_syscall(AP_PARKED_WAITS, nr) == listed, "WAITS %ld", nr);
                /* restart_syscall: a timed wait the attach interrupted,
                 * its kind unknown: counted as a futex wait. */
                ck_assert_msg(ap_parked_syscall(AP_PARKED_FUTEX, nr) ==
                                      (nr == SYS_futex || nr == SYS_restart_syscall),
                              "FUTEX %ld", nr);
                ck_assert_msg(ap_parked_syscall(AP_PARKED_ANY, nr) == (nr >= 0), "ANY %ld", nr);
        }
        /* A thread waiting for a lock may hold another: futex is never a
         * parked wait, nor are calls that may take loader or libc locks. */
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_futex));
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_mmap));
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_openat));
        ck_assert(!ap_parked_syscall(AP_PARKED_WAITS, SYS_write));
}
END_TEST

START_TEST(test_thread_guard_text) {
        ap_parked_thread t = {
                .index = 3, .tid = 77, .nr = 230, .sp = 0x7ffc12345678, .pc = 0x7f00deadbeef};
        char *g = ap_thread_guard(&t);
        ck_assert_ptr_nonnull(g);
        /* Exactly as gdb and lldb read it: the return register holds one of
         * -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND,
         * -ERESTART_RESTARTBLOCK, -EINTR (compared as a signed long), and
         * the stack pointer and pc are those /proc showed. */
        ck_assert_str_eq(g,
                         "(((long) $rax == -512 || (long) $rax == -513 || (long) $rax == -514 || "
                         "(long) $rax == -516 || (long) $rax == -4) && $rsp == 0x7ffc12345678 && "
                         "$pc == 0x7f00deadbeef)");
        ck_assert(ap_template_value_ok(g));
        free(g);
        /* Full 64-bit values, lower-case hex, no truncation. */
        t.sp = 0xffffffffffffff00;
        t.pc = 0x1;
        g = ap_thread_guard(&t);
        ck_assert_ptr_nonnull(g);
        ck_assert_msg(strstr(g, "$rsp == 0xffffffffffffff00 && $pc == 0x1)"), "%s", g);
        free(g);
}
END_TEST

/* Parse "(R == a || R == b ...)" at *p into numbers (R may be "(long) $rax");
 * advance *p. */
static size_t parse_clause(const char **p, const char *reg, long *nums, size_t max) {
        ck_assert_msg(**p == '(', "expected ( at: %.40s", *p);
        (*p)++;
        size_t n = 0;
        for (;;) {
                size_t rl = strlen(reg);
                ck_assert_msg(strncmp(*p, reg, rl) == 0, "expected %s at: %.40s", reg, *p);
                *p += rl;
                ck_assert_msg(strncmp(*p, " == ", 4) == 0, "expected ' == ' at: %.40s", *p);
                *p += 4;
                char *end;
                errno = 0;
                long v = strtol(*p, &end, 10);
                ck_assert(end != *p && errno == 0);
                ck_assert_uint_lt(n, max);
                nums[n++] = v;
                *p = end;
                if (strncmp(*p, " || ", 4) == 0) {
                        *p += 4;
                        continue;
                }
                ck_assert_msg(**p == ')', "expected ) at: %.40s", *p);
                (*p)++;
                return n;
        }
}

static bool contains(const long *v, size_t n, long x) {
        for (size_t i = 0; i < n; i++)
                if (v[i] == x)
                        return true;
        return false;
}

/* "((RET == codes...) && (NR == calls...))": the restart codes and exactly
 * the listed calls. */
static void check_parked(const char *cond, const char *ret_reg, const char *nr_reg) {
        const char *p = cond;
        long rets[16], nrs[64];
        ck_assert_msg(*p == '(', "%s", cond);
        p++;
        size_t n_rets = parse_clause(&p, ret_reg, rets, 16);
        ck_assert_msg(strncmp(p, " && ", 4) == 0, "expected ' && ' at: %.40s", p);
        p += 4;
        size_t n_nrs = parse_clause(&p, nr_reg, nrs, 64);
        ck_assert_msg(strcmp(p, ")") == 0, "trailing text: %s", p);
        static const long want_rets[] = {-512, -513, -514, -516, -EINTR};
        ck_assert_uint_eq(n_rets, AP_ARRAY_SIZE(want_rets));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want_rets); i++)
                ck_assert_msg(contains(rets, n_rets, want_rets[i]), "%ld missing", want_rets[i]);
        ck_assert_uint_eq(n_nrs, AP_ARRAY_SIZE(parked_calls));
        for (size_t i = 0; i < AP_ARRAY_SIZE(parked_calls); i++)
                ck_assert_msg(contains(nrs, n_nrs, parked_calls[i]), "system call %ld missing",
                              parked_calls[i]);
        ck_assert(!contains(nrs, n_nrs, SYS_futex));
        for (size_t i = 0; i < n_nrs; i++)
                for (size_t j = i + 1; j < n_nrs; j++)
                        ck_assert_msg(nrs[i] != nrs[j], "system call %ld listed twice", nrs[i]);
}

START_TEST(test_parked_condition) {
        char *c = ap_parked_condition(AP_PARKED_WAITS, "$rax", "$orig_rax");
        ck_assert_ptr_nonnull(c);
        check_parked(c, "(long) $rax", "$orig_rax");
        ck_assert(ap_template_value_ok(c));
        ck_assert_msg(strncmp(c, "(((long) $rax == -512 || (long) $rax == -513 || ", 47) == 0, "%s",
                      c);
        free(c);
        c = ap_parked_condition(AP_PARKED_WAITS, "$x0", "$x8");
        ck_assert_ptr_nonnull(c);
        check_parked(c, "(long) $x0", "$x8");
        ck_assert_ptr_null(strstr(c, "rax"));
        free(c);
        c = ap_parked_condition(AP_PARKED_FUTEX, "$rax", "$orig_rax");
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c,
                         "(((long) $rax == -512 || (long) $rax == -513 || (long) $rax == -514 || "
                         "(long) $rax == -516 || (long) $rax == -4) && ($orig_rax == 202 || "
                         "$orig_rax == 219))");
        free(c);
}
END_TEST

START_TEST(test_find_parked_thread_errors) {
        ap_parked_thread t = {0};
        /* No such process. */
        ck_assert_int_eq(ap_find_parked_thread(0x7ffffff0, AP_PARKED_WAITS, &t), -1);
        /* A child in pause(): its main thread is parked (and in no futex). */
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                for (;;)
                        pause();
        }
        int found = 0;
        for (int i = 0; i < 200 && found != 1; i++) {
                found = ap_find_parked_thread(child, AP_PARKED_WAITS, &t);
                usleep(5000);
        }
        int futex = ap_find_parked_thread(child, AP_PARKED_FUTEX, &t);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ck_assert_int_eq(found, 1);
        ck_assert_int_eq(futex, 0);
        ck_assert_int_eq(t.tid, child);
        ck_assert_int_eq(t.index, 1);
        ck_assert_int_eq(t.nr, 34); /* pause */
        ck_assert(t.sp != 0 && t.pc != 0);
}
END_TEST

/* A child whose main thread waits on a condition with a timeout and whose
 * second thread waits without one: PyPy's GIL stealer looks like the first,
 * and only the second may be chosen there (AP_PARKED_FUTEX_UNTIMED). */
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t child_cond = PTHREAD_COND_INITIALIZER;

static void *wait_untimed(void *arg) {
        (void)arg;
        pthread_mutex_lock(&child_lock);
        for (;;)
                pthread_cond_wait(&child_cond, &child_lock);
        return NULL;
}

START_TEST(test_untimed_futex_only) {
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                pthread_t t;
                if (pthread_create(&t, NULL, wait_untimed, NULL) != 0)
                        _exit(1);
                pthread_mutex_lock(&child_lock);
                for (;;) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 3600;
                        pthread_cond_timedwait(&child_cond, &child_lock, &ts);
                }
        }
        ap_parked_thread any = {0}, untimed = {0};
        int found_any = 0, found_untimed = 0;
        for (int i = 0; i < 400 && (found_any != 1 || found_untimed != 1 || any.tid != child);
             i++) {
                found_any = ap_find_parked_thread(child, AP_PARKED_FUTEX, &any);
                found_untimed = ap_find_parked_thread(child, AP_PARKED_FUTEX_UNTIMED, &untimed);
                usleep(5000);
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ck_assert_int_eq(found_any, 1);
        ck_assert_int_eq(any.tid, child); /* the main thread first: its timed wait counts */
        ck_assert_int_eq(found_untimed, 1);
        ck_assert_int_ne(untimed.tid, child); /* only the untimed waiter */
        ck_assert_int_eq(untimed.nr, 202);    /* futex */
        ck_assert(ap_parked_syscall(AP_PARKED_FUTEX_UNTIMED, 202));
        ck_assert(!ap_parked_syscall(AP_PARKED_FUTEX_UNTIMED, 219)); /* restart_syscall */
}
END_TEST

static Suite *parked_thread_suite(void) {
        Suite *s = suite_create("parked_thread");
        TCase *tc;
        tc = tcase_create("calls");
        tcase_add_test(tc, test_parked_syscall_kinds);
        tcase_add_test(tc, test_thread_guard_text);
        tcase_add_test(tc, test_parked_condition);
        suite_add_tcase(s, tc);
        tc = tcase_create("proc");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_find_parked_thread_errors);
        tcase_add_test(tc, test_untimed_futex_only);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(parked_thread_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
