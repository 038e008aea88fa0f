/* result.c: the agent's record stream. */
#include "result.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char *dup_text(const char *p, size_t n) {
        char *s = malloc(n + 1);
        if (!s)
                return NULL;
        memcpy(s, p, n);
        s[n] = '\0';
        return s;
}

static int set_text(char **dst, const char *p, size_t n) {
        free(*dst);
        *dst = dup_text(p, n);
        return *dst ? 0 : -1;
}

static int append_capped(ap_buf *b, uint64_t *dropped, const char *p, size_t n) {
        if (b->len + n > AP_MAX_RESULT_BYTES) {
                size_t keep = AP_MAX_RESULT_BYTES > b->len ? AP_MAX_RESULT_BYTES - b->len : 0;
                *dropped += n - keep;
                n = keep;
        }
        return ap_buf_append(b, p, n);
}

static int handle(ap_result *r, const char *tag, const char *p, size_t n, ap_error *err) {
        int rc = 0;
        if (memcmp(tag, "HELO", 4) == 0) {
                r->helo = true;
                /* "<protocol> <pid> <tid>" */
                char text[64];
                long proto = 0, pid = 0, tid = 0;
                char impl[8] = "";
                snprintf(text, sizeof text, "%.*s", (int)(n < sizeof text ? n : sizeof text - 1),
                         p);
                int got = sscanf(text, "%ld %ld %ld %7s", &proto, &pid, &tid, impl);
                if (got >= 3 && tid > 0)
                        r->agent_tid = tid;
                if (got == 4 && (strcmp(impl, "cpython") == 0 || strcmp(impl, "pypy") == 0))
                        snprintf(r->impl, sizeof r->impl, "%s", impl);
        } else if (memcmp(tag, "GIL ", 4) == 0)
                r->gil = true;
        else if (memcmp(tag, "VERS", 4) == 0)
                rc = set_text(&r->version, p, n);
        else if (memcmp(tag, "RUN ", 4) == 0)
                r->running = true;
        else if (memcmp(tag, "OUT ", 4) == 0)
                rc = append_capped(&r->out, &r->out_dropped, p, n);
        else if (memcmp(tag, "ERR ", 4) == 0)
                rc = append_capped(&r->err, &r->err_dropped, p, n);
        else if (memcmp(tag, "EXTY", 4) == 0)
                rc = set_text(&r->exc_type, p, n);
        else if (memcmp(tag, "EXMS", 4) == 0)
                rc = set_text(&r->exc_message, p, n);
        else if (memcmp(tag, "EXTB", 4) == 0)
                rc = set_text(&r->exc_traceback, p, n);
        else if (memcmp(tag, "FAIL", 4) == 0)
                rc = set_text(&r->fail, p, n);
        else if (memcmp(tag, "SERV", 4) == 0)
                rc = set_text(&r->serve, p, n);
        else if (memcmp(tag, "END ", 4) == 0) {
                r->ended = true;
                rc = set_text(&r->end, p, n);
        } else
                return ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                    "the agent sent an unknown record '%.4s'", tag);
        if (rc < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        return 0;
}

int ap_result_feed(ap_result *r, const void *data, size_t len, ap_error *err) {
        if (ap_buf_append(&r->pending, data, len) < 0)
                return ap_error_set(err, AP_ERR_INJECTION_FAILED, "out of memory");
        size_t pos = 0;
        while (r->pending.len - pos >= AP_RECORD_HEADER_BYTES) {
                const unsigned char *h = (const unsigned char *)r->pending.data + pos;
                uint32_t n = ap_record_header_length(h);
                if (n > AP_MAX_RECORD_BYTES) {
                        ap_error_set(err, AP_ERR_INJECTION_FAILED,
                                     "the agent sent a record of %u bytes", n);
                        return -1;
                }
                if (r->pending.len - pos - AP_RECORD_HEADER_BYTES < n)
                        break;
                if (handle(r, (const char *)h, (const char *)h + AP_RECORD_HEADER_BYTES, n, err) <
                    0)
                        return -1;
                pos += AP_RECORD_HEADER_BYTES + (size_t)n;
        }
        if (pos > 0) {
                memmove(r->pending.data, r->pending.data + pos, r->pending.len - pos);
                r->pending.len -= pos;
                r->pending.data[r->pending.len] = '\0';
        }
        return 0;
}

void ap_result_free(ap_result *r) {
        if (!r)
                return;
        free(r->version);
        free(r->end);
        free(r->exc_type);
        free(r->exc_message);
        free(r->exc_traceback);
        free(r->fail);
        free(r->serve);
        ap_buf_free(&r->out);
        ap_buf_free(&r->err);
        ap_buf_free(&r->pending);
        memset(r, 0, sizeof *r);
}
