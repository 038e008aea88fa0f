/* python_version.c: Python versions, from names, strings, PY_VERSION_HEX,
 * _Py_DebugOffsets, PyPy's sys.version and the code of Py_GetVersion. */
#include "python_version.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ap_python_version_from_name(const char *name, int *major, int *minor, bool *free_threaded) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        const char *p = NULL;
        if (strncmp(base, "libpython", 9) == 0)
                p = base + 9;
        else if (strncmp(base, "python", 6) == 0)
                p = base + 6;
        if (!p || !isdigit((unsigned char)p[0]))
                return -1;
        char *end;
        long ma = strtol(p, &end, 10);
        if (*end != '.' || !isdigit((unsigned char)end[1]))
                return -1;
        long mi = strtol(end + 1, &end, 10);
        if (ma < 2 || ma > 9 || mi < 0 || mi > 99)
                return -1;
        *major = (int)ma;
        *minor = (int)mi;
        if (free_threaded)
                *free_threaded = *end == 't';
        return 0;
}

static const char *digits(const char *p, const char *end, long *ret) {
        const char *q = p;
        long v = 0;
        while (q < end && isdigit((unsigned char)*q) && q - p < 4)
                v = v * 10 + (*q++ - '0');
        if (q == p || (q < end && isdigit((unsigned char)*q)))
                return NULL;
        *ret = v;
        return q;
}

int ap_python_version_parse(const char *s, size_t n, int *major, int *minor) {
        const char *end = s + n, *p = s;
        long ma, mi, micro;
        if (!(p = digits(p, end, &ma)) || p >= end || *p++ != '.' || !(p = digits(p, end, &mi)) ||
            p >= end || *p++ != '.' || !(p = digits(p, end, &micro)))
                return -1;
        /* A release level and serial ("a2", "b1", "rc1"), a "+" for a
         * build past a tag. */
        while (p < end && *p && (strchr("abrc+", *p) || isdigit((unsigned char)*p)))
                p++;
        if (p >= end || *p != '\0' || p - s > 24)
                return -1;
        if (ma < 2 || ma > 9 || mi > 99)
                return -1;
        *major = (int)ma;
        *minor = (int)mi;
        return 0;
}

int ap_python_version_from_hex(uint32_t hex, char *buf, size_t size) {
        int major = (int)(hex >> 24) & 0xff, minor = (int)(hex >> 16) & 0xff,
            micro = (int)(hex >> 8) & 0xff, level = (int)(hex >> 4) & 0xf, serial = (int)hex & 0xf;
        static const char *const levels[] = {[0xa] = "a", [0xb] = "b", [0xc] = "rc"};
        if (major < 2 || major > 9 || (level != 0xf && (level < 0xa || level > 0xc)))
                return -1;
        int r = level == 0xf ? snprintf(buf, size, "%d.%d.%d", major, minor, micro)
                             : snprintf(buf, size, "%d.%d.%d%s%d", major, minor, micro,
                                        levels[level], serial);
        return r < 0 || (size_t)r >= size ? -1 : 0;
}

size_t ap_code_address_operands(const uint8_t *code, size_t n, uint64_t vaddr, uint64_t *out,
                                size_t max) {
        size_t found = 0;
        for (size_t i = 0; i < n && found < max; i++) {
                /* lea disp32(%rip), %r64: REX.W (48 or 4c), 8d, ModRM 00 reg 101. */
                if (i + 7 <= n && (code[i] == 0x48 || code[i] == 0x4c) && code[i + 1] == 0x8d &&
                    (code[i + 2] & 0xc7) == 0x05) {
                        int32_t disp;
                        memcpy(&disp, code + i + 3, 4);
                        out[found++] = vaddr + i + 7 + (uint64_t)(int64_t)disp;
                        continue;
                }
                /* mov $imm32, %r32: b8+r, or 41 b8+r for r8d..r15d. */
                size_t op = i + (code[i] == 0x41 ? 1 : 0);
                if (op + 5 <= n && code[op] >= 0xb8 && code[op] <= 0xbf) {
                        uint32_t imm;
                        memcpy(&imm, code + op + 1, 4);
                        out[found++] = imm;
                }
                /* No skipping: a byte inside another instruction may look
                 * like an opcode, and the caller checks every address. */
        }
        return found;
}

/* "X.Y.Z" at p, followed by stop: copies it into ret.  Returns the length
 * or 0. */
static size_t version_at(const char *p, const char *end, char stop, char *ret, size_t size) {
        const char *q = p;
        int dots = 0;
        while (q < end && (isdigit((unsigned char)*q) || *q == '.')) {
                dots += *q == '.';
                q++;
        }
        size_t n = (size_t)(q - p);
        if (q >= end || *q != stop || dots != 2 || n < 5 || n >= size ||
            !isdigit((unsigned char)*p) || p[n - 1] == '.')
                return 0;
        memcpy(ret, p, n);
        ret[n] = '\0';
        int major, minor;
        char tmp[32];
        if (n + 1 > sizeof tmp)
                return 0;
        memcpy(tmp, ret, n + 1);
        return ap_python_version_parse(tmp, n + 1, &major, &minor) == 0 ? n : 0;
}

int ap_pypy_versions_parse(const char *data, size_t n, char *ret_lang, size_t lang_size,
                           char *ret_pypy, size_t pypy_size) {
        static const char marker[] = "\n[PyPy ";
        const size_t mlen = sizeof marker - 1;
        const char *end = data + n;
        for (const char *m = memmem(data, n, marker, mlen); m;
             m = memmem(m + 1, (size_t)(end - m - 1), marker, mlen)) {
                /* The start of the string: back over printable bytes. */
                const char *s = m;
                while (s > data && m - s < 200 && isprint((unsigned char)s[-1]))
                        s--;
                char lang[32], pypy[32];
                if (version_at(s, m, ' ', lang, sizeof lang) && s + strlen(lang) + 1 < m &&
                    s[strlen(lang) + 1] == '(' &&
                    version_at(m + mlen, end, ' ', pypy, sizeof pypy) && strlen(lang) < lang_size &&
                    strlen(pypy) < pypy_size) {
                        strcpy(ret_lang, lang);
                        strcpy(ret_pypy, pypy);
                        return 0;
                }
                if ((size_t)(end - m) <= mlen)
                        break;
        }
        return -1;
}

int ap_debug_offsets_parse(const uint8_t *data, size_t len, uint32_t *ret_hex,
                           bool *ret_free_threaded) {
        uint64_t version, free_threaded;
        if (len < 24 || memcmp(data, "xdebugpy", 8) != 0)
                return -1;
        memcpy(&version, data + 8, 8);
        memcpy(&free_threaded, data + 16, 8);
        if (version > UINT32_MAX || free_threaded > 1)
                return -1;
        *ret_hex = (uint32_t)version;
        *ret_free_threaded = free_threaded == 1;
        return 0;
}
