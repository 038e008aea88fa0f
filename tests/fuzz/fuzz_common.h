/* fuzz_common.h: what the libFuzzer targets in tests/fuzz share.
 *
 * A target checks properties of the code under test, not only that it does
 * not crash: a violated property aborts (libFuzzer reports it as a crash and
 * saves the input), with a message saying which property failed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...)                                                                     \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__,        \
                                #cond);                                                            \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* data as a NUL-terminated string (it ends at the first NUL byte of data, as
 * a C string read from a pipe would).  Never NULL: the process aborts when
 * out of memory. */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        FUZZ_ASSERT(s, "out of memory");
        if (size)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* An error that says what happened: a known code, a message, and both of
 * them fit for the JSON report. */
static inline void fuzz_check_error(const ap_error *err, const char *what) {
        FUZZ_ASSERT(err->code > AP_OK && err->code < AP_CODE_COUNT_, "%s: code %d", what,
                    (int)err->code);
        FUZZ_ASSERT(ap_code_name(err->code) != NULL, "%s: code %d has no name", what,
                    (int)err->code);
        FUZZ_ASSERT(err->message && err->message[0], "%s: error without a message", what);
}
