/* log.h: where the core's --verbose output goes.
 *
 * The core never chooses: it writes to an ap_log, a callback and its
 * context, that the front end binds (main.c: stderr with --verbose, none
 * without).  After CRIU's compel_log_init.  Every function accepts a NULL
 * log or one with no callback, and then writes nothing.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ap_log {
        /* Called with each piece of output, len bytes (NUL bytes possible). */
        void (*write)(void *ctx, const char *data, size_t len);
        void *ctx;
} ap_log;

/* A sink that writes to f and flushes it at once. */
ap_log ap_log_file(FILE *f);

/* Whether anything written to log goes anywhere. */
bool ap_log_enabled(const ap_log *log);

/* len bytes as they are. */
void ap_log_write(const ap_log *log, const char *data, size_t len);
/* Formatted, as they are. */
void ap_log_printf(const ap_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line: "attachpy: ", the formatted text, a newline. */
void ap_log_line(const ap_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ap_log_vline(const ap_log *log, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
