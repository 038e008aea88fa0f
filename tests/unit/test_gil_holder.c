/* test_gil_holder.c: naming the thread that holds the GIL (cli/gil_holder.c):
 * the parser of /proc/PID/task/TID/syscall, and a child process that plays
 * a target whose main thread holds a "GIL" in a blocking call while two
 * threads wait on its condition variable, one of them "the agent". */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gil_holder.h"

START_TEST(parse_in_syscall) {
        ap_thread_syscall s;
        ck_assert_int_eq(ap_thread_syscall_parse("202 0x7f00aa 0x80 0x0 0x0 0x0 0xca 0x7ffd10 "
                                                 "0x7f1234\n",
                                                 &s),
                         0);
        ck_assert(!s.running);
        ck_assert_int_eq(s.nr, 202);
        ck_assert_uint_eq(s.args[0], 0x7f00aa);
        ck_assert_uint_eq(s.args[1], 0x80);
        ck_assert_uint_eq(s.args[5], 0xca);
        ck_assert_uint_eq(s.sp, 0x7ffd10);
        ck_assert_uint_eq(s.pc, 0x7f1234);
}
END_TEST

START_TEST(parse_running_and_blocked) {
        ap_thread_syscall s;
        ck_assert_int_eq(ap_thread_syscall_parse("running\n", &s), 0);
        ck_assert(s.running);
        ck_assert_int_eq(ap_thread_syscall_parse("-1 0x7ffd10 0x7f1234\n", &s), 0);
        ck_assert(!s.running);
        ck_assert_int_eq(s.nr, -1);
        ck_assert_uint_eq(s.sp, 0x7ffd10);
        ck_assert_uint_eq(s.pc, 0x7f1234);
}
END_TEST

START_TEST(parse_malformed) {
        ap_thread_syscall s;
        ck_assert_int_eq(ap_thread_syscall_parse("", &s), -1);
        ck_assert_int_eq(ap_thread_syscall_parse("x 0x1\n", &s), -1);
        ck_assert_int_eq(ap_thread_syscall_parse("202 0x1 0x2\n", &s), -1);
        ck_assert_int_eq(ap_thread_syscall_parse("202 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 0x9\n", &s),
                         -1);
        ck_assert_int_eq(ap_thread_syscall_parse("202 0x1 0x2 0x3 0x4 0x5 0x6 0x7 zz\n", &s), -1);
        ck_assert(ap_syscall_is_futex(SYS_futex));
        ck_assert(!ap_syscall_is_futex(SYS_read));
}
END_TEST

/* ---- a child playing the target ---------------------------------------- */

static pthread_mutex_t gil_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gil_cond = PTHREAD_COND_INITIALIZER;
static int report_fd;

static void *gil_waiter(void *arg) {
        pid_t tid = (pid_t)syscall(SYS_gettid);
        if (arg)
                (void)!write(report_fd, &tid, sizeof tid);
        pthread_mutex_lock(&gil_mutex);
        for (;;)
                pthread_cond_wait(&gil_cond, &gil_mutex);
        return NULL;
}

/* The child: two threads wait on the "GIL"'s condition, the main thread
 * blocks in read() on a pipe nobody writes to.  Reports the agent's tid. */
static pid_t start_child(pid_t *agent_tid) {
        int p[2], hold[2];
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(pipe(hold), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                report_fd = p[1];
                pthread_t a, b;
                pthread_create(&a, NULL, gil_waiter, NULL);
                pthread_create(&b, NULL, gil_waiter, &report_fd);
                char c;
                (void)!read(hold[0], &c, 1);
                _exit(0);
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], agent_tid, sizeof *agent_tid), (ssize_t)sizeof *agent_tid);
        close(p[0]);
        close(hold[0]);
        /* Until every thread is in its wait. */
        for (int i = 0; i < 500; i++) {
                char path[96], buf[256];
                int waiting = 0;
                for (int k = 0; k < 2; k++) {
                        pid_t t = k == 0 ? pid : *agent_tid;
                        snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)t);
                        FILE *f = fopen(path, "r");
                        if (f && fgets(buf, sizeof buf, f) &&
                            atol(buf) == (k == 0 ? SYS_read : SYS_futex))
                                waiting++;
                        if (f)
                                fclose(f);
                }
                if (waiting == 2)
                        break;
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return pid;
}

static void end_child(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

START_TEST(names_the_holder) {
        pid_t agent = 0;
        pid_t pid = start_child(&agent);
        char buf[1024];
        ap_gil_holder_describe(pid, agent, buf, sizeof buf);
        char want[64];
        snprintf(want, sizeof want, "thread %d (", (int)pid);
        ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "%s", buf);
        ck_assert_msg(strstr(buf, ", the main thread), in ") != NULL, "%s", buf);
        ck_assert_msg(strstr(buf, "read") != NULL, "%s", buf);
        ck_assert_msg(strstr(buf, "libc.so.6") != NULL, "%s", buf);
        /* Without an agent: the main thread, which a queued call waits for. */
        ap_gil_holder_describe(pid, 0, buf, sizeof buf);
        ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "%s", buf);
        end_child(pid);
}
END_TEST

START_TEST(gone_process) {
        char buf[256];
        ap_gil_holder_describe(999999999, 1, buf, sizeof buf);
        ck_assert_msg(strstr(buf, "unknown") != NULL, "%s", buf);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("gil_holder");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, parse_in_syscall);
        tcase_add_test(tc, parse_running_and_blocked);
        tcase_add_test(tc, parse_malformed);
        tcase_add_test(tc, names_the_holder);
        tcase_add_test(tc, gone_process);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
