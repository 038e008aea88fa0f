/* test_pypy_remote.c: writing PyPy's remote-execution request into another
 * process (a child with a block laid out like pypysig_counter), withdrawing
 * it, and the script the target runs. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pypy_remote.h"
#include "util.h"

/* As PyPy 8 lays it out; the same address in a forked child. */
static struct {
        int64_t value;
        char cookie[8];
        int64_t pending;
        char path[4096];
} block = {12345, {'p', 'y', 'p', 'y', 's', 'i', 'g', 's'}, 0, {0}};

/* A child that waits: it holds a copy of block at the same address. */
static pid_t child_with_block(void) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        pause();
        }
        return pid;
}

static void end(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* A word of the child's block, read directly. */
static int64_t child_word(pid_t pid, const void *addr) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        int64_t v = 0;
        ck_assert_int_eq(pread(fd, &v, sizeof v, (off_t)(uintptr_t)addr), (ssize_t)sizeof v);
        close(fd);
        return v;
}

START_TEST(test_request_then_taken) {
        pid_t pid = child_with_block();
        ap_pypy_remote r;
        ap_error e = AP_ERROR_INIT;
        ck_assert_int_eq(ap_pypy_remote_open(&r, pid, (uint64_t)(uintptr_t)&block, &e), 0);
        ck_assert_int_eq(ap_pypy_remote_taken(&r), 1); /* nothing pending */
        ck_assert_int_eq(ap_pypy_remote_request(&r, "/tmp/attachpy-x/remote.py", &e), 0);
        ck_assert_int_eq(ap_pypy_remote_taken(&r), 0);
        /* What the child holds now: the path, the pending word, -1. */
        char path[64] = {0};
        ck_assert_int_eq(pread(r.mem_fd, path, sizeof path, (off_t)(uintptr_t)block.path),
                         (ssize_t)sizeof path);
        ck_assert_str_eq(path, "/tmp/attachpy-x/remote.py");
        int64_t v;
        ck_assert_int_eq(pread(r.mem_fd, &v, sizeof v, (off_t)(uintptr_t)&block.value), 8);
        ck_assert_int_eq(v, -1);
        /* The target takes it: it clears the pending word. */
        int64_t zero = 0;
        ck_assert_int_eq(pwrite(r.mem_fd, &zero, 8, (off_t)(uintptr_t)&block.pending), 8);
        ck_assert_int_eq(ap_pypy_remote_taken(&r), 1);
        ck_assert_int_eq(ap_pypy_remote_withdraw(&r), 0); /* too late */
        ap_pypy_remote_close(&r);
        ap_pypy_remote_close(&r); /* twice is fine */
        end(pid);
}
END_TEST

START_TEST(test_withdraw) {
        pid_t pid = child_with_block();
        ap_pypy_remote r;
        ap_error e = AP_ERROR_INIT;
        ck_assert_int_eq(ap_pypy_remote_open(&r, pid, (uint64_t)(uintptr_t)&block, &e), 0);
        ck_assert_int_eq(ap_pypy_remote_request(&r, "/tmp/s/remote.py", &e), 0);
        ck_assert_int_eq(ap_pypy_remote_withdraw(&r), 1);
        ck_assert_int_eq(child_word(pid, &block.pending), 0);
        ck_assert_int_eq(ap_pypy_remote_taken(&r), 1);
        ap_pypy_remote_close(&r);
        end(pid);
}
END_TEST

/* No cookie, a request already pending, a path too long, a process that
 * cannot be read: each an error, nothing written. */
START_TEST(test_refusals) {
        ap_pypy_remote r;
        ap_error e = AP_ERROR_INIT;
        memcpy(block.cookie, "notpypy!", 8);
        pid_t pid = child_with_block();
        ck_assert_int_eq(ap_pypy_remote_open(&r, pid, (uint64_t)(uintptr_t)&block, &e), -1);
        ck_assert_int_eq(e.code, AP_ERR_INJECTION_FAILED);
        ck_assert_ptr_nonnull(strstr(e.message, "pypysig_counter"));
        ap_error_clear(&e);
        ap_pypy_remote_close(&r);
        end(pid);
        memcpy(block.cookie, "pypysigs", 8);

        block.pending = 1;
        pid = child_with_block();
        ck_assert_int_eq(ap_pypy_remote_open(&r, pid, (uint64_t)(uintptr_t)&block, &e), -1);
        ck_assert_ptr_nonnull(strstr(e.message, "pending"));
        ck_assert_ptr_nonnull(e.hint);
        ap_error_clear(&e);
        ap_pypy_remote_close(&r);
        end(pid);
        block.pending = 0;

        pid = child_with_block();
        ck_assert_int_eq(ap_pypy_remote_open(&r, pid, (uint64_t)(uintptr_t)&block, &e), 0);
        char longpath[AP_PYPY_REMOTE_PATH_MAX + 8];
        memset(longpath, 'a', sizeof longpath - 1);
        longpath[sizeof longpath - 1] = '\0';
        ck_assert_int_eq(ap_pypy_remote_request(&r, longpath, &e), -1);
        ck_assert_int_eq(child_word(pid, &block.pending), 0);
        ap_error_clear(&e);
        ap_pypy_remote_close(&r);
        end(pid);

        ck_assert_int_eq(ap_pypy_remote_open(&r, 4194300, (uint64_t)(uintptr_t)&block, &e), -1);
        ap_error_clear(&e);
        ck_assert_int_eq(ap_pypy_remote_taken(&r), -1);
        ap_pypy_remote_close(&r);
}
END_TEST

START_TEST(test_script) {
        ap_buf b = {0};
        ck_assert_int_eq(
                ap_pypy_remote_script("/tmp/attachpy-a/attachpy-agent.so", "/tmp/attachpy-a", &b),
                0);
        ck_assert_ptr_nonnull(strstr(b.data,
                                     "_attachpy_start(b'/tmp/attachpy-a/attachpy-agent.so', "
                                     "b'/tmp/attachpy-a')\n"));
        ck_assert_ptr_nonnull(strstr(b.data, "'attachpy_agent_start_v1'"));
        ck_assert_ptr_nonnull(strstr(b.data, "sys.modules.pop('_cffi_backend', None)"));
        ap_buf_free(&b);
        /* Quotes, backslashes, newlines and non-ASCII bytes are escaped. */
        ck_assert_int_eq(ap_pypy_remote_script("/a'b\\c\nd\xc3\xa9", "/s", &b), 0);
        ck_assert_ptr_nonnull(strstr(b.data, "b'/a\\x27b\\x5cc\\x0ad\\xc3\\xa9'"));
        ap_buf_free(&b);
}
END_TEST

static Suite *pypy_remote_suite(void) {
        Suite *s = suite_create("pypy_remote");
        TCase *tc = tcase_create("remote");
        tcase_add_test(tc, test_request_then_taken);
        tcase_add_test(tc, test_withdraw);
        tcase_add_test(tc, test_refusals);
        tcase_add_test(tc, test_script);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(pypy_remote_suite());
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
