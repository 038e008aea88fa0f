/* test_request.c: the exact bytes of the request file the agent reads
 * (docs/protocol.md, "The request"). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "util.h"

/* Encode r and compare with the expected bytes, showing both on failure. */
static void expect_bytes(const ap_request *r, const char *expect, size_t expect_len) {
        ap_buf out = {0};
        ck_assert_int_eq(ap_request_encode(r, &out), 0);
        ck_assert_ptr_nonnull(out.data);
        if (out.len != expect_len || memcmp(out.data, expect, expect_len) != 0) {
                fprintf(stderr, "encoded (%zu bytes):\n", out.len);
                fwrite(out.data, 1, out.len, stderr);
                fprintf(stderr, "\nexpected (%zu bytes):\n", expect_len);
                fwrite(expect, 1, expect_len, stderr);
                fputc('\n', stderr);
        }
        ck_assert_uint_eq(out.len, expect_len);
        ck_assert(memcmp(out.data, expect, expect_len) == 0);
        ck_assert_int_eq(out.data[out.len], '\0'); /* ap_buf stays terminated */
        ap_buf_free(&out);
}

#define EXPECT(r, lit) expect_bytes((r), (lit), sizeof(lit) - 1)

START_TEST(test_code_string) {
        ap_request r = {.filename = "<string>", .code = "print(1)", .code_len = 8, .wait = true};
        EXPECT(&r, "ATTACHPY-REQUEST 1\n"
                   "filename 8\n<string>\n"
                   "code 8\nprint(1)\n"
                   "wait 1\n1\n");
}
END_TEST

/* attach, --keep: the serving directory's name, after wait (agent/job.h). */
START_TEST(test_serve) {
        char a0[] = "x";
        char *args[] = {a0};
        ap_request r = {.filename = "<string>",
                        .code = "",
                        .code_len = 0,
                        .wait = true,
                        .serve = "attachpy-agent-42-7-abc",
                        .args = args,
                        .n_args = 1};
        EXPECT(&r, "ATTACHPY-REQUEST 1\n"
                   "filename 8\n<string>\n"
                   "code 0\n\n"
                   "wait 1\n1\n"
                   "serve 23\nattachpy-agent-42-7-abc\n"
                   "arg 1\nx\n");
}
END_TEST

START_TEST(test_no_wait) {
        ap_request r = {.filename = "<string>", .code = "x", .code_len = 1, .wait = false};
        EXPECT(&r, "ATTACHPY-REQUEST 1\n"
                   "filename 8\n<string>\n"
                   "code 1\nx\n"
                   "wait 1\n0\n");
}
END_TEST

START_TEST(test_script_with_args) {
        static const char code[] = "import sys\nprint(attachpy_args)\n";
        char a0[] = "plain", a1[] = "with space", a2[] = "two\nlines", a3[] = "", a4[] = "-dash",
             a5[] = "--", a6[] = "\xff\xfe\x01\x7f bin";
        char *args[] = {a0, a1, a2, a3, a4, a5, a6};
        ap_request r = {.filename = "/home/u/my script.py",
                        .code = code,
                        .code_len = sizeof code - 1,
                        .wait = true,
                        .args = args,
                        .n_args = AP_ARRAY_SIZE(args)};
        EXPECT(&r, "ATTACHPY-REQUEST 1\n"
                   "filename 20\n/home/u/my script.py\n"
                   "code 32\nimport sys\nprint(attachpy_args)\n\n"
                   "wait 1\n1\n"
                   "arg 5\nplain\n"
                   "arg 10\nwith space\n"
                   "arg 9\ntwo\nlines\n"
                   "arg 0\n\n"
                   "arg 5\n-dash\n"
                   "arg 2\n--\n"
                   "arg 8\n\xff\xfe\x01\x7f bin\n");
}
END_TEST

START_TEST(test_empty_code) {
        ap_request r = {.filename = "/e.py", .code = "", .code_len = 0, .wait = true};
        EXPECT(&r, "ATTACHPY-REQUEST 1\n"
                   "filename 5\n/e.py\n"
                   "code 0\n\n"
                   "wait 1\n1\n");
}
END_TEST

START_TEST(test_code_with_nul_and_binary) {
        /* The code is bytes of a file: NULs and any byte travel by length. */
        static const char code[] = "a\0b\r\n\xff";
        ap_request r = {
                .filename = "/b.py", .code = code, .code_len = sizeof code - 1, .wait = true};
        EXPECT(&r, "ATTACHPY-REQUEST 1\n"
                   "filename 5\n/b.py\n"
                   "code 6\na\0b\r\n\xff\n"
                   "wait 1\n1\n");
}
END_TEST

START_TEST(test_appends_to_buffer) {
        ap_buf out = {0};
        ck_assert_int_eq(ap_buf_append(&out, "PREFIX", 6), 0);
        ap_request r = {.filename = "<string>", .code = "1", .code_len = 1, .wait = true};
        ck_assert_int_eq(ap_request_encode(&r, &out), 0);
        ck_assert_int_eq(strncmp(out.data, "PREFIXATTACHPY-REQUEST 1\n", 25), 0);
        ap_buf_free(&out);
}
END_TEST

