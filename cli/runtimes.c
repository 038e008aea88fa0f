/* runtimes.c: the Python runtimes attachpy supports. */
#include "runtimes.h"

#include <stdio.h>

#include "util.h"

static const ap_runtime_support table[] = {
        /* 3.14 and 3.15: Debian's static builds and shared-libpython ones; the
         * same agent and plans as 3.13. */
        {AP_IMPL_CPYTHON, 3, 6, 15},
        /* PyPy 7.3 (Python 3.9, 3.10) and PyPy 8.0 (Python 3.11). */
        {AP_IMPL_PYPY, 3, 9, 11},
};

bool ap_runtime_supported(ap_impl impl, int major, int minor) {
        for (size_t i = 0; i < AP_ARRAY_SIZE(table); i++)
                if (table[i].impl == impl && table[i].major == major &&
                    minor >= table[i].first_minor && minor <= table[i].last_minor)
                        return true;
        return false;
}

const char *ap_runtime_range(ap_impl impl, char *buf, size_t size) {
        size_t used = 0;
        if (size)
                buf[0] = '\0';
        for (size_t i = 0; i < AP_ARRAY_SIZE(table) && used < size; i++) {
                if (table[i].impl != impl)
                        continue;
                int n = snprintf(buf + used, size - used, "%s%s %d.%d to %d.%d", used ? ", " : "",
                                 impl == AP_IMPL_PYPY ? "PyPy (Python" : "CPython", table[i].major,
                                 table[i].first_minor, table[i].major, table[i].last_minor);
                if (n < 0 || (size_t)n >= size - used)
                        break;
                used += (size_t)n;
                if (impl == AP_IMPL_PYPY && used + 1 < size) {
                        buf[used++] = ')';
                        buf[used] = '\0';
                }
        }
        return buf;
}

const ap_runtime_support *ap_runtime_table(size_t *ret_n) {
        *ret_n = AP_ARRAY_SIZE(table);
        return table;
}
