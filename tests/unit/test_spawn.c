/* test_spawn.c: the idle child a debugger warms up on (ap_spawn_idle): it
 * waits, holds none of attachpy's descriptors, lives in its own process
 * group, can be attached to and detached from, and never outlives
 * attachpy. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "target.h"

/* The state letter of pid ('?' when gone). */
static char proc_state(pid_t pid) {
        ap_proc_state st;
        return ap_proc_state_read(pid, &st) == 0 ? st.state : '?';
}

static void sleep_ms(long ms) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Wait up to 5 s for pid to reach state want. */
static int wait_state(pid_t pid, char want) {
        for (int i = 0; i < 500; i++) {
                if (proc_state(pid) == want)
                        return 1;
                sleep_ms(10);
        }
        return 0;
}

static int count_fds(pid_t pid) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_idle_waits_alone) {
        /* A descriptor of attachpy's (not close-on-exec) must not leak into
         * the idle child. */
        int keep = open("/dev/null", O_RDONLY);
        ck_assert_int_ge(keep, 3);
        ap_child c;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_spawn_idle(&c, &err), 0);
        ck_assert_int_gt(c.pid, 0);
        ck_assert_int_eq(c.out_fd, -1);
        ck_assert_msg(wait_state(c.pid, 'S'), "idle child is in state %c", proc_state(c.pid));
        ck_assert_int_eq(getpgid(c.pid), c.pid);
        /* stdin, stdout and stderr (/dev/null), nothing else. */
        for (int i = 0; i < 100 && count_fds(c.pid) != 3; i++)
                sleep_ms(10);
        ck_assert_int_eq(count_fds(c.pid), 3);
        close(keep);

        /* Attach, detach, as a debugger warming up does: it waits on. */
        ck_assert_int_eq(ptrace(PTRACE_ATTACH, c.pid, 0, 0), 0);
        int status;
        ck_assert_int_eq(waitpid(c.pid, &status, __WALL), c.pid);
        ck_assert(WIFSTOPPED(status));
        ck_assert_int_eq(ptrace(PTRACE_DETACH, c.pid, 0, 0), 0);
        ck_assert_msg(wait_state(c.pid, 'S'), "after detach: state %c", proc_state(c.pid));

        pid_t pid = c.pid;
        ap_child_kill_and_reap(&c);
        ck_assert_int_eq(c.pid, 0);
        ck_assert(c.exited);
        ck_assert(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGKILL);
        ck_assert_int_eq(kill(pid, 0), -1);
        ck_assert_int_eq(errno, ESRCH);
}
END_TEST

START_TEST(test_idle_dies_with_attachpy) {
        /* A process standing in for attachpy starts an idle child, reports
         * its pid and is killed: the idle child goes too. */
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t parent = fork();
        ck_assert_int_ge(parent, 0);
        if (parent == 0) {
                ap_child c;
                ap_error err = AP_ERROR_INIT;
                if (ap_spawn_idle(&c, &err) < 0)
                        _exit(1);
                (void)!write(fds[1], &c.pid, sizeof c.pid);
                for (;;)
                        pause();
        }
        close(fds[1]);
        pid_t idle = 0;
        ck_assert_int_eq(read(fds[0], &idle, sizeof idle), (ssize_t)sizeof idle);
        close(fds[0]);
        ck_assert_int_gt(idle, 0);
        ck_assert(wait_state(idle, 'S'));
        kill(parent, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(parent, &status, 0), parent);
        /* The idle child was re-parented and killed: gone or a zombie of
         * init's, never waiting on. */
        int gone = 0;
        for (int i = 0; i < 500 && !gone; i++) {
                char st = proc_state(idle);
                gone = st == '?' || st == 'Z';
                if (!gone)
                        sleep_ms(10);
        }
        if (!gone)
                kill(idle, SIGKILL); /* do not leave it behind */
        ck_assert_msg(gone, "idle child %d outlived its parent", (int)idle);
}
END_TEST

START_TEST(test_kill_and_reap_never_started) {
        ap_child c = AP_CHILD_INIT;
        ap_child_kill_and_reap(&c);
        ck_assert_int_eq(c.pid, 0);
        ap_child_kill_and_reap(NULL);
}
END_TEST

static Suite *spawn_suite(void) {
        Suite *s = suite_create("spawn");
        TCase *tc = tcase_create("idle");
        tcase_add_test(tc, test_idle_waits_alone);
        tcase_add_test(tc, test_idle_dies_with_attachpy);
        tcase_add_test(tc, test_kill_and_reap_never_started);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(spawn_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
