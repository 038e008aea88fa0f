/* test_ps.c: the pure parts of `attachpy ps` (names, command lines, the
 * ATTACH column, the JSON shape) and one scan of /proc.  The listing of real
 * Python targets in every state is tests/ps/test_ps.py. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps.h"
#include "util.h"

#define BLOCK(lit) (lit), sizeof(lit)

START_TEST(test_names) {
        const char *yes[] = {"python",
                             "python3",
                             "python2",
                             "python3.11",
                             "/usr/bin/python3.11",
                             "/root/.pyenv/versions/3.13.0/bin/python3.13",
                             "python3.13t",
                             "pypy",
                             "pypy3",
                             "pypy3.9",
                             "/opt/pypy/bin/pypy3"};
        const char *no[] = {NULL,
                            "",
                            "pythonista",
                            "python-config",
                            "python3-config",
                            "/usr/bin/python3.11-config",
                            "bash",
                            "ipython",
                            "pytho",
                            "python4",
                            "/python3/bin/sh",
                            "pypy-c-helper"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(yes); i++)
                ck_assert_msg(ap_ps_name_looks_python(yes[i]), "%s should look like python",
                              yes[i]);
        for (size_t i = 0; i < AP_ARRAY_SIZE(no); i++)
                ck_assert_msg(!ap_ps_name_looks_python(no[i]), "%s should not",
                              no[i] ? no[i] : "NULL");
}
END_TEST

START_TEST(test_cmdline_text) {
        char *s = ap_ps_cmdline_text(BLOCK("python3\0-c\0print(1)"), "python3");
        ck_assert_str_eq(s, "python3 -c print(1)");
        free(s);
        /* Control characters cannot reach the terminal. */
        s = ap_ps_cmdline_text(BLOCK("python3\0a\033[2Jb\nc"), NULL);
        ck_assert_str_eq(s, "python3 a?[2Jb?c");
        free(s);
        /* No command line (a zombie, a kernel thread): [comm]. */
        s = ap_ps_cmdline_text(NULL, 0, "python3.11");
        ck_assert_str_eq(s, "[python3.11]");
        free(s);
}
END_TEST

START_TEST(test_attach_text) {
        ap_ps_entry e;
        memset(&e, 0, sizeof e);
        char buf[64];
        ck_assert_str_eq(ap_ps_attach_text(&e, buf, sizeof buf), "yes");
        e.target.refusal = AP_REFUSAL_STOPPED;
        ck_assert_str_eq(ap_ps_attach_text(&e, buf, sizeof buf), "no: stopped");
        e.target.refusal = AP_REFUSAL_TRACED;
        e.target.tracer_pid = 77;
        ck_assert_str_eq(ap_ps_attach_text(&e, buf, sizeof buf), "no: traced by 77");
        e.target.refusal = AP_REFUSAL_REMOTE_DEBUG_DISABLED;
        ck_assert_str_eq(ap_ps_attach_text(&e, buf, sizeof buf), "no: remote_debug_disabled");
}
END_TEST

START_TEST(test_refusal_names) {
        /* Every refusal but NONE has a distinct name (the JSON contract). */
        for (int i = AP_REFUSAL_GONE; i <= AP_REFUSAL_UNSUPPORTED_LIBC; i++) {
                ck_assert_ptr_nonnull(ap_refusal_name((ap_refusal)i));
                for (int k = AP_REFUSAL_GONE; k < i; k++)
                        ck_assert_str_ne(ap_refusal_name((ap_refusal)i),
                                         ap_refusal_name((ap_refusal)k));
        }
        ck_assert_ptr_null(ap_refusal_name(AP_REFUSAL_NONE));
        ck_assert_ptr_null(ap_refusal_name((ap_refusal)999));
}
END_TEST

