/* test_pending.c: following a queued trampoline through /proc/PID/mem
 * (cli/pending.c), against a child process that plays the target: it maps
 * a scratch page and changes its state and detail words (or unmaps it, or
 * exits) when the test tells it to through a pipe, and reports what it sees
 * in its page. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "page.h"
#include "pending.h"
#include "util.h"

/* ---- the child -------------------------------------------------------------------- */

enum op {
        OP_PUT32 = 1, /* value at offset (int32) */
        OP_PUT64,     /* value at offset (int64) */
        OP_PUTSTR,    /* the bytes of str at offset */
        OP_GET32,     /* send back the int32 at offset */
        OP_UNMAP,     /* unmap the page */
        OP_EXIT,      /* _exit(0) */
};

typedef struct command {
        int op;
        size_t offset;
        int64_t value;
        char str[32];
} command;

typedef struct child {
        pid_t pid;
        int to, from; /* pipes: commands, answers */
        uint64_t page;
} child;

static void child_main(int in, int out) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, whatever happens */
        alarm(60);
        /* Two pages, the second unmapped: nothing readable after the page. */
        unsigned char *p = mmap(NULL, 2 * AP_PAGE_SIZE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || munmap(p + AP_PAGE_SIZE, AP_PAGE_SIZE) < 0)
                _exit(2);
        uint64_t addr = (uint64_t)(uintptr_t)p;
        if (write(out, &addr, sizeof addr) != (ssize_t)sizeof addr)
                _exit(2);
        command c;
        while (read(in, &c, sizeof c) == (ssize_t)sizeof c) {
                int64_t answer = 0;
                switch (c.op) {
                case OP_PUT32: {
                        int32_t v = (int32_t)c.value;
                        __atomic_store_n((int32_t *)(p + c.offset), v, __ATOMIC_SEQ_CST);
                        break;
                }
                case OP_PUT64:
                        memcpy(p + c.offset, &c.value, sizeof c.value);
                        break;
                case OP_PUTSTR:
                        memcpy(p + c.offset, c.str, strlen(c.str) + 1);
                        break;
                case OP_GET32:
                        answer = __atomic_load_n((int32_t *)(p + c.offset), __ATOMIC_SEQ_CST);
                        break;
                case OP_UNMAP:
                        answer = munmap(p, AP_PAGE_SIZE);
                        break;
                case OP_EXIT:
                        _exit(0);
                }
                if (write(out, &answer, sizeof answer) != (ssize_t)sizeof answer)
                        _exit(2);
        }
        _exit(0);
}

static child start_child(void) {
        int a[2], b[2];
        ck_assert_int_eq(pipe(a), 0);
        ck_assert_int_eq(pipe(b), 0);
        child c = {.pid = fork()};
        ck_assert_int_ge(c.pid, 0);
        if (c.pid == 0) {
                close(a[1]);
                close(b[0]);
                child_main(a[0], b[1]);
        }
        close(a[0]);
        close(b[1]);
        c.to = a[1];
        c.from = b[0];
        ck_assert_int_eq(read(c.from, &c.page, sizeof c.page), (ssize_t)sizeof c.page);
        ck_assert_uint_ne(c.page, 0);
        return c;
}

static int64_t tell(child *c, int op, size_t offset, int64_t value, const char *str) {
        command cmd = {.op = op, .offset = offset, .value = value};
        if (str)
                snprintf(cmd.str, sizeof cmd.str, "%s", str);
        ck_assert_int_eq(write(c->to, &cmd, sizeof cmd), (ssize_t)sizeof cmd);
        if (op == OP_EXIT)
                return 0;
        int64_t answer;
        ck_assert_int_eq(read(c->from, &answer, sizeof answer), (ssize_t)sizeof answer);
        return answer;
}

static void end_child(child *c) {
        if (c->pid > 0) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
        }
        c->pid = 0;
        close(c->to);
        close(c->from);
}

static ap_pending open_pending(const child *c) {
        ap_pending p = AP_PENDING_INIT;
        ap_error err = AP_ERROR_INIT;
        ck_assert_msg(ap_pending_open(&p, c->pid, c->page, &err) == 0, "%s",
                      err.message ? err.message : "");
        ck_assert_int_ge(p.mem_fd, 0);
        return p;
}

/* ---- tests -------------------------------------------------------------------------- */