/* A reader of the format, as the agent implements it, for round trips. */
typedef struct field {
        char key[16];
        const char *data;
        size_t len;
} field;

static size_t parse(const char *p, size_t n, field *fields, size_t max) {
        static const char magic[] = "ATTACHPY-REQUEST 1\n";
        ck_assert_uint_ge(n, sizeof magic - 1);
        ck_assert(memcmp(p, magic, sizeof magic - 1) == 0);
        size_t pos = sizeof magic - 1, k = 0;
        while (pos < n) {
                ck_assert_uint_lt(k, max);
                const char *nl = memchr(p + pos, '\n', n - pos);
                ck_assert_ptr_nonnull(nl);
                const char *sp = memchr(p + pos, ' ', (size_t)(nl - (p + pos)));
                ck_assert_ptr_nonnull(sp);
                size_t klen = (size_t)(sp - (p + pos));
                ck_assert_uint_lt(klen, sizeof fields[k].key);
                memcpy(fields[k].key, p + pos, klen);
                fields[k].key[klen] = '\0';
                /* Decimal digits only, no sign or leading junk. */
                for (const char *d = sp + 1; d < nl; d++)
                        ck_assert_msg(*d >= '0' && *d <= '9', "length is not decimal");
                ck_assert(nl > sp + 1);
                char *end;
                unsigned long long len = strtoull(sp + 1, &end, 10);
                ck_assert_ptr_eq(end, nl);
                pos = (size_t)(nl - p) + 1;
                ck_assert_uint_le(len + 1, n - pos);
                fields[k].data = p + pos;
                fields[k].len = (size_t)len;
                ck_assert_int_eq(p[pos + len], '\n');
                pos += (size_t)len + 1;
                k++;
        }
        ck_assert_uint_eq(pos, n);
        return k;
}

START_TEST(test_round_trip_many_args) {
        enum { N = 4096 };
        char **args = calloc(N, sizeof *args);
        ck_assert_ptr_nonnull(args);
        for (size_t i = 0; i < N; i++) {
                size_t len = i % 97;
                args[i] = malloc(len + 1);
                ck_assert_ptr_nonnull(args[i]);
                for (size_t j = 0; j < len; j++)
                        args[i][j] = (char)(1 + (i * 31 + j * 7) % 255); /* any byte but NUL */
                args[i][len] = '\0';
        }
        size_t code_len = 1024 * 1024 + 3;
        char *code = malloc(code_len);
        ck_assert_ptr_nonnull(code);
        for (size_t i = 0; i < code_len; i++)
                code[i] = (char)(i * 13);
        ap_request r = {.filename = "/srv/app/x.py",
                        .code = code,
                        .code_len = code_len,
                        .wait = true,
                        .args = args,
                        .n_args = N};
        ap_buf out = {0};
        ck_assert_int_eq(ap_request_encode(&r, &out), 0);

        field *f = calloc(N + 3, sizeof *f);
        ck_assert_ptr_nonnull(f);
        size_t k = parse(out.data, out.len, f, N + 3);
        ck_assert_uint_eq(k, N + 3);
        ck_assert_str_eq(f[0].key, "filename");
        ck_assert_uint_eq(f[0].len, strlen("/srv/app/x.py"));
        ck_assert(memcmp(f[0].data, "/srv/app/x.py", f[0].len) == 0);
        ck_assert_str_eq(f[1].key, "code");
        ck_assert_uint_eq(f[1].len, code_len);
        ck_assert(memcmp(f[1].data, code, code_len) == 0);
        ck_assert_str_eq(f[2].key, "wait");
        ck_assert_uint_eq(f[2].len, 1);
        ck_assert_int_eq(f[2].data[0], '1');
        for (size_t i = 0; i < N; i++) {
                ck_assert_str_eq(f[3 + i].key, "arg");
                ck_assert_uint_eq(f[3 + i].len, strlen(args[i]));
                ck_assert(memcmp(f[3 + i].data, args[i], f[3 + i].len) == 0);
        }
        ck_assert(memmem(out.data, out.len, "code 1048579\n", 13) != NULL);

        free(f);
        ap_buf_free(&out);
        free(code);
        for (size_t i = 0; i < N; i++)
                free(args[i]);
        free(args);
}
END_TEST

static Suite *request_suite(void) {
        Suite *s = suite_create("request");
        TCase *tc = tcase_create("encode");
        tcase_add_test(tc, test_code_string);
        tcase_add_test(tc, test_no_wait);
        tcase_add_test(tc, test_script_with_args);
        tcase_add_test(tc, test_empty_code);
        tcase_add_test(tc, test_code_with_nul_and_binary);
        tcase_add_test(tc, test_appends_to_buffer);
        tcase_add_test(tc, test_round_trip_many_args);
        tcase_add_test(tc, test_serve);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(request_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