START_TEST(test_json_shape) {
        ap_ps_list l = {0};
        l.v = calloc(2, sizeof *l.v);
        l.n = 2;
        static char cmd[] = "python3\0x.py";
        l.v[0].target.pid = 10;
        l.v[0].target.exe = strdup("/usr/bin/python3.11");
        l.v[0].target.version = strdup("3.11.2");
        l.v[0].target.cmdline = malloc(sizeof cmd);
        memcpy(l.v[0].target.cmdline, cmd, sizeof cmd);
        l.v[0].target.cmdline_len = sizeof cmd;
        l.v[0].user = strdup("root");
        l.v[0].serving = true;
        l.v[1].target.pid = 11;
        l.v[1].target.uid = 1000;
        l.v[1].target.refusal = AP_REFUSAL_OTHER_USER;
        ap_error_set(&l.v[1].error, AP_ERR_PERMISSION_DENIED, "nope");
        l.v[1].user = strdup("alice");
        json_t *j = ap_ps_to_json(&l);
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        ap_ps_list_free(&l);
        ck_assert_str_eq(
                s, "[{\"agent_serving\":true,\"attachable\":true,\"cmdline\":[\"python3\",\"x.py\"]"
                   ",\"error\":null,"
                   "\"executable\":\"/usr/bin/python3.11\",\"implementation\":\"cpython\","
                   "\"pid\":10,\"reason\":null,\"uid\":0,\"user\":\"root\",\"version\":\"3.11.2\"},"
                   "{\"agent_serving\":false,\"attachable\":false,\"cmdline\":[],\"error\":{"
                   "\"code\":\"permission_denied\","
                   "\"hint\":\"\",\"message\":\"nope\"},\"executable\":null,\"implementation\":"
                   "\"cpython\",\"pid\":11,\"reason\":\"other_user\",\"uid\":1000,\"user\":"
                   "\"alice\",\"version\":null}]");
        free(s);
}
END_TEST

START_TEST(test_text_table) {
        ap_ps_list l = {0};
        l.v = calloc(1, sizeof *l.v);
        l.n = 1;
        l.v[0].target.pid = 4242;
        l.v[0].target.version = strdup("3.12.1");
        l.v[0].target.refusal = AP_REFUSAL_STOPPED;
        l.v[0].target.comm = strdup("python3");
        l.v[0].user = strdup("bob");
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        ap_ps_print_text(&l, f, 0);
        fclose(f);
        ck_assert_str_eq(out, " PID  USER  PYTHON          ATTACH       COMMAND\n"
                              "4242  bob   cpython 3.12.1  no: stopped  [python3]\n");
        free(out);
        /* Cut at the terminal's width. */
        f = open_memstream(&out, &len);
        ap_ps_print_text(&l, f, 10);
        fclose(f);
        ck_assert_str_eq(out, " PID  USER\n4242  bob \n");
        free(out);
        ap_ps_list_free(&l);
}
END_TEST

START_TEST(test_scan_skips_non_python) {
        /* A child that is no Python is not listed; the scan works. */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        pause();
        }
        ap_ps_list l = {0};
        ap_error e = AP_ERROR_INIT;
        int r = ap_ps_scan(&l, "/proc", &e);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ck_assert_int_eq(r, 0);
        for (size_t i = 0; i < l.n; i++) {
                ck_assert_int_ne(l.v[i].target.pid, pid);
                ck_assert_int_ne(l.v[i].target.pid, getpid());
                if (i)
                        ck_assert_int_lt(l.v[i - 1].target.pid, l.v[i].target.pid);
        }
        ap_ps_list_free(&l);

        ck_assert_int_eq(ap_ps_scan(&l, "/nonexistent-proc", &e), -1);
        ck_assert_int_eq(e.code, AP_ERR_PERMISSION_DENIED);
        ap_error_clear(&e);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ps");
        TCase *tc = tcase_create("ps");
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_cmdline_text);
        tcase_add_test(tc, test_attach_text);
        tcase_add_test(tc, test_refusal_names);
        tcase_add_test(tc, test_json_shape);
        tcase_add_test(tc, test_text_table);
        tcase_add_test(tc, test_scan_skips_non_python);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
