/* test_exitwatch.c: how attachpy tells how the target ended (exitwatch.h):
 * wait statuses, /proc/PID/stat's exit_code, the connector's messages, the
 * words the report uses; and a real child that exits and one that is
 * killed, watched as attachpy watches a target. */
#include <check.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitwatch.h"
#include "util.h"

START_TEST(test_from_wait) {
        ap_exit_status s;
        ck_assert_int_eq(ap_exit_status_from_wait(3 << 8, &s), 0);
        ck_assert_int_eq(s.how, AP_EXIT_CODE);
        ck_assert_int_eq(s.value, 3);
        ck_assert_int_eq(ap_exit_status_from_wait(0, &s), 0);
        ck_assert_int_eq(s.how, AP_EXIT_CODE);
        ck_assert_int_eq(s.value, 0);
        ck_assert_int_eq(ap_exit_status_from_wait(SIGSEGV, &s), 0);
        ck_assert_int_eq(s.how, AP_EXIT_SIGNAL);
        ck_assert_int_eq(s.value, SIGSEGV);
        ck_assert(!s.core_dumped);
        ck_assert_int_eq(ap_exit_status_from_wait(SIGABRT | 0x80, &s), 0);
        ck_assert_int_eq(s.how, AP_EXIT_SIGNAL);
        ck_assert_int_eq(s.value, SIGABRT);
        ck_assert(s.core_dumped);
        /* A stopped process's status is no ending. */
        ck_assert_int_eq(ap_exit_status_from_wait(0x137f, &s), -1);
}
END_TEST

/* A zombie's stat line, 52 fields; comm with spaces and parentheses. */
static char *stat_line(const char *comm, char state, const char *exit_code) {
        ap_buf b = {0};
        ck_assert_int_eq(ap_buf_printf(&b, "4242 (%s) %c", comm, state), 0);
        for (int field = 4; field <= 51; field++)
                ck_assert_int_eq(ap_buf_printf(&b, " %d", field), 0);
        if (exit_code)
                ck_assert_int_eq(ap_buf_printf(&b, " %s", exit_code), 0);
        ck_assert_int_eq(ap_buf_printf(&b, "\n"), 0);
        return ap_buf_steal(&b);
}

START_TEST(test_proc_stat) {
        char state;
        int code;
        char *line = stat_line("python3.12", 'Z', "2816");
        ck_assert_int_eq(ap_proc_stat_exit(line, &state, &code), 0);
        ck_assert_int_eq(state, 'Z');
        ck_assert_int_eq(code, 11 << 8);
        free(line);
        line = stat_line("a) Z (b", 'S', "139");
        ck_assert_int_eq(ap_proc_stat_exit(line, &state, &code), 0);
        ck_assert_int_eq(state, 'S');
        ck_assert_int_eq(code, 139);
        free(line);
        /* An old kernel: no field 52. */
        line = stat_line("x", 'Z', NULL);
        ck_assert_int_eq(ap_proc_stat_exit(line, &state, &code), 0);
        ck_assert_int_eq(code, -1);
        free(line);
        line = stat_line("x", 'Z', "junk");
        ck_assert_int_eq(ap_proc_stat_exit(line, &state, &code), 0);
        ck_assert_int_eq(code, -1);
        free(line);
        ck_assert_int_eq(ap_proc_stat_exit("4242 (x", &state, &code), -1);
        ck_assert_int_eq(ap_proc_stat_exit("", &state, &code), -1);
        ck_assert_int_eq(ap_proc_stat_exit("4242 (x)", &state, &code), -1);
}
END_TEST

/* One connector message carrying one event. */
static size_t add_event(char *buf, size_t off, unsigned what, pid_t pid, pid_t tgid,
                        unsigned code) {
        struct nlmsghdr *nl = (struct nlmsghdr *)(buf + off);
        size_t len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event));
        memset(nl, 0, NLMSG_ALIGN(len));
        nl->nlmsg_len = (unsigned)len;
        nl->nlmsg_type = NLMSG_DONE;
        struct cn_msg *cn = NLMSG_DATA(nl);
        cn->id.idx = CN_IDX_PROC;
        cn->id.val = CN_VAL_PROC;
        cn->len = sizeof(struct proc_event);
        struct proc_event ev;
        memset(&ev, 0, sizeof ev);
        ev.what = what;
        ev.event_data.exit.process_pid = pid;
        ev.event_data.exit.process_tgid = tgid;
        ev.event_data.exit.exit_code = code;
        memcpy(cn->data, &ev, sizeof ev);
        return off + NLMSG_ALIGN(len);
}

