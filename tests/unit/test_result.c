/* test_result.c: the agent's record stream (docs/protocol.md, "The result
 * stream"): parsing however the socket splits it, errors, the size limit,
 * and the encoder. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "util.h"

static void add(ap_buf *b, const char *tag, const void *data, size_t len) {
        ck_assert_int_eq(ap_record_encode(b, tag, data, len), 0);
}

static void add_text(ap_buf *b, const char *tag, const char *text) {
        add(b, tag, text, strlen(text));
}

/* A complete run that raised, with binary stdout. */
static const char stdout_bytes[] = "hello\n\0binary\xff\n";
#define STDOUT_LEN (sizeof stdout_bytes - 1)

static void exception_stream(ap_buf *b) {
        add_text(b, "HELO", "1 4242");
        add_text(b, "VERS", "3.12.1");
        add(b, "RUN ", NULL, 0);
        add(b, "OUT ", stdout_bytes, 6);
        add(b, "OUT ", stdout_bytes + 6, STDOUT_LEN - 6);
        add_text(b, "ERR ", "warning: x\n");
        add_text(b, "EXTY", "ValueError");
        add_text(b, "EXMS", "boom");
        add_text(b, "EXTB",
                 "Traceback (most recent call last):\n  File \"<string>\", line 1, "
                 "in <module>\nValueError: boom\n");
        add_text(b, "END ", "exception");
}

static void check_exception_result(const ap_result *r) {
        ck_assert(r->helo);
        ck_assert_int_eq(r->agent_tid, 0); /* an older agent's HELO: no tid */
        ck_assert(!r->gil);
        ck_assert(r->running);
        ck_assert(r->ended);
        ck_assert_str_eq(r->version, "3.12.1");
        ck_assert_str_eq(r->end, "exception");
        ck_assert_uint_eq(r->out.len, STDOUT_LEN);
        ck_assert(memcmp(r->out.data, stdout_bytes, STDOUT_LEN) == 0);
        ck_assert_uint_eq(r->err.len, strlen("warning: x\n"));
        ck_assert_str_eq(r->err.data, "warning: x\n");
        ck_assert_str_eq(r->exc_type, "ValueError");
        ck_assert_str_eq(r->exc_message, "boom");
        ck_assert_ptr_nonnull(strstr(r->exc_traceback, "ValueError: boom\n"));
        ck_assert_ptr_null(r->fail);
        ck_assert_uint_eq(r->out_dropped, 0);
        ck_assert_uint_eq(r->err_dropped, 0);
        ck_assert_uint_eq(r->pending.len, 0);
}

/* The agent's thread id in HELO; GIL: it holds the GIL and asks. */
START_TEST(test_helo_tid_and_gil) {
        ap_buf s = {0};
        add_text(&s, "HELO", "1 4242 4250");
        add_text(&s, "VERS", "3.13.1");
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert_int_eq(r.agent_tid, 4250);
        ck_assert(!r.gil);
        ap_buf_free(&s);
        add(&s, "GIL ", NULL, 0);
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert(r.gil);
        ck_assert(!r.running);
        ap_buf_free(&s);
        ap_result_free(&r);
        memset(&r, 0, sizeof r);
        add_text(&s, "HELO", "1 4242 x");
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert_int_eq(r.agent_tid, 0);
        ap_buf_free(&s);
        ap_result_free(&r);
}
END_TEST

