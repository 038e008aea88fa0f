/* runtimes.h: the Python runtimes attachpy supports, in one table.
 *
 * Every check and every hint that names the supported range is derived from
 * it (cli/target.c, README's table is written from the same facts):
 * supporting one more CPython minor version is one row here, plus the tests
 * that show it works (tests/integration). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "target.h"

typedef struct ap_runtime_support {
        ap_impl impl;
        int major;
        int first_minor; /* language versions major.first_minor ... */
        int last_minor;  /* ... to major.last_minor, inclusive */
} ap_runtime_support;

/* Whether attachpy supports impl running language version major.minor. */
bool ap_runtime_supported(ap_impl impl, int major, int minor);

/* The supported range of impl as text, e.g. "CPython 3.6 to 3.15"; writes
 * at most size bytes (NUL included) and returns buf. */
const char *ap_runtime_range(ap_impl impl, char *buf, size_t size);

/* The table itself (for tests and documentation checks). */
const ap_runtime_support *ap_runtime_table(size_t *ret_n);