START_TEST(test_connector) {
        static char buf[4096] __attribute__((aligned(8)));
        size_t n = 0;
        n = add_event(buf, n, PROC_EVENT_FORK, 4242, 4242, 0);
        n = add_event(buf, n, PROC_EVENT_EXIT, 4243, 4242, 9);  /* a thread of it */
        n = add_event(buf, n, PROC_EVENT_EXIT, 77, 77, 1 << 8); /* another process */
        int status = -1;
        ck_assert_int_eq(ap_proc_connector_find_exit(buf, n, 4242, &status), 0);
        n = add_event(buf, n, PROC_EVENT_EXIT, 4242, 4242, 5 << 8);
        ck_assert_int_eq(ap_proc_connector_find_exit(buf, n, 4242, &status), 1);
        ck_assert_int_eq(status, 5 << 8);
        /* Cut short: nothing is read past the end. */
        ck_assert_int_eq(ap_proc_connector_find_exit(buf, n - 8, 4242, &status), 0);
        ck_assert_int_eq(ap_proc_connector_find_exit(buf, 0, 4242, &status), 0);
}
END_TEST

START_TEST(test_describe) {
        char text[96];
        ap_exit_status s = {.how = AP_EXIT_CODE, .value = 3};
        ap_exit_status_describe(&s, text, sizeof text);
        ck_assert_str_eq(text, "exit status 3");
        s = (ap_exit_status){.how = AP_EXIT_SIGNAL, .value = SIGSEGV, .core_dumped = true};
        ap_exit_status_describe(&s, text, sizeof text);
        ck_assert_str_eq(text, "signal 11 (SIGSEGV), core dumped");
        s = (ap_exit_status){.how = AP_EXIT_SIGNAL, .value = 40};
        ap_exit_status_describe(&s, text, sizeof text);
        ck_assert_str_eq(text, "signal 40");
        s = (ap_exit_status){.how = AP_EXIT_UNKNOWN};
        ap_exit_status_describe(&s, text, sizeof text);
        ck_assert_str_eq(text, "unknown");
        ck_assert_str_eq(ap_signal_name(SIGABRT), "SIGABRT");
        ck_assert_ptr_null(ap_signal_name(0));
}
END_TEST

/* A child of ours stands in for the target: it ends (exit(status) or the
 * signal) when its pipe closes. */
static pid_t child_until_closed(int *ret_fd, int exit_code, int sig) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(p[1]);
                char c;
                while (read(p[0], &c, 1) > 0)
                        ;
                if (sig) {
                        /* check's own handler would pass it on to the group. */
                        signal(sig, SIG_DFL);
                        raise(sig);
                }
                _exit(exit_code);
        }
        close(p[0]);
        *ret_fd = p[1];
        return pid;
}

START_TEST(test_watch_real_child) {
        static const struct {
                int code, sig;
                ap_exit_how how;
                int value;
        } cases[] = {{4, 0, AP_EXIT_CODE, 4}, {0, SIGTERM, AP_EXIT_SIGNAL, SIGTERM}};
        for (size_t i = 0; i < AP_ARRAY_SIZE(cases); i++) {
                int fd;
                pid_t pid = child_until_closed(&fd, cases[i].code, cases[i].sig);
                ap_exit_watch w = AP_EXIT_WATCH_INIT;
                ap_exit_watch_open(&w, pid);
                ap_exit_status s;
                /* Alive: 0 at the deadline. */
                ck_assert_int_eq(ap_exit_watch_ended(&w, ap_now_ms() + 50, &s), 0);
                close(fd);
                /* Not reaped yet: a zombie, read from /proc or the connector. */
                ck_assert_int_eq(ap_exit_watch_ended(&w, ap_now_ms() + 5000, &s), 1);
                ck_assert_int_eq(s.how, cases[i].how);
                ck_assert_int_eq(s.value, cases[i].value);
                ap_exit_watch_close(&w);
                ap_exit_watch_close(&w); /* twice is fine */
                int status;
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        }
}
END_TEST

START_TEST(test_watch_reaped_unknown_without_connector) {
        /* Reaped before attachpy looks, and no connector: it ended, and how
         * is unknown, never a guess. */
        int fd;
        pid_t pid = child_until_closed(&fd, 9, 0);
        ap_exit_watch w = AP_EXIT_WATCH_INIT;
        ap_exit_watch_open(&w, pid);
        if (w.nl_fd >= 0) {
                close(w.nl_fd);
                w.nl_fd = -1;
        }
        close(fd);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ap_exit_status s;
        ck_assert_int_eq(ap_exit_watch_ended(&w, ap_now_ms() + 5000, &s), 1);
        ck_assert_int_eq(s.how, AP_EXIT_UNKNOWN);
        ap_exit_watch_close(&w);
}
END_TEST

int main(void) {
        Suite *s = suite_create("exitwatch");
        TCase *tc = tcase_create("pure");
        tcase_add_test(tc, test_from_wait);
        tcase_add_test(tc, test_proc_stat);
        tcase_add_test(tc, test_connector);
        tcase_add_test(tc, test_describe);
        suite_add_tcase(s, tc);
        tc = tcase_create("child");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_watch_real_child);
        tcase_add_test(tc, test_watch_reaped_unknown_without_connector);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