START_TEST(test_queued_then_cancel) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        int state = -1;
        int64_t detail = -1;
        ck_assert_int_eq(ap_pending_status_read(&p, &state, &detail), AP_PENDING_QUEUED);
        ck_assert_int_eq(state, AP_TRAMPOLINE_QUEUED);
        ck_assert_int_eq(tell(&c, OP_GET32, AP_PAGE_CANCEL, 0, NULL), 0);
        /* Not started: withdrawn, and the target sees the cancel word. */
        ck_assert_int_eq(ap_pending_cancel(&p), 1);
        ck_assert_int_eq(tell(&c, OP_GET32, AP_PAGE_CANCEL, 0, NULL), AP_CANCEL_WITHDRAWN);
        /* Nothing else of the page changed. */
        ck_assert_int_eq(tell(&c, OP_GET32, AP_PAGE_STATE, 0, NULL), AP_TRAMPOLINE_QUEUED);
        ck_assert_int_eq(ap_pending_status_read(&p, NULL, NULL), AP_PENDING_QUEUED);
        ap_pending_close(&p);
        ck_assert_int_eq(p.mem_fd, -1);
        ap_pending_close(&p); /* twice is harmless */
        end_child(&c);
}
END_TEST

START_TEST(test_running_cannot_cancel) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        tell(&c, OP_PUT32, AP_PAGE_STATE, AP_TRAMPOLINE_RUNNING, NULL);
        int state = -1;
        ck_assert_int_eq(ap_pending_status_read(&p, &state, NULL), AP_PENDING_RUNNING);
        ck_assert_int_eq(state, AP_TRAMPOLINE_RUNNING);
        /* Too late: it runs on. */
        ck_assert_int_eq(ap_pending_cancel(&p), 0);
        ap_pending_close(&p);
        end_child(&c);
}
END_TEST

START_TEST(test_unmapped_is_done) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        tell(&c, OP_PUT32, AP_PAGE_STATE, AP_TRAMPOLINE_RUNNING, NULL);
        ck_assert_int_eq(tell(&c, OP_UNMAP, 0, 0, NULL), 0);
        ck_assert_int_eq(ap_pending_status_read(&p, NULL, NULL), AP_PENDING_DONE);
        /* Nothing left to withdraw, and no error. */
        ck_assert_int_eq(ap_pending_cancel(&p), 0);
        char buf[16] = "x";
        ap_pending_read_string(&p, c.page, buf, sizeof buf);
        ck_assert_str_eq(buf, "");
        ap_pending_close(&p);
        end_child(&c);
}
END_TEST

START_TEST(test_failed_with_detail) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        /* dlopen failed: detail is dlerror()'s pointer in the target. */
        tell(&c, OP_PUTSTR, 100, 0, "libx.so: cannot open");
        tell(&c, OP_PUT64, AP_PAGE_DETAIL, (int64_t)(c.page + 100), NULL);
        tell(&c, OP_PUT32, AP_PAGE_STATE, AP_TRAMPOLINE_DLOPEN_FAILED, NULL);
        int state = -1;
        int64_t detail = 0;
        ck_assert_int_eq(ap_pending_status_read(&p, &state, &detail), AP_PENDING_FAILED);
        ck_assert_int_eq(state, AP_TRAMPOLINE_DLOPEN_FAILED);
        ck_assert(detail == (int64_t)(c.page + 100));
        char msg[512];
        ap_pending_read_string(&p, (uint64_t)detail, msg, sizeof msg);
        ck_assert_str_eq(msg, "libx.so: cannot open");
        /* A failed call cannot be withdrawn (it ran). */
        ck_assert_int_eq(ap_pending_cancel(&p), 0);

        /* The entry point failed with -5. */
        tell(&c, OP_PUT64, AP_PAGE_DETAIL, -5, NULL);
        tell(&c, OP_PUT32, AP_PAGE_STATE, AP_TRAMPOLINE_ENTRY_FAILED, NULL);
        ck_assert_int_eq(ap_pending_status_read(&p, &state, &detail), AP_PENDING_FAILED);
        ck_assert_int_eq(state, AP_TRAMPOLINE_ENTRY_FAILED);
        ck_assert(detail == -5);

        tell(&c, OP_PUT64, AP_PAGE_DETAIL, 0, NULL);
        tell(&c, OP_PUT32, AP_PAGE_STATE, AP_TRAMPOLINE_DLSYM_FAILED, NULL);
        ck_assert_int_eq(ap_pending_status_read(&p, &state, &detail), AP_PENDING_FAILED);
        ck_assert_int_eq(state, AP_TRAMPOLINE_DLSYM_FAILED);
        ck_assert(detail == 0);
        ap_pending_close(&p);
        end_child(&c);
}
END_TEST

