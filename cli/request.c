/* request.c: the request file's format. */
#include "request.h"

#include <string.h>

static int field(ap_buf *out, const char *key, const void *data, size_t len) {
        if (ap_buf_printf(out, "%s %zu\n", key, len) < 0 || ap_buf_append(out, data, len) < 0 ||
            ap_buf_append(out, "\n", 1) < 0)
                return -1;
        return 0;
}

int ap_request_encode(const ap_request *r, ap_buf *out) {
        if (ap_buf_printf(out, "ATTACHPY-REQUEST 1\n") < 0 ||
            field(out, "filename", r->filename, strlen(r->filename)) < 0 ||
            field(out, "code", r->code, r->code_len) < 0 ||
            field(out, "wait", r->wait ? "1" : "0", 1) < 0 ||
            (r->serve && field(out, "serve", r->serve, strlen(r->serve)) < 0) ||
            (r->mode && field(out, "mode", r->mode, strlen(r->mode)) < 0))
                return -1;
        for (size_t i = 0; i < r->n_args; i++)
                if (field(out, "arg", r->args[i], strlen(r->args[i])) < 0)
                        return -1;
        return 0;
}