START_TEST(test_whole) {
        ap_buf s = {0};
        exception_stream(&s);
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert(!ap_error_is_set(&err));
        check_exception_result(&r);
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_byte_by_byte) {
        ap_buf s = {0};
        exception_stream(&s);
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        for (size_t i = 0; i < s.len; i++) {
                ck_assert_int_eq(ap_result_feed(&r, s.data + i, 1, &err), 0);
                /* Nothing is reported before its record is complete. */
                if (i + 1 < s.len)
                        ck_assert(!r.ended);
        }
        check_exception_result(&r);
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_random_splits) {
        ap_buf s = {0};
        exception_stream(&s);
        unsigned seed = 12345;
        for (int round = 0; round < 300; round++) {
                ap_result r = {0};
                ap_error err = AP_ERROR_INIT;
                size_t pos = 0;
                while (pos < s.len) {
                        size_t n = (size_t)rand_r(&seed) % 40; /* 0 too: empty reads */
                        if (n > s.len - pos)
                                n = s.len - pos;
                        ck_assert_int_eq(ap_result_feed(&r, s.data + pos, n, &err), 0);
                        pos += n;
                }
                check_exception_result(&r);
                ap_result_free(&r);
        }
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_partial_record_waits) {
        ap_buf s = {0};
        add_text(&s, "VERS", "3.13.0");
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        /* A header alone, then all but the last byte. */
        ck_assert_int_eq(ap_result_feed(&r, s.data, 8, &err), 0);
        ck_assert_ptr_null(r.version);
        ck_assert_uint_eq(r.pending.len, 8);
        ck_assert_int_eq(ap_result_feed(&r, s.data + 8, s.len - 9, &err), 0);
        ck_assert_ptr_null(r.version);
        ck_assert_int_eq(ap_result_feed(&r, s.data + s.len - 1, 1, &err), 0);
        ck_assert_str_eq(r.version, "3.13.0");
        ck_assert_uint_eq(r.pending.len, 0);
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_ok_run) {
        ap_buf s = {0};
        add_text(&s, "HELO", "1 7");
        add_text(&s, "VERS", "3.11.2");
        add(&s, "RUN ", "", 0);
        add(&s, "OUT ", "", 0);
        add(&s, "ERR ", "", 0);
        add_text(&s, "END ", "ok");
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert(r.ended);
        ck_assert_str_eq(r.end, "ok");
        ck_assert_uint_eq(r.out.len, 0);
        ck_assert_uint_eq(r.err.len, 0);
        ck_assert_ptr_null(r.exc_type);
        ck_assert_ptr_null(r.exc_message);
        ck_assert_ptr_null(r.exc_traceback);
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_fail_record) {
        ap_buf s = {0};
        add_text(&s, "HELO", "1 7");
        add_text(&s, "FAIL", "could not compile the bootstrap");
        add_text(&s, "END ", "failed");
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert(r.helo);
        ck_assert(!r.running);
        ck_assert_str_eq(r.fail, "could not compile the bootstrap");
        ck_assert_str_eq(r.end, "failed");
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_repeated_text_record_replaces) {
        ap_buf s = {0};
        add_text(&s, "VERS", "3.12.0");
        add_text(&s, "VERS", "3.12.1");
        add_text(&s, "EXTY", "A");
        add_text(&s, "EXTY", "B");
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert_str_eq(r.version, "3.12.1");
        ck_assert_str_eq(r.exc_type, "B");
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_text_with_nul_is_cut_safely) {
        /* Text records are C strings for the reporters: a NUL ends them. */
        ap_buf s = {0};
        add(&s, "EXMS", "a\0b", 3);
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert_str_eq(r.exc_message, "a");
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

START_TEST(test_unknown_tag) {
        static const char *const tags[] = {"GO  ", "XXXX", "out ", "END\0", "\xff\xff\xff\xff"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(tags); i++) {
                ap_buf s = {0};
                add_text(&s, "HELO", "1 7");
                add(&s, tags[i], "x", 1);
                add_text(&s, "END ", "ok");
                ap_result r = {0};
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), -1);
                ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
                ck_assert_msg(strstr(err.message, "unknown record"), "message: %s", err.message);
                ck_assert(r.helo);   /* what came before was taken */
                ck_assert(!r.ended); /* what came after was not */
                ap_error_clear(&err);
                ap_result_free(&r);
                ap_buf_free(&s);
        }
}
END_TEST

