/* test_python_version.c: a Python's version from its file name, from a
 * PY_VERSION string, from PY_VERSION_HEX, from the head of
 * _Py_DebugOffsets, from PyPy's sys.version, and the addresses that
 * Py_GetVersion's code loads (pure: no process). */
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
#include "python_version.h"
#include "target.h"
#include "util.h"

#define PYTHON311 "/usr/bin/python3.11"
#define READY_CODE                                                                                 \
        "import sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)"

START_TEST(test_version_from_name) {
        static const struct {
                const char *name;
                int major, minor;
                bool ft;
        } ok[] = {
                {"libpython3.12.so.1.0", 3, 12, false},
                {"/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", 3, 11, false},
                {"libpython3.13t.so", 3, 13, true},
                {"libpython3.13t.so.1.0", 3, 13, true},
                {"/opt/py/lib/libpython3.14t.so.1.0", 3, 14, true},
                {"libpython3.6m.so.1.0", 3, 6, false},
                {"libpython3.13d.so", 3, 13, false},
                {"python3.11", 3, 11, false},
                {"/usr/bin/python3.11", 3, 11, false},
                {"python3.7", 3, 7, false},
                {"python2.7", 2, 7, false},
                {"python3.13t", 3, 13, true},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(ok); i++) {
                int major = -1, minor = -1;
                bool ft = !ok[i].ft;
                ck_assert_msg(ap_python_version_from_name(ok[i].name, &major, &minor, &ft) == 0,
                              "%s not parsed", ok[i].name);
                ck_assert_msg(major == ok[i].major && minor == ok[i].minor && ft == ok[i].ft,
                              "%s: %d.%d%s", ok[i].name, major, minor, ft ? "t" : "");
        }
        int major, minor;
        ck_assert_int_eq(ap_python_version_from_name("python3.12", &major, &minor, NULL), 0);
        ck_assert_int_eq(minor, 12);
}
END_TEST

START_TEST(test_version_from_name_garbage) {
        static const char *const bad[] = {
                "",
                "python",
                "python3",
                "libpython.so",
                "libpython3.so",
                "pythonx.y",
                "libc.so.6",
                "python3.",
                "python3.x",
                "python1.5",
                "python10.1",
                "python3.100",
                "ipython3.11",
                "/usr/bin/pypy3",
                "python-3.11",
                "python3.-1",
                "/libpython3/x",
                "libpython+3.12.so",
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(bad); i++) {
                int major = -7, minor = -7;
                bool ft = true;
                ck_assert_msg(ap_python_version_from_name(bad[i], &major, &minor, &ft) == -1,
                              "'%s' parsed as %d.%d", bad[i], major, minor);
                ck_assert_msg(major == -7 && minor == -7, "'%s': outputs written on failure",
                              bad[i]);
        }
}
END_TEST

START_TEST(test_version_parse) {
        static const struct {
                const char *s;
                int major, minor;
        } ok[] = {
                {"3.9.18", 3, 9},   {"2.7.18", 2, 7}, {"3.13.0rc1", 3, 13},  {"3.14.0a2", 3, 14},
                {"3.12.1+", 3, 12}, {"3.6.15", 3, 6}, {"3.10.13b2+", 3, 10},
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(ok); i++) {
                int major = 0, minor = 0;
                ck_assert_msg(
                        ap_python_version_parse(ok[i].s, strlen(ok[i].s) + 1, &major, &minor) == 0,
                        "%s", ok[i].s);
                ck_assert_int_eq(major, ok[i].major);
                ck_assert_int_eq(minor, ok[i].minor);
        }
        static const char *const bad[] = {
                "",
                "3",
                "3.9",
                "3.9.",
                "3.9.18 (main)",
                "x3.9.18",
                "3.9.18x",
                "3..18",
                "1.2.3",
                "3.9.18\n",
                "%.80s (%.80s)",
                "3.100.1",
                "3.9.12345",
                "3.9.1-1",
                "main, Nov 23 2026",
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(bad); i++) {
                int major = 0, minor = 0;
                ck_assert_msg(ap_python_version_parse(bad[i], strlen(bad[i]) + 1, &major, &minor) ==
                                      -1,
                              "'%s' parsed", bad[i]);
        }
        /* No NUL within n bytes: not a string that ends here. */
        int major, minor;
        ck_assert_int_eq(ap_python_version_parse("3.9.18", 6, &major, &minor), -1);
        ck_assert_int_eq(ap_python_version_parse("3.9.18\0", 7, &major, &minor), 0);
}
END_TEST

