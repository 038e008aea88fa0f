/* test_cpython_remote.c: the offsets CPython 3.14+ publishes (recorded from
 * Debian's builds), the request written into another process (a child
 * holding a runtime laid out like one), withdrawing it, and the script. */
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

#include "cpython_remote.h"
#include "util.h"

static size_t fixture(const char *name, uint8_t *buf, size_t size) {
        const char *dir = getenv("ATTACHPY_FIXTURES");
        ck_assert_ptr_nonnull(dir);
        char path[512];
        snprintf(path, sizeof path, "%s/debug_offsets/%s", dir, name);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        ck_assert_msg(ap_read_file(path, 1 << 20, &data, &len) == 0, "%s", path);
        ck_assert_uint_le(len, size);
        memcpy(buf, data, len);
        return len;
}

static const struct {
        const char *file;
        int ok;
        uint32_t version;
        uint64_t threads_main, eval_breaker, support, enabled, path_size;
} recorded[] = {
        {"debian-3.14.10.bin", 0, 0x030e0af0, 7360, 24, 304, 8076, 512},
        {"debian-3.15.2.bin", 0, 0x030f02f0, 7352, 24, 344, 8028, 512},
        /* 3.13 has no remote-execution interface. */
        {"debian-3.13.18.bin", -1, 0, 0, 0, 0, 0, 0},
};

START_TEST(test_parse_recorded) {
        uint8_t buf[AP_DEBUG_OFFSETS_READ];
        size_t len = fixture(recorded[_i].file, buf, sizeof buf);
        ap_remote_offsets o;
        int r = ap_remote_offsets_parse(buf, len, &o);
        ck_assert_int_eq(r, recorded[_i].ok);
        if (r < 0)
                return;
        ck_assert_uint_eq(o.version, recorded[_i].version);
        ck_assert_uint_eq(o.interpreters_head > 0, 1);
        ck_assert_uint_eq(o.threads_main, recorded[_i].threads_main);
        ck_assert_uint_eq(o.eval_breaker, recorded[_i].eval_breaker);
        ck_assert_uint_eq(o.support, recorded[_i].support);
        ck_assert_uint_eq(o.enabled, recorded[_i].enabled);
        ck_assert_uint_eq(o.pending, 0);
        ck_assert_uint_eq(o.path, 4);
        ck_assert_uint_eq(o.path_size, recorded[_i].path_size);
}
END_TEST

/* Refused: a wrong cookie, free-threaded, a second place that looks like the
 * block (ambiguous), too short. */
START_TEST(test_parse_refusals) {
        uint8_t buf[AP_DEBUG_OFFSETS_READ];
        size_t len = fixture("debian-3.14.10.bin", buf, sizeof buf);
        ap_remote_offsets o;
        uint8_t copy[AP_DEBUG_OFFSETS_READ];

        memcpy(copy, buf, len);
        copy[0] = 'y';
        ck_assert_int_eq(ap_remote_offsets_parse(copy, len, &o), -1);

        memcpy(copy, buf, len);
        uint64_t one = 1;
        memcpy(copy + 16, &one, 8);
        ck_assert_int_eq(ap_remote_offsets_parse(copy, len, &o), -1);

        memcpy(copy, buf, len);
        uint64_t fake[6] = {16, 200, 1000, 0, 4, 512};
        memcpy(copy + 8 * 40, fake, sizeof fake);
        ck_assert_int_eq(ap_remote_offsets_parse(copy, len, &o), -1);

        ck_assert_int_eq(ap_remote_offsets_parse(buf, 64, &o), -1);
}
END_TEST

/* A child holding a runtime, an interpreter and a main thread state laid out
 * as the recorded 3.14.10 offsets say (the same addresses after fork). */
static uint8_t runtime[AP_DEBUG_OFFSETS_READ + 1024];
static uint8_t interp[16384];
static uint8_t tstate[1024];
static ap_remote_offsets offs;

static void build_fake_runtime(int32_t enabled) {
        size_t len = fixture("debian-3.14.10.bin", runtime, sizeof runtime);
        ck_assert_int_eq(ap_remote_offsets_parse(runtime, len, &offs), 0);
        memset(interp, 0, sizeof interp);
        memset(tstate, 0, sizeof tstate);
        uint64_t a = (uint64_t)(uintptr_t)interp, t = (uint64_t)(uintptr_t)tstate;
        ck_assert_uint_lt(offs.interpreters_head + 8, sizeof runtime);
        memcpy(runtime + offs.interpreters_head, &a, 8);
        memcpy(interp + offs.threads_main, &t, 8);
        memcpy(interp + offs.enabled, &enabled, 4);
        uint64_t breaker = 0x4; /* another bit already set stays set */
        memcpy(tstate + offs.eval_breaker, &breaker, 8);
}

