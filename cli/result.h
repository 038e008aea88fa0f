/* result.h: what the agent reports (docs/protocol.md, "The result stream").
 *
 * ap_result_feed() is an incremental, pure parser of the record stream; the
 * CLI feeds it whatever the socket delivers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "record.h"
#include "util.h"

#include <stdint.h>

/* What the CLI keeps of each of stdout and stderr of one run: the first
 * 16 MiB; the bytes beyond are counted (out_dropped, err_dropped) and
 * reported (result.truncated in JSON, a note in text).  The agent streams
 * and holds back at most 64 KiB, so this bounds the memory of both sides. */
#define AP_MAX_RESULT_BYTES (16u * 1024 * 1024)

typedef struct ap_result {
        bool helo;      /* the agent thread started */
        bool running;   /* the code started (RUN seen) */
        bool gil;       /* the agent holds the GIL and asks whether to run (GIL seen) */
        long agent_tid; /* the agent thread's id, from HELO; 0 if not given */
        char impl[8];   /* "cpython" or "pypy", from HELO; "" if not given */
        bool ended;     /* END seen */
        char *version;  /* VERS */
        char *end;      /* "ok", "exception", "failed" */
        ap_buf out;     /* OUT */
        ap_buf err;     /* ERR */
        char *exc_type; /* EXTY, EXMS, EXTB, or NULL */
        char *exc_message;
        char *exc_traceback;
        char *fail;           /* FAIL: the agent's own failure */
        char *serve;          /* SERV: "ok DIR", "already DIR" or "error WHY" (--keep) */
        uint64_t out_dropped; /* OUT bytes beyond AP_MAX_RESULT_BYTES, not kept */
        uint64_t err_dropped; /* ERR bytes beyond it */

        ap_buf pending; /* bytes of an incomplete record */
} ap_result;

/* Parse data.  Returns 0, or -1 with err set on a malformed stream. */
int ap_result_feed(ap_result *r, const void *data, size_t len, ap_error *err)
        __attribute__((warn_unused_result));

void ap_result_free(ap_result *r);
