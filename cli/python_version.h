/* python_version.h: telling a Python's version from what it is called and
 * what it holds.  Pure functions over bytes: no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse "libpython3.12.so.1.0", "libpython3.13t.so", "python3.11": 0 and the
 * version on success, -1 if the name carries no version.  *free_threaded
 * is set for a "t" suffix. */
int ap_python_version_from_name(const char *name, int *major, int *minor, bool *free_threaded);

/* Parse a PY_VERSION string ("3.9.18", "3.13.0rc1", "2.7.18+") at the start
 * of s, which must end (NUL) within n bytes.  Returns 0 and major and minor,
 * or -1. */
int ap_python_version_parse(const char *s, size_t n, int *major, int *minor);

/* Format a PY_VERSION_HEX (Py_Version) as PY_VERSION would read: "3.12.1",
 * "3.13.0rc1", "3.14.0a2".  Returns 0, or -1 when buf is too small or hex
 * is not a version. */
int ap_python_version_from_hex(uint32_t hex, char *buf, size_t size);

/* The head of _Py_DebugOffsets, which CPython 3.13+ places at the start of
 * _PyRuntime (its own section, .PyRuntime): the cookie "xdebugpy", then
 * PY_VERSION_HEX and free_threaded as 64-bit words.  Returns 0 with both
 * set, -1 when data (len bytes) is not such a head. */
int ap_debug_offsets_parse(const uint8_t *data, size_t len, uint32_t *ret_hex,
                           bool *ret_free_threaded);

/* Find PyPy's sys.version in a block of bytes (the libpypy file): "3.9.16
 * (7.3.11+dfsg..., date)\n[PyPy 7.3.11 with GCC ...]".  Returns 0 with the
 * language version ("3.9.16") and PyPy's ("7.3.11"), or -1. */
int ap_pypy_versions_parse(const char *data, size_t n, char *ret_lang, size_t lang_size,
                           char *ret_pypy, size_t pypy_size);

/* The addresses an x86-64 function's first bytes load into registers: the
 * targets of "lea disp32(%rip), %reg" and the immediates of
 * "mov $imm32, %reg32" (a non-PIE executable).  code holds n bytes read at
 * the link-time address vaddr.  Before 3.11 this is how the exact version
 * is found: Py_GetVersion() formats PY_VERSION, a string whose address it
 * loads.  Returns how many were stored in out (at most max). */
size_t ap_code_address_operands(const uint8_t *code, size_t n, uint64_t vaddr, uint64_t *out,
                                size_t max);