START_TEST(test_unknown_tag_named) {
        ap_buf s = {0};
        add(&s, "ZORK", "", 0);
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), -1);
        ck_assert_msg(strstr(err.message, "'ZORK'"), "message: %s", err.message);
        ap_error_clear(&err);
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

static void header(unsigned char h[8], const char *tag, uint32_t n) {
        memcpy(h, tag, 4);
        h[4] = (unsigned char)n;
        h[5] = (unsigned char)(n >> 8);
        h[6] = (unsigned char)(n >> 16);
        h[7] = (unsigned char)(n >> 24);
}

START_TEST(test_oversized_length) {
        /* A length beyond the limit is refused at once, from the header
         * alone: no waiting for (or buffering of) the payload. */
        static const uint32_t lengths[] = {AP_MAX_RECORD_BYTES + 1, 0x80000000u, 0xffffffffu};
        for (size_t i = 0; i < AP_ARRAY_SIZE(lengths); i++) {
                unsigned char h[8];
                header(h, "OUT ", lengths[i]);
                ap_result r = {0};
                ap_error err = AP_ERROR_INIT;
                ck_assert_int_eq(ap_result_feed(&r, h, 8, &err), -1);
                ck_assert_int_eq(err.code, AP_ERR_INJECTION_FAILED);
                char num[16];
                snprintf(num, sizeof num, "%u", lengths[i]);
                ck_assert_msg(strstr(err.message, num), "message: %s", err.message);
                ap_error_clear(&err);
                ap_result_free(&r);
        }
}
END_TEST

START_TEST(test_largest_length_accepted) {
        /* The largest record length allowed is only waited for. */
        unsigned char h[8];
        header(h, "OUT ", AP_MAX_RECORD_BYTES);
        ap_result r = {0};
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, h, 8, &err), 0);
        ck_assert(!ap_error_is_set(&err));
        ck_assert_uint_eq(r.pending.len, 8);
        ap_result_free(&r);
}
END_TEST

/* Feed count records of 1 MiB of OUT (or ERR). */
static void feed_mib(ap_result *r, const char *tag, size_t count) {
        const size_t mib = 1024 * 1024;
        ap_buf rec = {0};
        char *chunk = malloc(mib);
        ck_assert_ptr_nonnull(chunk);
        for (size_t i = 0; i < mib; i++)
                chunk[i] = (char)('a' + i % 26);
        add(&rec, tag, chunk, mib);
        free(chunk);
        ap_error err = AP_ERROR_INIT;
        for (size_t i = 0; i < count; i++)
                ck_assert_int_eq(ap_result_feed(r, rec.data, rec.len, &err), 0);
        ap_buf_free(&rec);
}

START_TEST(test_at_limit_not_truncated) {
        ap_result r = {0};
        feed_mib(&r, "OUT ", AP_MAX_RESULT_BYTES / (1024 * 1024));
        ck_assert_uint_eq(r.out.len, AP_MAX_RESULT_BYTES);
        ck_assert_uint_eq(r.out_dropped, 0);
        /* An empty record at the limit truncates nothing. */
        ap_buf s = {0};
        add(&s, "OUT ", "", 0);
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert_uint_eq(r.out_dropped, 0);
        ap_buf_free(&s);
        ap_result_free(&r);
}
END_TEST

START_TEST(test_truncated_past_limit) {
        ap_result r = {0};
        feed_mib(&r, "OUT ", AP_MAX_RESULT_BYTES / (1024 * 1024) + 3);
        ck_assert_uint_eq(r.out.len, AP_MAX_RESULT_BYTES);
        /* Every byte beyond the cap is counted, for stdout only. */
        ck_assert_uint_eq(r.out_dropped, 3 * 1024 * 1024);
        ck_assert_uint_eq(r.err_dropped, 0);
        /* The kept part is the beginning, intact. */
        ck_assert_int_eq(r.out.data[0], 'a');
        ck_assert_int_eq(r.out.data[AP_MAX_RESULT_BYTES - 1], 'a' + (int)((1024 * 1024 - 1) % 26));
        /* Records after the cut are still parsed. */
        ap_buf s = {0};
        add_text(&s, "END ", "ok");
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert(r.ended);
        ap_buf_free(&s);
        ap_result_free(&r);
}
END_TEST

