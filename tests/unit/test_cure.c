/* test_cure.c: the relay's bookkeeping of lldb's gdb-remote session
 * (cli/cure.h): what lldb asked lldb-server to change and has not undone,
 * which is what the relay undoes when lldb dies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cure.h"

static void lldb_says(ap_remote_state *s, const char *p) { ap_remote_note(s, true, p, strlen(p)); }
static void server_says(ap_remote_state *s, const char *p) {
        ap_remote_note(s, false, p, strlen(p));
}

START_TEST(test_units) {
        ck_assert_uint_eq(ap_remote_unit("", 0), 0);
        ck_assert_uint_eq(ap_remote_unit("+$OK#9a", 7), 1);
        ck_assert_uint_eq(ap_remote_unit("\x03", 1), 1);
        ck_assert_uint_eq(ap_remote_unit("$OK#9a+", 7), 6);
        /* Not whole yet: the checksum is missing, or the end. */
        ck_assert_uint_eq(ap_remote_unit("$OK#9", 5), 0);
        ck_assert_uint_eq(ap_remote_unit("$m7f00,8", 8), 0);
        ck_assert_uint_eq(ap_remote_unit("%Stop:T05#ab", 12), 12);
}
END_TEST

START_TEST(test_saved_registers_and_breakpoints) {
        ap_remote_state s = {0};
        lldb_says(&s, "QStartNoAckMode");
        server_says(&s, "OK");
        ck_assert(s.no_ack);
        lldb_says(&s, "Z0,7f0000401000,1");
        server_says(&s, "OK");
        lldb_says(&s, "QSaveRegisterState;thread:1a2b;");
        ck_assert(s.awaiting);
        server_says(&s, "3");
        ck_assert(!s.awaiting);
        ck_assert_int_eq(s.n_saved, 1);
        ck_assert_uint_eq(s.saved[0].id, 3);
        ck_assert_str_eq(s.saved[0].thread, "1a2b");
        ck_assert_int_eq(s.n_breakpoints, 1);
        ck_assert_str_eq(s.breakpoints[0], "0,7f0000401000,1");
        /* The call runs: a stop reply is due; console output is not one. */
        lldb_says(&s, "vCont;c:1a2b");
        ck_assert(s.awaiting_stop);
        server_says(&s, "O6869");
        ck_assert(s.awaiting_stop);
        server_says(&s, "T05thread:1a2b;reason:breakpoint;");
        ck_assert(!s.awaiting && !s.awaiting_stop);
        /* lldb puts everything back: nothing left to cure. */
        lldb_says(&s, "QRestoreRegisterState:3;thread:1a2b;");
        server_says(&s, "OK");
        ck_assert_int_eq(s.n_saved, 0);
        lldb_says(&s, "z0,7f0000401000,1");
        server_says(&s, "OK");
        ck_assert_int_eq(s.n_breakpoints, 0);
        ck_assert(!s.detached);
        lldb_says(&s, "D");
        server_says(&s, "OK");
        ck_assert(s.detached);
}
END_TEST

START_TEST(test_lldb_dies_during_a_call) {
        ap_remote_state s = {0};
        lldb_says(&s, "QSaveRegisterState;thread:99;");
        server_says(&s, "1");
        lldb_says(&s, "QSaveRegisterState;thread:99;");
        server_says(&s, "2");
        lldb_says(&s, "QRestoreRegisterState:1;thread:99;");
        server_says(&s, "OK");
        lldb_says(&s, "s");
        /* lldb killed here: a stop reply is due, state 2 is to restore. */
        ck_assert(s.awaiting_stop);
        ck_assert_int_eq(s.n_saved, 1);
        ck_assert_uint_eq(s.saved[0].id, 2);
        /* An error answer to a save records nothing. */
        server_says(&s, "S05");
        lldb_says(&s, "QSaveRegisterState;thread:99;");
        server_says(&s, "E01");
        ck_assert_int_eq(s.n_saved, 1);
        /* vCont? asks, it does not resume. */
        lldb_says(&s, "vCont?");
        ck_assert(!s.awaiting_stop);
}
END_TEST

START_TEST(test_kill_is_refused) {
        ck_assert(ap_remote_is_kill("k", 1));
        ck_assert(ap_remote_is_kill("vKill;1f2e", 10));
        ck_assert(!ap_remote_is_kill("kx", 2));
        ck_assert(!ap_remote_is_kill("D", 1));
}
END_TEST

int main(void) {
        Suite *s = suite_create("cure");
        TCase *tc = tcase_create("remote");
        tcase_add_test(tc, test_units);
        tcase_add_test(tc, test_saved_registers_and_breakpoints);
        tcase_add_test(tc, test_lldb_dies_during_a_call);
        tcase_add_test(tc, test_kill_is_refused);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
