/* test_trace_policy.c: the rules before attachpy touches a process: the
 * command line's and the environment's opt-outs of remote debugging, and
 * the ptrace permission decision over its facts (pure: no process). */
#include <check.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "target.h"
#include "trace_policy.h"
#include "util.h"

#define PYTHON311 "/usr/bin/python3.11"
#define READY_CODE                                                                                 \
        "import sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)"

/* A NUL-separated block from a literal (sizeof includes the final NUL, as
 * /proc/PID/cmdline has it). */
#define BLOCK(lit) (lit), sizeof(lit)

START_TEST(test_cmdline_disables) {
        ck_assert(
                ap_cmdline_disables_remote_debug(BLOCK("python3\0-X\0disable_remote_debug\0x.py")));
        ck_assert(
                ap_cmdline_disables_remote_debug(BLOCK("python3\0-X\0disable-remote-debug\0x.py")));
        ck_assert(ap_cmdline_disables_remote_debug(BLOCK("python3\0-Xdisable-remote-debug\0x.py")));
        ck_assert(ap_cmdline_disables_remote_debug(BLOCK("python3\0-Xdisable_remote_debug\0x.py")));
        /* Among other options, before -c/-m. */
        ck_assert(ap_cmdline_disables_remote_debug(
                BLOCK("/usr/bin/python3.14\0-E\0-s\0-X\0dev\0-X\0disable_remote_debug\0-c\0pass")));
        ck_assert(ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-u\0-X\0disable_remote_debug\0-m\0http.server")));
        /* Without a script at all (an interactive interpreter). */
        ck_assert(ap_cmdline_disables_remote_debug(BLOCK("python3\0-X\0disable_remote_debug")));
        /* With the trailing NUL cut off. */
        static const char cut[] = "python3\0-Xdisable_remote_debug";
        ck_assert(ap_cmdline_disables_remote_debug(cut, sizeof cut - 1));
}
END_TEST

START_TEST(test_cmdline_does_not_disable) {
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0x.py")));
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3")));
        ck_assert(!ap_cmdline_disables_remote_debug("", 0));
        /* The program name itself is never an option. */
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("-Xdisable_remote_debug\0x.py")));
        /* After the script name, words belong to the script. */
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0x.py\0-X\0disable_remote_debug")));
        ck_assert(
                !ap_cmdline_disables_remote_debug(BLOCK("python3\0x.py\0-Xdisable_remote_debug")));
        /* After -c CODE and -m MODULE, too (also written together). */
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-c\0pass\0-X\0disable_remote_debug")));
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-cpass\0-Xdisable_remote_debug")));
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-m\0mod\0-X\0disable_remote_debug")));
        ck_assert(
                !ap_cmdline_disables_remote_debug(BLOCK("python3\0-mmod\0-Xdisable_remote_debug")));
        /* After "-" (stdin) and "--". */
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0-\0-Xdisable_remote_debug")));
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0--\0-Xdisable_remote_debug")));
        /* Other -X options. */
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0-X\0dev\0x.py")));
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-X\0disable_remote_debugger\0x.py")));
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0-Xdisable\0x.py")));
        /* "-X" as the last word, with no value. */
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0-X")));
}
END_TEST