START_TEST(test_read_string_edges) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        /* A string that ends 1 byte before the unmapped page: the long read
         * fails or is cut, the string is still read whole. */
        tell(&c, OP_PUTSTR, AP_PAGE_SIZE - 6, 0, "abcde");
        char buf[512];
        ap_pending_read_string(&p, c.page + AP_PAGE_SIZE - 6, buf, sizeof buf);
        ck_assert_str_eq(buf, "abcde");
        /* A long string is cut to the buffer, NUL-terminated. */
        tell(&c, OP_PUTSTR, 200, 0, "0123456789abcdefghij");
        char small[8];
        ap_pending_read_string(&p, c.page + 200, small, sizeof small);
        ck_assert_str_eq(small, "0123456");
        /* NULL, unmapped: empty. */
        strcpy(buf, "junk");
        ap_pending_read_string(&p, 0, buf, sizeof buf);
        ck_assert_str_eq(buf, "");
        strcpy(buf, "junk");
        ap_pending_read_string(&p, c.page + AP_PAGE_SIZE, buf, sizeof buf);
        ck_assert_str_eq(buf, "");
        ap_pending_read_string(&p, c.page, buf, 0); /* no room: untouched, no crash */
        ap_pending_close(&p);
        end_child(&c);
}
END_TEST

START_TEST(test_exited_is_lost) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        tell(&c, OP_EXIT, 0, 0, NULL);
        /* A zombie first (not reaped): its memory is gone. */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        ck_assert_int_eq(waitid(P_PID, (id_t)c.pid, &si, WEXITED | WNOWAIT), 0);
        ck_assert_int_eq(ap_pending_status_read(&p, NULL, NULL), AP_PENDING_LOST);
        ck_assert_int_eq(ap_pending_cancel(&p), -1);
        /* Reaped: still lost. */
        ck_assert_int_eq(waitpid(c.pid, NULL, 0), c.pid);
        c.pid = 0;
        ck_assert_int_eq(ap_pending_status_read(&p, NULL, NULL), AP_PENDING_LOST);
        ck_assert_int_eq(ap_pending_cancel(&p), -1);
        ap_pending_close(&p);
        end_child(&c);
}
END_TEST

START_TEST(test_arm) {
        child c = start_child();
        ap_pending p = open_pending(&c);
        /* Written unarmed by the debugger that died before arming it:
         * attachpy arms it, once. */
        tell(&c, OP_PUT32, AP_PAGE_CANCEL, AP_CANCEL_UNARMED, NULL);
        ck_assert_int_eq(ap_pending_arm(&p), 1);
        ck_assert_int_eq(tell(&c, OP_GET32, AP_PAGE_CANCEL, 0, NULL), AP_CANCEL_ARMED);
        ck_assert_int_eq(ap_pending_arm(&p), 0);
        ck_assert_int_eq(tell(&c, OP_GET32, AP_PAGE_CANCEL, 0, NULL), AP_CANCEL_ARMED);
        /* Withdrawn stays withdrawn. */
        ck_assert_int_eq(ap_pending_cancel(&p), 1);
        ck_assert_int_eq(ap_pending_arm(&p), 0);
        ck_assert_int_eq(tell(&c, OP_GET32, AP_PAGE_CANCEL, 0, NULL), AP_CANCEL_WITHDRAWN);
        /* It ran unarmed: a failure with its own state. */
        tell(&c, OP_PUT32, AP_PAGE_STATE, AP_TRAMPOLINE_UNARMED, NULL);
        int state = -1;
        ck_assert_int_eq(ap_pending_status_read(&p, &state, NULL), AP_PENDING_FAILED);
        ck_assert_int_eq(state, AP_TRAMPOLINE_UNARMED);
        /* The page is gone: cannot arm. */
        ck_assert_int_eq(tell(&c, OP_UNMAP, 0, 0, NULL), 0);
        ck_assert_int_eq(ap_pending_arm(&p), -1);
        ap_pending_close(&p);
        end_child(&c);
}
END_TEST

START_TEST(test_open_no_process) {
        ap_pending p = AP_PENDING_INIT;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_pending_open(&p, 0x7ffffff0, 0x1000, &err), -1);
        ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
        ck_assert_msg(strstr(err.message, "/proc/2147483632/mem"), "%s", err.message);
        ck_assert_ptr_nonnull(err.hint);
        ck_assert_int_eq(p.mem_fd, -1);
        ap_error_clear(&err);
        ap_pending_close(&p);
}
END_TEST

static Suite *pending_suite(void) {
        Suite *s = suite_create("pending");
        TCase *tc = tcase_create("child");
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_queued_then_cancel);
        tcase_add_test(tc, test_running_cannot_cancel);
        tcase_add_test(tc, test_unmapped_is_done);
        tcase_add_test(tc, test_failed_with_detail);
        tcase_add_test(tc, test_read_string_edges);
        tcase_add_test(tc, test_exited_is_lost);
        tcase_add_test(tc, test_arm);
        tcase_add_test(tc, test_open_no_process);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(pending_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
