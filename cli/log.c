/* log.c: the log sink the core writes its --verbose output to (log.h). */
#include "log.h"

#include <stdlib.h>
#include <string.h>

static void file_write(void *ctx, const char *data, size_t len) {
        FILE *f = ctx;
        fwrite(data, 1, len, f);
        fflush(f);
}

ap_log ap_log_file(FILE *f) { return (ap_log){.write = f ? file_write : NULL, .ctx = f}; }

bool ap_log_enabled(const ap_log *log) { return log && log->write; }

void ap_log_write(const ap_log *log, const char *data, size_t len) {
        if (ap_log_enabled(log) && len > 0)
                log->write(log->ctx, data, len);
}

static void log_vprintf(const ap_log *log, const char *prefix, const char *fmt, va_list ap,
                        const char *suffix) __attribute__((format(printf, 3, 0)));
static void log_vprintf(const ap_log *log, const char *prefix, const char *fmt, va_list ap,
                        const char *suffix) {
        char *text = NULL;
        int n = vasprintf(&text, fmt, ap);
        if (n < 0)
                return;
        size_t lp = strlen(prefix), ls = strlen(suffix);
        char *all = malloc(lp + (size_t)n + ls);
        if (all) {
                memcpy(all, prefix, lp);
                memcpy(all + lp, text, (size_t)n);
                memcpy(all + lp + (size_t)n, suffix, ls);
                log->write(log->ctx, all, lp + (size_t)n + ls);
        }
        free(all);
        free(text);
}

void ap_log_printf(const ap_log *log, const char *fmt, ...) {
        if (!ap_log_enabled(log))
                return;
        va_list ap;
        va_start(ap, fmt);
        log_vprintf(log, "", fmt, ap, "");
        va_end(ap);
}

void ap_log_vline(const ap_log *log, const char *fmt, va_list ap) {
        if (ap_log_enabled(log))
                log_vprintf(log, "attachpy: ", fmt, ap, "\n");
}

void ap_log_line(const ap_log *log, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        ap_log_vline(log, fmt, ap);
        va_end(ap);
}
