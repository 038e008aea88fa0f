/* test_paths.c: where an installed attachpy looks for its files. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"

static void expect(const char *exe, const char *bindir, const char *want) {
        char *got = ap_path_prefix_of(exe, bindir);
        if (!want)
                ck_assert_msg(!got, "%s in %s: got %s, want none", exe, bindir, got);
        else
                ck_assert_msg(got && strcmp(got, want) == 0, "%s in %s: got %s, want %s", exe,
                              bindir, got ? got : "(none)", want);
        free(got);
}

START_TEST(test_prefix_of) {
        expect("/usr/local/bin/attachpy", "bin", "/usr/local");
        expect("/tmp/dest/usr/local/bin/attachpy", "bin", "/tmp/dest/usr/local");
        expect("/opt/x/sbin/tools/attachpy", "sbin/tools", "/opt/x");
        expect("/opt/x/bin/attachpy", "bin/", "/opt/x");
        expect("/bin/attachpy", "bin", "/");
        expect("/usr/local/xbin/attachpy", "bin", NULL); /* not a whole component */
        expect("/usr/local/libexec/attachpy", "bin", NULL);
        expect("attachpy", "bin", NULL);
        expect("/usr/bin/attachpy", "/usr/bin", NULL); /* an absolute bindir: no relocation */
        expect(NULL, "bin", NULL);
}
END_TEST

START_TEST(test_env_overrides) {
        setenv("ATTACHPY_DATADIR", "/somewhere/data", 1);
        setenv("ATTACHPY_AGENT", "/somewhere/agent.so", 1);
        char *d = ap_path_datadir(), *s = ap_path_script("gdbscripts", "inject.gdb"),
             *a = ap_path_agent();
        ck_assert_str_eq(d, "/somewhere/data");
        ck_assert_str_eq(s, "/somewhere/data/gdbscripts/inject.gdb");
        ck_assert_str_eq(a, "/somewhere/agent.so");
        free(d);
        free(s);
        free(a);
        unsetenv("ATTACHPY_DATADIR");
        unsetenv("ATTACHPY_AGENT");
}
END_TEST

int main(void) {
        Suite *s = suite_create("paths");
        TCase *tc = tcase_create("paths");
        tcase_add_test(tc, test_prefix_of);
        tcase_add_test(tc, test_env_overrides);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
