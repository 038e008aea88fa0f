/* util.c: buffers, file reading, time. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

int ap_buf_append(ap_buf *b, const void *data, size_t len) {
        if (b->len + len + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + len + 1)
                        cap *= 2;
                char *p = realloc(b->data, cap);
                if (!p)
                        return -1;
                b->data = p;
                b->cap = cap;
        }
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

int ap_buf_printf(ap_buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -1;
        int r = ap_buf_append(b, s, (size_t)n);
        free(s);
        return r;
}

void ap_buf_free(ap_buf *b) {
        if (!b)
                return;
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

char *ap_buf_steal(ap_buf *b) {
        if (!b->data && ap_buf_append(b, "", 0) < 0)
                return NULL;
        char *d = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return d;
}

int ap_read_fd(int fd, size_t max, char **ret_data, size_t *ret_len) {
        ap_buf b = {0};
        char chunk[65536];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        ap_buf_free(&b);
                        return -1;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > max) {
                        ap_buf_free(&b);
                        errno = EFBIG;
                        return -1;
                }
                if (ap_buf_append(&b, chunk, (size_t)n) < 0) {
                        ap_buf_free(&b);
                        errno = ENOMEM;
                        return -1;
                }
        }
        size_t len = b.len;
        char *data = ap_buf_steal(&b);
        if (!data) {
                errno = ENOMEM;
                return -1;
        }
        *ret_data = data;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int ap_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -1;
        int r = ap_read_fd(fd, max, ret_data, ret_len);
        int saved = errno;
        close(fd);
        errno = saved;
        return r;
}

int ap_write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

double ap_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* s as a Python bytes literal, b'...', with every byte that is not plain
 * printable ASCII (and every quote and backslash) escaped. */
int ap_buf_py_bytes(ap_buf *out, const char *s) {
        if (ap_buf_append(out, "b'", 2) < 0)
                return -1;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p >= 0x20 && *p < 0x7f && *p != '\'' && *p != '\\') {
                        if (ap_buf_append(out, p, 1) < 0)
                                return -1;
                } else if (ap_buf_printf(out, "\\x%02x", *p) < 0) {
                        return -1;
                }
        }
        return ap_buf_append(out, "'", 1);
}

char **ap_strv_copy(const char *const *args, size_t n) {
        char **v = calloc(n + 1, sizeof *v);
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(args[i]);
                if (!v[i]) {
                        ap_strv_free(v);
                        return NULL;
                }
        }
        return v;
}

void ap_strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}
