/* test_script_values.c: the values every backend's script is rendered
 * with, for both plan modes, the pause_STEP values of the pause-after
 * fault, and the limit on their number. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "build-config.h"
#include "plan_fixtures.h"
#include "template.h"
#include "util.h"

static bool has_value(const ap_script_values *v, const char *name) {
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->vars[i].name, name) == 0)
                        return true;
        return false;
}

START_TEST(test_values_common_schedule) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        plan.mode = AP_PLAN_SCHEDULE;
        plan.safepoint = "pending";
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, &plan), 0);
        static const struct {
                const char *name, *value;
        } want[] = {
                {"pid", "4242"},
                {"addr_mmap", "0x7f0000101000"},
                {"addr_munmap", "0x7f0000102000"},
                {"page_size", "4096"},
                {"check_addr", "0x7f1000001000"},
                {"check_value", "0x8b48c9ff485341f3"},
                {"addr_add_pending_call", "0x7f1000001000"},
                {"offset_code", "2816"},
                {"offset_cancel", "3620"},
        };
        ck_assert_uint_eq(v.n, AP_ARRAY_SIZE(want));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want); i++) {
                ck_assert_str_eq(value_of(&v, want[i].name), want[i].value);
                ck_assert(ap_template_value_ok(want[i].value));
        }
        /* Nothing of the direct call. */
        ck_assert(!has_value(&v, "offset_direct"));
        ck_assert(!has_value(&v, "safepoint"));
        /* Values the session path must never reach: only numbers here. */
        for (size_t i = 0; i < v.n; i++)
                ck_assert_ptr_null(strstr(v.vars[i].value, "/tmp"));
        ap_script_values_free(&v);
        ck_assert_uint_eq(v.n, 0);
        ap_script_values_free(&v);
        ap_script_values_free(NULL);
}
END_TEST

START_TEST(test_values_common_direct) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        plan.mode = AP_PLAN_DIRECT;
        plan.safepoint = "futex";
        plan.have_thread = true;
        plan.thread =
                (ap_parked_thread){.index = 2, .tid = 4243, .nr = 202, .sp = 0x10, .pc = 0x20};
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_common(&v, &plan), 0);
        char direct[32];
        snprintf(direct, sizeof direct, "%zu", 2816 + ap_trampoline_direct_offset());
        const struct {
                const char *name, *value;
        } want[] = {
                {"pid", "4242"},
                {"addr_mmap", "0x7f0000101000"},
                {"addr_munmap", "0x7f0000102000"},
                {"page_size", "4096"},
                {"check_addr", "0x7f1000001000"},
                {"check_value", "0x8b48c9ff485341f3"},
                {"safepoint", "futex"},
                {"offset_direct", direct},
                {"offset_detail", "3624"},
                {"state_dlopen_failed", "2"},
                {"state_dlsym_failed", "3"},
                {"state_entry_failed", "4"},
        };
        ck_assert_uint_eq(v.n, AP_ARRAY_SIZE(want));
        for (size_t i = 0; i < AP_ARRAY_SIZE(want); i++)
                ck_assert_str_eq(value_of(&v, want[i].name), want[i].value);
        ck_assert(!has_value(&v, "addr_add_pending_call"));
        ck_assert(!has_value(&v, "offset_code"));
        ap_script_values_free(&v);
}
END_TEST

START_TEST(test_values_pauses) {
        ap_target t = fake_target();
        ap_injection_plan plan;
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_injection_plan_init(&plan, &t, AGENT, SESSION, &err), 0);
        static const char *const names[] = {"pause_attached", "pause_thread", "pause_mapped",
                                            "pause_written", "pause_called"};
        /* No fault: five comments, one per step. */
        ap_script_values v = {0};
        ck_assert_int_eq(ap_script_values_pauses(&v, &plan, ap_backend_gdb.pause), 0);
        check_names(&v, names, AP_ARRAY_SIZE(names));
        for (size_t i = 0; i < v.n; i++)
                ck_assert_msg(strncmp(v.vars[i].value, "# step ", 7) == 0, "%s: %s", v.vars[i].name,
                              v.vars[i].value);
        ap_script_values_free(&v);
        /* pause-after:mapped: the backend's two commands there, only. */
        plan.faults.pause_after = AP_STEP_MAPPED;
        ck_assert_int_eq(ap_script_values_pauses(&v, &plan, ap_backend_gdb.pause), 0);
        ck_assert_str_eq(value_of(&v, "pause_mapped"),
                         "shell echo @@ATTACHPY:paused mapped\nshell sleep 3");
        ck_assert_str_eq(value_of(&v, "pause_called"), "# step called");
        ap_script_values_free(&v);
        ck_assert_int_eq(ap_script_values_pauses(&v, &plan, ap_backend_lldb.pause), 0);
        ck_assert_str_eq(value_of(&v, "pause_mapped"),
                         "platform shell echo @@ATTACHPY:paused mapped\nplatform shell sleep 3");
        ap_script_values_free(&v);
}
END_TEST

START_TEST(test_values_limit) {
        ap_script_values v = {0};
        for (int i = 0; i < AP_MAX_SCRIPT_VALUES; i++)
                ck_assert_int_eq(ap_script_values_add(&v, "n", "%d", i), 0);
        ck_assert_int_eq(ap_script_values_add(&v, "over", "%d", 1), -1);
        ck_assert_uint_eq(v.n, AP_MAX_SCRIPT_VALUES);
        ck_assert_str_eq(v.vars[AP_MAX_SCRIPT_VALUES - 1].value, "31");
        ap_script_values_free(&v);
}
END_TEST

static Suite *script_values_suite(void) {
        Suite *s = suite_create("script_values");
        TCase *tc;
        tc = tcase_create("values");
        tcase_add_test(tc, test_values_common_schedule);
        tcase_add_test(tc, test_values_common_direct);
        tcase_add_test(tc, test_values_pauses);
        tcase_add_test(tc, test_values_limit);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(script_values_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