START_TEST(test_version_from_hex) {
        char buf[32];
        ck_assert_int_eq(ap_python_version_from_hex(0x030b02f0, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "3.11.2");
        ck_assert_int_eq(ap_python_version_from_hex(0x030d00c1, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "3.13.0rc1");
        ck_assert_int_eq(ap_python_version_from_hex(0x030e00a2, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "3.14.0a2");
        ck_assert_int_eq(ap_python_version_from_hex(0x030c01b3, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, "3.12.1b3");
        ck_assert_int_eq(ap_python_version_from_hex(0, buf, sizeof buf), -1);
        ck_assert_int_eq(ap_python_version_from_hex(0x030b0250, buf, sizeof buf), -1);
        ck_assert_int_eq(ap_python_version_from_hex(0x030b02f0, buf, 4), -1);
}
END_TEST

/* Py_GetVersion's first bytes, as pyenv's 3.9 (PIC: lea) and Debian's
 * static 3.11 (non-PIE: mov $imm32) have them. */
START_TEST(test_code_address_operands) {
        static const uint8_t pic[] = {
                0x53,                                     /* push %rbx */
                0xe8, 0x5a, 0x71, 0xea, 0xff,             /* call Py_GetCompiler */
                0x48, 0x89, 0xc3,                         /* mov %rax,%rbx */
                0xe8, 0x02, 0x6e, 0xea, 0xff,             /* call Py_GetBuildInfo */
                0x49, 0x89, 0xd9,                         /* mov %rbx,%r9 */
                0xbe, 0xfa, 0x00, 0x00, 0x00,             /* mov $0xfa,%esi */
                0x48, 0x8d, 0x1d, 0x33, 0xf2, 0x1e, 0x00, /* lea 0x1ef233(%rip),%rbx */
                0x49, 0x89, 0xc0,                         /* mov %rax,%r8 */
                0x48, 0x89, 0xdf,                         /* mov %rbx,%rdi */
                0x48, 0x8d, 0x0d, 0x24, 0x51, 0x10, 0x00, /* lea 0x105124(%rip),%rcx */
                0x31, 0xc0,                               /* xor %eax,%eax */
                0x48, 0x8d, 0x15, 0x37, 0x75, 0x0f, 0x00, /* lea 0xf7537(%rip),%rdx */
        };
        uint64_t out[16];
        size_t n = ap_code_address_operands(pic, sizeof pic, 0x1bd9b0, out, 16);
        bool buffer = false, version = false, format = false;
        for (size_t i = 0; i < n; i++) {
                buffer |= out[i] == 0x3acc00;
                version |= out[i] == 0x2c2afe;
                format |= out[i] == 0x2b4f1a;
        }
        ck_assert_msg(buffer && version && format, "%zu operands", n);

        static const uint8_t nopie[] = {
                0x50,                               /* push %rax */
                0xe8, 0x3a, 0x02, 0x00, 0x00,       /* call Py_GetBuildInfo */
                0xba, 0xfe, 0x26, 0x6d, 0x00,       /* mov $0x6d26fe,%edx */
                0x41, 0xb9, 0xf1, 0x26, 0x6d, 0x00, /* mov $0x6d26f1,%r9d */
                0xb9, 0x7c, 0x22, 0x6d, 0x00,       /* mov $0x6d227c,%ecx */
        };
        n = ap_code_address_operands(nopie, sizeof nopie, 0x62c120, out, 16);
        bool a = false, b = false, c = false;
        for (size_t i = 0; i < n; i++) {
                a |= out[i] == 0x6d26fe;
                b |= out[i] == 0x6d26f1;
                c |= out[i] == 0x6d227c;
        }
        ck_assert_msg(a && b && c, "%zu operands", n);

        /* Never more than max, and nothing from a cut instruction. */
        ck_assert_uint_eq(ap_code_address_operands(pic, sizeof pic, 0, out, 2), 2);
        ck_assert_uint_eq(ap_code_address_operands(pic + 22, 6, 0, out, 16), 0);
        ck_assert_uint_eq(ap_code_address_operands(pic, 0, 0, out, 16), 0);
}
END_TEST

START_TEST(test_pypy_versions_parse) {
        char lang[32], pypy[32];
        /* As in Debian's libpypy3.9-c.so: an RPython string, length first. */
        static const char debian[] = "\0\0\0H\0\0\0\0\0\0\0"
                                     "3.9.16 (7.3.11+dfsg-2+deb12u3, Dec 30 2024, 22:36:23)\n"
                                     "[PyPy 7.3.11 with \0\0\0";
        ck_assert_int_eq(
                ap_pypy_versions_parse(debian, sizeof debian, lang, sizeof lang, pypy, sizeof pypy),
                0);
        ck_assert_str_eq(lang, "3.9.16");
        ck_assert_str_eq(pypy, "7.3.11");
        /* A marker that is not sys.version first, then the real one. */
        static const char two[] = "x\n[PyPy is fast]\0"
                                  "3.10.12 (af44d0b8114c, Jun 15 2023)\n[PyPy 7.3.12 with GCC]";
        ck_assert_int_eq(
                ap_pypy_versions_parse(two, sizeof two, lang, sizeof lang, pypy, sizeof pypy), 0);
        ck_assert_str_eq(lang, "3.10.12");
        ck_assert_str_eq(pypy, "7.3.12");
        static const char *const bad[] = {
                "",
                "3.9.16 (7.3.11)",
                "3.9.16 (x)\n[PyPy ",
                "3.9 (x)\n[PyPy 7.3.11 with",
                "3.9.16(x)\n[PyPy 7.3.11 with",
                "3.9.16 (x)\n[PyPy 7.3 with",
                "3.9.16 (x)\n[PyPy 7.3.11",
                "Python 3.9.16 (x)\n[PyPy 7.3.11 with",
        };
        for (size_t i = 0; i < AP_ARRAY_SIZE(bad); i++)
                ck_assert_msg(ap_pypy_versions_parse(bad[i], strlen(bad[i]), lang, sizeof lang,
                                                     pypy, sizeof pypy) == -1,
                              "'%s' parsed", bad[i]);
        /* Too small for the answer. */
        ck_assert_int_eq(ap_pypy_versions_parse(debian, sizeof debian, lang, 4, pypy, sizeof pypy),
                         -1);
}
END_TEST

static const struct {
        const char *data;
        size_t len;
        int ok;
        uint32_t hex;
        bool free_threaded;
} debug_offsets_cases[] = {
        {"xdebugpy\xf0\x01\x0e\x03\0\0\0\0\0\0\0\0\0\0\0\0", 24, 0, 0x030e01f0, false},
        {"xdebugpy\xa1\x00\x10\x03\0\0\0\0\1\0\0\0\0\0\0\0", 24, 0, 0x031000a1, true},
        /* a wrong cookie, a short head, a free_threaded that is no flag, a
         * version wider than 32 bits */
        {"ydebugpy\xf0\x01\x0e\x03\0\0\0\0\0\0\0\0\0\0\0\0", 24, -1, 0, false},
        {"xdebugpy\xf0\x01\x0e\x03", 12, -1, 0, false},
        {"xdebugpy\xf0\x01\x0e\x03\0\0\0\0\2\0\0\0\0\0\0\0", 24, -1, 0, false},
        {"xdebugpy\xf0\x01\x0e\x03\1\0\0\0\0\0\0\0\0\0\0\0", 24, -1, 0, false},
};

START_TEST(test_debug_offsets_parse) {
        uint32_t hex = 0;
        bool ft = false;
        int r = ap_debug_offsets_parse((const uint8_t *)debug_offsets_cases[_i].data,
                                       debug_offsets_cases[_i].len, &hex, &ft);
        ck_assert_int_eq(r, debug_offsets_cases[_i].ok);
        if (r == 0) {
                ck_assert_uint_eq(hex, debug_offsets_cases[_i].hex);
                ck_assert_int_eq(ft, debug_offsets_cases[_i].free_threaded);
        }
}
END_TEST

static Suite *python_version_suite(void) {
        Suite *s = suite_create("python_version");
        TCase *tc = tcase_create("python_version");
        tcase_add_test(tc, test_version_from_name);
        tcase_add_test(tc, test_version_from_name_garbage);
        tcase_add_test(tc, test_version_parse);
        tcase_add_test(tc, test_version_from_hex);
        tcase_add_test(tc, test_code_address_operands);
        tcase_add_test(tc, test_pypy_versions_parse);
        tcase_add_loop_test(tc, test_debug_offsets_parse, 0, AP_ARRAY_SIZE(debug_offsets_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(python_version_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
