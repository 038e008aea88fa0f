/* util.h: cleanup helpers and small utilities shared by every module. */
#pragma once

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ap_cleanup.h"

static inline void ap_fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

#define _cleanup_fclose_ __attribute__((cleanup(ap_fclosep)))

/* A growable byte buffer; always NUL-terminated after data[len]. */
typedef struct ap_buf {
        char *data;
        size_t len;
        size_t cap;
} ap_buf;

int ap_buf_append(ap_buf *b, const void *data, size_t len) __attribute__((warn_unused_result));
int ap_buf_printf(ap_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), warn_unused_result));
void ap_buf_free(ap_buf *b);
/* Append s as a Python bytes literal, b'...': every byte that is not
 * printable ASCII, and every quote and backslash, as \xNN. */
int ap_buf_py_bytes(ap_buf *b, const char *s) __attribute__((warn_unused_result));
/* Hand the data over to the caller (NUL-terminated; never NULL on success). */
char *ap_buf_steal(ap_buf *b);

/* Read a whole file (at most max bytes: larger is an error, errno EFBIG).
 * Returns 0 and sets *ret_data (NUL-terminated) and *ret_len on success,
 * -1 with errno set otherwise. */
int ap_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
        __attribute__((warn_unused_result));

/* Read everything from fd (at most max bytes). */
int ap_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len)
        __attribute__((warn_unused_result));

/* Write all of len bytes; -1 with errno on failure. */
int ap_write_all(int fd, const void *data, size_t len) __attribute__((warn_unused_result));

/* CLOCK_MONOTONIC in milliseconds. */
double ap_now_ms(void);

/* NULL-terminated string vectors (argv, environments). */
void ap_strv_free(char **v);

/* A malloc'd, NULL-terminated copy of args[0..n); NULL when out of memory. */
char **ap_strv_copy(const char *const *args, size_t n);