START_TEST(test_cmdline_option_values_skipped) {
        /* -W and --check-hash-based-pycs take a value: a value that looks
         * like -X is not an -X option... */
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-W\0-Xdisable_remote_debug\0x.py")));
        ck_assert(!ap_cmdline_disables_remote_debug(
                BLOCK("python3\0--check-hash-based-pycs\0-Xdisable_remote_debug\0x.py")));
        /* ...and a value that looks like a script does not end the options. */
        ck_assert(ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-W\0ignore\0-X\0disable_remote_debug\0x.py")));
        ck_assert(ap_cmdline_disables_remote_debug(
                BLOCK("python3\0--check-hash-based-pycs\0never\0-Xdisable_remote_debug\0x.py")));
        /* The value of -X is not an option either. */
        ck_assert(!ap_cmdline_disables_remote_debug(BLOCK("python3\0-X\0-c\0x.py")));
        ck_assert(ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-X\0-c\0-X\0disable_remote_debug\0x.py")));
        /* -Wignore carries its value. */
        ck_assert(ap_cmdline_disables_remote_debug(
                BLOCK("python3\0-Wignore\0-X\0disable_remote_debug\0x.py")));
}
END_TEST

START_TEST(test_environ) {
        const char *v = "PYTHON_DISABLE_REMOTE_DEBUG";
        ck_assert(ap_environ_has_nonempty(BLOCK("A=1\0PYTHON_DISABLE_REMOTE_DEBUG=1\0B=2"), v));
        ck_assert(ap_environ_has_nonempty(BLOCK("PYTHON_DISABLE_REMOTE_DEBUG=1"), v));
        ck_assert(
                ap_environ_has_nonempty(BLOCK("PYTHON_DISABLE_REMOTE_DEBUG=0"), v)); /* any value */
        ck_assert(ap_environ_has_nonempty(BLOCK("PYTHON_DISABLE_REMOTE_DEBUG=="), v));
        /* Empty does not count (as in CPython). */
        ck_assert(!ap_environ_has_nonempty(BLOCK("A=1\0PYTHON_DISABLE_REMOTE_DEBUG=\0B=2"), v));
        /* Other names that share a prefix, or hold it, do not count. */
        ck_assert(!ap_environ_has_nonempty(BLOCK("PYTHON_DISABLE_REMOTE_DEBUGGER=1"), v));
        ck_assert(!ap_environ_has_nonempty(BLOCK("XPYTHON_DISABLE_REMOTE_DEBUG=1"), v));
        ck_assert(!ap_environ_has_nonempty(BLOCK("PYTHON_DISABLE_REMOTE_DEBU=1"), v));
        ck_assert(!ap_environ_has_nonempty(BLOCK("A=PYTHON_DISABLE_REMOTE_DEBUG=1"), v));
        ck_assert(!ap_environ_has_nonempty(BLOCK("PYTHON_DISABLE_REMOTE_DEBUG"), v));
        ck_assert(!ap_environ_has_nonempty("", 0, v));
        /* The block's length bounds the search: a value beyond it is not
         * seen, an unterminated last entry is read safely. */
        static const char block[] = "A=1\0PYTHON_DISABLE_REMOTE_DEBUG=1";
        ck_assert(!ap_environ_has_nonempty(block, sizeof block - 2, v)); /* "...DEBUG=" */
        ck_assert(ap_environ_has_nonempty(block, sizeof block - 1, v));
        ck_assert(!ap_environ_has_nonempty(block, 3, v));
}
END_TEST

/* attachpy as uid/gid 1000 against a dumpable process of 1000, no Yama. */
static ap_ptrace_facts facts(void) {
        ap_ptrace_facts f = {
                .pid = 4242,
                .uid = 1000,
                .gid = 1000,
                .cap_sys_ptrace = false,
                .target_uid = {1000, 1000, 1000},
                .target_gid = {1000, 1000, 1000},
                .dumpable = 1,
                .yama_scope = -1,
        };
        return f;
}

/* ap_ptrace_permitted(f): expect a refusal whose message holds fragment,
 * or success when fragment is NULL. */
static void expect_ptrace(const ap_ptrace_facts *f, const char *fragment, const char *hint) {
        ap_error e = AP_ERROR_INIT;
        ap_refusal r = ap_ptrace_permitted(f, &e);
        if (!fragment) {
                ck_assert_msg(r == AP_REFUSAL_NONE, "refused: %s", e.message ? e.message : "?");
                ck_assert_int_eq(e.code, AP_OK);
                return;
        }
        ck_assert_int_ne(r, AP_REFUSAL_NONE);
        ck_assert_str_eq(ap_code_name(e.code), "permission_denied");
        ck_assert_msg(strstr(e.message, fragment), "message lacks '%s': %s", fragment, e.message);
        ck_assert_ptr_nonnull(e.hint);
        if (hint)
                ck_assert_msg(strstr(e.hint, hint), "hint lacks '%s': %s", hint, e.hint);
        ap_error_clear(&e);
}

START_TEST(test_ptrace_same_user) {
        ap_ptrace_facts f = facts();
        expect_ptrace(&f, NULL, NULL);
        f.yama_scope = 0; /* classic ptrace permissions */
        expect_ptrace(&f, NULL, NULL);
        f.dumpable = -1; /* cannot tell: the kernel decides */
        expect_ptrace(&f, NULL, NULL);
}
END_TEST

START_TEST(test_ptrace_other_user) {
        ap_ptrace_facts f = facts();
        f.target_uid[0] = f.target_uid[1] = f.target_uid[2] = 0;
        expect_ptrace(&f, "process 4242 belongs to uid 0 and attachpy runs as uid 1000",
                      "CAP_SYS_PTRACE");
        /* Only the saved uid differs (a setuid program that dropped): still refused. */
        f = facts();
        f.target_uid[2] = 0;
        expect_ptrace(&f, "belongs to uid 0", NULL);
        /* A set-group-id program. */
        f = facts();
        f.target_gid[1] = 42;
        expect_ptrace(&f, "runs with group id 42 and attachpy with group id 1000", "root");
        /* CAP_SYS_PTRACE lifts all of that. */
        f.target_uid[0] = f.target_uid[1] = f.target_uid[2] = 0;
        f.cap_sys_ptrace = true;
        expect_ptrace(&f, NULL, NULL);
}
END_TEST

START_TEST(test_ptrace_not_dumpable) {
        ap_ptrace_facts f = facts();
        f.dumpable = 0;
        expect_ptrace(&f, "process 4242 is not dumpable", "PYTHON_DISABLE_REMOTE_DEBUG");
        /* Root may still attach (the kernel lets CAP_SYS_PTRACE through):
         * the explicit opt-out is PYTHON_DISABLE_REMOTE_DEBUG. */
        f.cap_sys_ptrace = true;
        expect_ptrace(&f, NULL, NULL);
        /* Another user comes first: it is the reason to tell. */
        f = facts();
        f.dumpable = 0;
        f.target_uid[0] = f.target_uid[1] = f.target_uid[2] = 7;
        expect_ptrace(&f, "belongs to uid 7", NULL);
}
END_TEST

START_TEST(test_ptrace_yama) {
        ap_ptrace_facts f = facts();
        /* 1: only descendants; attachpy's debugger never is the target's parent. */
        f.yama_scope = 1;
        expect_ptrace(&f, "kernel.yama.ptrace_scope = 1", "sysctl kernel.yama.ptrace_scope=0");
        expect_ptrace(&f, "not a descendant", NULL);
        f.cap_sys_ptrace = true;
        expect_ptrace(&f, NULL, NULL);
        /* 2: admin only. */
        f = facts();
        f.yama_scope = 2;
        expect_ptrace(&f, "kernel.yama.ptrace_scope = 2", "CAP_SYS_PTRACE");
        expect_ptrace(&f, "only root may attach", NULL);
        f.cap_sys_ptrace = true;
        expect_ptrace(&f, NULL, NULL);
        /* 3: nobody, not even root; said before anything else. */
        f = facts();
        f.yama_scope = 3;
        f.cap_sys_ptrace = true;
        expect_ptrace(&f, "kernel.yama.ptrace_scope = 3", "reboot");
        f.cap_sys_ptrace = false;
        f.target_uid[0] = 0;
        expect_ptrace(&f, "not even root", NULL);
        /* Yama's scope matters only after the classic rules: another
         * user's process under scope 1 is refused for the user. */
        f = facts();
        f.yama_scope = 1;
        f.target_uid[1] = 0;
        expect_ptrace(&f, "belongs to uid 0", NULL);
}
END_TEST

START_TEST(test_dumpable_from_owner) {
        ck_assert_int_eq(ap_dumpable_from_owner(1000, 1000, 1000, 1000), 1);
        ck_assert_int_eq(ap_dumpable_from_owner(0, 0, 1000, 1000), 0);
        ck_assert_int_eq(ap_dumpable_from_owner(0, 0, 1000, 0), 0);
        ck_assert_int_eq(ap_dumpable_from_owner(0, 0, 0, 1000), 0);
        ck_assert_int_eq(ap_dumpable_from_owner(0, 0, 0, 0), -1);
        /* In a user namespace the owner is that namespace's root. */
        ck_assert_int_eq(ap_dumpable_from_owner(100000, 100000, 101000, 101000), 0);
}
END_TEST

static Suite *trace_policy_suite(void) {
        Suite *s = suite_create("trace_policy");
        TCase *tc = tcase_create("trace_policy");
        tcase_add_test(tc, test_cmdline_disables);
        tcase_add_test(tc, test_cmdline_does_not_disable);
        tcase_add_test(tc, test_cmdline_option_values_skipped);
        tcase_add_test(tc, test_environ);
        tcase_add_test(tc, test_ptrace_same_user);
        tcase_add_test(tc, test_ptrace_other_user);
        tcase_add_test(tc, test_ptrace_not_dumpable);
        tcase_add_test(tc, test_ptrace_yama);
        tcase_add_test(tc, test_dumpable_from_owner);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(trace_policy_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