static pid_t child(void) {
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

static void child_read(pid_t pid, const void *addr, void *buf, size_t len) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, buf, len, (off_t)(uintptr_t)addr), (ssize_t)len);
        close(fd);
}

START_TEST(test_request_taken_withdraw) {
        build_fake_runtime(1);
        pid_t pid = child();
        ap_cpython_remote r;
        ap_error e = AP_ERROR_INIT;
        ck_assert_msg(ap_cpython_remote_open(&r, pid, (uint64_t)(uintptr_t)runtime, &e) == 0, "%s",
                      e.message ? e.message : "");
        ck_assert_int_eq(ap_cpython_remote_taken(&r), 1);
        ck_assert_int_eq(ap_cpython_remote_request(&r, "/tmp/attachpy-q/remote.py", &e), 0);
        ck_assert_int_eq(ap_cpython_remote_taken(&r), 0);
        char path[32] = {0};
        child_read(pid, tstate + offs.support + offs.path, path, sizeof path - 1);
        ck_assert_str_eq(path, "/tmp/attachpy-q/remote.py");
        uint64_t breaker = 0;
        child_read(pid, tstate + offs.eval_breaker, &breaker, 8);
        ck_assert_uint_eq(breaker, 0x4 | 0x20);
        ck_assert_int_eq(ap_cpython_remote_withdraw(&r), 1);
        int32_t pending = 9;
        child_read(pid, tstate + offs.support + offs.pending, &pending, 4);
        ck_assert_int_eq(pending, 0);
        ck_assert_int_eq(ap_cpython_remote_withdraw(&r), 0);
        ap_cpython_remote_close(&r);
        ap_cpython_remote_close(&r);
        end(pid);
}
END_TEST

START_TEST(test_open_refusals) {
        ap_cpython_remote r;
        ap_error e = AP_ERROR_INIT;
        /* remote_debug off: nothing is written. */
        build_fake_runtime(0);
        pid_t pid = child();
        ck_assert_int_eq(ap_cpython_remote_open(&r, pid, (uint64_t)(uintptr_t)runtime, &e), -1);
        ck_assert_ptr_nonnull(strstr(e.message, "turned off"));
        ap_error_clear(&e);
        ap_cpython_remote_close(&r);
        end(pid);
        /* Another client's request pending. */
        build_fake_runtime(1);
        int32_t one = 1;
        memcpy(tstate + offs.support + offs.pending, &one, 4);
        pid = child();
        ck_assert_int_eq(ap_cpython_remote_open(&r, pid, (uint64_t)(uintptr_t)runtime, &e), -1);
        ck_assert_ptr_nonnull(strstr(e.message, "pending"));
        ap_error_clear(&e);
        ap_cpython_remote_close(&r);
        end(pid);
        /* A path longer than the runtime's buffer. */
        build_fake_runtime(1);
        pid = child();
        ck_assert_int_eq(ap_cpython_remote_open(&r, pid, (uint64_t)(uintptr_t)runtime, &e), 0);
        char longpath[600];
        memset(longpath, 'p', sizeof longpath - 1);
        longpath[sizeof longpath - 1] = '\0';
        ck_assert_int_eq(ap_cpython_remote_request(&r, longpath, &e), -1);
        ap_error_clear(&e);
        int32_t pending = 9;
        child_read(pid, tstate + offs.support + offs.pending, &pending, 4);
        ck_assert_int_eq(pending, 0);
        ap_cpython_remote_close(&r);
        end(pid);
}
END_TEST

START_TEST(test_script) {
        ap_buf b = {0};
        ck_assert_int_eq(
                ap_cpython_remote_script("/tmp/attachpy-a/agent.so", "/tmp/attachpy-a", &b), 0);
        ck_assert_ptr_nonnull(strstr(b.data, "_attachpy_start(b'/tmp/attachpy-a/agent.so', "
                                             "b'/tmp/attachpy-a')\n"));
        ck_assert_ptr_nonnull(strstr(b.data, "sys.modules.pop('_ctypes', None)"));
        ck_assert_ptr_nonnull(strstr(b.data, "except BaseException:"));
        ap_buf_free(&b);
}
END_TEST

static Suite *cpython_remote_suite(void) {
        Suite *s = suite_create("cpython_remote");
        TCase *tc = tcase_create("offsets");
        tcase_add_loop_test(tc, test_parse_recorded, 0, AP_ARRAY_SIZE(recorded));
        tcase_add_test(tc, test_parse_refusals);
        suite_add_tcase(s, tc);
        tc = tcase_create("remote");
        tcase_add_test(tc, test_request_taken_withdraw);
        tcase_add_test(tc, test_open_refusals);
        tcase_add_test(tc, test_script);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(cpython_remote_suite());
        srunner_set_fork_status(sr, CK_NOFORK);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
