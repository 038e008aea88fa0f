/* record.c: the agent protocol's records on a socket (record.h). */
#include "record.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int ap_record_encode(ap_buf *out, const char tag[4], const void *data, size_t len) {
        if (len > UINT32_MAX)
                return -1;
        unsigned char h[AP_RECORD_HEADER_BYTES];
        ap_record_header_put(h, tag, (uint32_t)len);
        if (ap_buf_append(out, h, sizeof h) < 0 || ap_buf_append(out, data, len) < 0)
                return -1;
        return 0;
}

int ap_record_send_bytes(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int ap_record_send(int fd, const char tag[static 4], const void *data, size_t len) {
        ap_buf b = {0};
        int r = ap_record_encode(&b, tag, data, len);
        if (r == 0)
                r = ap_record_send_bytes(fd, b.data, b.len);
        ap_buf_free(&b);
        return r;
}

/* Read exactly len bytes: AP_RECORD_GOT, or _EOF when the peer hung up
 * before the first, _SHORT after some, _FAILED on an error. */
static ap_record_wait recv_exactly(int fd, void *buf, size_t len) {
        size_t got = 0;
        while (got < len) {
                ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_WAITALL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return AP_RECORD_FAILED;
                if (n == 0)
                        return got ? AP_RECORD_SHORT : AP_RECORD_EOF;
                got += (size_t)n;
        }
        return AP_RECORD_GOT;
}

/* Until fd (or cancel_fd) is readable: AP_RECORD_GOT when fd is. */
static ap_record_wait wait_readable(int fd, int cancel_fd, int timeout_ms) {
        for (;;) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                                      {.fd = cancel_fd, .events = POLLIN}};
                int r = poll(p, cancel_fd >= 0 ? 2 : 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r == 0)
                        return AP_RECORD_TIMEOUT;
                if (r < 0)
                        return AP_RECORD_FAILED;
                if (cancel_fd >= 0 && p[1].revents)
                        return AP_RECORD_CANCELLED;
                if (p[0].revents)
                        return AP_RECORD_GOT;
        }
}

ap_record_wait ap_record_next(int fd, int cancel_fd, int timeout_ms, uint32_t max_len,
                              char tag[static 5], ap_buf *payload) {
        ap_record_wait w = wait_readable(fd, cancel_fd, timeout_ms);
        if (w != AP_RECORD_GOT)
                return w;
        unsigned char h[AP_RECORD_HEADER_BYTES];
        w = recv_exactly(fd, h, sizeof h);
        if (w != AP_RECORD_GOT)
                return w;
        uint32_t len = ap_record_header_length(h);
        if (len > max_len)
                return AP_RECORD_OVERSIZE;
        char *data = malloc((size_t)len + 1);
        if (!data)
                return AP_RECORD_FAILED;
        w = len ? recv_exactly(fd, data, len) : AP_RECORD_GOT;
        if (w == AP_RECORD_EOF)
                w = AP_RECORD_SHORT; /* the header came: the record had begun */
        payload->len = 0;
        if (w == AP_RECORD_GOT && ap_buf_append(payload, data, len) < 0)
                w = AP_RECORD_FAILED;
        free(data);
        if (w != AP_RECORD_GOT)
                return w;
        memcpy(tag, h, 4);
        tag[4] = '\0';
        return AP_RECORD_GOT;
}

ap_record_wait ap_record_peek(int fd, int timeout_ms, char tag[static 5]) {
        ap_record_wait w = wait_readable(fd, -1, timeout_ms);
        if (w != AP_RECORD_GOT)
                return w;
        unsigned char h[AP_RECORD_HEADER_BYTES];
        ssize_t n;
        do
                n = recv(fd, h, sizeof h, MSG_WAITALL | MSG_PEEK);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return AP_RECORD_FAILED;
        if (n == 0)
                return AP_RECORD_EOF;
        if (n != (ssize_t)sizeof h)
                return AP_RECORD_SHORT;
        memcpy(tag, h, 4);
        tag[4] = '\0';
        return AP_RECORD_GOT;
}
