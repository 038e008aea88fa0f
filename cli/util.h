/* util.h: cleanup helpers and small utilities shared by every module. */
#pragma once

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void ap_freep(void *p) { free(*(void **)p); }
static inline void ap_closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
static inline void ap_fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ __attribute__((cleanup(ap_freep)))
#define _cleanup_close_ __attribute__((cleanup(ap_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(ap_fclosep)))

#define AP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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
