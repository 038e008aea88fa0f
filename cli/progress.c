/* progress.c: the status line and its ticker thread. */
#include "progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define ERASE "\r\033[K"

struct ap_progress {
        int fd;
        const char *ellipsis;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t thread;
        bool have_thread;
        bool stop;
        bool drawn; /* a line is on the screen */
        char stage[192];
        double since_ms;
};

size_t ap_progress_format(char *buf, size_t size, const char *stage, double elapsed_ms,
                          const char *ellipsis, int width) {
        if (size == 0)
                return 0;
        int n = snprintf(buf, size, "attachpy: %s%s %.1f s", stage, ellipsis, elapsed_ms / 1000.0);
        size_t len = n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
        if (width > 0) {
                /* Count columns, not bytes: UTF-8 continuation bytes take none. */
                size_t cols = 0, i = 0;
                for (; i < len; i++) {
                        if (((unsigned char)buf[i] & 0xC0) == 0x80)
                                continue;
                        if (cols == (size_t)width)
                                break;
                        cols++;
                }
                len = i;
                buf[len] = '\0';
        }
        return len;
}

static void write_quietly(int fd, const char *s, size_t n) {
        if (ap_write_all(fd, s, n) < 0) {
                /* A closed terminal: nothing to tell anybody. */
        }
}

static void erase_locked(ap_progress *p) {
        if (p->drawn)
                write_quietly(p->fd, ERASE, strlen(ERASE));
        p->drawn = false;
}

void ap_progress_tick(ap_progress *p, double now_ms) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        double elapsed = now_ms - p->since_ms;
        if (p->stage[0] && elapsed >= AP_PROGRESS_DELAY_MS) {
                struct winsize ws;
                int width = ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1 : 0;
                char line[256 + sizeof ERASE];
                memcpy(line, ERASE, strlen(ERASE));
                size_t n = ap_progress_format(line + strlen(ERASE), sizeof line - strlen(ERASE),
                                              p->stage, elapsed, p->ellipsis, width);
                write_quietly(p->fd, line, strlen(ERASE) + n);
                p->drawn = true;
        }
        pthread_mutex_unlock(&p->lock);
}

void ap_progress_stage(ap_progress *p, const char *fmt, ...) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        erase_locked(p);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->stage, sizeof p->stage, fmt, ap);
        va_end(ap);
        p->since_ms = ap_now_ms();
        pthread_mutex_unlock(&p->lock);
}

static void *ticker(void *arg) {
        ap_progress *p = arg;
        pthread_mutex_lock(&p->lock);
        while (!p->stop) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_nsec += (long)(AP_PROGRESS_PERIOD_MS * 1e6);
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&p->wake, &p->lock, &ts);
                if (p->stop)
                        break;
                pthread_mutex_unlock(&p->lock);
                ap_progress_tick(p, ap_now_ms());
                pthread_mutex_lock(&p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

static bool utf8_locale(void) {
        const char *vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
        for (size_t i = 0; i < AP_ARRAY_SIZE(vars); i++) {
                const char *v = getenv(vars[i]);
                if (v && *v)
                        return strstr(v, "UTF-8") || strstr(v, "utf8") || strstr(v, "UTF8") ||
                               strstr(v, "utf-8");
        }
        return false;
}

ap_progress *ap_progress_new(int fd, bool with_ticker) {
        ap_progress *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->fd = fd;
        p->ellipsis = utf8_locale() ? "\xe2\x80\xa6" : "...";
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->wake, &ca);
        pthread_condattr_destroy(&ca);
        if (with_ticker)
                p->have_thread = pthread_create(&p->thread, NULL, ticker, p) == 0;
        return p;
}

void ap_progress_free(ap_progress *p) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        p->stage[0] = '\0';
        erase_locked(p);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        if (p->have_thread)
                pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
}
