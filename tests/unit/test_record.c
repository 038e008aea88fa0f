/* test_record.c: records on a socket (record.h): a round trip over a
 * socketpair, a peer that hangs up between records, inside the header or
 * inside the payload, a length beyond the limit, a timeout, the cancel fd
 * waking the wait, and peeking at a tag without taking the record. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ap_record.h"
#include "record.h"
#include "util.h"

static int sv[2];

static void pair_open(void) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void pair_close(void) {
        if (sv[0] >= 0)
                close(sv[0]);
        if (sv[1] >= 0)
                close(sv[1]);
        sv[0] = sv[1] = -1;
}

static void write_raw(const void *data, size_t len) {
        ck_assert_int_eq(write(sv[1], data, len), (ssize_t)len);
}

static void hang_up(void) {
        close(sv[1]);
        sv[1] = -1;
}

START_TEST(round_trip) {
        static const char payload[] = "print(1)\n\0binary\xff";
        ck_assert_int_eq(ap_record_send(sv[1], "LINE", payload, sizeof payload - 1), 0);
        ck_assert_int_eq(ap_record_send(sv[1], "RUN ", NULL, 0), 0);
        char tag[5];
        ap_buf got = {0};
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_GOT);
        ck_assert_str_eq(tag, "LINE");
        ck_assert_uint_eq(got.len, sizeof payload - 1);
        ck_assert_mem_eq(got.data, payload, sizeof payload - 1);
        ck_assert_int_eq(got.data[got.len], '\0');
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_GOT);
        ck_assert_str_eq(tag, "RUN ");
        ck_assert_uint_eq(got.len, 0);
        ck_assert_ptr_nonnull(got.data);
        ck_assert_str_eq(got.data, "");
        ap_buf_free(&got);
}
END_TEST

/* The bytes on the wire: tag, little-endian length, payload. */
START_TEST(wire_format) {
        ck_assert_int_eq(ap_record_send(sv[1], "OUT ", "abc", 3), 0);
        unsigned char b[16];
        ck_assert_int_eq(read(sv[0], b, sizeof b), 11);
        ck_assert_mem_eq(b,
                         "OUT \x03\x00\x00\x00"
                         "abc",
                         11);
        unsigned char h[AP_RECORD_HEADER_BYTES];
        ap_record_header_put(h, "ERR ", 0x01020304u);
        ck_assert_mem_eq(h, "ERR \x04\x03\x02\x01", 8);
        ck_assert_uint_eq(ap_record_header_length(h), 0x01020304u);
}
END_TEST

START_TEST(eof_between_records) {
        ck_assert_int_eq(ap_record_send(sv[1], "PRMT", ">>> ", 4), 0);
        hang_up();
        char tag[5];
        ap_buf got = {0};
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_GOT);
        ck_assert_str_eq(got.data, ">>> ");
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_EOF);
        ap_buf_free(&got);
}
END_TEST

/* The peer writes len bytes of a record and hangs up: the next record
 * was cut short. */
static void expect_short_after(const void *bytes, size_t len) {
        write_raw(bytes, len);
        hang_up();
        char tag[5];
        ap_buf got = {0};
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_SHORT);
        ap_buf_free(&got);
}

START_TEST(eof_inside_header) { expect_short_after("OUT \x05", 5); }
END_TEST

START_TEST(eof_inside_payload) {
        expect_short_after("OUT \x05\x00\x00\x00"
                           "ab",
                           10);
}
END_TEST

/* A length beyond the limit: refused before any payload is read. */
START_TEST(oversize) {
        unsigned char h[AP_RECORD_HEADER_BYTES];
        ap_record_header_put(h, "OUT ", AP_MAX_RECORD_BYTES + 1);
        write_raw(h, sizeof h);
        char tag[5];
        ap_buf got = {0};
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_OVERSIZE);
        /* A caller's smaller limit (the CLI's 256-byte answers). */
        ck_assert_int_eq(ap_record_send(sv[1], "INFO", "0123456789", 10), 0);
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, 9, tag, &got), AP_RECORD_OVERSIZE);
        ap_buf_free(&got);
}
END_TEST

START_TEST(timeout) {
        char tag[5];
        ap_buf got = {0};
        double t0 = ap_now_ms();
        ck_assert_int_eq(ap_record_next(sv[0], -1, 100, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_TIMEOUT);
        ck_assert_double_ge(ap_now_ms() - t0, 90);
        ck_assert_int_eq(ap_record_peek(sv[0], 50, tag), AP_RECORD_TIMEOUT);
        ap_buf_free(&got);
}
END_TEST

/* The cancel fd wakes an unlimited wait, and wins over a record that is
 * there too; it is left for the caller to read. */
START_TEST(cancel_fd_wakes) {
        int c[2];
        ck_assert_int_eq(pipe(c), 0);
        ck_assert_int_eq(write(c[1], "x", 1), 1);
        char tag[5];
        ap_buf got = {0};
        ck_assert_int_eq(ap_record_next(sv[0], c[0], -1, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_CANCELLED);
        ck_assert_int_eq(ap_record_send(sv[1], "END ", "ok", 2), 0);
        ck_assert_int_eq(ap_record_next(sv[0], c[0], -1, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_CANCELLED);
        char x;
        ck_assert_int_eq(read(c[0], &x, 1), 1);
        ck_assert_int_eq(ap_record_next(sv[0], c[0], -1, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_GOT);
        ck_assert_str_eq(tag, "END ");
        close(c[0]);
        close(c[1]);
        ap_buf_free(&got);
}
END_TEST

/* Peeking leaves the record for the next read (the CLI looks for DENY and
 * leaves HELO to the result stream). */
START_TEST(peek_leaves_record) {
        ck_assert_int_eq(ap_record_send(sv[1], "HELO", "1 42", 4), 0);
        char tag[5];
        ck_assert_int_eq(ap_record_peek(sv[0], 1000, tag), AP_RECORD_GOT);
        ck_assert_str_eq(tag, "HELO");
        ap_buf got = {0};
        ck_assert_int_eq(ap_record_next(sv[0], -1, 1000, AP_MAX_RECORD_BYTES, tag, &got),
                         AP_RECORD_GOT);
        ck_assert_str_eq(tag, "HELO");
        ck_assert_str_eq(got.data, "1 42");
        write_raw("DE", 2);
        hang_up();
        ck_assert_int_eq(ap_record_peek(sv[0], 1000, tag), AP_RECORD_SHORT);
        ap_buf_free(&got);
}
END_TEST

/* Sending to a peer that is gone fails; no SIGPIPE. */
START_TEST(send_to_closed_peer) {
        close(sv[0]);
        sv[0] = -1;
        ck_assert_int_eq(ap_record_send(sv[1], "INTR", NULL, 0), -1);
        ck_assert_int_eq(ap_record_send_bytes(sv[1], "GO  \0\0\0\0", 8), -1);
}
END_TEST

static Suite *record_suite(void) {
        Suite *s = suite_create("record");
        TCase *tc = tcase_create("record");
        tcase_add_checked_fixture(tc, pair_open, pair_close);
        tcase_add_test(tc, round_trip);
        tcase_add_test(tc, wire_format);
        tcase_add_test(tc, eof_between_records);
        tcase_add_test(tc, eof_inside_header);
        tcase_add_test(tc, eof_inside_payload);
        tcase_add_test(tc, oversize);
        tcase_add_test(tc, timeout);
        tcase_add_test(tc, cancel_fd_wakes);
        tcase_add_test(tc, peek_leaves_record);
        tcase_add_test(tc, send_to_closed_peer);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(record_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
