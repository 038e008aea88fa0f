/* test_error.c: error codes, their names and exit statuses, and the ap_error
 * helpers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

/* The contract: DESIGN.md, "Exit status" and the JSON error codes. */
static const struct {
        ap_code code;
        const char *name;
        int exit_status;
} contract[] = {
        {AP_ERR_SCRIPT_ERROR, "script_error", 1},
        {AP_ERR_INTERRUPTED, "interrupted", 130},
        {AP_ERR_RECIPE_REFUSED, "recipe_refused", 8},
        {AP_ERR_USAGE, "usage", 2},
        {AP_ERR_NO_SUCH_PROCESS, "no_such_process", 3},
        {AP_ERR_TARGET_EXITED, "target_exited", 3},
        {AP_ERR_PERMISSION_DENIED, "permission_denied", 4},
        {AP_ERR_REMOTE_DEBUG_DISABLED, "remote_debug_disabled", 4},
        {AP_ERR_NOT_PYTHON, "not_python", 5},
        {AP_ERR_UNSUPPORTED_PYTHON, "unsupported_python", 5},
        {AP_ERR_DEBUGGER_NOT_FOUND, "debugger_not_found", 6},
        {AP_ERR_DEBUGGER_FAILED, "debugger_failed", 6},
        {AP_ERR_INJECTION_FAILED, "injection_failed", 6},
        {AP_ERR_TIMEOUT, "timeout", 7},
};

START_TEST(test_code_table) {
        ck_assert_int_eq(AP_ARRAY_SIZE(contract), AP_CODE_COUNT_ - 1);
        for (size_t i = 0; i < AP_ARRAY_SIZE(contract); i++) {
                ck_assert_str_eq(ap_code_name(contract[i].code), contract[i].name);
                ck_assert_int_eq(ap_code_exit_status(contract[i].code), contract[i].exit_status);
        }
}
END_TEST

START_TEST(test_every_code_named_once) {
        for (int a = AP_OK + 1; a < AP_CODE_COUNT_; a++) {
                const char *name = ap_code_name((ap_code)a);
                ck_assert_ptr_nonnull(name);
                ck_assert_int_gt(ap_code_exit_status((ap_code)a), 0);
                for (int b = a + 1; b < AP_CODE_COUNT_; b++)
                        ck_assert_str_ne(name, ap_code_name((ap_code)b));
        }
}
END_TEST

START_TEST(test_ok_and_out_of_range) {
        ck_assert_ptr_null(ap_code_name(AP_OK));
        ck_assert_int_eq(ap_code_exit_status(AP_OK), 0);
        ck_assert_ptr_null(ap_code_name(AP_CODE_COUNT_));
        ck_assert_ptr_null(ap_code_name((ap_code)-1));
        ck_assert_int_ne(ap_code_exit_status(AP_CODE_COUNT_), 0);
        ck_assert_int_ne(ap_code_exit_status((ap_code)-1), 0);
}
END_TEST

START_TEST(test_set) {
        ap_error err = AP_ERROR_INIT;
        ck_assert(!ap_error_is_set(&err));
        ck_assert_int_eq(ap_error_set(&err, AP_ERR_TIMEOUT, "gave up after %d s", 30), -1);
        ck_assert(ap_error_is_set(&err));
        ck_assert_int_eq(err.code, AP_ERR_TIMEOUT);
        ck_assert_str_eq(err.message, "gave up after 30 s");
        ck_assert_ptr_null(err.hint);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_set_replaces_message_and_hint) {
        ap_error err = AP_ERROR_INIT;
        ap_error_set(&err, AP_ERR_USAGE, "first");
        ap_error_hint(&err, "first hint");
        ap_error_set(&err, AP_ERR_NOT_PYTHON, "second %s", "one");
        ck_assert_int_eq(err.code, AP_ERR_NOT_PYTHON);
        ck_assert_str_eq(err.message, "second one");
        ck_assert_ptr_null(err.hint); /* a new error does not keep the old hint */
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_hint) {
        ap_error err = AP_ERROR_INIT;
        ap_error_set(&err, AP_ERR_PERMISSION_DENIED, "cannot trace 42");
        ap_error_hint(&err, "run as uid %d", 1000);
        ck_assert_str_eq(err.hint, "run as uid 1000");
        ap_error_hint(&err, "or use %s", "sudo");
        ck_assert_str_eq(err.hint, "or use sudo");
        ck_assert_str_eq(err.message, "cannot trace 42");
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_prefix) {
        ap_error err = AP_ERROR_INIT;
        ap_error_set(&err, AP_ERR_USAGE, "unknown key 'foo'");
        ap_error_hint(&err, "valid keys");
        ap_error_prefix(&err, "%s:%d:%d", "c.yaml", 2, 1);
        ck_assert_str_eq(err.message, "c.yaml:2:1: unknown key 'foo'");
        ap_error_prefix(&err, "config");
        ck_assert_str_eq(err.message, "config: c.yaml:2:1: unknown key 'foo'");
        ck_assert_str_eq(err.hint, "valid keys");
        ck_assert_int_eq(err.code, AP_ERR_USAGE);
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_prefix_without_message) {
        ap_error err = AP_ERROR_INIT;
        ap_error_prefix(&err, "pid %d", 7);
        ck_assert_str_eq(err.message, "pid 7: ");
        ap_error_clear(&err);
}
END_TEST

START_TEST(test_clear) {
        ap_error err = AP_ERROR_INIT;
        ap_error_clear(&err); /* zeroed */
        ap_error_set(&err, AP_ERR_DEBUGGER_FAILED, "gdb crashed");
        ap_error_hint(&err, "run with -v");
        ap_error_clear(&err);
        ck_assert_int_eq(err.code, AP_OK);
        ck_assert_ptr_null(err.message);
        ck_assert_ptr_null(err.hint);
        ck_assert(!ap_error_is_set(&err));
        ap_error_clear(&err); /* already cleared */
}
END_TEST

START_TEST(test_null_tolerance) {
        ck_assert_int_eq(ap_error_set(NULL, AP_ERR_USAGE, "x %d", 1), -1);
        ap_error_hint(NULL, "y");
        ap_error_prefix(NULL, "z");
        ap_error_clear(NULL);
        ck_assert(!ap_error_is_set(NULL));
}
END_TEST

static Suite *error_suite(void) {
        Suite *s = suite_create("error");
        TCase *tc = tcase_create("codes");
        tcase_add_test(tc, test_code_table);
        tcase_add_test(tc, test_every_code_named_once);
        tcase_add_test(tc, test_ok_and_out_of_range);
        suite_add_tcase(s, tc);
        tc = tcase_create("error");
        tcase_add_test(tc, test_set);
        tcase_add_test(tc, test_set_replaces_message_and_hint);
        tcase_add_test(tc, test_hint);
        tcase_add_test(tc, test_prefix);
        tcase_add_test(tc, test_prefix_without_message);
        tcase_add_test(tc, test_clear);
        tcase_add_test(tc, test_null_tolerance);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(error_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
