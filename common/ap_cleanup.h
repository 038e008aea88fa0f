/* ap_cleanup.h: the small helpers the CLI and the agent share (header only:
 * the agent links nothing of the CLI's).  A variable declared with
 * _cleanup_free_ is freed, with _cleanup_close_ closed, when it goes out of
 * scope; a goto must not jump over its initialisation (clang refuses it).
 */
#pragma once

#include <stdlib.h>
#include <unistd.h>

static inline void ap_freep(void *p) { free(*(void **)p); }
static inline void ap_closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

#define _cleanup_free_ __attribute__((cleanup(ap_freep)))
#define _cleanup_close_ __attribute__((cleanup(ap_closep)))

#define AP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
