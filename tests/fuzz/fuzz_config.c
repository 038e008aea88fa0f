/* fuzz_config.c: the YAML config loader on arbitrary file contents.
 *
 * ap_config_load reads only files (it takes an explicit path), so each input
 * is written into a memfd and loaded through /proc/self/fd/N.  The seeds are
 * the YAML files in tests/fuzz/corpus/config.
 *
 * Properties:
 * - success leaves no error and only valid values: a debugger choice of the
 *   enum, a timeout in (0, 86400];
 * - failure is a usage error whose message begins with the file's path and
 *   holds no control character (a config file cannot write escape sequences
 *   to the user's terminal), whose "PATH:LINE:COL:" position lies inside the
 *   file, and leaves the caller's config untouched;
 * - loading the same bytes twice gives the same answer.
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_common.h"
#include "options.h"

static int memfd = -1;
static char path[64];

static const ap_config sentinel = {true, (ap_debugger_choice)77, true, -1.0};

/* The last line a message may name: the lines of the file, counting every
 * line break YAML knows (\n, \r, NEL, LS, PS), and one more, since libyaml
 * puts the end of a stream whose last line is not empty at the start of
 * the next line ("could not find expected ':'" at EOF). */
static size_t max_lines(const uint8_t *data, size_t size) {
        size_t n = 2;
        for (size_t i = 0; i < size; i++) {
                if (data[i] == '\n' || data[i] == '\r')
                        n++;
                else if (i + 1 < size && data[i] == 0xC2 && data[i + 1] == 0x85)
                        n++;
                else if (i + 2 < size && data[i] == 0xE2 && data[i + 1] == 0x80 &&
                         (data[i + 2] == 0xA8 || data[i + 2] == 0xA9))
                        n++;
        }
        return n;
}

static bool config_equal(const ap_config *a, const ap_config *b) {
        return a->has_debugger == b->has_debugger && a->debugger == b->debugger &&
               a->has_timeout == b->has_timeout && a->timeout_s == b->timeout_s;
}

static int load(const uint8_t *data, size_t size, ap_config *cfg, ap_error *err) {
        FUZZ_ASSERT(ftruncate(memfd, 0) == 0, "ftruncate: %m");
        FUZZ_ASSERT(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite: %m");
        *cfg = sentinel;
        return ap_config_load(cfg, path, false, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (memfd < 0) {
                memfd = memfd_create("attachpy-fuzz-config", MFD_CLOEXEC);
                FUZZ_ASSERT(memfd >= 0, "memfd_create: %m");
                snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
        }

        ap_config cfg;
        ap_error err = AP_ERROR_INIT;
        int r = load(data, size, &cfg, &err);
        FUZZ_ASSERT(r == 0 || r == -1, "returned %d", r);
        if (r == 0) {
                FUZZ_ASSERT(!ap_error_is_set(&err), "0 with an error set: %s", err.message);
                if (cfg.has_debugger)
                        FUZZ_ASSERT(cfg.debugger == AP_DEBUGGER_AUTO ||
                                            cfg.debugger == AP_DEBUGGER_GDB ||
                                            cfg.debugger == AP_DEBUGGER_LLDB,
                                    "debugger %d", (int)cfg.debugger);
                if (cfg.has_timeout)
                        FUZZ_ASSERT(cfg.timeout_s > 0 && cfg.timeout_s <= AP_MAX_TIMEOUT_S,
                                    "timeout %g", cfg.timeout_s);
        } else {
                fuzz_check_error(&err, "config");
                FUZZ_ASSERT(err.code == AP_ERR_USAGE, "code %s", ap_code_name(err.code));
                FUZZ_ASSERT(config_equal(&cfg, &sentinel), "a failed load changed the config");
                size_t plen = strlen(path);
                const char *m = err.message;
                FUZZ_ASSERT(strstr(m, path), "message without the path: %s", m);
                for (const unsigned char *p = (const unsigned char *)m; *p; p++)
                        FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in '%s'", *p, m);
                if (err.hint)
                        for (const unsigned char *p = (const unsigned char *)err.hint; *p; p++)
                                FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f,
                                            "control byte 0x%02x in hint '%s'", *p, err.hint);
                unsigned long line, col;
                int used = 0;
                if (strncmp(m, path, plen) == 0 &&
                    sscanf(m + plen, ":%lu:%lu:%n", &line, &col, &used) == 2 && used > 0) {
                        FUZZ_ASSERT(line >= 1 && line <= max_lines(data, size),
                                    "line %lu, but the file ends on line %zu: %s", line,
                                    max_lines(data, size), m);
                        FUZZ_ASSERT(col >= 1 && col <= size + 1, "column %lu of %zu bytes: %s", col,
                                    size, m);
                }
        }

        ap_config again;
        ap_error err2 = AP_ERROR_INIT;
        int r2 = load(data, size, &again, &err2);
        FUZZ_ASSERT(r2 == r, "%d, then %d", r, r2);
        FUZZ_ASSERT(r != 0 || config_equal(&cfg, &again), "two loads, two configs");
        FUZZ_ASSERT(r == 0 || strcmp(err.message, err2.message) == 0, "'%s', then '%s'",
                    err.message, err2.message);
        ap_error_clear(&err2);
        ap_error_clear(&err);
        return 0;
}
