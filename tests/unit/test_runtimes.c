/* test_runtimes.c: the table of supported runtimes and the text derived
 * from it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "runtimes.h"
#include "util.h"

static const struct {
        ap_impl impl;
        int major, minor;
        bool supported;
} cases[] = {
        {AP_IMPL_CPYTHON, 2, 7, false}, {AP_IMPL_CPYTHON, 3, 5, false},
        {AP_IMPL_CPYTHON, 3, 6, true},  {AP_IMPL_CPYTHON, 3, 11, true},
        {AP_IMPL_CPYTHON, 3, 13, true}, {AP_IMPL_CPYTHON, 3, 14, true},
        {AP_IMPL_CPYTHON, 3, 15, true}, {AP_IMPL_CPYTHON, 3, 16, false},
        {AP_IMPL_CPYTHON, 4, 0, false}, {AP_IMPL_PYPY, 3, 8, false},
        {AP_IMPL_PYPY, 3, 9, true},     {AP_IMPL_PYPY, 3, 11, true},
        {AP_IMPL_PYPY, 3, 12, false},   {AP_IMPL_PYPY, 2, 7, false},
};

START_TEST(test_supported) {
        ck_assert_msg(ap_runtime_supported(cases[_i].impl, cases[_i].major, cases[_i].minor) ==
                              cases[_i].supported,
                      "%s %d.%d", cases[_i].impl == AP_IMPL_PYPY ? "pypy" : "cpython",
                      cases[_i].major, cases[_i].minor);
}
END_TEST

START_TEST(test_range_text) {
        char buf[64];
        ck_assert_str_eq(ap_runtime_range(AP_IMPL_CPYTHON, buf, sizeof buf), "CPython 3.6 to 3.15");
        ck_assert_str_eq(ap_runtime_range(AP_IMPL_PYPY, buf, sizeof buf),
                         "PyPy (Python 3.9 to 3.11)");
        /* A buffer too small is cut, never overrun, and stays a string. */
        char small[8];
        memset(small, 'x', sizeof small);
        ap_runtime_range(AP_IMPL_CPYTHON, small, sizeof small);
        ck_assert(memchr(small, '\0', sizeof small) != NULL);
}
END_TEST

/* Every row is a range that the checks accept at both ends. */
START_TEST(test_table_rows) {
        size_t n;
        const ap_runtime_support *t = ap_runtime_table(&n);
        ck_assert_uint_ge(n, 2);
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_le(t[i].first_minor, t[i].last_minor);
                ck_assert(ap_runtime_supported(t[i].impl, t[i].major, t[i].first_minor));
                ck_assert(ap_runtime_supported(t[i].impl, t[i].major, t[i].last_minor));
                ck_assert(!ap_runtime_supported(t[i].impl, t[i].major, t[i].last_minor + 1));
        }
}
END_TEST

static Suite *runtimes_suite(void) {
        Suite *s = suite_create("runtimes");
        TCase *tc = tcase_create("table");
        tcase_add_loop_test(tc, test_supported, 0, AP_ARRAY_SIZE(cases));
        tcase_add_test(tc, test_range_text);
        tcase_add_test(tc, test_table_rows);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(runtimes_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
