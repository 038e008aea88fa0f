/* request.h: encode what the agent must run (docs/protocol.md, "The
 * request"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef struct ap_request {
        const char *filename; /* __file__: absolute script path or "<string>" */
        const char *code;
        size_t code_len;
        bool wait;
        const char *serve; /* the serving directory's name (attach, --keep), or NULL */
        const char *mode;  /* "console", or NULL for code to run */
        char *const *args;
        size_t n_args;
} ap_request;

int ap_request_encode(const ap_request *r, ap_buf *out) __attribute__((warn_unused_result));