START_TEST(test_truncated_mid_record) {
        /* A record that crosses the limit keeps exactly the bytes up to it. */
        ap_result r = {0};
        feed_mib(&r, "ERR ", AP_MAX_RESULT_BYTES / (1024 * 1024) - 1);
        ap_buf s = {0};
        size_t n = 1024 * 1024 + 100;
        char *big = calloc(1, n);
        ck_assert_ptr_nonnull(big);
        add(&s, "ERR ", big, n);
        free(big);
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len, &err), 0);
        ck_assert_uint_eq(r.err.len, AP_MAX_RESULT_BYTES);
        ck_assert_uint_eq(r.err_dropped, 100);
        ck_assert_uint_eq(r.out_dropped, 0);
        ck_assert_uint_eq(r.out.len, 0);
        ap_buf_free(&s);
        ap_result_free(&r);
}
END_TEST

START_TEST(test_encode_bytes) {
        ap_buf b = {0};
        ck_assert_int_eq(ap_record_encode(&b, "GO  ", NULL, 0), 0);
        ck_assert_uint_eq(b.len, 8);
        ck_assert(memcmp(b.data, "GO  \0\0\0\0", 8) == 0);
        ap_buf_free(&b);

        char payload[0x10203];
        memset(payload, 'z', sizeof payload);
        ck_assert_int_eq(ap_record_encode(&b, "OUT ", payload, sizeof payload), 0);
        ck_assert_uint_eq(b.len, 8 + sizeof payload);
        ck_assert(memcmp(b.data, "OUT \x03\x02\x01\x00", 8) == 0); /* little-endian */
        ck_assert_int_eq(b.data[8], 'z');
        ck_assert_int_eq(b.data[b.len - 1], 'z');
        ap_buf_free(&b);
}
END_TEST

START_TEST(test_encode_appends) {
        ap_buf b = {0};
        ck_assert_int_eq(ap_record_encode(&b, "HELO", "1 9", 3), 0);
        ck_assert_int_eq(ap_record_encode(&b, "END ", "ok", 2), 0);
        ck_assert_uint_eq(b.len, 8 + 3 + 8 + 2);
        ck_assert(memcmp(b.data,
                         "HELO\x03\0\0\0"
                         "1 9"
                         "END \x02\0\0\0"
                         "ok",
                         b.len) == 0);
        ap_buf_free(&b);
}
END_TEST

