/* request.h: the request the agent runs (docs/protocol.md, "The request"):
 * read from the session's file (a debugger's call) or taken from a serving
 * agent's connection, and checked before anything runs.  The bootstrap
 * parses it again and acts on it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "serve.h"

/* The largest request: 16 MiB of code and its arguments. */
#define AP_MAX_REQUEST (17u * 1024 * 1024)

/* Read the file at path: a regular file of at most AP_MAX_REQUEST bytes
 * (malloc'd in *ret_data).  0, or -errno (-EBADMSG: not a regular file, or
 * it changed while read). */
int ap_request_read_file(const char *path, char **ret_data, size_t *ret_len);

/* Check a request: 0, or -EBADMSG.  Its wait flag, its serve name ("" when
 * it has none) and whether its mode is "console" are returned. */
int ap_request_check(const char *data, size_t len, bool *ret_wait,
                     char ret_serve[static AP_SERVE_NAME_MAX + 1], bool *ret_console);