START_TEST(test_encode_round_trip) {
        /* Random payloads under every tag the parser knows, encoded,
         * concatenated, split at random, parsed back. */
        static const char *const tags[] = {"VERS", "OUT ", "ERR ", "EXTY",
                                           "EXMS", "EXTB", "FAIL", "END "};
        unsigned seed = 777;
        for (int round = 0; round < 50; round++) {
                ap_buf s = {0}, want_out = {0}, want_err = {0};
                char *last[AP_ARRAY_SIZE(tags)] = {0};
                int n_records = 1 + rand_r(&seed) % 30;
                for (int i = 0; i < n_records; i++) {
                        size_t t = (size_t)rand_r(&seed) % AP_ARRAY_SIZE(tags);
                        size_t len = (size_t)rand_r(&seed) % 300;
                        char *p = malloc(len + 1);
                        ck_assert_ptr_nonnull(p);
                        bool text = strcmp(tags[t], "OUT ") != 0 && strcmp(tags[t], "ERR ") != 0;
                        for (size_t j = 0; j < len; j++)
                                p[j] = text ? (char)(' ' + rand_r(&seed) % 95)
                                            : (char)rand_r(&seed);
                        p[len] = '\0';
                        add(&s, tags[t], p, len);
                        if (strcmp(tags[t], "OUT ") == 0)
                                ck_assert_int_eq(ap_buf_append(&want_out, p, len), 0);
                        else if (strcmp(tags[t], "ERR ") == 0)
                                ck_assert_int_eq(ap_buf_append(&want_err, p, len), 0);
                        free(last[t]);
                        last[t] = p;
                        if (!text)
                                last[t] = (free(p), NULL);
                }
                ap_result r = {0};
                ap_error err = AP_ERROR_INIT;
                for (size_t pos = 0; pos < s.len;) {
                        size_t n = 1 + (size_t)rand_r(&seed) % 64;
                        if (n > s.len - pos)
                                n = s.len - pos;
                        ck_assert_int_eq(ap_result_feed(&r, s.data + pos, n, &err), 0);
                        pos += n;
                }
                ck_assert_uint_eq(r.out.len, want_out.len);
                ck_assert(want_out.len == 0 ||
                          memcmp(r.out.data, want_out.data, want_out.len) == 0);
                ck_assert_uint_eq(r.err.len, want_err.len);
                ck_assert(want_err.len == 0 ||
                          memcmp(r.err.data, want_err.data, want_err.len) == 0);
                char *got[AP_ARRAY_SIZE(tags)] = {r.version,  NULL,          NULL,
                                                  r.exc_type, r.exc_message, r.exc_traceback,
                                                  r.fail,     r.end};
                for (size_t t = 0; t < AP_ARRAY_SIZE(tags); t++) {
                        if (!last[t] && (t == 1 || t == 2))
                                continue;
                        if (!last[t])
                                ck_assert_ptr_null(got[t]);
                        else
                                ck_assert_str_eq(got[t], last[t]);
                        free(last[t]);
                }
                ck_assert_uint_eq(r.pending.len, 0);
                ap_result_free(&r);
                ap_buf_free(&s);
                ap_buf_free(&want_out);
                ap_buf_free(&want_err);
        }
}
END_TEST

START_TEST(test_free_is_idempotent) {
        ap_result r = {0};
        ap_result_free(&r);
        ap_result_free(&r);
        ap_result_free(NULL);
        ap_buf s = {0};
        exception_stream(&s);
        ap_error err = AP_ERROR_INIT;
        ck_assert_int_eq(ap_result_feed(&r, s.data, s.len - 3, &err),
                         0); /* leaves a pending tail */
        ap_result_free(&r);
        ck_assert_ptr_null(r.version);
        ck_assert_ptr_null(r.pending.data);
        ck_assert(!r.helo);
        ap_result_free(&r);
        ap_buf_free(&s);
}
END_TEST

static Suite *result_suite(void) {
        Suite *s = suite_create("result");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, test_whole);
        tcase_add_test(tc, test_helo_tid_and_gil);
        tcase_add_test(tc, test_byte_by_byte);
        tcase_add_test(tc, test_random_splits);
        tcase_add_test(tc, test_partial_record_waits);
        tcase_add_test(tc, test_ok_run);
        tcase_add_test(tc, test_fail_record);
        tcase_add_test(tc, test_repeated_text_record_replaces);
        tcase_add_test(tc, test_text_with_nul_is_cut_safely);
        tcase_add_test(tc, test_free_is_idempotent);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_unknown_tag);
        tcase_add_test(tc, test_unknown_tag_named);
        tcase_add_test(tc, test_oversized_length);
        tcase_add_test(tc, test_largest_length_accepted);
        suite_add_tcase(s, tc);

        tc = tcase_create("limit");
        /* 16 MiB and more through the parser; slow under valgrind. */
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_at_limit_not_truncated);
        tcase_add_test(tc, test_truncated_past_limit);
        tcase_add_test(tc, test_truncated_mid_record);
        suite_add_tcase(s, tc);

        tc = tcase_create("encode");
        tcase_add_test(tc, test_encode_bytes);
        tcase_add_test(tc, test_encode_appends);
        tcase_add_test(tc, test_encode_round_trip);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(result_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
